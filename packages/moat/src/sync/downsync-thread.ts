// Downsync's HTTP in a worker thread: the request, the wait for the hub (long-polls included), and for a
// new file the body streamed into its part file, hashed and synced, all happen there. The serving thread
// gets the status and headers, decides, and gets back the file's hash and size; a data file's hundreds
// of MiB never pass through its event loop (measured in bench/swap-bench.ts: reading, hashing and
// writing a 170 MiB body took ~0.7 s of the serving thread's CPU). Where no worker can run, the same
// steps run on this thread (downsync-answer.ts), and status() says so.
import type { Worker } from 'node:worker_threads';
import { startModuleWorker } from '../loading/start-worker.js';
import type { DownloadedBody } from './download-body.js';
import { fetchOnThisThread, type DownsyncAnswer, type DownsyncFetch, type HeaderReader } from './downsync-answer.js';
import { fetchError } from './http-fetch.js';
import { asError, SyncError } from './sync-error.js';

/** To the worker: one exchange per id, one step at a time. */
export type ToDownsyncWorker =
  | { op: 'fetch'; id: number; url: string; headers?: Record<string, string>; idleTimeoutMs: number; totalTimeoutMs: number; maxRedirects: number }
  | { op: 'text'; id: number; maxBytes: number }
  | { op: 'save'; id: number; path: string; maxBytes: number; limitName: string }
  | { op: 'discard'; id: number }
  | { op: 'dispose' | 'abort'; id: number };

/** From the worker: `ready` once, then one answer per step. */
export type FromDownsyncWorker =
  | { ready: true }
  | { id: number; ok: true; value: FetchedHead | string | DownloadedBody | null }
  | { id: number; ok: false; reason: string; message: string };

export interface FetchedHead {
  status: number;
  url: string;
  headers: Array<[string, string]>;
}

export interface DownsyncThreadCounts {
  /** Exchanges made in the worker, and on this thread (no worker could run). */
  inWorker: number;
  onThisThread: number;
  /** Workers that stopped with exchanges under way (each such exchange failed with `worker-exit`). */
  workerFailures: number;
  /** Whether exchanges now run on this thread because the worker could not start. */
  fallback: boolean;
}

interface Step {
  resolve(value: unknown): void;
  reject(error: Error): void;
}

export class DownsyncThread {
  private worker: Worker | null = null;
  /** Settles when the current worker has started (false: it could not). */
  private started: Promise<boolean> | null = null;
  private readonly steps = new Map<number, Step>();
  private nextId = 1;
  private closed = false;
  private readonly counts: DownsyncThreadCounts = { inWorker: 0, onThisThread: 0, workerFailures: 0, fallback: false };

  /**
   * `onFallback`: told once when no worker can run and downsync goes on on this thread. `startWorker`
   * starts the worker (tests hand in one that fails, as a platform without workers does, or keep the one started).
   */
  constructor(
    private readonly onFallback: (error: Error) => void = () => {},
    private readonly startWorker: () => Worker = () => startModuleWorker(import.meta.url, './downsync-worker', null),
  ) {}

