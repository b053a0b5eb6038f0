/**
 * "What would this rule have blocked?": a draft rule replayed against a site's stored reports by the
 * clients' own engine (compiled by the hub's rule compiler, evaluated in a worker thread, see
 * rule-preview-worker.ts). One job per site: a new draft ends the site's running job, so a burst of
 * drafts costs one scan, not one each; a few jobs at most run across all sites.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MessageChannel, Worker } from 'node:worker_threads';
import type { TrafficSummaryResult } from 'moat-waf/replay';
import { compileMoatRules, unsafeRuleProblems, type Rule } from '../distribution/compile.js';
import { findDataFile } from '../distribution/data-files.js';
import { HttpError } from '../server/http-error.js';
import type { HubStore } from '../store/store.js';
import type { PreviewWorkerInput, PreviewWorkerMessage } from './rule-preview-protocol.js';

export const PREVIEW_RANGES = { '1h': 3600, '24h': 86_400, '7d': 7 * 86_400 } as const;
export type PreviewRange = keyof typeof PREVIEW_RANGES;

/** Scans running at once across all sites: the machine's cores also serve requests. */
const MAX_RUNNING = 2;
/** Reports per keyset page: large enough that per-query cost vanishes, small enough to bound memory (~1.5 MB). */
const PAGE_SIZE = 5000;
/**
 * Workers per scan, one per core, their counts merged (a 1 M-report scan in about half the wall time).
 * When a decision depends on the request alone (no rate limit, no expiry) the range's two halves in
 * time are scanned at once. A rate limit needs each client's requests in time order, but clients count
 * apart, so its two workers each replay the whole range for half of the clients (split by the reports'
 * IP text inside the database, see KeyHalf): exactly the counts of one pass.
 */
const SPLIT_PARTS = 2;
/** A scan still running after this is ended: a guard, not a target (10 M reports take seconds). */
const MAX_SCAN_MS = 10 * 60_000;
/** A finished job's result is kept this long for the page to fetch. */
const KEEP_RESULT_MS = 15 * 60_000;
const RATE_LIMIT_BYTES = 64 * 1024 * 1024;
/** Kinds that look the client's IP up in the data file. */
const DATA_KINDS = new Set<Rule['kind']>(['country', 'asn', 'list']);

export type PreviewState = 'running' | 'done' | 'failed' | 'cancelled';

export interface PreviewResult extends TrafficSummaryResult {
  /** Matched requests this rule would change: recorded Passed or Allowed for a block rule, Blocked for an allow rule. */
  wouldChange: number;
  /** Rate-limit clients forgotten early for want of memory (their counts restarted); 0 normally. */
  rateLimitEvictedLive: number;
  /** Milliseconds the worker spent reading and judging, without its start-up. */
  scanMs: number;
}

/** A job as the API shows it. */
export interface PreviewJobView {
  id: string;
  siteId: number;
  state: PreviewState;
  rule: Rule;
  range: PreviewRange;
  from: number;
  to: number;
  /** Reports read so far, and the share of the range's time already passed (0 to 1). */
  scanned: number;
  progress: number;
  /** Workers scanning at once: 2 (the range's halves in time, or the clients' halves for a rate limit), or 1. */
  parts: number;
  elapsedMs: number;
  result?: PreviewResult;
  error?: string;
}

interface Job extends PreviewJobView {
  startedAt: number;
  finishedAt?: number;
  workers: Worker[];
  tempDir?: string;
  timer?: NodeJS.Timeout;
}

export interface RulePreviewOptions {
  store: HubStore;
  /** The hub's data-files folder, for the data file clients get. */
  dataFilesDir?: string;
  /** Milliseconds. */
  now: () => number;
}

export class RulePreviews {
  private readonly jobs = new Map<number, Job>();
  /** Per site, the exit of the worker last ended: the next one starts after it, never beside it. */
  private readonly exits = new Map<number, Promise<unknown>>();
  private closed = false;

  constructor(private readonly options: RulePreviewOptions) {}

