/**
 * The job table both backtests run on: the rule preview (rule-preview.ts) and the threshold preview
 * (thresholds/threshold-preview.ts). One job per site: a newer draft ends the site's running job, so a
 * burst of drafts costs one scan, not one each, and its parts have stopped before the next starts; a few jobs
 * at most across all sites of a kind (the machine's cores also serve requests). A job is one or more
 * parts, each run on a warm worker thread of the process's pool (preview-pool.ts), whose progress is
 * summed; a time guard, cancellation, and the result kept a while for the page to fetch. A kind brings
 * only its draft's worker inputs and how the final counts read.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MessagePort } from 'node:worker_threads';
import { HttpError } from '../server/http-error.js';
import type { ReportScanSource } from '../store/report-scan.js';
import type { HubStore } from '../store/store.js';
import { previewWorkers, type PreviewWorkerPool, type RunningPart } from './preview-pool.js';

export const PREVIEW_RANGES = { '1h': 3600, '24h': 86_400, '7d': 7 * 86_400 } as const;
export type PreviewRange = keyof typeof PREVIEW_RANGES;

export type PreviewState = 'running' | 'done' | 'failed' | 'cancelled';

/** A scan still running after this is ended: a guard, not a target (10 M reports take seconds). */
const MAX_SCAN_MS = 10 * 60_000;
/** A finished job's result is kept this long for the page to fetch. */
const KEEP_RESULT_MS = 15 * 60_000;
/** Progress shown while parts run, so a bar never reads "complete" before the result is there. */
const MAX_RUNNING_PROGRESS = 0.99;

/** What a preview worker sends its parent; `Done` is the kind's final counts. */
export type PreviewWorkerMessage<Done> =
  | { type: 'progress'; scanned: number; ts: number }
  /** A part that handed its counts to another part (over its peer port) is complete. */
  | { type: 'sent'; scanned: number }
  /** The whole job's counts (every part's, when the job was split). */
  | ({ type: 'done'; scanned: number } & Done)
  | { type: 'failed'; message: string };

/** What every worker input carries: its part of the range (Unix seconds, [from, to)) and a port to another part. */
export interface PreviewPartInput {
  from: number;
  to: number;
  peer?: { port: MessagePort };
}

/** A job as the API shows it. */
export interface PreviewJobView<Draft, Result> {
  id: string;
  siteId: number;
  state: PreviewState;
  rule: Draft;
  range: PreviewRange;
  from: number;
  to: number;
  /** Reports read so far, and the share of the range's time already passed (0 to 1). */
  scanned: number;
  progress: number;
  /** Workers scanning at once. */
  parts: number;
  elapsedMs: number;
  result?: Result;
  error?: string;
}

/** Where and what a job scans, for its kind to make the worker inputs from. */
export interface PreviewScan {
  siteId: number;
  source: ReportScanSource;
  from: number;
  to: number;
  /** A folder of the job's own (made on first call), removed when the job ends. */
  tempDir(): string;
}

/** What makes one kind of preview. */
export interface PreviewKind<Draft, Input extends PreviewPartInput, Done, Result> {
  /**
   * The worker module without its extension (`.js` beside a built hub, `.ts` through tsx in tests and
   * benches); it exports `runPart(input, send, cancelled)` (PreviewPartModule), run by a pooled worker.
   */
  worker: URL;
  /** Jobs of this kind running at once across all sites. */
  maxRunning: number;
  /** The inputs of the job's workers, one per part; a throw fails the job with its message. */
  prepare(draft: Draft, scan: PreviewScan): Promise<Input[]>;
  /** The result the page gets from the final counts. */
  result(draft: Draft, done: Done): Result;
}

interface Job<Draft, Result> extends PreviewJobView<Draft, Result> {
  startedAt: number;
  finishedAt?: number;
  running: RunningPart[];
  tempDir?: string;
  timer?: NodeJS.Timeout;
}

export class PreviewJobs<Draft, Input extends PreviewPartInput, Done, Result> {
  private readonly jobs = new Map<number, Job<Draft, Result>>();
  /** Per site, the parts last ended, until their workers are free: the next job starts after them (on the same warm workers), never beside them. */
  private readonly exits = new Map<number, Promise<unknown>>();
  private closed = false;
  /** Scans started since the hub started (a refused draft never starts one). */
  started = 0;
  private readonly pool: PreviewWorkerPool;
  private readonly detach: () => Promise<void>;

  constructor(private readonly kind: PreviewKind<Draft, Input, Done, Result>, private readonly options: { store: HubStore; now: () => number; pool?: PreviewWorkerPool }) {
    this.pool = options.pool ?? previewWorkers;
    // An in-memory store has no previews (501): no workers for it.
    this.detach = options.store.reportScanSource() ? this.pool.attach(kind.worker) : async () => undefined;
  }

  /**
   * Starts a preview of `draft` (already validated) over the last `range`, ending the site's previous job.
   * 503 while the hub shuts down, 501 on an in-memory store, 429 when other sites' previews fill every slot.
   */
  async start(siteId: number, draft: Draft, range: PreviewRange): Promise<PreviewJobView<Draft, Result>> {
    if (this.closed) throw new HttpError(503, 'the hub is shutting down', 'unavailable');
    const source = this.options.store.reportScanSource();
    if (!source) throw new HttpError(501, 'previews need a store on disk or PostgreSQL, not an in-memory database', 'preview_unavailable');
    this.end(this.jobs.get(siteId), 'cancelled', 'a newer draft replaced it');
    if (this.runningCount() >= this.kind.maxRunning) throw new HttpError(429, 'other previews are running; try again in a few seconds', 'preview_busy');
    const nowMs = this.options.now();
    const to = Math.floor(nowMs / 1000) + 1;
    const job: Job<Draft, Result> = {
      id: randomBytes(12).toString('hex'), siteId, state: 'running', rule: draft, range, from: to - PREVIEW_RANGES[range], to,
      scanned: 0, progress: 0, parts: 1, elapsedMs: 0, startedAt: nowMs, running: [],
    };
    this.jobs.set(siteId, job);
    await this.exits.get(siteId);
    try {
      const inputs = await this.kind.prepare(draft, {
        siteId, source, from: job.from, to: job.to, tempDir: () => (job.tempDir ??= mkdtempSync(join(tmpdir(), 'moat-preview-'))),
      });
      // Cancelled or replaced while preparing: its folder goes now (end() ran before it was made).
      if (job.state !== 'running') removeTempDir(job);
      else this.run(job, inputs);
    } catch (error) {
      this.end(job, 'failed', (error as Error).message);
    }
    return view(job, this.options.now());
  }

