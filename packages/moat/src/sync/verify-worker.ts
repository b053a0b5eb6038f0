// Worker-thread entry of verifyDownload: the checks that read a whole downloaded file (signature,
// SQLite quick_check) run here, so the app's event loop keeps serving requests meanwhile.
import { createPublicKey } from 'node:crypto';
import { parentPort, workerData } from 'node:worker_threads';
import { SyncError } from './sync-error.js';
import { verifyFileNow, type VerifyJob, type VerifyOutcome } from './verify-download.js';

const job = workerData as VerifyJob;
let outcome: VerifyOutcome;
try {
  const key = job.publicKeyDer === null ? null : createPublicKey({ key: Buffer.from(job.publicKeyDer), format: 'der', type: 'spki' });
  verifyFileNow(job.path, key, job.signature);
  outcome = { ok: true };
} catch (error) {
  outcome = error instanceof SyncError
    ? { ok: false, reason: error.reason, message: error.message }
    : { ok: false, reason: 'verify', message: (error as Error).message };
}
parentPort?.postMessage(outcome);
