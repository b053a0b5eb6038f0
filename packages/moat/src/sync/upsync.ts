// Reports flow up: every decision becomes a record on a bounded in-memory queue (synchronously, no
// I/O, never awaited by a request); an unref'd timer sends gzip batches when `batchSize` records are
// queued or the oldest has waited `flushIntervalMs`, one batch in flight at a time, retried with
// backoff. While the hub is down at most `maxQueue` records are held; the oldest make room and are
// counted as dropped.
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { gzip as gzipCallback } from 'node:zlib';
import type { Decision } from '../engine/decision.js';
import type { MoatHttpRequest } from '../http/normalized-request.js';
import { backoffDelay } from './backoff.js';
import { BoundedQueue } from './bounded-queue.js';
import type { ClientInfo } from './client-info.js';
import { redact, timedFetch } from './http-fetch.js';
import { paramRedactor } from './redact-params.js';
import { pendingRecord, toUpsyncRecord, type PendingRecord } from './report-record.js';
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
  /** `…/v2/upsync`; null (or no API key): reporting is off. */
  url: string | null;
  apiKey: string | null;
  client: ClientInfo;
  batchSize: number;
  flushIntervalMs: number;
  maxQueue: number;
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

export interface UpsyncStatus {
  enabled: boolean;
  stopped: boolean;
  /** Records waiting, and records in the batch being sent. */
  queued: number;
  inFlight: number;
  sent: number;
  batchesSent: number;
  /** Records lost: queue full (oldest dropped), refused by the hub (4xx), or left at shutdown/stop. */
  dropped: number;
  droppedQueueFull: number;
  droppedRejected: number;
  droppedAtStop: number;
  /** Passed records left out by sampling (not losses). */
  sampledOut: number;
  failures: number;
  consecutiveFailures: number;
  lastError: string | null;
  lastSuccessAt: number | null;
  nextRetryAt: number | null;
}

interface Batch {
  count: number;
  body: Buffer;
}

export class Upsync {
  private readonly queue: BoundedQueue<PendingRecord>;
  private readonly redact: (params: string) => string;
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
  private inFlight: Batch | null = null;
  private flushing: Promise<void> | null = null;
  private flushQueued = false;
  private stopped = false;
  private closed = false;
  private nextRetryAt = 0;
  private readonly st = {
    sent: 0, batchesSent: 0, droppedQueueFull: 0, droppedRejected: 0, droppedAtStop: 0, sampledOut: 0,
    failures: 0, consecutiveFailures: 0, lastError: null as string | null, lastSuccessAt: null as number | null,
  };

  /** Records per POST at most: a backlog is sent in batches this large (see BACKLOG_BATCH_FACTOR). */
  private readonly maxBatch: number;

  constructor(private readonly config: UpsyncConfig) {
    this.queue = new BoundedQueue(Math.max(1, config.maxQueue));
    // A quarter of the queue bound, so a batch in flight never holds most of what may be kept.
    this.maxBatch = Math.max(config.batchSize, Math.min(config.batchSize * BACKLOG_BATCH_FACTOR, Math.floor(config.maxQueue / 4)));
    this.redact = paramRedactor(config.redactParams);
    this.random = config.random ?? Math.random;
    if (this.enabled) {
      const tickMs = Math.min(1000, Math.max(10, Math.floor(config.flushIntervalMs / 4)));
      this.timer = setInterval(() => this.onTick(), tickMs);
      this.timer.unref(); // reporting never keeps the app alive
    } else {
      this.timer = null;
    }
  }

  get enabled(): boolean {
    return this.config.url !== null && this.config.apiKey !== null;
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
    // The bound covers the batch being sent too: queue + in flight ≤ maxQueue.
    if (this.inFlight !== null && this.queue.size + this.inFlight.count >= this.config.maxQueue) {
      if (this.queue.size === 0) {
        this.st.droppedQueueFull++;
        return;
      }
      this.queue.take(1);
      this.st.droppedQueueFull++;
    }
    if (this.queue.push(record) !== undefined) this.st.droppedQueueFull++;
    if (this.queue.size >= this.maxBatch && this.inFlight === null && !this.flushQueued) {
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
    if (this.flushing === null) {
      this.flushing = this.drain(force).catch((error) => this.config.onError(asError(error))).finally(() => { this.flushing = null; });
    }
    return this.flushing;
  }

  /** Stops the timer and sends everything queued (one try per batch, within the request timeout). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer !== null) clearInterval(this.timer);
    await this.flushing;
    if (!this.stopped && this.enabled) await this.flush(true);
    const left = this.queue.size + (this.inFlight?.count ?? 0);
    this.st.droppedAtStop += left;
    this.queue.take(this.queue.size);
    this.inFlight = null;
    this.abort.abort();
  }

  status(): UpsyncStatus {
    const st = this.st;
    return {
      enabled: this.enabled, stopped: this.stopped, queued: this.queue.size, inFlight: this.inFlight?.count ?? 0,
      sent: st.sent, batchesSent: st.batchesSent, dropped: st.droppedQueueFull + st.droppedRejected + st.droppedAtStop,
      droppedQueueFull: st.droppedQueueFull, droppedRejected: st.droppedRejected, droppedAtStop: st.droppedAtStop,
      sampledOut: st.sampledOut, failures: st.failures, consecutiveFailures: st.consecutiveFailures, lastError: st.lastError,
      lastSuccessAt: st.lastSuccessAt, nextRetryAt: this.inFlight !== null ? this.nextRetryAt : null,
    };
  }

  /** Stops reporting for good (the hub refused the key). */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.st.droppedAtStop += this.queue.size + (this.inFlight?.count ?? 0);
    this.queue.take(this.queue.size);
    this.inFlight = null;
    if (this.timer !== null) clearInterval(this.timer);
  }