  /** The site's job with this id; undefined when there is none (another site's id included). */
  get(siteId: number, jobId: string): PreviewJobView<Draft, Result> | undefined {
    const job = this.jobs.get(siteId);
    return job && job.id === jobId ? view(job, this.options.now()) : undefined;
  }

  cancel(siteId: number, jobId: string): boolean {
    const job = this.jobs.get(siteId);
    if (!job || job.id !== jobId) return false;
    this.end(job, 'cancelled', 'cancelled');
    return true;
  }

  /** Scans running now, across all sites. */
  runningCount(): number {
    let n = 0;
    for (const job of this.jobs.values()) if (job.state === 'running') n++;
    return n;
  }

  /** Ends every job (hub shutdown); resolves when their workers are free, and the pool's are gone if no other user is left. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const job of this.jobs.values()) this.end(job, 'cancelled', 'the hub is shutting down', 'terminate');
    await Promise.allSettled([...this.exits.values()]);
    this.jobs.clear();
    await this.detach();
  }

  private run(job: Job<Draft, Result>, inputs: Input[]): void {
    this.started += 1;
    job.parts = inputs.length;
    job.timer = setTimeout(() => this.end(job, 'failed', 'the scan took too long', 'terminate'), MAX_SCAN_MS);
    job.timer.unref();
    // Per part: reports read and the share of its time passed; the job shows their sum and mean.
    const scanned = inputs.map(() => 0);
    const progress = inputs.map(() => 0);
    const finished = inputs.map(() => false);
    inputs.forEach((input, part) => {
      const span = Math.max(1, input.to - input.from);
      const transfer = input.peer ? [input.peer.port] : [];
      job.running.push(this.pool.run(this.kind.worker, input, transfer, {
        message: (message) => {
          const m = message as PreviewWorkerMessage<Done>;
          if (job.state !== 'running') return;
          if (m.type === 'progress' || m.type === 'sent') {
            scanned[part] = m.scanned;
            progress[part] = m.type === 'sent' ? 1 : Math.min(MAX_RUNNING_PROGRESS, Math.max(0, (m.ts - input.from) / span));
            if (m.type === 'sent') finished[part] = true;
            job.scanned = scanned.reduce((a, b) => a + b, 0);
            job.progress = Math.min(MAX_RUNNING_PROGRESS, progress.reduce((a, b) => a + b, 0) / progress.length);
          } else if (m.type === 'done') {
            job.scanned = m.scanned;
            job.progress = 1;
            job.result = this.kind.result(job.rule, m);
            this.end(job, 'done');
          } else {
            this.end(job, 'failed', m.message);
          }
        },
        // A part that handed its counts over is complete; a worker lost before that fails the job.
        died: (reason) => { if (!finished[part]) this.end(job, 'failed', reason); },
      }));
    });
  }

  /**
   * Moves a running job to its final state once: stops its parts (`cancel`: at their next page, their
   * workers then serve the next job; `terminate`: their workers end and are replaced) and removes its
   * folder once they are free.
   */
  private end(job: Job<Draft, Result> | undefined, state: Exclude<PreviewState, 'running'>, error?: string, how: 'cancel' | 'terminate' = 'cancel'): void {
    if (!job || job.state !== 'running') return;
    job.state = state;
    if (error !== undefined) job.error = safeMessage(error);
    job.finishedAt = this.options.now();
    if (job.timer) clearTimeout(job.timer);
    const running = job.running;
    job.running = [];
    // After the site's earlier ended parts too: a job replaced before it ran any must not let the next one start beside them.
    const exited = Promise.allSettled([this.exits.get(job.siteId), ...running.map((part) => part.stop(how))]).finally(() => removeTempDir(job));
    this.exits.set(job.siteId, exited);
    void exited.then(() => { if (this.exits.get(job.siteId) === exited) this.exits.delete(job.siteId); });
    // Results stay fetchable for a while; then the job goes, unless a newer one replaced it already.
    setTimeout(() => { if (this.jobs.get(job.siteId) === job) this.jobs.delete(job.siteId); }, KEEP_RESULT_MS).unref();
  }
}

function removeTempDir(job: { tempDir?: string }): void {
  if (job.tempDir) rmSync(job.tempDir, { recursive: true, force: true });
  job.tempDir = undefined;
}

function view<Draft, Result>(job: Job<Draft, Result>, nowMs: number): PreviewJobView<Draft, Result> {
  const { id, siteId, state, rule, range, from, to, scanned, progress, parts, result, error } = job;
  return { id, siteId, state, rule, range, from, to, scanned, progress, parts, elapsedMs: (job.finishedAt ?? nowMs) - job.startedAt, result, error };
}

/** Worker errors may quote a connection string; nothing of it reaches a page. */
function safeMessage(message: string): string {
  return message.replace(/\b[a-z][a-z0-9+.-]*:\/\/\S+/gi, '<url>').slice(0, 300);
}
