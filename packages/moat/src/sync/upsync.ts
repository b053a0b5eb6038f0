// Reports flow up without costing the serving thread more than a write into shared memory: each
// decision is written as a compact record into a ring (report/ring-writer.ts), and a worker thread
// (report/report-worker.ts) takes records from it, queues, batches, redacts, encodes, gzips and POSTs
// them (report/report-sender.ts). This class is the serving thread's side: it starts the worker (and a
// new one after a crash, with backoff; where worker threads are refused, the same pump on this thread:
// report/in-thread-reports.ts), answers status() synchronously from counters the worker keeps
// in the shared memory, and turns flushReports()/close() into messages. Every record is sent or counted
// as dropped by reason; a crash of the whole process loses what was not yet sent: at most about one
// flush interval of records while the hub answers (`maxLossMs`).
import { randomUUID } from 'node:crypto';
import type { Decision } from '../engine/decision.js';
import { startModuleWorker } from '../loading/start-worker.js';
import type { MoatHttpRequest } from '../http/normalized-request.js';
import type { UpsyncFormat, UpsyncRejections } from '../report/report-sender.js';
import { COUNTER, createRing, ringViews, usedBytes, type RingViews } from '../report/ring-layout.js';
import { RingWriter } from '../report/ring-writer.js';
import { addToCounter, counterOf } from '../report/shared-counters.js';
import { DEFAULT_PASSED_SAMPLES_PER_SECOND } from '../report/passed-aggregator.js';
import type { FromWorker, ReportWorkerData, ToWorker } from '../report/worker-protocol.js';
import type { ReportThread } from '../report/in-thread-reports.js';
import type { ClientInfo } from './client-info.js';
import type { HubFailoverStatus } from './hub-failover.js';
import { SyncError } from './sync-error.js';

export type { UpsyncFormat, UpsyncRejections } from '../report/report-sender.js';

export interface UpsyncConfig {
  /** The `…/v2/upsync` endpoints in failover order; empty (or no API key): reporting is off. */
  hubUrls: readonly string[];
  apiKey: string | null;
  client: ClientInfo;
  format: UpsyncFormat;
  batchSize: number;
  flushIntervalMs: number;
  /** Longest wait of a record other than a plain Passed one; default flushIntervalMs. */
  flushBlockedMs?: number;
  maxQueue: number;
  /** Estimated bytes held at most by the worker's queue and the batches being sent. */
  maxQueueBytes: number;
  /** Bytes of shared memory between the serving thread and the worker (rounded up to a power of two). */
  ringBytes: number;
  /** JSON bytes per POST at most (the hub refuses larger bodies with 413). */
  maxBatchBytes: number;
  /** Share of plain `Passed` records kept (0..1); others are always kept. */
  passedSampleRate: number;
  /**
   * 'aggregate': plain Passed records are counted per key and minute in the worker, the first of each
   * key per window and `passedSamplesPerSecond` more a second sent in full (compact encoding only);
   * 'all' (the default here): every record in full. Managed mode defaults to 'aggregate'.
   */
  reportPassed?: 'aggregate' | 'all';
  passedSamplesPerSecond?: number;
  redactParams: readonly string[];
  requestTimeoutMs: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  now: () => number;
  random?: () => number;
  onError(error: Error): void;
  onUnauthorized(error: Error): void;
  /** A move to another hub (logged by the managed firewall). */
  onHubSwitch(from: string, to: string, error: Error): void;
}

