/**
 * A pooled preview worker (preview-pool.ts): it stays up between jobs, so a backtest does not pay a
 * thread's start-up and module loading each time. It runs one job part at a time: the kind's module
 * (rule-preview-worker.ts, threshold-preview-worker.ts) is imported once and its `runPart` called with
 * the part's input. Messages go over the job's own port, so nothing of an earlier job reaches a later
 * one; PART_ENDED, the part's last message, says the worker may take the next part.
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { PART_ENDED, WORKER_READY, type PreviewPart, type PreviewPartModule } from './preview-pool.js';

const port = parentPort;
if (port) {
  port.on('message', (part: PreviewPart) => void runOne(part));
  // The kinds' modules load while the worker waits for its first part; then it says it is ready.
  const preload = (workerData as { preload?: string[] } | null)?.preload ?? [];
  void Promise.allSettled(preload.map((module) => import(module))).then(() => port.postMessage(WORKER_READY));
}

async function runOne(part: PreviewPart): Promise<void> {
  const cancelled = (): boolean => Atomics.load(part.cancel, 0) !== 0;
  try {
    // A job replaced before its part got here (a burst of drafts) costs nothing more.
    if (cancelled()) return;
    const kind = (await import(part.module)) as PreviewPartModule;
    await kind.runPart(part.input, (message) => part.port.postMessage(message), cancelled);
  } catch (error) {
    if (!cancelled()) part.port.postMessage({ type: 'failed', message: error instanceof Error ? error.message : String(error) });
  } finally {
    // The peer's port goes too: a part waiting there for this one's counts then stops instead of waiting forever.
    const peer = (part.input as { peer?: { port?: MessagePort } }).peer?.port;
    peer?.close();
    part.port.postMessage(PART_ENDED);
    part.port.close();
  }
}
