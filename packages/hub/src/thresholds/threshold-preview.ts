/**
 * "Whom would this threshold rule have banned?": a draft threshold rule replayed over a site's stored
 * reports in a worker thread (threshold-preview-worker.ts) by the hub's own evaluator and ban policy
 * (threshold-preview-backtest.ts). Jobs work as the rule preview's: one per site, a newer draft ends the
 * running one, a few at most across all sites, results kept a while for the page to fetch.
 */
import { randomBytes } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import type { IpRange } from 'moat-waf/ip';
import { PREVIEW_RANGES, type PreviewRange, type PreviewState } from '../rules/rule-preview.js';
import { HttpError } from '../server/http-error.js';
import type { ReportScanSource } from '../store/report-scan.js';
import type { HubStore } from '../store/store.js';
import type { BacktestOptions, ThresholdBacktestResult } from './threshold-preview-backtest.js';
import type { ThresholdRuleInput } from './threshold-types.js';

/** Scans running at once across all sites (the rule preview has slots of its own). */
const MAX_RUNNING = 1;
const PAGE_SIZE = 5000;
/** A guard, not a target. */
const MAX_SCAN_MS = 10 * 60_000;
const KEEP_RESULT_MS = 15 * 60_000;

export interface ThresholdPreviewResult extends ThresholdBacktestResult {
  /** Whether stored reports carry the hashed keys; when not, a header/cookie/user rule counted every report by its IP. */
  keysStored: boolean;
  /** Milliseconds the worker spent reading and counting, without its start-up. */
  scanMs: number;
}

export interface ThresholdPreviewJobView {
  id: string;
  siteId: number;
  state: PreviewState;
  rule: ThresholdRuleInput;
  range: PreviewRange;
  from: number;
  to: number;
  scanned: number;
  /** The share of the range's time already passed (0 to 1). */
  progress: number;
  elapsedMs: number;
  result?: ThresholdPreviewResult;
  error?: string;
}

export interface ThresholdPreviewWorkerInput {
  source: ReportScanSource;
  siteId: number;
  from: number;
  to: number;
  pageSize: number;
  /** The draft as replayed (its status condition too: reports store the status, null when none was reported). */
  rule: ThresholdRuleInput;
  options: BacktestOptions;
}

export type ThresholdPreviewWorkerMessage =
  | { type: 'progress'; scanned: number; ts: number }
  | { type: 'done'; scanned: number; result: ThresholdPreviewResult }
  | { type: 'failed'; message: string };

export interface ThresholdPreviewOptions {
  store: HubStore;
  now: () => number;
  /** The site's allow rules by IP, as the ban service reads them. */
  allowRanges: (siteId: number) => Promise<IpRange[]>;
  /** The ban service's caps, so the replay refuses what the hub would. */
  maxActiveBans: number;
  maxCounterKeys: number;
}

interface Job extends ThresholdPreviewJobView {
  startedAt: number;
  finishedAt?: number;
  worker?: Worker;
  timer?: NodeJS.Timeout;
}

export class ThresholdPreviews {
  private readonly jobs = new Map<number, Job>();
  private closed = false;
  /** Scans started since the hub started (a refused draft never starts one). */
  started = 0;

  constructor(private readonly options: ThresholdPreviewOptions) {}

  /** Starts a preview of `rule` (already validated) over the last `range`, ending the site's previous job. */
  async start(siteId: number, rule: ThresholdRuleInput, range: PreviewRange): Promise<ThresholdPreviewJobView> {
    if (this.closed) throw new HttpError(503, 'the hub is shutting down', 'unavailable');
    const source = this.options.store.reportScanSource();
    if (!source) throw new HttpError(501, 'previews need a store on disk or PostgreSQL, not an in-memory database', 'preview_unavailable');
    await this.end(this.jobs.get(siteId), 'cancelled', 'a newer draft replaced it');
    if (this.runningCount() >= MAX_RUNNING) throw new HttpError(429, 'other previews are running; try again in a few seconds', 'preview_busy');
    const nowMs = this.options.now();
    const to = Math.floor(nowMs / 1000) + 1;
    const job: Job = {
      id: randomBytes(12).toString('hex'), siteId, state: 'running', rule, range, from: to - PREVIEW_RANGES[range], to,
      scanned: 0, progress: 0, elapsedMs: 0, startedAt: nowMs,
    };
    this.jobs.set(siteId, job);
    try {
      const allowRanges = await this.options.allowRanges(siteId);
      if (job.state !== 'running') return view(job, nowMs);
      const input: ThresholdPreviewWorkerInput = {
        source, siteId, from: job.from, to: job.to, pageSize: PAGE_SIZE,
        rule,
        options: { allowRanges, maxActiveBans: this.options.maxActiveBans, maxCounterKeys: this.options.maxCounterKeys },
      };
      this.run(job, input);
    } catch (error) {
      await this.end(job, 'failed', (error as Error).message);
    }
    return view(job, this.options.now());
  }