export interface UpsyncStatus {
  enabled: boolean;
  stopped: boolean;
  /** Wire format in use: 'compact', or 'wafris' (configured, or after a hub answered 415). */
  format: UpsyncFormat;
  /** Records handed to reporting (decisions not sampled out): sent + dropped + queued + inFlight. */
  recorded: number;
  /** Records waiting (in the ring and in the worker's queue), and records in the batches being sent. */
  queued: number;
  /** Of `queued`, records still in the ring (the worker takes them on its next drain; bounded by `ringBytes`). */
  inRing: number;
  /** Of `queued`, records taken from the ring that wait for their response to finish (at most `flushBlockedMs`). */
  awaitingStatus: number;
  /** Records sent without their response status: it had not finished within the wait (not a loss). */
  statusMissing: number;
  inFlight: number;
  /** Estimated bytes of the records in the worker's queue, and the bound on its queue plus in-flight ones. */
  queuedBytes: number;
  maxQueueBytes: number;
  /** Shared memory between the serving thread and the worker: its size and the bytes in use now. */
  ringBytes: number;
  ringUsedBytes: number;
  sent: number;
  batchesSent: number;
  /** Records lost, all reasons: the sum of the `dropped…` counts below. */
  dropped: number;
  /** Records not written because the ring was full (the worker was behind or restarting). */
  droppedRingFull: number;
  /** Oldest records dropped because the queue held `maxQueue` records. */
  droppedQueueFull: number;
  /** Oldest records dropped because the queue held `maxQueueBytes`. */
  droppedQueueBytes: number;
  /** Records in batches the hub refused for good (4xx other than 401/403/408/429/415); see `rejected`. */
  droppedRejected: number;
  /** Records of accepted batches that the hub refused one by one (its answer's `rejected` count). */
  droppedByHub: number;
  /** Records too large for a batch on their own (cannot happen with the default limits). */
  droppedTooLarge: number;
  /** Records still queued when reporting stopped (refused key) or closed without reaching the hub. */
  droppedAtStop: number;
  /** Records held by a worker that died (crashed or was killed), counted when it did. */
  droppedWorkerExit: number;
  rejected: UpsyncRejections;
  /** Batches split in halves after a 413, and the batch size in bytes now used. */
  splits: number;
  batchBytesLimit: number;
  /** Records with a value cut to its limit (reported, with a marker; not a loss). */
  truncated: number;
  /** Passed records left out by sampling (not losses). */
  sampledOut: number;
  /** Passed records counted instead of sent in full (reportPassed 'aggregate'); in `sent` once their count is. */
  aggregated: number;
  /** Passed counts lost because the hub takes only Wafris JSON (it answered 415), which cannot carry them. */
  droppedUnsupported: number;
  failures: number;
  consecutiveFailures: number;
  lastError: string | null;
  lastSuccessAt: number | null;
  nextRetryAt: number | null;
  /** Whether a report worker runs now, and how many were started after one died. */
  workerRunning: boolean;
  /**
   * Worker threads were refused (Node's permission model without `--allow-worker`): reports are batched,
   * encoded and sent from the serving thread instead, at the cost of that work there. Why is logged once.
   */
  onServingThread: boolean;
  workerRestarts: number;
  /**
   * Records a crash of the whole process can lose while the hub answers: those of about this long
   * (they wait at most one flush interval before their batch is sent; Passed counts, with reportPassed
   * 'aggregate', one more while their window is open). While the hub is away, all queued.
   */
  maxLossMs: number;
}

/** Restarts of a dead worker: 250 ms, doubling, at most a minute apart. */
const RESTART_BASE_MS = 250;
const RESTART_MAX_MS = 60_000;
/** A worker that ran this long before dying starts the backoff afresh. */
const RESTART_RESET_MS = 60_000;

type Ending = 'crash' | 'stop' | 'close';

export class Upsync {
  private readonly ring: RingViews | null;
  private readonly writer: RingWriter | null;
  private readonly random: () => number;
  private readonly workerData: ReportWorkerData | null;
  private worker: ReportThread | null = null;
  /** Worker threads were refused: the pump runs on the serving thread (in-thread-reports.ts). */
  private inThread = false;
  private workerStartedAt = 0;
  private restarts = 0;
  private restartTimer: NodeJS.Timeout | null = null;
  /** Why the running worker is being ended (null: it is not; an exit then is a crash). */
  private ending: Ending | null = null;
  private exited: Promise<void> = Promise.resolve();
  private readonly pending = new Map<number, () => void>();
  private nextMessageId = 0;
  private stopped = false;
  private closed = false;
  private closing: Promise<void> | null = null;
  /** Records written into the ring, and lost: ring full, held by a dead worker. */
  private written = 0;
  private droppedRingFull = 0;
  private droppedWorkerExit = 0;
  private sampledOut = 0;
  private lastError: string | null = null;
  private rejected: UpsyncRejections = {};
  private hubs: HubFailoverStatus;

