import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/**
 * How often the worker copies the write-ahead log into the database file. Each pass copies what was
 * committed since the last (a pass with nothing to copy costs microseconds), so the main connection's
 * own checkpoint, which runs once the log holds wal_autocheckpoint (8,000) pages, finds little left.
 */
const CHECKPOINT_INTERVAL_MS = 100;

/**
 * The worker's code, plain CommonJS so it runs the same from the TypeScript sources (tsx) and from dist.
 * PASSIVE: it never waits for, nor blocks, the hub's readers and writer; what it cannot copy yet it copies
 * on a later pass.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file, { fileMustExist: true, timeout: 0 });
db.pragma('synchronous = NORMAL');
const timer = setInterval(() => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch {
    // Busy or gone: the next pass tries again, and the hub's connection still checkpoints at its limit.
  }
}, workerData.intervalMs);
parentPort.once('message', () => {
  clearInterval(timer);
  db.close();
  parentPort.close();
});
`;

export interface WalCheckpointer {
  /** Ends the worker and closes its connection; resolves when the thread has exited. */
  stop(): Promise<void>;
}

/**
 * Checkpoints the SQLite database `file` (WAL mode) from a worker thread of its own. The main connection's
 * automatic checkpoint runs inside whichever commit crosses wal_autocheckpoint and copies up to 32 MiB of
 * pages there, on the event loop: 90–135 ms per such commit while a rollup folded a week of made-up paths
 * (test/support/rollup-chunk-measure.ts), against 20 ms for the commit's own work. The worker does that
 * copying beside the loop.
 */
export function startWalCheckpointer(file: string): WalCheckpointer {
  const driver = createRequire(import.meta.url).resolve('better-sqlite3');
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { file, driver, intervalMs: CHECKPOINT_INTERVAL_MS } });
  // A failing worker only means the main connection checkpoints by itself, as it did before.
  worker.on('error', () => undefined);
  worker.unref();
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  return {
    stop: async () => {
      // Held while it closes its connection, so the process waits for that rather than ending first.
      worker.ref();
      worker.postMessage('stop');
      await exited;
    },
  };
}