  get(siteId: number, jobId: string): ThresholdPreviewJobView | undefined {
    const job = this.jobs.get(siteId);
    return job && job.id === jobId ? view(job, this.options.now()) : undefined;
  }

  cancel(siteId: number, jobId: string): boolean {
    const job = this.jobs.get(siteId);
    if (!job || job.id !== jobId) return false;
    void this.end(job, 'cancelled', 'cancelled');
    return true;
  }

  runningCount(): number {
    let n = 0;
    for (const job of this.jobs.values()) if (job.state === 'running') n++;
    return n;
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.jobs.values()].map((job) => this.end(job, 'cancelled', 'the hub is shutting down')));
    this.jobs.clear();
  }

  private run(job: Job, input: ThresholdPreviewWorkerInput): void {
    this.started += 1;
    job.timer = setTimeout(() => void this.end(job, 'failed', 'the scan took too long'), MAX_SCAN_MS);
    job.timer.unref();
    const worker = startWorker(input);
    job.worker = worker;
    const span = Math.max(1, input.to - input.from);
    worker.on('message', (message: ThresholdPreviewWorkerMessage) => {
      if (job.state !== 'running') return;
      if (message.type === 'progress') {
        job.scanned = message.scanned;
        job.progress = Math.min(0.99, Math.max(0, (message.ts - input.from) / span));
      } else if (message.type === 'done') {
        job.scanned = message.scanned;
        job.progress = 1;
        job.result = message.result;
        void this.end(job, 'done');
      } else {
        void this.end(job, 'failed', message.message);
      }
    });
    worker.on('error', (error) => void this.end(job, 'failed', error.message));
    worker.on('exit', () => void this.end(job, 'failed', 'the scan stopped unexpectedly'));
    worker.unref();
  }

  /** Moves a running job to its final state once and ends its worker; resolves when the worker is gone. */
  private async end(job: Job | undefined, state: Exclude<PreviewState, 'running'>, error?: string): Promise<void> {
    if (!job || job.state !== 'running') return;
    job.state = state;
    if (error !== undefined) job.error = safeMessage(error);
    job.finishedAt = this.options.now();
    if (job.timer) clearTimeout(job.timer);
    const worker = job.worker;
    job.worker = undefined;
    setTimeout(() => { if (this.jobs.get(job.siteId) === job) this.jobs.delete(job.siteId); }, KEEP_RESULT_MS).unref();
    if (worker) await worker.terminate().catch(() => undefined);
  }
}

function view(job: Job, nowMs: number): ThresholdPreviewJobView {
  const { id, siteId, state, rule, range, from, to, scanned, progress, result, error } = job;
  return { id, siteId, state, rule, range, from, to, scanned, progress, elapsedMs: (job.finishedAt ?? nowMs) - job.startedAt, result, error };
}

/** Worker errors may quote a connection string; nothing of it reaches a page. */
function safeMessage(message: string): string {
  return message.replace(/\b[a-z][a-z0-9+.-]*:\/\/\S+/gi, '<url>').slice(0, 300);
}

/** The worker module beside this one, from dist (`.js`) or, in tests and benches, the sources through tsx. */
function startWorker(input: ThresholdPreviewWorkerInput): Worker {
  const url = import.meta.url;
  if (!url.endsWith('.ts')) return new Worker(new URL('./threshold-preview-worker.js', url), { workerData: input });
  const href = JSON.stringify(new URL('./threshold-preview-worker.ts', url).href);
  return new Worker(`import('tsx/esm/api').then((tsx) => tsx.register(), () => {}).then(() => import(${href}))`, { eval: true, workerData: input });
}