  constructor(private readonly config: UpsyncConfig) {
    this.random = config.random ?? Math.random;
    this.hubs = {
      current: config.hubUrls[0] ?? '', switches: 0,
      hubs: config.hubUrls.map((url, i) => ({
        url, current: i === 0, failures: 0, consecutiveFailures: 0, lastError: null, lastFailureAt: null, lastSuccessAt: null,
      })),
    };
    if (!this.enabled) {
      this.ring = null;
      this.writer = null;
      this.workerData = null;
      return;
    }
    const sab = createRing(config.ringBytes);
    this.ring = ringViews(sab);
    this.writer = new RingWriter(sab);
    const c = config.client;
    this.workerData = {
      sab, idPrefix: randomUUID().slice(0, 24), hubUrls: config.hubUrls, apiKey: config.apiKey!,
      meta: { version: c.version, client: c.client, framework: c.framework }, userAgent: `moat/${c.version}`, format: config.format,
      batchSize: config.batchSize, flushIntervalMs: config.flushIntervalMs,
      flushBlockedMs: Math.min(config.flushIntervalMs, config.flushBlockedMs ?? config.flushIntervalMs), maxQueue: config.maxQueue, maxQueueBytes: config.maxQueueBytes,
      maxBatchBytes: config.maxBatchBytes, redactParams: [...config.redactParams], requestTimeoutMs: config.requestTimeoutMs,
      backoffBaseMs: config.backoffBaseMs, backoffMaxMs: config.backoffMaxMs,
      reportPassed: config.reportPassed ?? 'all', passedSamplesPerSecond: config.passedSamplesPerSecond ?? DEFAULT_PASSED_SAMPLES_PER_SECOND,
    };
    this.startWorker();
  }

  get enabled(): boolean {
    return this.config.hubUrls.length > 0 && this.config.apiKey !== null;
  }

  /**
   * The decision listener: a write into shared memory; never throws into the request, never waits.
   * `awaitsStatus`: the response's status will be reported with recordStatus() and the returned
   * sequence number (-1: nothing was written, report no status).
   */
  record(decision: Decision, request: MoatHttpRequest, awaitsStatus = false): number {
    if (this.writer === null || this.stopped || this.closed) return -1;
    if (decision.treatment === 'Passed' && decision.monitored.length === 0 && this.config.passedSampleRate < 1 &&
        this.random() >= this.config.passedSampleRate) {
      this.sampledOut++;
      return -1;
    }
    if (this.writer.write(decision, request, this.config.now(), awaitsStatus)) {
      this.written++;
      return this.writer.lastSeq;
    }
    this.droppedRingFull++;
    return -1;
  }

  /**
   * The response of record `seq` finished with `status` (no room in the ring: the record goes without it).
   * The status of the record written last rides on the next entry (RingWriter.holdStatus); an older one gets an entry.
   */
  recordStatus(seq: number, status: number): void {
    const writer = this.writer;
    if (writer === null || this.stopped || this.closed) return;
    if (!writer.holdStatus(seq, status)) writer.writeStatus(seq, status);
  }

  /**
   * Resolves once everything recorded before the call was sent or definitively dropped, or after one
   * failed try per batch (as before: a hub that is down does not make this wait for it). Records whose
   * response is still running follow once it finishes (at most flushBlockedMs later). Never rejects.
   */
  flush(_force = true): Promise<void> {
    return this.ask('flush');
  }

