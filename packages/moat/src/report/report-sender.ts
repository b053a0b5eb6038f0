// The worker's sender (what ran on the serving thread before): records taken from the ring wait on a
// bounded queue; batches go when `batchSize` records are queued or the oldest has waited
// `flushIntervalMs`, one batch in flight at a time, retried with backoff. The queue is bounded in
// records and in bytes; while the hub is down the oldest records make room and are counted as dropped.
// A batch never exceeds `maxBatchBytes` of JSON, and one the hub still finds too large (413) is split in
// halves and sent again. A batch the hub refuses for good (other 4xx) is dropped, counted and logged.
// Each batch carries a random id (header X-Moat-Batch-Id), kept across its retries and across a change
// of format, that the hub stores once; the halves of a split get `<id>.0`, `<id>.1`. Batches are sent
// in the compact encoding unless told otherwise; a hub that answers 415 gets Wafris JSON from then on.
// Every counter is mirrored into the shared memory, where the serving thread's status() reads it.
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { gzip as gzipCallback } from 'node:zlib';
import { backoffDelay } from '../sync/backoff.js';
import { BoundedQueue } from '../sync/bounded-queue.js';
import { boundedText, redact, timedFetch } from '../sync/http-fetch.js';
import type { HubFailover } from '../sync/hub-failover.js';
import { paramRedactor, type ParamRedactor } from '../sync/redact-params.js';
import { MIN_BATCH_BYTES, requestsOf, toUpsyncRecord, type QueuedRecord } from '../sync/report-record.js';
import { asError, SyncError } from '../sync/sync-error.js';
import { COMPACT_CONTENT_TYPE, CompactBatchBuilder, type CompactMeta } from './compact-encoding.js';
import { COUNTER } from './ring-layout.js';
import { addToCounter, counterOf } from './shared-counters.js';

const gzip = promisify(gzipCallback);
/** Fastest gzip level: about the same ratio as the default on these bodies for half the CPU (measured). */
const GZIP_OPTIONS = { level: 1 };
/**
 * Each POST costs about 2 ms of CPU (fetch, streams, timers) whatever its size (measured), and the worker
 * shares the serving process's core: a full batch (batchSize) waits for the next tick, and only a backlog
 * of maxBatch records is sent at once; either way a POST carries everything queued, up to maxBatch. At
 * 50 000 decisions a second, batches of 2 500 cost ~0.8 µs per record in POSTs alone, of 5 000 ~0.4.
 */
const BACKLOG_BATCH_FACTOR = 40;

export type UpsyncFormat = 'compact' | 'wafris';

/** The settings of reporting, as the serving thread hands them to the worker. */
export interface ReportSettings {
  apiKey: string;
  meta: CompactMeta;
  userAgent: string;
  format: UpsyncFormat;
  batchSize: number;
  flushIntervalMs: number;
  /** Longest wait of a record other than a plain Passed one (at most flushIntervalMs). */
  flushBlockedMs: number;
  maxQueue: number;
  maxQueueBytes: number;
  maxBatchBytes: number;
  redactParams: readonly string[];
  requestTimeoutMs: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  /** 'aggregate': Passed records counted per key, a sample sent in full (passed-aggregator.ts); 'all': each in full. */
  reportPassed: 'aggregate' | 'all';
  /** With 'aggregate': further Passed records sent in full per second, besides each key's first per window. */
  passedSamplesPerSecond: number;
}

export interface ReportSenderConfig extends ReportSettings {
  hubs: HubFailover;
  /** The shared counters (see ring-layout.ts COUNTER). */
  counters: Float64Array;
  onError(error: SyncError): void;
  onUnauthorized(error: SyncError): void;
  /** Something status() shows beyond the counters changed (last error, rejections, hubs). */
  onStateChange(): void;
}

/** Batches and records the hub refused for good, by HTTP status. */
export type UpsyncRejections = Record<string, { batches: number; records: number }>;

/** Records taken from the queue for one POST; the body is encoded once per format. */
interface Batch {
  /** Sent with every try of this batch, so the hub stores it once. */
  id: string;
  records: QueuedRecord[];
  /** Size of the JSON body in the format it was built for. */
  jsonBytes: number;
  /** What the records held in the queue's estimate: released when the batch is done with. */
  heldBytes: number;
  body: { format: UpsyncFormat; gzipped: Buffer } | null;
  /** The compact encoding built while cutting the batch to size, used for its body. */
  compact: CompactBatchBuilder | null;
}

