// Reports flow up: every decision becomes a record on a bounded in-memory queue (synchronously, no
// I/O, never awaited by a request); an unref'd timer sends gzip batches when `batchSize` records are
// queued or the oldest has waited `flushIntervalMs`, one batch in flight at a time, retried with
// backoff. The queue is bounded in records and in bytes (long values are cut before they are queued);
// while the hub is down the oldest records make room and are counted as dropped. A batch never
// exceeds `maxBatchBytes` of JSON, and one the hub still finds too large (413) is split in halves and
// sent again. A batch the hub refuses for good (other 4xx) is dropped, counted by status and logged.
// Each batch carries a random id (header X-Moat-Batch-Id), kept across its retries, that the hub stores
// once: a retry after a lost answer is not counted twice. The halves of a split get `<id>.0`, `<id>.1`.
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { gzip as gzipCallback } from 'node:zlib';
import type { Decision } from '../engine/decision.js';
import type { MoatHttpRequest } from '../http/normalized-request.js';
import { backoffDelay } from './backoff.js';
import { BoundedQueue } from './bounded-queue.js';
import type { ClientInfo } from './client-info.js';
import { redact, timedFetch } from './http-fetch.js';
import type { HubFailover } from './hub-failover.js';
import { paramRedactor, type ParamRedactor } from './redact-params.js';
import { MIN_BATCH_BYTES, pendingRecord, toUpsyncRecord, type PendingRecord } from './report-record.js';
import { asError, SyncError } from './sync-error.js';

const gzip = promisify(gzipCallback);
/**
 * Fastest gzip level: reports are sent from the same process that serves requests, and level 1 costs
 * ~0.8 µs per record against ~1.7 µs at the default level for about the same ratio (14× vs 15×).
 */
const GZIP_OPTIONS = { level: 1 };
/**
 * Each POST costs the serving thread about 2 ms (fetch, streams, timers) whatever its size: sent every
 * 250 records at 60k req/s, that alone took ~40 % of a hello-world server's throughput (measured). So a
 * full batch (batchSize) goes on the next timer tick (within a second), and only a backlog of
 * maxBatch records is sent at once; either way a POST carries everything queued, up to maxBatch.
 */
const BACKLOG_BATCH_FACTOR = 20;

export interface UpsyncConfig {
  /** The `…/v2/upsync` endpoints; null (or no API key): reporting is off. */
  hubs: HubFailover | null;
  apiKey: string | null;
  client: ClientInfo;
  batchSize: number;
  flushIntervalMs: number;
  maxQueue: number;
  /** Estimated bytes held at most by the queue and the batches being sent. */
  maxQueueBytes: number;
  /** JSON bytes per POST at most (the hub refuses larger bodies with 413). */
  maxBatchBytes: number;
  /** Share of plain `Passed` records kept (0..1); others are always kept. */
  passedSampleRate: number;
  redactParams: readonly string[];
  requestTimeoutMs: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  now: () => number;
  random?: () => number;
  onError(error: Error): void;
  onUnauthorized(error: Error): void;
}

/** Batches and records the hub refused for good, by HTTP status. */
export type UpsyncRejections = Record<string, { batches: number; records: number }>;

export interface UpsyncStatus {
  enabled: boolean;
  stopped: boolean;
  /** Records waiting, and records in the batches being sent. */
  queued: number;
  inFlight: number;
  /** Estimated bytes of the waiting records, and the bound on waiting plus in-flight ones. */
  queuedBytes: number;
  maxQueueBytes: number;
  sent: number;
  batchesSent: number;
  /** Records lost, all reasons: the sum of the `dropped…` counts below. */
  dropped: number;
  /** Oldest records dropped because the queue held `maxQueue` records. */
  droppedQueueFull: number;
  /** Oldest records dropped because the queue held `maxQueueBytes`. */
  droppedQueueBytes: number;
  /** Records in batches the hub refused for good (4xx other than 401/403/408/429); see `rejected`. */
  droppedRejected: number;
  /** Records of accepted batches that the hub refused one by one (its answer's `rejected` count). */
  droppedByHub: number;
  /** Records too large for a batch on their own (cannot happen with the default limits). */
  droppedTooLarge: number;
  /** Records still queued when reporting stopped (refused key) or closed without reaching the hub. */
  droppedAtStop: number;
  rejected: UpsyncRejections;
  /** Batches split in halves after a 413, and the batch size in bytes now used. */
  splits: number;
  batchBytesLimit: number;
  /** Records with a value cut to its limit (reported, with a marker; not a loss). */
  truncated: number;
  /** Passed records left out by sampling (not losses). */
  sampledOut: number;
  failures: number;
  consecutiveFailures: number;
  lastError: string | null;
  lastSuccessAt: number | null;
  nextRetryAt: number | null;
}