  /**
   * Starts a preview of `rule` (already validated) over the last `range`, ending the site's previous job.
   * 400 for a rule clients would never get; 429 when other sites' previews fill every slot.
   */
  async start(siteId: number, rule: Rule, range: PreviewRange): Promise<PreviewJobView> {
    if (this.closed) throw new HttpError(503, 'the hub is shutting down', 'unavailable');
    const problems = unsafeRuleProblems(rule);
    if (problems.length > 0) throw new HttpError(400, problems.join('; '), 'invalid_rule');
    const source = this.options.store.reportScanSource();
    if (!source) throw new HttpError(501, 'previews need a store on disk or PostgreSQL, not an in-memory database', 'preview_unavailable');
    this.end(this.jobs.get(siteId), 'cancelled', 'a newer draft replaced it');
    if (this.runningCount() >= MAX_RUNNING) throw new HttpError(429, 'other previews are running; try again in a few seconds', 'preview_busy');
    const nowMs = this.options.now();
    const to = Math.floor(nowMs / 1000) + 1;
    const job: Job = {
      id: randomBytes(12).toString('hex'), siteId, state: 'running', rule, range, from: to - PREVIEW_RANGES[range], to,
      scanned: 0, progress: 0, parts: 1, elapsedMs: 0, startedAt: nowMs, workers: [],
    };
    this.jobs.set(siteId, job);
    await this.exits.get(siteId);
    const dataFile = DATA_KINDS.has(rule.kind) ? (await findDataFile(this.options.dataFilesDir, 'moat'))?.path : undefined;
    if (job.state !== 'running') return view(job, nowMs);
    if (DATA_KINDS.has(rule.kind) && !dataFile) {
      this.end(job, 'failed', `${rule.kind} rules need the hub's data file, and there is none`);
      return view(job, nowMs);
    }
    try {
      job.tempDir = mkdtempSync(join(tmpdir(), 'moat-preview-'));
      const rulesFile = compileMoatRules([rule], join(job.tempDir, 'rules.db')).path;
      const input: PreviewWorkerInput = {
        source, siteId, from: job.from, to: job.to, rulesFile, dataFile, pageSize: PAGE_SIZE, rateLimitBytes: RATE_LIMIT_BYTES,
      };
      const inputs = splittableInTime(rule) ? splitInTime(input) : splittableByClient(rule) ? splitByClient(input) : [input];
      job.parts = inputs.length;
      this.run(job, inputs);
    } catch (error) {
      this.end(job, 'failed', (error as Error).message);
    }
    return view(job, this.options.now());
  }