  /** Sends what is queued (one try per batch, within the request timeout), then ends the worker. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.closed = true;
      this.clearRestart();
      if (this.worker === null) {
        this.countLeftovers('close');
        return;
      }
      const worker = this.worker;
      // Bounded: the worker's own close takes one request timeout per batch at most; past this, it is ended.
      const guard = setTimeout(() => this.end('close'), 2 * this.config.requestTimeoutMs + 2000);
      guard.unref();
      try {
        await Promise.race([this.ask('close'), this.exited]);
      } finally {
        clearTimeout(guard);
      }
      if (this.worker === worker) this.end('close');
      await this.exited;
    })();
    return this.closing;
  }

  /** Stops reporting for good (the hub refused the key): what is held is counted as dropped at stop. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.clearRestart();
    if (this.worker !== null) this.end('stop');
    else this.countLeftovers('stop');
  }

  status(): UpsyncStatus {
    const ring = this.ring;
    const c = ring?.counters;
    const n = (slot: number) => c?.[slot] ?? 0;
    const workerDropped = n(COUNTER.droppedQueueFull) + n(COUNTER.droppedQueueBytes) + n(COUNTER.droppedRejected) + n(COUNTER.droppedByHub) +
      n(COUNTER.droppedTooLarge) + n(COUNTER.droppedAtStop) + n(COUNTER.droppedUnsupported);
    const rejected: UpsyncRejections = {};
    for (const [code, r] of Object.entries(this.rejected)) rejected[code] = { ...r };
    const awaitingStatus = n(COUNTER.awaitingStatus);
    const inRing = Math.max(0, this.written - n(COUNTER.taken) - awaitingStatus);
    return {
      enabled: this.enabled, stopped: this.stopped, format: n(COUNTER.wafrisFallback) === 1 ? 'wafris' : this.config.format,
      recorded: this.written + this.droppedRingFull,
      queued: inRing + awaitingStatus + n(COUNTER.queued) + n(COUNTER.aggregatePending), inRing, awaitingStatus,
      statusMissing: n(COUNTER.statusMissing), inFlight: n(COUNTER.inFlight),
      queuedBytes: n(COUNTER.queuedBytes), maxQueueBytes: this.config.maxQueueBytes,
      ringBytes: ring?.capacity ?? 0, ringUsedBytes: ring === null ? 0 : usedBytes(ring.header),
      sent: n(COUNTER.sent), batchesSent: n(COUNTER.batchesSent),
      dropped: this.droppedRingFull + this.droppedWorkerExit + workerDropped,
      droppedRingFull: this.droppedRingFull, droppedQueueFull: n(COUNTER.droppedQueueFull), droppedQueueBytes: n(COUNTER.droppedQueueBytes),
      droppedRejected: n(COUNTER.droppedRejected), droppedByHub: n(COUNTER.droppedByHub), droppedTooLarge: n(COUNTER.droppedTooLarge),
      droppedAtStop: n(COUNTER.droppedAtStop), droppedWorkerExit: this.droppedWorkerExit, rejected,
      splits: n(COUNTER.splits), batchBytesLimit: n(COUNTER.batchBytesLimit) || this.config.maxBatchBytes,
      truncated: this.writer?.truncated ?? 0, sampledOut: this.sampledOut, aggregated: n(COUNTER.aggregated),
      droppedUnsupported: n(COUNTER.droppedUnsupported),
      failures: n(COUNTER.failures), consecutiveFailures: n(COUNTER.consecutiveFailures), lastError: this.lastError,
      lastSuccessAt: n(COUNTER.lastSuccessAt) || null, nextRetryAt: n(COUNTER.nextRetryAt) || null,
      workerRunning: this.worker !== null && !this.inThread, onServingThread: this.worker !== null && this.inThread, workerRestarts: this.restarts, maxLossMs: this.config.reportPassed === 'aggregate' ? 2 * this.config.flushIntervalMs : this.config.flushIntervalMs,
    };
  }

  /** Which upsync hub is used now, as the worker last said. */
  hubStatus(): HubFailoverStatus {
    return { ...this.hubs, hubs: this.hubs.hubs.map((hub) => ({ ...hub })) };
  }

  /** @internal The running worker, for tests that kill it. */
  get workerForTests(): ReportThread | null {
    return this.worker;
  }

  private ask(type: ToWorker['type']): Promise<void> {
    const worker = this.worker;
    if (worker === null) return Promise.resolve();
    const id = ++this.nextMessageId;
    return new Promise<void>((resolve) => {
      this.pending.set(id, resolve);
      worker.postMessage({ type, id } satisfies ToWorker);
    });
  }

  private startWorker(): void {
    if (this.workerData === null || this.stopped || this.closed) return;
    if (this.inThread) return void this.startInThread(this.workerData);
    let worker: ReportThread;
    try {
      worker = startModuleWorker(import.meta.url, '../report/report-worker', this.workerData);
    } catch (error) {
      // Refused outright (the permission model without --allow-worker): the pump runs here instead, loaded
      // only then, so that an app with workers never holds the sender's code on its serving thread.
      this.inThread = true;
      this.workerProblem(new SyncError('worker', `cannot start the report worker: ${(error as Error).message}; reports are sent from the serving thread instead`));
      this.startInThread(this.workerData);
      return;
    }
    this.adopt(worker);
  }

