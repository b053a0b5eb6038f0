/**
 * Verifies and loads a rules or data file in a worker thread and hands back the finished value, ready
 * to swap in. The serving thread only wraps the moved arrays and parses the object lists slice by slice
 * (json-slices.ts), so its event loop never stalls for a time that grows with the file.
 */
import type { KeyObject } from 'node:crypto';
import type { Worker } from 'node:worker_threads';
import type { DataSet } from '../data/data-set.js';
import type { DataMode } from '../data/data-set.js';
import type { RuleSet } from '../engine/rule-set.js';
import { loadDataFile, loadRulesFile } from '../format/load-files.js';
import { SyncError } from '../sync/sync-error.js';
import { verificationCounts, verifyFileNow } from '../sync/verify-download.js';
import { unpackDataSet } from './data-transfer.js';
import type { LoadJob, LoadOutcome } from './load-job.js';
import { unpackRuleSet } from './rules-transfer.js';
import { startModuleWorker } from './start-worker.js';
import { MoatError } from '../errors/moat-error.js';
import { isMoatErrorCode } from '../errors/codes.js';

/**
 * Rules files from this size on are compiled in the worker. Compiling costs more per byte than loading
 * data (substring automata): 64 KiB hold about 700 patterns (20,000 take 1.8 MiB, measured), whose
 * automata build in a few ms, less than starting a worker adds to the update's delay; 20,000 took
 * 0.3–0.9 s on the serving thread.
 */
export const RULES_OFF_THREAD_MIN_BYTES = 64 * 1024;

export interface OffThreadLoad {
  path: string;
  /** Run verifyDownload's checks first (a fresh download); null for a file installed before. */
  verify: { publicKey: KeyObject | null; signature: string | null } | null;
  signal?: AbortSignal;
  /**
   * Longest the worker may take (checks and load); past it the worker is stopped and the load rejects
   * with SyncError `load-timeout`. Default: no bound.
   */
  timeoutMs?: number;
}

/**
 * Loads by where they ran, loads under way, and the longest the serving thread spent at once
 * unpacking a result (ms), process-wide: for tests and the bench.
 */
export const offThreadLoadCounts = { worker: 0, inlineFallback: 0, workerFailures: 0, timeouts: 0, inProgress: 0, longestSliceMs: 0 };

/**
 * Sees each load worker as it starts (tests stop one mid-load with terminate(), as a crash would).
 * No heap limit is set on the worker on purpose: a string too large for a limited worker heap aborts
 * the whole process instead of the worker (seen on Node 20), so the worker gets Node's default.
 */
export const loadWorkerWatch: { onStart: ((worker: Worker) => void) | null; hold: Int32Array | null } = { onStart: null, hold: null };
// `hold` is a test seam (the only one on this path): a shared Int32Array that each load worker started
// while it is set waits on, before any work, until its first element is not 0. It stands for a worker
// that hangs (a file that takes for ever, a stuck disk) so the time bound can be tested without timing.

/**
 * A data file, loaded in the worker (light mode: checked there, then opened in place here). Rejects
 * with SyncError for a failed check (reasons as verifyDownload's) or a worker that died mid-load
 * (`load-worker`), and with a plain Error for a file the loader refused.
 */
export function loadDataOffThread(request: OffThreadLoad & { mode: DataMode }): Promise<DataSet> {
  return load({ kind: 'data', path: request.path, mode: request.mode, verify: verifyRequest(request), hold: loadWorkerWatch.hold }, request,
    () => loadDataFile(request.path, request.mode),
    async (outcome) => {
      // Opening in place reads no ranges; the worker already checked the labels.
      if ('light' in outcome) return loadDataFile(request.path, 'light', { labelsChecked: true });
      if (!('data' in outcome)) throw new MoatError('MOAT_ERR_INTERNAL', 'the load worker answered with something else than a data set');
      return unpackDataSet(outcome.data, sliceTimer);
    });
}

/** A rules file, compiled in the worker; rejects as loadDataOffThread does. */
export function loadRulesOffThread(request: OffThreadLoad): Promise<RuleSet> {
  return load({ kind: 'rules', path: request.path, verify: verifyRequest(request), hold: loadWorkerWatch.hold }, request,
    () => loadRulesFile(request.path),
    async (outcome) => {
      if (!('rules' in outcome)) throw new MoatError('MOAT_ERR_INTERNAL', 'the load worker answered with something else than a rule set');
      return unpackRuleSet(outcome.rules, sliceTimer);
    });
}

