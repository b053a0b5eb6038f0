// Worker-thread entry of reporting: drains the shared ring into the sender's queue whenever the serving
// thread rings (a backlog) or the tick passes, and runs the sender (batches, encoding, gzip, POSTs). A
// crash here costs the records it held, never a request: the serving thread counts them and starts a
// new worker.
import { parentPort, workerData } from 'node:worker_threads';
import { HubFailover } from '../sync/hub-failover.js';
import type { SyncError } from '../sync/sync-error.js';
import { PassedAggregator } from './passed-aggregator.js';
import { ReportSender } from './report-sender.js';
import { RingReader } from './ring-reader.js';
import { DOORBELL, ringViews } from './ring-layout.js';
import type { FromWorker, ReportWorkerData, ToWorker } from './worker-protocol.js';

const data = workerData as ReportWorkerData;
const port = parentPort!;
const post = (message: FromWorker) => port.postMessage(message);
const ring = ringViews(data.sab);
const reader = new RingReader(data.sab, data.idPrefix);
const hubs = new HubFailover(data.hubUrls, Date.now, (from, to, error) => post({ type: 'switch', from, to, message: error.message }));
const sender: ReportSender = new ReportSender({
  ...data, hubs, counters: ring.counters,
  onError: (error: SyncError) => post({ type: 'error', reason: error.reason, message: error.message }),
  onUnauthorized: (error: SyncError) => post({ type: 'unauthorized', reason: error.reason, message: error.message }),
  onStateChange: () => post({ type: 'state', lastError: sender.lastError, rejected: sender.rejected, hubs: hubs.status() }),
});
// Passed records counted per key, a sample sent in full; the counts go out when their window closes.
const aggregator = data.reportPassed === 'aggregate'
  ? new PassedAggregator(data.flushIntervalMs, data.passedSamplesPerSecond, reader.stringOf, ring.counters, (entry) => sender.pushCount(entry))
  : null;
/** Within a quarter of the interval, between 10 ms and 1 s, as the timer on the serving thread did before. */
const tickMs = Math.min(1000, Math.max(10, Math.floor(Math.min(data.flushIntervalMs, data.flushBlockedMs) / 4)));
let closing = false;
type WaitAsync = (array: Int32Array, index: number, value: number, timeoutMs: number) => { async: boolean; value: Promise<unknown> | string };
/**
 * Atomics.waitAsync (Node 16+, Deno, Bun), typed here as the TypeScript lib in use predates it; a
 * runtime without it polls on the tick instead.
 */
const waitAsync: WaitAsync = (Atomics as unknown as { waitAsync?: WaitAsync }).waitAsync?.bind(Atomics) ??
  ((_array, _index, _value, timeoutMs) => ({ async: true, value: new Promise((resolve) => setTimeout(resolve, timeoutMs)) }));

function take(): void {
  // Counts only travel in the compact encoding: after a 415 every record goes in full again.
  const counting = aggregator !== null && sender.compact ? aggregator : null;
  if (aggregator !== null && counting === null && aggregator.pendingRequests > 0) aggregator.close();
  if (reader.drain((record) => sender.push(record), Infinity, counting) > 0) sender.afterPush();
}

/** take(), and the counts of the open window too (a flush, a close). */
function takeAll(): void {
  take();
  aggregator?.close();
  sender.afterPush();
}

port.on('message', (message: ToWorker) => {
  if (message.type === 'flush') {
    takeAll();
    void sender.flush(true).then(() => post({ type: 'flushed', id: message.id }));
  } else if (message.type === 'close') {
    closing = true;
    takeAll();
    void sender.close().then(() => post({ type: 'closed', id: message.id }));
  }
});

async function run(): Promise<void> {
  post({ type: 'ready' });
  let nextTick = Date.now() + tickMs;
  while (!closing) {
    const rung = Atomics.load(ring.header, DOORBELL);
    take();
    // A ring wakes the worker to take records (and send a backlog); what is merely due waits for the
    // tick, so batches fill up instead of going one per wake.
    const now = Date.now();
    if (now >= nextTick) {
      nextTick = now + tickMs;
      if (aggregator?.due()) {
        aggregator.close();
        sender.afterPush();
      }
      sender.tick();
    }
    // Sleeps until the serving thread rings or the tick passes; no message per record.
    const wait = waitAsync(ring.header, DOORBELL, rung, Math.max(1, nextTick - now));
    if (wait.async) await wait.value;
  }
}

void run();
