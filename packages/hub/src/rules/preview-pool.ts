/**
 * Warm worker threads for the backtests (preview-jobs.ts), so a preview's wait is its scan, not a
 * thread's start-up: starting a worker and loading the hub's and the engine's modules in it cost about
 * a second per job from sources (tsx, on an idle 2-core machine), and a built hub still loads the modules,
 * all of it on the request path.
 *
 * One pool per process, shared by both preview kinds of every hub in it: each PreviewJobs attaches when
 * made and detaches on close, and the last to detach ends the workers. Two workers (the two parts of
 * one job) are started at the first use (or by `warm`, when a page with a preview form is opened) and
 * kept while idle; more are started when more parts run at once, and ended when they come back idle.
 * Each worker runs one part at a time (preview-worker-host.ts), with the part's own port for its
 * messages. Idle workers are unref'd, so they never keep the process alive. A cancelled part stops at
 * its next page; one that has not stopped within a grace period, times out, or dies is ended and a
 * fresh worker takes its place.
 */
import { MessageChannel, type MessagePort, type TransferListItem, type Worker } from 'node:worker_threads';
import { moduleSpecifier, startModuleWorker } from '../workers/module-worker.js';

/** What the pool sends a worker for one part (preview-worker-host.ts reads it). */
export interface PreviewPart {
  /** The kind's worker module, with its extension, as an import specifier. */
  module: string;
  input: unknown;
  /** The part's messages to the parent, the last one PART_ENDED. */
  port: MessagePort;
  /** Set to 1 to ask the part to stop (checked between pages: a page runs synchronously). */
  cancel: Int32Array;
}

/** What a kind's worker module exports for the host. */
export interface PreviewPartModule {
  runPart(input: unknown, send: (message: unknown) => void, cancelled: () => boolean): Promise<void>;
}

/** A part running on a pooled worker, as its job sees it. */
export interface RunningPart {
  /** Ends the part: `cancel` lets it stop at its next page, `terminate` ends its worker now. Resolves once the worker is free or gone. */
  stop(how: 'cancel' | 'terminate'): Promise<void>;
}

export interface PartListener {
  message(message: unknown): void;
  /** The worker died while running the part (an error in it, or its thread ended). */
  died(reason: string): void;
}

/** The last message of a part on its port: the worker is free again. */
export const PART_ENDED = 'part-ended';
/** A new worker's message to the parent once the kinds' modules are loaded. */
export const WORKER_READY = 'ready';

/** Workers kept while idle: the two parts of one job. */
const WARM_WORKERS = 2;
/** A cancelled part stops within a page (milliseconds); a worker still busy after this is ended (a guard, generous for a loaded machine or a slow PostgreSQL page). */
const CANCEL_GRACE_MS = 30_000;

class PooledWorker {
  readonly worker: Worker;
  /** The part running now: its listener and what to call once the worker is free. */
  part?: { listener: PartListener; freed: () => void };
  gone = false;
  /** Resolves once the worker has loaded the kinds' modules, or is gone. */
  readonly ready: Promise<void>;

  constructor(host: URL, preload: readonly string[]) {
    this.worker = startModuleWorker(host, { preload });
    this.worker.unref();
    this.ready = new Promise((resolve) => {
      this.worker.on('message', (message) => { if (message === WORKER_READY) resolve(); });
      this.worker.once('exit', () => resolve());
    });
  }
}

export class PreviewWorkerPool {
  private readonly workers = new Set<PooledWorker>();
  private readonly idle: PooledWorker[] = [];
  /** Kind modules the workers import when they start, so a first part does not load them. */
  private readonly modules = new Set<string>();
  private users = 0;
  /** Workers started since the process started (tests count them to tell warm from cold). */
  started = 0;

  constructor(private readonly host: URL, private readonly warmWorkers = WARM_WORKERS) {}

  /** A user of the pool (one preview kind of one hub) whose parts run `module`; the function returned ends its use. */
  attach(module: URL): () => Promise<void> {
    this.modules.add(moduleSpecifier(module));
    this.users += 1;
    let attached = true;
    return async () => {
      if (!attached) return;
      attached = false;
      this.users -= 1;
      if (this.users === 0) await this.endAll();
    };
  }