function verifyRequest(request: OffThreadLoad): LoadJob['verify'] {
  const v = request.verify;
  if (v === null) return null;
  return { publicKeyDer: v.publicKey === null ? null : v.publicKey.export({ format: 'der', type: 'spki' }), signature: v.signature };
}

function sliceTimer(ms: number): void {
  if (ms > offThreadLoadCounts.longestSliceMs) offThreadLoadCounts.longestSliceMs = ms;
}

type Loaded = Extract<LoadOutcome, { ok: true }>;

async function load<T>(job: LoadJob, request: OffThreadLoad, loadHere: () => T, unpack: (outcome: Loaded) => Promise<T>): Promise<T> {
  offThreadLoadCounts.inProgress++;
  try {
    const { verify, signal } = request;
    const outcome = await runWorker(job, signal, request.timeoutMs);
    abortedCheck(signal);
    if (outcome === 'no-worker') {
      // No worker could start, or it could not load its modules (a platform without workers, a broken
      // install): loading here blocks for a while, but never installing a new file would be worse.
      offThreadLoadCounts.inlineFallback++;
      if (verify !== null) {
        verificationCounts.inlineFallback++;
        verifyFileNow(request.path, verify.publicKey, verify.signature);
      }
      return loadHere();
    }
    if (outcome instanceof SyncError && outcome.reason === 'load-timeout') {
      offThreadLoadCounts.timeouts++;
      throw outcome;
    }
    if (outcome instanceof Error) {
      offThreadLoadCounts.workerFailures++;
      throw new SyncError('load-worker', `the worker loading ${request.path} stopped before it finished: ${outcome.message}`, { cause: outcome });
    }
    offThreadLoadCounts.worker++;
    if (verify !== null) verificationCounts.worker++;
    if (!outcome.ok) {
      if (outcome.stage === 'verify') throw new SyncError(outcome.reason, outcome.message);
      // The loader's own code travels as the reason (load-worker.ts); anything else it refused is a corrupt file.
      throw new MoatError(isMoatErrorCode(outcome.reason) ? outcome.reason : 'MOAT_ERR_FILE_CORRUPT', outcome.message);
    }
    const value = await unpack(outcome);
    abortedCheck(signal);
    return value;
  } finally {
    offThreadLoadCounts.inProgress--;
  }
}

function abortedCheck(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw signal.reason instanceof Error ? signal.reason : new SyncError('aborted', 'loading aborted');
}

/**
 * The worker's answer; an Error when it died without one after it had started; 'no-worker' when none
 * could start or it died before its modules were loaded.
 */
function runWorker(job: LoadJob, signal?: AbortSignal, timeoutMs?: number): Promise<LoadOutcome | Error | 'no-worker'> {
  return new Promise((resolve) => {
    let settled = false;
    let worker: Worker | undefined;
    let timer: NodeJS.Timeout | undefined;
    const onAbort = () => {
      void worker?.terminate();
      settle(new MoatError('MOAT_ERR_SYNC_ABORTED', 'aborted'));
    };
    const settle = (outcome: LoadOutcome | Error | 'no-worker') => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      resolve(outcome);
    };
    if (signal?.aborted) {
      settle(new MoatError('MOAT_ERR_SYNC_ABORTED', 'aborted'));
      return;
    }
    try {
      worker = startModuleWorker(import.meta.url, './load-worker', job);
    } catch {
      settle('no-worker');
      return;
    }
    signal?.addEventListener('abort', onAbort, { once: true });
    worker.unref(); // a load never keeps the app alive
    if (timeoutMs !== undefined) {
      // A worker that never answers (a stuck disk, a pathological file) would hold the category's sync,
      // and the directory lock with it, for ever: it is stopped and the load fails like any other.
      timer = setTimeout(() => {
        void worker?.terminate();
        settle(new SyncError('load-timeout', `loading ${job.path} in a worker took more than ${timeoutMs} ms (loadTimeoutMs); it was stopped`));
      }, timeoutMs);
      timer.unref();
    }
    let started = false;
    worker.on('message', (message: LoadOutcome | { started: true }) => {
      if ('started' in message) started = true;
      else settle(message);
    });
    worker.once('error', (error) => settle(started ? error : 'no-worker'));
    worker.once('exit', (code) => settle(started ? new MoatError('MOAT_ERR_WORKER', `exit code ${code}`) : 'no-worker'));
    loadWorkerWatch.onStart?.(worker);
  });
}