/** Records taken from the queue for one POST, serialised once (a 413 splits them without redoing it). */
interface Batch {
  /** Sent with every try of this batch, so the hub stores it once. */
  id: string;
  records: string[];
  /** Size of the JSON body. */
  jsonBytes: number;
  /** What the records held in the queue's estimate: released when the batch is done with. */
  heldBytes: number;
}

export class Upsync {
  private readonly queue: BoundedQueue<PendingRecord>;
  private readonly redactor: ParamRedactor;
  private readonly random: () => number;
  private readonly timer: NodeJS.Timeout | null;
  private readonly abort = new AbortController();
  /**
   * Ids for requests that came without one: a random prefix per process and a counter, unique without
   * a randomUUID (~170 ns) on every request.
   */
  private readonly idPrefix = randomUUID().slice(0, 24); // UUID-shaped ids: 24 random characters, then 12 hex digits of counter
  private idCounter = 0;
  private readonly nextRequestId = (): string => `${this.idPrefix}${(++this.idCounter).toString(16).padStart(12, '0')}`;
  /** Batches to send, oldest first; the first is the one being sent or retried. */
  private outbox: Batch[] = [];
  private flushing: Promise<void> | null = null;
  private forcedFlush: Promise<void> | null = null;
  private flushQueued = false;
  private stopped = false;
  private closed = false;
  private nextRetryAt = 0;
  private readonly st = {
    sent: 0, batchesSent: 0, droppedRejected: 0, droppedByHub: 0, droppedTooLarge: 0, droppedAtStop: 0, splits: 0, truncated: 0, sampledOut: 0,
    failures: 0, consecutiveFailures: 0, lastError: null as string | null, lastSuccessAt: null as number | null,
  };
  private readonly rejected: UpsyncRejections = {};

  /** Records per POST at most: a backlog is sent in batches this large (see BACKLOG_BATCH_FACTOR). */
  private readonly maxBatch: number;
  /** JSON bytes per POST: maxBatchBytes, lowered when the hub answers 413 to less. */
  private batchBytesLimit: number;
  private readonly metaJson: string;

  constructor(private readonly config: UpsyncConfig) {
    this.queue = new BoundedQueue<PendingRecord>(Math.max(1, config.maxQueue), Math.max(MIN_BATCH_BYTES, config.maxQueueBytes), (r) => r.bytes);
    // A quarter of the queue bound, so a batch in flight never holds most of what may be kept.
    this.maxBatch = Math.max(config.batchSize, Math.min(config.batchSize * BACKLOG_BATCH_FACTOR, Math.floor(config.maxQueue / 4)));
    this.batchBytesLimit = Math.max(MIN_BATCH_BYTES, config.maxBatchBytes);
    this.redactor = paramRedactor(config.redactParams);
    this.random = config.random ?? Math.random;
    const c = config.client;
    this.metaJson = JSON.stringify({ version: c.version, client: c.client, framework: c.framework });
    if (this.enabled) {
      const tickMs = Math.min(1000, Math.max(10, Math.floor(config.flushIntervalMs / 4)));
      this.timer = setInterval(() => this.onTick(), tickMs);
      this.timer.unref(); // reporting never keeps the app alive
    } else {
      this.timer = null;
    }
  }

