/**
 * Worker threads on the hub's own modules, for work that must not hold the event loop (feed builds,
 * rules documents, rules compiles, backtests). A module is named without its extension: beside a built
 * hub it is `.js`; from the TypeScript sources (tests, benches) it is `.ts`, and the worker registers
 * tsx first, since on Node 20 a worker does not inherit the parent's loader.
 */
import { Worker } from 'node:worker_threads';

const FROM_SOURCES = import.meta.url.endsWith('.ts');

/** The module's import specifier with its extension: `.js` in a built hub, `.ts` from the sources. */
export function moduleSpecifier(module: URL): string {
  return `${module.href}${FROM_SOURCES ? '.ts' : '.js'}`;
}

/** A worker thread running `module` (named without extension) as its entry, with `workerData`. */
export function startModuleWorker(module: URL, workerData: unknown): Worker {
  if (!FROM_SOURCES) return new Worker(new URL(moduleSpecifier(module)), { workerData });
  const href = JSON.stringify(moduleSpecifier(module));
  return new Worker(`import('tsx/esm/api').then((tsx) => tsx.register(), () => {}).then(() => import(${href}))`, { eval: true, workerData });
}

/** What a job module exports: one call, its input and result structured-cloned across the thread. */
export interface JobModule<Input, Result> {
  run(input: Input): Result | Promise<Result>;
}

/**
 * Runs `run(input)` of a job module in a worker of its own, which ends when it has answered (jobs are
 * occasional; a fresh worker also returns all its memory). Rejects when the job throws or the worker
 * stops first; the error keeps its message only (errors cross threads as plain ones), so a job with
 * answers the caller tells apart returns them instead of throwing.
 */
export function runJobInWorker<Input, Result>(job: URL, input: Input, label: string): Promise<Result> {
  return new Promise((resolve, reject) => {
    const worker = startModuleWorker(new URL('./job-host', import.meta.url), { job: moduleSpecifier(job), input });
    let settled = false;
    worker.once('message', (result: Result) => {
      settled = true;
      resolve(result);
      void worker.terminate();
    });
    worker.once('error', (error) => {
      settled = true;
      reject(error);
    });
    worker.once('exit', (code) => {
      if (!settled) reject(new Error(`the ${label} worker stopped (exit code ${code}) before it answered`));
    });
  });
}

/**
 * At most `limit` jobs at once; the others wait their turn, in order. Each job holds a thread and its
 * memory, so a burst of imports or rebuilds across many sites queues instead of starting a worker each.
 */
export class JobLimit {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly limit: number) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.running >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.running += 1;
    try {
      return await task();
    } finally {
      // The slot passes straight to the next waiter, so `running` never dips below the jobs in flight.
      const next = this.waiting.shift();
      if (next) next();
      else this.running -= 1;
    }
  }

  /** Jobs running now and waiting (tests and status read it). */
  get load(): { running: number; waiting: number } {
    return { running: this.running, waiting: this.waiting.length };
  }
}