  /** The site's job with this id; undefined when there is none (another site's id included). */
  get(siteId: number, jobId: string): PreviewJobView | undefined {
    const job = this.jobs.get(siteId);
    if (!job || job.id !== jobId) return undefined;
    return view(job, this.options.now());
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

  /** Ends every job (hub shutdown). */
  async close(): Promise<void> {
    this.closed = true;
    const workers: Promise<unknown>[] = [];
    for (const job of this.jobs.values()) {
      for (const worker of job.workers) workers.push(worker.terminate());
      this.end(job, 'cancelled', 'the hub is shutting down');
    }
    await Promise.allSettled(workers);
    this.jobs.clear();
  }

  private run(job: Job, inputs: PreviewWorkerInput[]): void {
    job.timer = setTimeout(() => this.end(job, 'failed', 'the scan took too long'), MAX_SCAN_MS);
    job.timer.unref();
    // Per part: reports read and the share of its time passed; the job shows their sums and mean.
    const scanned = inputs.map(() => 0);
    const progress = inputs.map(() => 0);
    const finished = inputs.map(() => false);
    inputs.forEach((input, part) => {
      const worker = startWorker(input);
      job.workers.push(worker);
      const span = Math.max(1, input.to - input.from);
      worker.on('message', (message: PreviewWorkerMessage) => {
        if (job.state !== 'running') return;
        if (message.type === 'progress' || message.type === 'sent') {
          scanned[part] = message.scanned;
          progress[part] = message.type === 'sent' ? 1 : Math.min(0.99, Math.max(0, (message.ts - input.from) / span));
          if (message.type === 'sent') finished[part] = true;
          job.scanned = scanned.reduce((a, b) => a + b, 0);
          job.progress = Math.min(0.99, progress.reduce((a, b) => a + b, 0) / progress.length);
        } else if (message.type === 'done') {
          job.scanned = message.scanned;
          job.progress = 1;
          const recorded = message.summary.matched.recorded;
          job.result = {
            ...message.summary,
            wouldChange: job.rule.action === 'allow' ? recorded.Blocked : recorded.Passed + recorded.Allowed,
            rateLimitEvictedLive: message.rateLimitEvictedLive,
            scanMs: Math.round(message.scanMs),
          };
          this.end(job, 'done');
        } else {
          this.end(job, 'failed', message.message);
        }
      });
      worker.on('error', (error) => this.end(job, 'failed', error.message));
      // A part that handed its counts over may exit; any other exit before the result is a failure.
      worker.on('exit', () => { if (!finished[part]) this.end(job, 'failed', 'the scan stopped unexpectedly'); });
      // Results stay fetchable for a while; then the job goes, unless a newer one replaced it already.
      worker.unref();
    });
  }

  /** Moves a running job to its final state once: ends the worker, removes the compiled file. */
  private end(job: Job | undefined, state: Exclude<PreviewState, 'running'>, error?: string): void {
    if (!job || job.state !== 'running') return;
    job.state = state;
    if (error !== undefined) job.error = safeMessage(error);
    job.finishedAt = this.options.now();
    if (job.timer) clearTimeout(job.timer);
    const workers = job.workers;
    job.workers = [];
    const tempDir = job.tempDir;
    const cleanUp = () => { if (tempDir) rmSync(tempDir, { recursive: true, force: true }); };
    if (workers.length > 0) {
      const exited = Promise.allSettled(workers.map((w) => w.terminate())).finally(cleanUp);
      this.exits.set(job.siteId, exited);
      void exited.then(() => { if (this.exits.get(job.siteId) === exited) this.exits.delete(job.siteId); });
    } else {
      cleanUp();
    }
    const finished = job;
    setTimeout(() => { if (this.jobs.get(finished.siteId) === finished) this.jobs.delete(finished.siteId); }, KEEP_RESULT_MS).unref();
  }
}

/** True when each report's decision depends on that report alone, so parts of the range may be judged apart. */
function splittableInTime(rule: Rule): boolean {
  return rule.kind !== 'rateLimit' && rule.expires === undefined;
}

/**
 * True for a rate limit by IP. A keyed one counts a key across every address that sends it (and by IP
 * where a report has no key), so no split by address keeps its counters whole: one worker replays it.
 */
function splittableByClient(rule: Rule): boolean {
  return rule.kind === 'rateLimit' && rule.rateLimit.key === undefined;
}

/** The clients' two halves (KeyHalf), each replayed over the whole range by a worker of its own. */
function splitByClient(input: PreviewWorkerInput): PreviewWorkerInput[] {
  if (SPLIT_PARTS < 2) return [input];
  const { port1, port2 } = new MessageChannel();
  // Each half's rate limits hold only its own clients: half the memory each.
  const rateLimitBytes = Math.floor(input.rateLimitBytes / 2);
  return [
    { ...input, rateLimitBytes, keyHalf: 0, peer: { role: 'merge', port: port1 } },
    { ...input, rateLimitBytes, keyHalf: 1, peer: { role: 'send', port: port2 } },
  ];
}

/** The range's halves in time, for two workers that meet over a port: the earlier one merges. */
function splitInTime(input: PreviewWorkerInput): PreviewWorkerInput[] {
  if (SPLIT_PARTS < 2 || input.to - input.from < 2) return [input];
  const middle = input.from + Math.floor((input.to - input.from) / 2);
  const { port1, port2 } = new MessageChannel();
  return [
    { ...input, to: middle, peer: { role: 'merge', port: port1 } },
    { ...input, from: middle, peer: { role: 'send', port: port2 } },
  ];
}

function view(job: Job, nowMs: number): PreviewJobView {
  const { id, siteId, state, rule, range, from, to, scanned, progress, parts, result, error } = job;
  return { id, siteId, state, rule, range, from, to, scanned, progress, parts, elapsedMs: (job.finishedAt ?? nowMs) - job.startedAt, result, error };
}

/** Worker errors may quote a connection string; nothing of it reaches a page. */
function safeMessage(message: string): string {
  return message.replace(/\b[a-z][a-z0-9+.-]*:\/\/\S+/gi, '<url>').slice(0, 300);
}

/** The worker module beside this one, from dist (`.js`) or, in tests and benches, the sources through tsx. */
function startWorker(input: PreviewWorkerInput): Worker {
  const url = import.meta.url;
  const transferList = input.peer ? [input.peer.port] : undefined;
  if (!url.endsWith('.ts')) return new Worker(new URL('./rule-preview-worker.js', url), { workerData: input, transferList });
  const href = JSON.stringify(new URL('./rule-preview-worker.ts', url).href);
  return new Worker(`import('tsx/esm/api').then((tsx) => tsx.register(), () => {}).then(() => import(${href}))`, { eval: true, workerData: input, transferList });
}