  private onTick(): void {
    if (this.flushing === null && (this.queue.size > 0 || this.inFlight !== null)) void this.flush();
  }

  private async drain(force: boolean): Promise<void> {
    const { config } = this;
    while (!this.stopped) {
      if (this.inFlight === null) {
        const oldest = this.queue.peek();
        if (oldest === undefined) return;
        const due = this.queue.size >= config.batchSize || config.now() - oldest.atMs >= config.flushIntervalMs;
        if (!force && !due) return;
        this.inFlight = await this.buildBatch(this.queue.take(Math.min(this.queue.size, this.maxBatch)));
      } else if (!force && config.now() < this.nextRetryAt) {
        return;
      }
      if (!(await this.send(this.inFlight))) return;
    }
  }

  private async buildBatch(items: PendingRecord[]): Promise<Batch> {
    const c = this.config.client;
    const json = JSON.stringify({
      meta: { version: c.version, client: c.client, framework: c.framework },
      batch: items.map((p) => toUpsyncRecord(p, this.redact)),
    });
    return { count: items.length, body: await gzip(json, GZIP_OPTIONS) };
  }

  /** True when the batch is done with (sent, or refused for good); false to retry later. */
  private async send(batch: Batch): Promise<boolean> {
    const { config } = this;
    const url = `${config.url!.replace(/\/+$/, '')}/${encodeURIComponent(config.apiKey!)}`;
    let status: number;
    let detail = '';
    try {
      const timed = await timedFetch(url, {
        method: 'POST', body: batch.body, idleTimeoutMs: config.requestTimeoutMs, totalTimeoutMs: config.requestTimeoutMs,
        maxRedirects: 2, signal: this.abort.signal,
        headers: { 'content-type': 'application/json', 'content-encoding': 'gzip', 'user-agent': `moat/${config.client.version}` },
      });
      try {
        status = timed.response.status;
        if (status < 200 || status >= 300) detail = (await timed.response.text().catch(() => '')).slice(0, 200);
        else await timed.response.body?.cancel().catch(() => {});
      } finally {
        timed.dispose();
      }
    } catch (error) {
      return this.failed(error instanceof SyncError ? error : new SyncError('network', asError(error).message, { cause: error }));
    }
    if (this.inFlight !== batch) return false; // stopped or closed meanwhile
    if (status >= 200 && status < 300) {
      this.st.sent += batch.count;
      this.st.batchesSent++;
      this.st.consecutiveFailures = 0;
      this.st.lastSuccessAt = config.now();
      this.inFlight = null;
      return true;
    }
    if (status === 401 || status === 403) {
      const error = new SyncError('unauthorized', `the hub refused the API key for upsync (${status} from ${redact(url)}); reporting stopped`);
      this.st.lastError = error.message;
      this.stop();
      config.onUnauthorized(error);
      return false;
    }
    if (status >= 400 && status < 500 && status !== 408 && status !== 429) {
      // The hub will never take this batch; retrying would block every later one.
      this.st.droppedRejected += batch.count;
      this.inFlight = null;
      config.onError(new SyncError(`http-${status}`, `the hub refused a batch of ${batch.count} records (${status})${detail ? `: ${detail}` : ''}`));
      return true;
    }
    return this.failed(new SyncError(`http-${status}`, `upsync failed: the hub answered ${status}${detail ? `: ${detail}` : ''}`));
  }

  private failed(error: SyncError): false {
    this.st.failures++;
    this.st.consecutiveFailures++;
    this.st.lastError = error.message;
    this.nextRetryAt = this.config.now() + backoffDelay(this.st.consecutiveFailures, this.config.backoffBaseMs, Math.max(this.config.backoffBaseMs, this.config.backoffMaxMs), this.random);
    if (error.reason !== 'aborted') this.config.onError(error);
    return false;
  }
}