  get enabled(): boolean {
    return this.config.hubs !== null && this.config.apiKey !== null;
  }

  /** Estimated queue bytes taken per batch: a quarter of the byte bound at most, as for records. */
  private get batchHoldBytes(): number {
    return Math.min(this.batchBytesLimit, Math.floor(this.queue.maxBytes / 4));
  }

  /** The decision listener: synchronous and cheap; never throws into the request. */
  record(decision: Decision, request: MoatHttpRequest): void {
    if (!this.enabled || this.stopped || this.closed) return;
    if (decision.treatment === 'Passed' && decision.monitored.length === 0 && this.config.passedSampleRate < 1 &&
        this.random() >= this.config.passedSampleRate) {
      this.st.sampledOut++;
      return;
    }
    const record = pendingRecord(decision, request, this.config.now(), this.nextRequestId);
    if (record.truncated) this.st.truncated++;
    // The bounds cover the batches being sent too (reserved in the queue): queue + in flight ≤ max.
    this.queue.push(record);
    if ((this.queue.size >= this.maxBatch || this.queue.bytes >= this.batchHoldBytes) && this.outbox.length === 0 && !this.flushQueued) {
      // A backlog: send soon, outside this request's call stack.
      this.flushQueued = true;
      setImmediate(() => {
        this.flushQueued = false;
        void this.flush();
      });
    }
  }

  /** Sends what is due (full batches, or records older than the interval). Never rejects. */
  flush(force = false): Promise<void> {
    if (this.flushing !== null) {
      if (!force) return this.flushing;
      // A routine drain stops at what is due; a forced flush asked meanwhile runs once it ends.
      return (this.forcedFlush ??= this.flushing.then(() => {
        this.forcedFlush = null;
        return this.flush(true);
      }));
    }
    this.flushing = this.drain(force).catch((error) => this.config.onError(asError(error))).finally(() => { this.flushing = null; });
    return this.flushing;
  }