  /** Starts the idle workers now if they are not up yet (a page with a preview form was opened). */
  warm(): void {
    if (this.users === 0) return;
    while (this.workers.size < this.warmWorkers) this.idle.push(this.start());
  }

  /** Resolves once the workers up now are ready (their start-up is over): the bench times the start-up with it. */
  async whenReady(): Promise<void> {
    await Promise.all([...this.workers].map((pooled) => pooled.ready));
  }

  /** Workers up now, busy or idle. */
  get size(): number {
    return this.workers.size;
  }

  /** Runs one part of a job on an idle worker (or a new one). */
  run(module: URL, input: unknown, transfer: readonly TransferListItem[], listener: PartListener): RunningPart {
    if (this.users === 0) throw new Error('no preview is open: the pool has no users');
    this.warm();
    const pooled = this.idle.pop() ?? this.start();
    const { port1, port2 } = new MessageChannel();
    const cancel = new Int32Array(new SharedArrayBuffer(4));
    let finished = false;
    let freed!: () => void;
    const free = new Promise<void>((resolve) => (freed = resolve));
    port1.on('message', (message: unknown) => {
      if (message === PART_ENDED) this.freed(pooled);
      else if (!finished) listener.message(message);
    });
    // Only the worker's state keeps a job alive, never this port (idle workers must not hold the process).
    port1.unref();
    pooled.part = { listener, freed: () => { finished = true; port1.close(); freed(); } };
    const part: PreviewPart = { module: moduleSpecifier(module), input, port: port2, cancel };
    pooled.worker.postMessage(part, [port2, ...transfer]);
    return {
      stop: (how) => {
        if (finished) return free;
        Atomics.store(cancel, 0, 1);
        if (how === 'terminate') this.end(pooled);
        // The grace counts from the worker's readiness: a worker still starting has not begun the part, and skips it once up.
        else void pooled.ready.then(() => setTimeout(() => { if (!finished) this.end(pooled); }, CANCEL_GRACE_MS).unref());
        return free;
      },
    };
  }

  private start(): PooledWorker {
    const pooled = new PooledWorker(this.host, [...this.modules]);
    this.started += 1;
    this.workers.add(pooled);
    pooled.worker.on('error', (error) => this.died(pooled, error.message));
    pooled.worker.on('exit', () => this.died(pooled, 'the scan stopped unexpectedly'));
    return pooled;
  }

  /** The worker's part ended (its last message came before this, on the same port): it takes the next one, or goes. */
  private freed(pooled: PooledWorker): void {
    if (pooled.gone) return;
    const part = pooled.part;
    pooled.part = undefined;
    part?.freed();
    // Beyond the warm ones, or after the last user left, a worker that comes back idle goes.
    if (this.users === 0 || this.workers.size > this.warmWorkers) this.end(pooled);
    else this.idle.push(pooled);
  }

  /** A worker that errored or exited: its part (if any) is told, and a fresh one takes its place. */
  private died(pooled: PooledWorker, reason: string): void {
    const wasGone = pooled.gone;
    this.forget(pooled);
    const part = pooled.part;
    pooled.part = undefined;
    if (part) {
      if (!wasGone) part.listener.died(reason);
      part.freed();
    }
    // A crashed or ended worker is replaced, so the next job finds the pool warm.
    if (this.users > 0) this.warm();
  }

  /** Ends a worker on purpose (its part, if any, is freed when the thread is gone). */
  private end(pooled: PooledWorker): void {
    if (pooled.gone) return;
    this.forget(pooled);
    void pooled.worker.terminate();
  }

  private forget(pooled: PooledWorker): void {
    pooled.gone = true;
    this.workers.delete(pooled);
    const at = this.idle.indexOf(pooled);
    if (at >= 0) this.idle.splice(at, 1);
  }

  private async endAll(): Promise<void> {
    const all = [...this.workers];
    all.forEach((pooled) => this.forget(pooled));
    await Promise.allSettled(all.map((pooled) => pooled.worker.terminate()));
  }
}

/** The process's pool. */
export const previewWorkers = new PreviewWorkerPool(new URL('./preview-worker-host', import.meta.url));