export class ReportSender {
  private readonly queue: BoundedQueue<QueuedRecord>;
  private readonly redactor: ParamRedactor;
  private readonly abort = new AbortController();
  /** Batches to send, oldest first; the first is the one being sent or retried. */
  private outbox: Batch[] = [];
  private flushing: Promise<void> | null = null;
  private forcedFlush: Promise<void> | null = null;
  private stopped = false;
  private closed = false;
  private nextRetryAt = 0;
  /** When the oldest queued decision other than a plain Passed one arrived; null when none is queued. */
  private oldestBlockedMs: number | null = null;
  private format: UpsyncFormat;
  private readonly maxBatch: number;
  private batchBytesLimit: number;
  private readonly metaJson: string;
  readonly rejected: UpsyncRejections = {};
  lastError: string | null = null;

  /** Records pushed since the last publish(): added to the shared `taken` together with the queue's count. */
  private takenUnpublished = 0;

  constructor(private config: ReportSenderConfig) {
    // Counted in requests: a count entry stands for many, so sent + dropped + queued adds up to what was recorded.
    this.queue = new BoundedQueue<QueuedRecord>(Math.max(1, config.maxQueue), Math.max(MIN_BATCH_BYTES, config.maxQueueBytes), (r) => r.bytes, requestsOf);
    // Half the queue bound at most, so a batch in flight leaves room for as many waiting records.
    this.maxBatch = Math.max(config.batchSize, Math.min(config.batchSize * BACKLOG_BATCH_FACTOR, Math.floor(config.maxQueue / 2)));
    this.batchBytesLimit = Math.max(MIN_BATCH_BYTES, config.maxBatchBytes);
    this.redactor = paramRedactor(config.redactParams);
    this.format = config.counters[COUNTER.wafrisFallback] === 1 ? 'wafris' : config.format;
    this.metaJson = JSON.stringify(config.meta);
    this.dropsBefore = { full: counterOf(config.counters, COUNTER.droppedQueueFull), bytes: counterOf(config.counters, COUNTER.droppedQueueBytes) };
    this.publish();
  }

  /** Queues a record taken from the ring (the oldest make room when a bound is reached). */
  push(record: QueuedRecord): void {
    if (this.stopped || this.closed) {
      addToCounter(this.config.counters, COUNTER.droppedAtStop);
      addToCounter(this.config.counters, COUNTER.taken);
      return;
    }
    this.takenUnpublished++;
    // A decision other than a plain Passed one is what auto-ban and the dashboard wait for: it sets a
    // shorter deadline for the whole queue.
    if (this.oldestBlockedMs === null && (record.treatment !== 'Passed' || record.monitored.length > 0)) this.oldestBlockedMs = record.receivedMs;
    this.queue.push(record);
  }

  /** Queues a count of Passed requests (from the aggregator, already counted as taken). */
  pushCount(entry: QueuedRecord): void {
    if (this.stopped || this.closed) {
      addToCounter(this.config.counters, COUNTER.droppedAtStop, requestsOf(entry));
      return;
    }
    this.queue.push(entry);
  }

  /** Whether batches go in the compact encoding (the only one that carries counts). */
  get compact(): boolean {
    return this.format === 'compact';
  }

  /** After a run of pushes: the counters, and a send when a backlog is due. */
  afterPush(): void {
    this.publish();
    if (this.flushing === null && this.outbox.length === 0 && (this.queue.size >= this.maxBatch || this.queue.bytes >= this.batchHoldBytes)) void this.flush();
  }

  /** The timer: sends what is due. */
  tick(): void {
    if (this.flushing === null && (this.queue.size > 0 || this.outbox.length > 0)) void this.flush();
  }