  /** Stops the timer and sends everything queued (one try per batch, within the request timeout). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer !== null) clearInterval(this.timer);
    await this.flushing;
    if (!this.stopped && this.enabled) await this.flush(true);
    this.dropAll();
    this.abort.abort();
  }

  status(): UpsyncStatus {
    const st = this.st;
    const rejected: UpsyncRejections = {};
    for (const [code, r] of Object.entries(this.rejected)) rejected[code] = { ...r };
    return {
      enabled: this.enabled, stopped: this.stopped, queued: this.queue.size, inFlight: this.inFlightCount(),
      queuedBytes: this.queue.bytes, maxQueueBytes: this.queue.maxBytes,
      sent: st.sent, batchesSent: st.batchesSent,
      dropped: this.queue.droppedFull + this.queue.droppedBytes + st.droppedRejected + st.droppedByHub + st.droppedTooLarge + st.droppedAtStop,
      droppedQueueFull: this.queue.droppedFull, droppedQueueBytes: this.queue.droppedBytes, droppedRejected: st.droppedRejected,
      droppedByHub: st.droppedByHub, droppedTooLarge: st.droppedTooLarge, droppedAtStop: st.droppedAtStop, rejected, splits: st.splits,
      batchBytesLimit: this.batchBytesLimit, truncated: st.truncated,
      sampledOut: st.sampledOut, failures: st.failures, consecutiveFailures: st.consecutiveFailures, lastError: st.lastError,
      lastSuccessAt: st.lastSuccessAt, nextRetryAt: this.outbox.length > 0 ? this.nextRetryAt : null,
    };
  }

  /** Stops reporting for good (the hub refused the key). */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.dropAll();
    if (this.timer !== null) clearInterval(this.timer);
  }

  private dropAll(): void {
    this.st.droppedAtStop += this.queue.size + this.inFlightCount();
    this.queue.take(this.queue.size);
    for (const batch of this.outbox) this.queue.release(batch.records.length, batch.heldBytes);
    this.outbox = [];
  }

  private inFlightCount(): number {
    let n = 0;
    for (const batch of this.outbox) n += batch.records.length;
    return n;
  }

  private onTick(): void {
    if (this.flushing === null && (this.queue.size > 0 || this.outbox.length > 0)) void this.flush();
  }

  private async drain(force: boolean): Promise<void> {
    const { config } = this;
    while (!this.stopped) {
      if (this.outbox.length === 0) {
        const oldest = this.queue.peek();
        if (oldest === undefined) return;
        const due = this.queue.size >= config.batchSize || this.queue.bytes >= this.batchHoldBytes ||
          config.now() - oldest.atMs >= config.flushIntervalMs;
        if (!force && !due) return;
        this.outbox = this.buildBatches(this.queue.take(this.maxBatch, this.batchHoldBytes));
        continue;
      }
      if (!force && config.now() < this.nextRetryAt) return;
      if (!(await this.send(this.outbox[0]))) return;
      // Yield between batches of a backlog: serialising and compressing must not hold the thread.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  /** Serialises taken records into batches of at most batchBytesLimit bytes of JSON each. */
  private buildBatches(items: PendingRecord[]): Batch[] {
    const envelope = this.envelopeBytes();
    const limit = this.batchBytesLimit;
    const batches: Batch[] = [];
    let current: Batch | null = null;
    for (const item of items) {
      const json = JSON.stringify(toUpsyncRecord(item, this.redactor));
      const bytes = Buffer.byteLength(json);
      if (envelope + bytes > limit) {
        this.st.droppedTooLarge++;
        continue;
      }
      if (current === null || current.jsonBytes + 1 + bytes > limit) {
        current = { id: randomUUID(), records: [], jsonBytes: envelope, heldBytes: 0 };
        batches.push(current);
      }
      current.jsonBytes += (current.records.length > 0 ? 1 : 0) + bytes;
      current.records.push(json);
      current.heldBytes += item.bytes;
    }
    for (const batch of batches) this.queue.reserve(batch.records.length, batch.heldBytes);
    return batches;
  }

  private envelopeBytes(): number {
    return Buffer.byteLength(`{"meta":${this.metaJson},"batch":[]}`);
  }

  private body(batch: Batch): Promise<Buffer> {
    return gzip(`{"meta":${this.metaJson},"batch":[${batch.records.join(',')}]}`, GZIP_OPTIONS);
  }

  /** Takes the first batch out of the outbox (sent, or refused for good). */
  private done(batch: Batch): void {
    if (this.outbox[0] === batch) this.outbox.shift();
    this.queue.release(batch.records.length, batch.heldBytes);
  }

  /** True when the batch is done with (sent, split or refused for good); false to retry later. */
  private async send(batch: Batch): Promise<boolean> {
    const { config } = this;
    const hub = config.hubs!.current;
    const url = `${hub}/${encodeURIComponent(config.apiKey!)}`;
    const count = batch.records.length;
    let status: number;
    let detail = '';
    let answer = '';
    try {
      const body = await this.body(batch);
      const timed = await timedFetch(url, {
        method: 'POST', body, idleTimeoutMs: config.requestTimeoutMs, totalTimeoutMs: config.requestTimeoutMs,
        maxRedirects: 2, signal: this.abort.signal,
        headers: {
          'content-type': 'application/json', 'content-encoding': 'gzip', 'user-agent': `moat/${config.client.version}`,
          'x-moat-batch-id': batch.id,
        },
      });
      try {
        status = timed.response.status;
        // Error answers are quoted in the log; a success may list records the Moat hub refused one by one.
        answer = await timed.response.text().catch(() => '');
        if (status < 200 || status >= 300) detail = answer.slice(0, 200);
      } finally {
        timed.dispose();
      }
    } catch (error) {
      return this.failed(hub, error instanceof SyncError ? error : new SyncError('network', asError(error).message, { cause: error }));
    }
    if (this.outbox[0] !== batch) return false; // stopped or closed meanwhile
    if (status >= 200 && status < 300) {
      config.hubs!.succeeded(hub);
      const refused = refusedRecords(answer, count);
      if (refused > 0) {
        this.st.droppedByHub += refused;
        config.onError(new SyncError('records-refused', `the hub stored a batch but refused ${refused} of its ${count} records: ${answer.slice(0, 200)}`));
      }
      this.st.sent += count - refused;
      this.st.batchesSent++;
      this.st.consecutiveFailures = 0;
      this.st.lastSuccessAt = config.now();
      this.done(batch);
      return true;
    }
    if (status === 401 || status === 403) {
      const error = new SyncError('unauthorized', `the hub refused the API key for upsync (${status} from ${redact(url)}); reporting stopped`);
      this.st.lastError = error.message;
      this.stop();
      config.onUnauthorized(error);
      return false;
    }
    if (status === 413 && count > 1) {
      // Too large for this hub: send halves now, and smaller batches from now on. Halving ends at
      // single records, so a batch of n costs at most 2n - 1 requests.
      this.splitFirst(batch);
      this.batchBytesLimit = Math.max(MIN_BATCH_BYTES, Math.min(this.batchBytesLimit, Math.floor(batch.jsonBytes / 2)));
      return true;
    }
    if (status >= 400 && status < 500 && status !== 408 && status !== 429) {
      // The hub will never take this batch; retrying would block every later one.
      this.st.droppedRejected += count;
      const entry = (this.rejected[String(status)] ??= { batches: 0, records: 0 });
      entry.batches++;
      entry.records += count;
      this.done(batch);
      const error = new SyncError(`http-${status}`, `the hub refused a batch of ${count} records (${status})${detail ? `: ${detail}` : ''}; they are dropped`);
      this.st.lastError = error.message;
      config.onError(error);
      return true;
    }
    return this.failed(hub, new SyncError(`http-${status}`, `upsync failed: the hub answered ${status}${detail ? `: ${detail}` : ''}`));
  }

  private splitFirst(batch: Batch): void {
    const envelope = this.envelopeBytes();
    const half = Math.ceil(batch.records.length / 2);
    const halves = [batch.records.slice(0, half), batch.records.slice(half)].map((records, i): Batch => {
      const heldBytes = i === 0 ? Math.ceil(batch.heldBytes / 2) : Math.floor(batch.heldBytes / 2);
      // Derived ids: the halves are new batches to the hub, each stored once (a hub that stored the whole
      // batch answers 200, never 413, so no half repeats a stored whole).
      return { id: `${batch.id}.${i}`, records, heldBytes, jsonBytes: envelope + records.length - 1 + records.reduce((n, r) => n + Buffer.byteLength(r), 0) };
    });
    this.outbox.splice(0, 1, ...halves);
    this.st.splits++;
  }

  /** A batch to retry after the backoff; when the hub is away, the retry goes to the next hub. */
  private failed(hub: string, error: SyncError): false {
    this.config.hubs!.failed(hub, error);
    this.st.failures++;
    this.st.consecutiveFailures++;
    this.st.lastError = error.message;
    this.nextRetryAt = this.config.now() + backoffDelay(this.st.consecutiveFailures, this.config.backoffBaseMs, Math.max(this.config.backoffBaseMs, this.config.backoffMaxMs), this.random);
    if (error.reason !== 'aborted') this.config.onError(error);
    return false;
  }
}

/**
 * How many records of a stored batch the hub refused, from a Moat hub's answer
 * (`{"ok":true,"accepted":…,"rejected":…}`); 0 for any other answer (a Wafris hub's, an empty body).
 */
function refusedRecords(answer: string, count: number): number {
  if (answer === '' || answer.length > 1024 * 1024 || answer.charCodeAt(0) !== 0x7b) return 0;
  try {
    const rejected = (JSON.parse(answer) as { rejected?: unknown }).rejected;
    return typeof rejected === 'number' && Number.isInteger(rejected) && rejected > 0 ? Math.min(rejected, count) : 0;
  } catch {
    return 0;
  }
}
