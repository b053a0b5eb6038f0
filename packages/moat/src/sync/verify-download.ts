// Everything a downloaded file must pass before it may be renamed into place: the SQLite header,
// the hub's signature (checked before SQLite parses a byte of it), SQLite's own quick_check, and the
// loader's checks (file kind, format version, content hash). The first three read the whole file, so
// for a big file they run in a worker thread (verify-worker.ts) and the app's event loop keeps going.
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import type { KeyObject } from 'node:crypto';
import type { Worker } from 'node:worker_threads';
import { openSqliteReadOnly, type ReadOnlyDatabase } from '../format/sqlite-driver.js';
import { startModuleWorker } from '../loading/start-worker.js';
import { signatureValid } from './signature.js';
import { SyncError } from './sync-error.js';

const SQLITE_MAGIC = Buffer.from('SQLite format 3\0', 'latin1');

export function verifySqliteHeader(path: string): void {
  const head = Buffer.alloc(16);
  const fd = openSync(path, 'r');
  let read: number;
  try {
    read = readSync(fd, head, 0, 16, 0);
  } finally {
    closeSync(fd);
  }
  if (read < 16 || !head.equals(SQLITE_MAGIC)) throw new SyncError('not-sqlite', 'the downloaded file is not a SQLite database');
}

/** Checks the signature over the file's exact bytes (ed25519 signs whole messages, so it is read once). */
export function verifySignature(path: string, key: KeyObject, signature: string | null): void {
  if (signature === null) throw new SyncError('unsigned', 'the hub sent no X-Moat-Signature, but a public key is configured');
  if (!signatureValid(key, readFileSync(path), signature)) {
    throw new SyncError('bad-signature', 'the X-Moat-Signature of the downloaded file does not verify with the configured public key');
  }
}

export function quickCheck(path: string): void {
  let db: ReadOnlyDatabase | null = null;
  try {
    // Through the runtime's driver, as the loaders read the file (node:sqlite where better-sqlite3 has no build).
    db = openSqliteReadOnly(path);
    const result = db.pragma('quick_check', { simple: true }) as unknown;
    if (result !== 'ok') throw new SyncError('corrupt', `SQLite quick_check failed: ${String(result).slice(0, 200)}`);
  } catch (error) {
    if (error instanceof SyncError) throw error;
    throw new SyncError('corrupt', `the downloaded file is not a usable SQLite database: ${(error as Error).message}`, { cause: error });
  } finally {
    db?.close();
  }
}

/**
 * Files up to this size are checked on the calling thread: starting a worker costs more than the
 * checks (about 1 ms for signature and quick_check of a 1 MiB file, measured), and custom rules files
 * are far smaller. Larger files (data subscriptions, hundreds of MB) always go to a worker.
 */
export const INLINE_VERIFY_MAX_BYTES = 1024 * 1024;

/** What the worker is asked to check (a KeyObject is sent as its DER bytes). */
export interface VerifyJob {
  path: string;
  publicKeyDer: Uint8Array | null;
  signature: string | null;
}

export type VerifyOutcome = { ok: true } | { ok: false; reason: string; message: string };

/** Header, signature (when a key is configured) and quick_check, on this thread. */
export function verifyFileNow(path: string, key: KeyObject | null, signature: string | null): void {
  verifySqliteHeader(path);
  if (key !== null) verifySignature(path, key, signature);
  quickCheck(path);
}

/** Verifications by where they ran, for diagnostics and tests (process-wide). */
export const verificationCounts = { inline: 0, worker: 0, inlineFallback: 0 };

/**
 * verifyFileNow, in a worker thread for files over INLINE_VERIFY_MAX_BYTES. Rejects with a SyncError;
 * `signal` (the firewall closing) stops the worker and rejects with the signal's reason; a worker that
 * takes more than `timeoutMs` is stopped too (SyncError `load-timeout`).
 */
export async function verifyDownload(
  path: string, size: number, key: KeyObject | null, signature: string | null, signal?: AbortSignal, timeoutMs?: number,
): Promise<void> {
  if (size <= INLINE_VERIFY_MAX_BYTES) {
    verificationCounts.inline++;
    verifyFileNow(path, key, signature);
    return;
  }
  verificationCounts.worker++;
  const job: VerifyJob = { path, publicKeyDer: key === null ? null : key.export({ format: 'der', type: 'spki' }), signature };
  const outcome = await runWorker(job, signal, timeoutMs);
  if (signal?.aborted) throw signal.reason instanceof Error ? signal.reason : new SyncError('aborted', 'verification aborted');
  if (outcome === 'timeout') {
    throw new SyncError('load-timeout', `checking ${path} in a worker took more than ${timeoutMs} ms (loadTimeoutMs); it was stopped`);
  }
  if (outcome === null) {
    // No worker could run (a platform without them, a broken install): checking here blocks for a
    // while, but never installing a new file would be worse.
    verificationCounts.inlineFallback++;
    verifyFileNow(path, key, signature);
    return;
  }
  if (!outcome.ok) throw new SyncError(outcome.reason, outcome.message);
}

/** The worker's verdict, null when the worker itself failed (it never answered), 'timeout' when it was stopped for taking too long. */
function runWorker(job: VerifyJob, signal?: AbortSignal, timeoutMs?: number): Promise<VerifyOutcome | null | 'timeout'> {
  return new Promise((resolve) => {
    let settled = false;
    let worker: Worker | undefined;
    let timer: NodeJS.Timeout | undefined;
    const onAbort = () => {
      void worker?.terminate();
      settle(null);
    };
    const settle = (outcome: VerifyOutcome | null | 'timeout') => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      resolve(outcome);
    };
    if (signal?.aborted) {
      settle(null);
      return;
    }
    try {
      worker = startModuleWorker(import.meta.url, './verify-worker', job);
    } catch {
      settle(null);
      return;
    }
    signal?.addEventListener('abort', onAbort, { once: true });
    worker.unref(); // a verification never keeps the app alive
    if (timeoutMs !== undefined) {
      // Not checked here instead: a check that hung in a worker would block the serving thread here too.
      timer = setTimeout(() => {
        void worker?.terminate();
        settle('timeout');
      }, timeoutMs);
      timer.unref();
    }
    worker.once('message', (outcome: VerifyOutcome) => settle(outcome));
    worker.once('error', () => settle(null));
    worker.once('exit', () => settle(null));
  });
}