  /** Sends what is due (full batches, or records older than the interval), or everything when forced. Never rejects. */
  flush(force = false): Promise<void> {
    if (this.flushing !== null) {
      if (!force) return this.flushing;
      // A routine drain stops at what is due; a forced flush asked meanwhile runs once it ends.
      return (this.forcedFlush ??= this.flushing.then(() => {
        this.forcedFlush = null;
        return this.flush(true);
      }));
    }
    this.flushing = this.drain(force)
      .catch((error) => this.config.onError(new SyncError('upsync', asError(error).message, { cause: error })))
      .finally(() => {
        this.flushing = null;
        this.publish();
      });
    return this.flushing;
  }

  /** Sends everything queued (one try per batch, within the request timeout), then counts the rest as dropped at stop. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.flushing;
    if (!this.stopped) await this.flush(true);
    this.dropAll();
    this.abort.abort();
    this.publish();
  }

  /**
   * Ends this sender at once, as a worker's termination ends its thread: nothing more is sent, and a POST
   * still settling no longer reaches the shared counters, which the serving thread has settled itself
   * (Upsync counts what was held). For the pump on the serving thread (in-thread-reports.ts).
   */
  terminate(): void {
    this.stopped = true;
    this.closed = true;
    this.config = { ...this.config, counters: new Float64Array(this.config.counters.length), onError: () => {}, onUnauthorized: () => {}, onStateChange: () => {} };
    // A send that settles now finds its batch gone and counts nothing (see send()).
    this.outbox = [];
    this.abort.abort();
  }

