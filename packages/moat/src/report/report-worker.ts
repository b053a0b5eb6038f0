// Worker-thread entry of reporting: drains the shared ring into the sender's queue on a pace set by how
// fast records arrive (drain-pacing.ts), and runs the sender (batches, encoding, gzip, POSTs). A
// crash here costs the records it held, never a request: the serving thread counts them and starts a
// new worker.
import { setTimeout as sleep } from 'node:timers/promises';
import { parentPort, workerData } from 'node:worker_threads';
import { HubFailover } from '../sync/hub-failover.js';
import type { SyncError } from '../sync/sync-error.js';
import { PassedAggregator } from './passed-aggregator.js';
import { ReportSender } from './report-sender.js';
import { RingReader } from './ring-reader.js';
import { StatusJoin } from './status-join.js';
import type { QueuedRecord } from '../sync/report-record.js';
import { DrainPacing } from './drain-pacing.js';
import { ringViews } from './ring-layout.js';
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

/** Records wait for their response status at most as long as a blocked decision waits for its batch. */
const join = new StatusJoin(data.flushBlockedMs, ring.counters);
const push = (record: QueuedRecord) => sender.push(record);

/** `force`: take every record now, even those whose status may still come (they wait in the join). */
function take(force = false): void {
  // Counts only travel in the compact encoding: after a 415 every record goes in full again.
  const counting = aggregator !== null && sender.compact ? aggregator : null;
  if (aggregator !== null && counting === null && aggregator.pendingRequests > 0) aggregator.close();
  reader.drain(push, Infinity, counting, join, force);
  sender.afterPush();
}

/** take(), and the counts of the open window too (a flush, a close). */
function takeAll(): void {
  take(true);
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
    join.releaseAll(push);
    void sender.close().then(() => post({ type: 'closed', id: message.id }));
  }
});

async function run(): Promise<void> {
  post({ type: 'ready' });
  const poll = new DrainPacing(ring.capacity, tickMs);
  let nextTick = Date.now() + tickMs;
  while (!closing) {
    const before = reader.position;
    take();
    const now = Date.now();
    poll.drained((reader.position - before) >>> 0, now);
    // What is merely due waits for the tick, so batches fill up instead of going one per drain.
    if (now >= nextTick) {
      nextTick = now + tickMs;
      if (aggregator?.due()) {
        aggregator.close();
        sender.afterPush();
      }
      join.expire(now, push);
      sender.tick();
    }
    // The serving thread never wakes this thread (see ring-writer.ts): it sleeps until the next drain is due.
    await sleep(Math.max(1, Math.min(nextTick - now, poll.nextDelayMs())));
  }
}

void run();