  private startInThread(data: ReportWorkerData): void {
    import('../report/in-thread-reports.js').then(({ InThreadReports }) => {
      if (this.stopped || this.closed || this.worker !== null) return;
      this.adopt(new InThreadReports(data));
    }, (error: unknown) => {
      this.workerProblem(new SyncError('worker', `cannot report from the serving thread: ${(error as Error).message}`));
    });
  }

  private adopt(worker: ReportThread): void {
    this.worker = worker;
    this.workerStartedAt = Date.now();
    this.ending = null;
    worker.unref(); // reporting never keeps the app alive
    worker.on('message', (message: FromWorker) => this.onMessage(message));
    worker.on('error', (error) => this.workerProblem(new SyncError('worker', `the report worker failed: ${error.message}`)));
    this.exited = new Promise<void>((resolve) => {
      worker.once('exit', (code) => {
        this.onExit(worker, code);
        resolve();
      });
    });
  }

  private onMessage(message: FromWorker): void {
    switch (message.type) {
      case 'flushed':
      case 'closed': {
        const resolve = this.pending.get(message.id);
        this.pending.delete(message.id);
        resolve?.();
        break;
      }
      case 'state':
        this.lastError = message.lastError;
        this.rejected = message.rejected;
        this.hubs = message.hubs;
        break;
      case 'error':
        this.config.onError(new SyncError(message.reason, message.message));
        break;
      case 'unauthorized':
        this.lastError = message.message;
        this.config.onUnauthorized(new SyncError(message.reason, message.message));
        break;
      case 'switch':
        this.config.onHubSwitch(message.from, message.to, new SyncError('network', message.message));
        break;
      case 'ready':
        break;
    }
  }

  /** Ends the running worker on purpose; what it held is counted when it has exited. */
  private end(reason: Ending): void {
    if (this.worker === null) return;
    this.ending ??= reason;
    void this.worker.terminate();
  }

  private onExit(worker: ReportThread, code: number): void {
    if (this.worker !== worker) return;
    this.worker = null;
    const reason = this.ending ?? 'crash';
    this.ending = null;
    for (const resolve of this.pending.values()) resolve();
    this.pending.clear();
    this.countLeftovers(reason);
    if (reason !== 'crash') return;
    this.workerProblem(new SyncError('worker-exit', `the report worker stopped (exit code ${code}); its unsent records are counted as dropped, a new one starts`));
    if (Date.now() - this.workerStartedAt >= RESTART_RESET_MS) this.restarts = 0;
    this.scheduleRestart();
  }

  /**
   * No worker runs: every record written and not yet sent or dropped is lost, counted by why. The ring
   * is emptied and the string tables start afresh, since a new worker knows none of their ids.
   */
  private countLeftovers(reason: Ending): void {
    const c = this.ring?.counters;
    if (c === undefined || this.writer === null) return;
    const n = (slot: number) => counterOf(c, slot);
    const accounted = n(COUNTER.sent) + n(COUNTER.droppedQueueFull) + n(COUNTER.droppedQueueBytes) + n(COUNTER.droppedRejected) +
      n(COUNTER.droppedByHub) + n(COUNTER.droppedTooLarge) + n(COUNTER.droppedAtStop) + n(COUNTER.droppedUnsupported) + this.droppedWorkerExit;
    const lost = Math.max(0, this.written - accounted);
    if (reason === 'crash') this.droppedWorkerExit += lost;
    else addToCounter(c, COUNTER.droppedAtStop, lost);
    c[COUNTER.taken] = this.written;
    c[COUNTER.queued] = 0;
    c[COUNTER.aggregatePending] = 0;
    c[COUNTER.awaitingStatus] = 0;
    c[COUNTER.queuedBytes] = 0;
    c[COUNTER.inFlight] = 0;
    c[COUNTER.nextRetryAt] = 0;
    this.writer.reset();
  }

  private scheduleRestart(): void {
    if (this.stopped || this.closed || this.restartTimer !== null) return;
    const delay = Math.min(RESTART_MAX_MS, RESTART_BASE_MS * 2 ** Math.min(this.restarts, 20));
    this.restarts++;
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      this.startWorker();
    }, delay);
    this.restartTimer.unref();
  }

  private clearRestart(): void {
    if (this.restartTimer !== null) clearTimeout(this.restartTimer);
    this.restartTimer = null;
  }

  private workerProblem(error: SyncError): void {
    this.lastError = error.message;
    this.config.onError(error);
  }
}