  /** Stops for good (the hub refused the key). */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.dropAll();
    this.publish();
  }

  /** Copies the counters status() reads into the shared memory. */
  publish(): void {
    const c = this.config.counters;
    let inFlight = 0;
    for (const batch of this.outbox) inFlight += requestsIn(batch.records);
    c[COUNTER.queued] = this.queue.tallied;
    c[COUNTER.queuedBytes] = this.queue.bytes;
    c[COUNTER.inFlight] = inFlight;
    c[COUNTER.droppedQueueFull] = this.queueDropsFull;
    c[COUNTER.droppedQueueBytes] = this.queueDropsBytes;
    c[COUNTER.batchBytesLimit] = this.batchBytesLimit;
    c[COUNTER.nextRetryAt] = this.outbox.length > 0 ? this.nextRetryAt : 0;
    c[COUNTER.wafrisFallback] = this.format === 'wafris' && this.config.format === 'compact' ? 1 : 0;
    // Taken after queued: status() counts a record as in the ring until taken, so it never sees one in neither.
    if (this.takenUnpublished > 0) {
      addToCounter(c, COUNTER.taken, this.takenUnpublished);
      this.takenUnpublished = 0;
    }
  }

  /** Queue drops of earlier workers (carried in the shared counters) plus this one's. */
  private readonly dropsBefore: { full: number; bytes: number };
  private get queueDropsFull(): number {
    return this.dropsBefore.full + this.queue.droppedFull;
  }

  private get queueDropsBytes(): number {
    return this.dropsBefore.bytes + this.queue.droppedBytes;
  }

  /**
   * Estimated queue bytes taken per batch: half the byte bound at most, as for records. In Wafris JSON a
   * record's memory estimate is also about its JSON size, so the JSON limit applies too; in the compact
   * encoding repeated strings cost an index, so only the memory bound applies (the builder keeps the
   * JSON under batchBytesLimit), else batches would stop at ~1 500 records and cost a POST each.
   */
  private get batchHoldBytes(): number {
    const half = Math.floor(this.queue.maxBytes / 2);
    return this.format === 'compact' ? half : Math.min(this.batchBytesLimit, half);
  }

  private dropAll(): void {
    let held = this.queue.tallied;
    for (const batch of this.outbox) held += requestsIn(batch.records);
    addToCounter(this.config.counters, COUNTER.droppedAtStop, held);
    this.queue.take(this.queue.size);
    for (const batch of this.outbox) this.queue.release(batch.records.length, batch.heldBytes);
    this.outbox = [];
  }

  private async drain(force: boolean): Promise<void> {
    const { config } = this;
    let sent = 0;
    while (!this.stopped) {
      if (this.outbox.length === 0) {
        const oldest = this.queue.peek();
        if (oldest === undefined) return;
        // After the first batch of a drain only a backlog (or old records) goes at once: what arrived
        // during a send waits for the next tick and fills its batch, rather than going in small ones.
        const now = Date.now();
        const due = (sent === 0 ? this.queue.size >= config.batchSize : this.queue.size >= this.maxBatch) ||
          this.queue.bytes >= this.batchHoldBytes || now - oldest.receivedMs >= config.flushIntervalMs ||
          (this.oldestBlockedMs !== null && now - this.oldestBlockedMs >= config.flushBlockedMs);
        if (!force && !due) return;
        this.outbox = this.buildBatches(this.queue.take(this.maxBatch, this.batchHoldBytes));
        // What stays queued may hold such a decision: its deadline is taken from the oldest left (earlier, never later).
        this.oldestBlockedMs = this.oldestBlockedMs === null ? null : this.queue.peek()?.receivedMs ?? null;
        this.publish();
        continue;
      }
      if (!force && Date.now() < this.nextRetryAt) return;
      const first = this.outbox[0];
      if (first === undefined || !(await this.send(first))) return;
      sent++;
      this.publish();
      // Yield between batches of a backlog: encoding and compressing must not hold the worker.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  /** Cuts taken records into batches of at most batchBytesLimit bytes of JSON each, in the current format. */
  private buildBatches(items: QueuedRecord[]): Batch[] {
    const batches = this.format === 'compact' ? this.compactBatches(items) : this.wafrisBatches(items);
    for (const batch of batches) this.queue.reserve(batch.records.length, batch.heldBytes);
    return batches;
  }

  private compactBatches(items: QueuedRecord[]): Batch[] {
    const limit = this.batchBytesLimit;
    const batches: Batch[] = [];
    let builder: CompactBatchBuilder | null = null;
    let current: Batch | null = null;
    for (const item of items) {
      if (builder !== null && current !== null) {
        builder.add(item);
        if (builder.bytes <= limit) {
          current.records.push(item);
          current.heldBytes += item.bytes;
          current.jsonBytes = builder.bytes;
          continue;
        }
        builder.removeLast();
      }
      builder = new CompactBatchBuilder(this.config.meta, this.redactor);
      builder.add(item);
      if (builder.bytes > limit) {
        addToCounter(this.config.counters, COUNTER.droppedTooLarge, requestsOf(item));
        builder = null;
        current = null;
        continue;
      }
      current = { id: randomUUID(), records: [item], jsonBytes: builder.bytes, heldBytes: item.bytes, body: null, compact: builder };
      batches.push(current);
    }
    return batches;
  }

  private wafrisBatches(items: QueuedRecord[]): Batch[] {
    const envelope = this.wafrisEnvelopeBytes();
    const limit = this.batchBytesLimit;
    const batches: Batch[] = [];
    let current: Batch | null = null;
    for (const item of items) {
      if (item.aggregated !== undefined) {
        // Wafris JSON has no place for counts (a hub that answered 415 would drop them unseen).
        addToCounter(this.config.counters, COUNTER.droppedUnsupported, item.aggregated);
        continue;
      }
      const bytes = Buffer.byteLength(JSON.stringify(toUpsyncRecord(item, this.redactor)));
      if (envelope + bytes > limit) {
        addToCounter(this.config.counters, COUNTER.droppedTooLarge);
        continue;
      }
      if (current === null || current.jsonBytes + 1 + bytes > limit) {
        current = { id: randomUUID(), records: [], jsonBytes: envelope, heldBytes: 0, body: null, compact: null };
        batches.push(current);
      }
      current.jsonBytes += (current.records.length > 0 ? 1 : 0) + bytes;
      current.records.push(item);
      current.heldBytes += item.bytes;
    }
    return batches;
  }

  private wafrisEnvelopeBytes(): number {
    return Buffer.byteLength(`{"meta":${this.metaJson},"batch":[]}`);
  }

  /** The gzipped body of a batch in the current format, made once per format. */
  private async body(batch: Batch): Promise<Buffer> {
    if (batch.body !== null && batch.body.format === this.format) return batch.body.gzipped;
    let json: string;
    if (this.format === 'compact') {
      let builder = batch.compact;
      if (builder === null) {
        builder = new CompactBatchBuilder(this.config.meta, this.redactor);
        for (const record of batch.records) builder.add(record);
      }
      json = builder.finish();
      batch.compact = null; // encoded: the builder's columns are not needed again
    } else {
      json = `{"meta":${this.metaJson},"batch":[${batch.records.map((r) => JSON.stringify(toUpsyncRecord(r, this.redactor))).join(',')}]}`;
    }
    batch.jsonBytes = Buffer.byteLength(json);
    const gzipped = await gzip(json, GZIP_OPTIONS);
    batch.body = { format: this.format, gzipped };
    return gzipped;
  }

  /** Takes the first batch out of the outbox (sent, or refused for good). */
  private done(batch: Batch): void {
    if (this.outbox[0] === batch) this.outbox.shift();
    this.queue.release(batch.records.length, batch.heldBytes);
  }

  /** True when the batch is done with (sent, split, re-encoded or refused for good); false to retry later. */
  private async send(batch: Batch): Promise<boolean> {
    const { config } = this;
    const c = config.counters;
    const hub = config.hubs.current;
    const url = `${hub}/${encodeURIComponent(config.apiKey)}`;
    if (batch.records.length === 0) {
      this.done(batch); // held only counts, dropped when the format changed
      return true;
    }
    const count = requestsIn(batch.records);
    const format = this.format;
    let status: number;
    let detail = '';
    let answer = '';
    try {
      const body = await this.body(batch);
      if (batch.jsonBytes > this.batchBytesLimit && batch.records.length > 1) {
        // Built for the compact format, too large once re-encoded as Wafris JSON: split before sending.
        this.splitFirst(batch);
        return true;
      }
      const timed = await timedFetch(url, {
        method: 'POST', body, idleTimeoutMs: config.requestTimeoutMs, totalTimeoutMs: config.requestTimeoutMs,
        maxRedirects: 2, signal: this.abort.signal,
        headers: {
          'content-type': format === 'compact' ? COMPACT_CONTENT_TYPE : 'application/json', 'content-encoding': 'gzip',
          'user-agent': config.userAgent, 'x-moat-batch-id': batch.id,
        },
      });
      try {
        status = timed.response.status;
        // Error answers are quoted in the log; a success may list records the Moat hub refused one by one.
        // Bounded: one byte past the largest answer refusedRecords() reads, so a longer one counts as none.
        answer = await boundedText(timed, UPSYNC_ANSWER_BYTES + 1).catch(() => '');
        if (status < 200 || status >= 300) detail = answer.slice(0, 200);
      } finally {
        timed.dispose();
      }
    } catch (error) {
      return this.failed(hub, error instanceof SyncError ? error : new SyncError('network', asError(error).message, { cause: error }));
    }
    if (this.outbox[0] !== batch) return false; // stopped or closed meanwhile
    if (status >= 200 && status < 300) {
      config.hubs.succeeded(hub);
      const refused = refusedRecords(answer, count);
      if (refused > 0) {
        addToCounter(c, COUNTER.droppedByHub, refused);
        config.onError(new SyncError('records-refused', `the hub stored a batch but refused ${refused} of its ${count} records: ${answer.slice(0, 200)}`));
      }
      // Out of the in-flight count before it counts as sent: status(), read on another thread meanwhile,
      // may briefly miss a batch, but never shows one both sent and still waiting.
      this.done(batch);
      this.publish();
      addToCounter(c, COUNTER.sent, count - refused);
      addToCounter(c, COUNTER.batchesSent);
      c[COUNTER.consecutiveFailures] = 0;
      c[COUNTER.lastSuccessAt] = Date.now();
      config.onStateChange();
      return true;
    }
    if (status === 415 && format === 'compact') {
      // A hub that only knows Wafris JSON (an older Moat hub, a Wafris-compatible one): that format from
      // now on, starting with this very batch (same id, so a hub that did store it stores it once).
      this.format = 'wafris';
      for (const waiting of this.outbox) this.dropCounts(waiting);
      this.lastError = `the hub does not take the compact report format (415 from ${redact(url)}); sending Wafris JSON from now on`;
      config.onStateChange();
      return true;
    }
    if (status === 401 || status === 403) {
      const error = new SyncError('unauthorized', `the hub refused the API key for upsync (${status} from ${redact(url)}); reporting stopped`);
      this.lastError = error.message;
      this.stop();
      config.onStateChange();
      config.onUnauthorized(error);
      return false;
    }
    if (status === 413 && batch.records.length > 1) {
      // Too large for this hub: send halves now, and smaller batches from now on. Halving ends at
      // single records, so a batch of n costs at most 2n - 1 requests.
      this.splitFirst(batch);
      this.batchBytesLimit = Math.max(MIN_BATCH_BYTES, Math.min(this.batchBytesLimit, Math.floor(batch.jsonBytes / 2)));
      return true;
    }
    if (status >= 400 && status < 500 && status !== 408 && status !== 429) {
      // The hub will never take this batch; retrying would block every later one.
      this.done(batch);
      this.publish();
      addToCounter(c, COUNTER.droppedRejected, count);
      const entry = (this.rejected[String(status)] ??= { batches: 0, records: 0 });
      entry.batches++;
      entry.records += count;
      const error = new SyncError(`http-${status}`, `the hub refused a batch of ${count} records (${status})${detail ? `: ${detail}` : ''}; they are dropped`);
      this.lastError = error.message;
      config.onStateChange();
      config.onError(error);
      return true;
    }
    return this.failed(hub, new SyncError(`http-${status}`, `upsync failed: the hub answered ${status}${detail ? `: ${detail}` : ''}`));
  }

  /** Takes the counts out of a batch about to go as Wafris JSON: dropped, counted as such. */
  private dropCounts(batch: Batch): void {
    let items = 0;
    let bytes = 0;
    batch.records = batch.records.filter((r) => {
      if (r.aggregated === undefined) return true;
      addToCounter(this.config.counters, COUNTER.droppedUnsupported, r.aggregated);
      items++;
      bytes += r.bytes;
      return false;
    });
    if (items === 0) return;
    this.queue.release(items, bytes);
    batch.heldBytes -= bytes;
    batch.compact = null;
    batch.body = null;
  }

  private splitFirst(batch: Batch): void {
    const half = Math.ceil(batch.records.length / 2);
    const halves = [batch.records.slice(0, half), batch.records.slice(half)].map((records, i): Batch => {
      const heldBytes = i === 0 ? Math.ceil(batch.heldBytes / 2) : Math.floor(batch.heldBytes / 2);
      // Derived ids: the halves are new batches to the hub, each stored once (a hub that stored the whole
      // batch answers 200, never 413, so no half repeats a stored whole).
      return { id: `${batch.id}.${i}`, records, heldBytes, jsonBytes: Math.ceil(batch.jsonBytes / 2), body: null, compact: null };
    });
    this.outbox.splice(0, 1, ...halves);
    addToCounter(this.config.counters, COUNTER.splits);
  }

  /** A batch to retry after the backoff; when the hub is away, the retry goes to the next hub. */
  private failed(hub: string, error: SyncError): false {
    const c = this.config.counters;
    this.config.hubs.failed(hub, error);
    addToCounter(c, COUNTER.failures);
    addToCounter(c, COUNTER.consecutiveFailures);
    this.lastError = error.message;
    this.nextRetryAt = Date.now() + backoffDelay(counterOf(c, COUNTER.consecutiveFailures), this.config.backoffBaseMs, Math.max(this.config.backoffBaseMs, this.config.backoffMaxMs));
    this.config.onStateChange();
    if (error.reason !== 'aborted') this.config.onError(error);
    return false;
  }
}

/** Requests the entries stand for (a count entry many). */
function requestsIn(records: readonly QueuedRecord[]): number {
  let n = 0;
  for (const r of records) n += r.aggregated ?? 1;
  return n;
}

/**
 * How many records of a stored batch the hub refused, from a Moat hub's answer
 * (`{"ok":true,"accepted":…,"rejected":…}`); 0 for any other answer (a Wafris hub's, an empty body).
 */
/** The largest upsync answer read for its count of refused records. */
const UPSYNC_ANSWER_BYTES = 1024 * 1024;

function refusedRecords(answer: string, count: number): number {
  if (answer === '' || answer.length > UPSYNC_ANSWER_BYTES || answer.charCodeAt(0) !== 0x7b) return 0;
  try {
    const rejected = (JSON.parse(answer) as { rejected?: unknown }).rejected;
    return typeof rejected === 'number' && Number.isInteger(rejected) && rejected > 0 ? Math.min(rejected, count) : 0;
  } catch {
    return 0;
  }
}
