// Worker-thread entry of load-off-thread.ts: everything that costs time in proportion to a file (the
// whole-file checks, reading and packing the ranges, the content hash, compiling a Wafris file, building
// the substring automata of a rules file) runs here; the serving thread gets the finished parts.
import { createPublicKey } from 'node:crypto';
import { closeSync, openSync } from 'node:fs';
import { fsyncUnlessRefused } from '../format/fsync.js';
import { parentPort, workerData } from 'node:worker_threads';
import { loadMoatData } from '../data/read-data.js';
import { checkLightLabels } from '../data/sqlite-range-lookup.js';
import { loadRulesFile } from '../format/load-files.js';
import { detectKind, openReadOnly } from '../format/open-sqlite.js';
import { SyncError } from '../sync/sync-error.js';
import { verifyFileNow } from '../sync/verify-download.js';
import { loadWafrisData } from '../wafris/read-wafris.js';
import type { DataSet } from '../data/data-set.js';
import type { DataMode } from '../data/data-set.js';
import { packDataSet } from './data-transfer.js';
import type { LoadJob, LoadOutcome } from './load-job.js';
import { packRuleSet } from './rules-transfer.js';
import { MoatFileError, errorCodeOf } from '../errors/moat-error.js';

type Answer = { outcome: LoadOutcome; transfer: ArrayBuffer[] };

function run(job: LoadJob): Answer {
  if (job.verify !== null) {
    try {
      const der = job.verify.publicKeyDer;
      const key = der === null ? null : createPublicKey({ key: Buffer.from(der), format: 'der', type: 'spki' });
      verifyFileNow(job.path, key, job.verify.signature);
      flushToDisk(job.path);
    } catch (error) {
      const reason = error instanceof SyncError ? error.reason : 'verify';
      return { outcome: { ok: false, stage: 'verify', reason, message: (error as Error).message }, transfer: [] };
    }
  }
  try {
    if (job.kind === 'rules') {
      const { packed, transfer } = packRuleSet(loadRulesFile(job.path));
      return { outcome: { ok: true, rules: packed }, transfer };
    }
    const data = loadData(job.path, job.mode);
    if (data === 'light') return { outcome: { ok: true, light: true }, transfer: [] };
    const { packed, transfer } = packDataSet(data);
    return { outcome: { ok: true, data: packed }, transfer };
  } catch (error) {
    // The reason of a refused load is the error's code, so the serving thread rethrows it with the same one.
    return { outcome: { ok: false, stage: 'load', reason: errorCodeOf(error, 'MOAT_ERR_FILE_CORRUPT'), message: (error as Error).message }, transfer: [] };
  }
}

/**
 * Writes a fresh download's pages to disk here. The serving thread then fsyncs the small pointer file,
 * and on common file systems (ext4's ordered journal) that fsync would otherwise wait for every dirty
 * page of the 100+ MiB file renamed into place just before.
 */
function flushToDisk(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncUnlessRefused(fd);
  } finally {
    closeSync(fd);
  }
}

/** loadDataFile, except that a Moat file in light mode is only recognised (its ranges stay on disk). */
function loadData(path: string, mode: DataMode): DataSet | 'light' {
  const db = openReadOnly(path);
  try {
    const kind = detectKind(db, path);
    if (kind === 'moat-data') {
      if (mode === 'memory') return loadMoatData(db, path, 'memory');
      checkLightLabels(db); // the one pass over the file light mode needs, here rather than on the serving thread
      return 'light';
    }
    if (kind === 'wafris-data') return loadWafrisData(db, path);
    throw new MoatFileError('MOAT_ERR_FILE_KIND', path, `this is a ${kind.replace('-', ' ')} file, not a data file`);
  } finally {
    if (db.open) db.close();
  }
}

// Every module is loaded: from here on a failure is the file's or the load's, not the install's.
parentPort?.postMessage({ started: true });
const job = workerData as LoadJob;
// The test seam of loadWorkerWatch.hold: a worker that hangs. Waits in short steps so terminate() ends it.
while (job.hold !== null && Atomics.load(job.hold, 0) === 0) Atomics.wait(job.hold, 0, 0, 50);
const { outcome, transfer } = run(job);
parentPort?.postMessage(outcome, transfer);
