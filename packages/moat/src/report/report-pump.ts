// What the report worker does, as a class the worker entry runs (report-worker.ts), and the serving
// thread too where worker threads are refused (in-thread-reports.ts): drains the shared ring into the
// sender's queue on a pace set by how fast records arrive (drain-pacing.ts), and runs the sender
// (batches, encoding, gzip, POSTs).
import { setTimeout as sleep } from 'node:timers/promises';
import { HubFailover } from '../sync/hub-failover.js';
import type { SyncError } from '../sync/sync-error.js';
import type { QueuedRecord } from '../sync/report-record.js';
import { DrainPacing } from './drain-pacing.js';
import { PassedAggregator } from './passed-aggregator.js';
import { ReportSender } from './report-sender.js';
import { ringViews } from './ring-layout.js';
import { RingReader } from './ring-reader.js';
import { StatusJoin } from './status-join.js';
import type { FromWorker, ReportWorkerData, ToWorker } from './worker-protocol.js';

export class ReportPump {
  private readonly reader: RingReader;
  private readonly sender: ReportSender;
  private readonly aggregator: PassedAggregator | null;
  private readonly join: StatusJoin;
  private readonly capacity: number;
  /** Within a quarter of the interval, between 10 ms and 1 s. */
  private readonly tickMs: number;
  private closing = false;
  /** Ends the wait between drains when the pump is stopped. */
  private readonly stopped = new AbortController();
  private readonly push = (record: QueuedRecord) => this.sender.push(record);

  /**
   * `keepsAlive`: whether the waits between drains hold the event loop open (a worker's own loop: yes; the
   * serving thread's: no). `maxPerDrain`: ring entries read at most per drain, the rest a millisecond later (on
   * the serving thread, so that a backlog is taken in slices between requests, not in one long task).
   */
  constructor(data: ReportWorkerData, private readonly post: (message: FromWorker) => void,
    private readonly options: { keepsAlive: boolean; maxPerDrain: number } = { keepsAlive: true, maxPerDrain: Infinity }) {
    const ring = ringViews(data.sab);
    this.capacity = ring.capacity;
    this.reader = new RingReader(data.sab, data.idPrefix);
    const hubs = new HubFailover(data.hubUrls, Date.now, (from, to, error) => post({ type: 'switch', from, to, message: error.message }));
    const sender: ReportSender = new ReportSender({
      ...data, hubs, counters: ring.counters,
      onError: (error: SyncError) => post({ type: 'error', reason: error.reason, message: error.message }),
      onUnauthorized: (error: SyncError) => post({ type: 'unauthorized', reason: error.reason, message: error.message }),
      onStateChange: () => post({ type: 'state', lastError: sender.lastError, rejected: sender.rejected, hubs: hubs.status() }),
    });
    this.sender = sender;
    // Passed records counted per key, a sample sent in full; the counts go out when their window closes.
    this.aggregator = data.reportPassed === 'aggregate'
      ? new PassedAggregator(data.flushIntervalMs, data.passedSamplesPerSecond, this.reader.stringOf, ring.counters, (entry) => sender.pushCount(entry))
      : null;
    this.tickMs = Math.min(1000, Math.max(10, Math.floor(Math.min(data.flushIntervalMs, data.flushBlockedMs) / 4)));
    // Records wait for their response status at most as long as a blocked decision waits for its batch.
    this.join = new StatusJoin(data.flushBlockedMs, ring.counters);
  }

  /** A command from the serving thread's side (Upsync). */
  handle(message: ToWorker): void {
    if (message.type === 'flush') {
      this.takeAll();
      void this.sender.flush(true).then(() => this.post({ type: 'flushed', id: message.id }));
    } else if (message.type === 'close') {
      this.closing = true;
      this.takeAll();
      this.join.releaseAll(this.push);
      void this.sender.close().then(() => this.post({ type: 'closed', id: message.id }));
    }
  }

  /** Drains until closed or stopped. */
  async run(): Promise<void> {
    this.post({ type: 'ready' });
    const poll = new DrainPacing(this.capacity, this.tickMs);
    let nextTick = Date.now() + this.tickMs;
    while (!this.closing && !this.stopped.signal.aborted) {
      const before = this.reader.position;
      this.take(false, this.options.maxPerDrain);
      const now = Date.now();
      poll.drained((this.reader.position - before) >>> 0, now);
      // What is merely due waits for the tick, so batches fill up instead of going one per drain.
      if (now >= nextTick) {
        nextTick = now + this.tickMs;
        if (this.aggregator?.due()) {
          this.aggregator.close();
          this.sender.afterPush();
        }
        this.join.expire(now, this.push);
        this.sender.tick();
      }
      // The serving thread never wakes the pump (see ring-writer.ts): it sleeps until the next drain is due.
      const delay = this.reader.stoppedAtMax ? 1 : Math.max(1, Math.min(nextTick - now, poll.nextDelayMs()));
      try {
        await sleep(delay, undefined, { ref: this.options.keepsAlive, signal: this.stopped.signal });
      } catch {
        return; // stopped
      }
    }
  }

  /** Ends the loop and the sender at once (what a worker's termination does); what is held is the caller's to count. */
  stop(): void {
    this.stopped.abort();
    this.sender.terminate();
  }

  /**
   * Takes records from the ring (at most `max` entries); `force`: every record now, even those whose status
   * may still come (they wait in the join).
   */
  private take(force = false, max = Infinity): void {
    // Counts only travel in the compact encoding: after a 415 every record goes in full again.
    const aggregator = this.aggregator;
    const counting = aggregator !== null && this.sender.compact ? aggregator : null;
    if (aggregator !== null && counting === null && aggregator.pendingRequests > 0) aggregator.close();
    this.reader.drain(this.push, max, counting, this.join, force);
    this.sender.afterPush();
  }

  /** take(), and the counts of the open window too (a flush, a close). */
  private takeAll(): void {
    this.take(true);
    this.aggregator?.close();
    this.sender.afterPush();
  }
}