  readonly fetch: DownsyncFetch = async (url, options) => {
    if (this.closed) throw new SyncError('closed', 'the firewall is closing');
    if (this.counts.fallback || !(await this.start())) {
      this.counts.onThisThread++;
      return fetchOnThisThread(url, options);
    }
    if (this.closed) throw new SyncError('closed', 'the firewall is closing');
    if (this.worker === null) throw new SyncError('worker-exit', 'the downsync worker stopped as it started');
    this.counts.inWorker++;
    const id = this.nextId++;
    const signal = options.signal;
    const worker = this.worker!;
    const send = <T>(message: ToDownsyncWorker): Promise<T> => {
      if (signal?.aborted) return Promise.reject(fetchError(signal.reason, signal, url));
      // A worker that stopped took the exchange with it (a new one does not know it).
      if (this.worker !== worker) return Promise.reject(new SyncError('worker-exit', 'the downsync worker stopped during the exchange'));
      const reply = new Promise<T>((resolve, reject) => this.steps.set(id, { resolve: resolve as (value: unknown) => void, reject }));
      this.hold();
      worker.postMessage(message);
      return reply;
    };
    // The caller's abort (the firewall closing) ends the step under way at once; the worker drops the exchange.
    const onAbort = () => {
      this.settle(id, fetchError(signal!.reason, signal!, url));
      if (this.worker === worker) worker.postMessage({ op: 'abort', id } satisfies ToDownsyncWorker);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    let head: FetchedHead;
    try {
      head = await send<FetchedHead>({
        op: 'fetch', id, url, headers: options.headers, idleTimeoutMs: options.idleTimeoutMs, totalTimeoutMs: options.totalTimeoutMs,
        maxRedirects: options.maxRedirects,
      });
    } catch (error) {
      signal?.removeEventListener('abort', onAbort);
      throw error;
    }
    let disposed = false;
    const answer: DownsyncAnswer = {
      status: head.status,
      url: head.url,
      headers: headerReader(head.headers),
      discard: async () => { await send<null>({ op: 'discard', id }); },
      text: (maxBytes) => send<string>({ op: 'text', id, maxBytes }),
      save: (path, maxBytes, limitName) => send<DownloadedBody>({ op: 'save', id, path, maxBytes, limitName }),
      dispose: () => {
        if (disposed) return;
        disposed = true;
        signal?.removeEventListener('abort', onAbort);
        this.steps.delete(id);
        this.release();
        if (this.worker === worker) worker.postMessage({ op: 'dispose', id } satisfies ToDownsyncWorker);
      },
    };
    return answer;
  };

  status(): DownsyncThreadCounts {
    return { ...this.counts };
  }

  /** Stops the worker; exchanges under way fail with `closed`. */
  async close(): Promise<void> {
    this.closed = true;
    const worker = this.worker;
    this.worker = null;
    this.failAll(new SyncError('closed', 'the firewall is closing'));
    await worker?.terminate();
  }

  /** Starts the worker if none runs; false when none can (the fallback is then taken for good). */
  private start(): Promise<boolean> {
    if (this.started !== null) return this.started;
    this.started = new Promise<boolean>((resolve) => {
      let worker: Worker;
      try {
        worker = this.startWorker();
      } catch (error) {
        resolve(this.fallBack(error));
        return;
      }
      this.worker = worker;
      worker.unref(); // held only while a step waits for it (hold/release)
      let ready = false;
      worker.on('message', (message: FromDownsyncWorker) => {
        if ('ready' in message) {
          ready = true;
          resolve(true);
          return;
        }
        if (message.ok) this.settle(message.id, null, message.value);
        else this.settle(message.id, new SyncError(message.reason, message.message));
      });
      const stopped = (error: Error) => {
        if (this.worker !== worker) return;
        this.worker = null;
        this.started = null;
        if (!ready) {
          resolve(this.fallBack(error));
          return;
        }
        // Its exchanges are lost; the next poll starts another worker (after the caller's backoff).
        if (this.steps.size > 0) this.counts.workerFailures++;
        this.failAll(new SyncError('worker-exit', `the downsync worker stopped: ${error.message}`));
      };
      worker.once('error', stopped);
      worker.once('exit', (code) => stopped(new SyncError('worker-exit', `exit code ${code}`)));
    });
    return this.started;
  }

  private fallBack(error: unknown): false {
    if (!this.counts.fallback && !this.closed) {
      this.counts.fallback = true;
      const cause = asError(error);
      this.onFallback(new SyncError('worker', `no downsync worker could start (${cause.message}); downloads run on the serving thread`, { cause }));
    }
    return false;
  }

  private settle(id: number, error: Error | null, value?: unknown): void {
    const step = this.steps.get(id);
    if (step === undefined) return;
    this.steps.delete(id);
    this.release();
    if (error === null) step.resolve(value);
    else step.reject(error);
  }

  private failAll(error: Error): void {
    for (const id of [...this.steps.keys()]) this.settle(id, error);
  }

  /** A step waits on the worker: it keeps the process alive as a fetch on this thread would. */
  private hold(): void {
    if (this.steps.size === 1) this.worker?.ref();
  }

  private release(): void {
    if (this.steps.size === 0) this.worker?.unref();
  }
}

/** Headers as the worker's fetch combined them (names in lower case). */
function headerReader(entries: ReadonlyArray<[string, string]>): HeaderReader {
  const map = new Map(entries);
  return { get: (name) => map.get(name.toLowerCase()) ?? null, forEach: (callback) => map.forEach(callback) };
}

