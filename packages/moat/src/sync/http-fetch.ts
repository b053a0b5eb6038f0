// fetch() with what a background client needs and the platform leaves out: a deadline that covers
// waiting for headers and every pause in the body (not just the start), an overall cap, and at most
// `maxRedirects` redirects to http(s) URLs only.
import { SyncError } from './sync-error.js';

export interface TimedFetchOptions {
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: Uint8Array;
  /** Longest wait for the headers, and for each chunk of the body afterwards. */
  idleTimeoutMs: number;
  /** Longest time for the whole exchange, body included. */
  totalTimeoutMs: number;
  maxRedirects: number;
  /** Aborts everything (the client is closing). */
  signal?: AbortSignal;
}

/** An open response plus the timer that must be fed while its body is read, and disposed after. */
export interface TimedResponse {
  response: Response;
  url: string;
  /** Call on every body chunk: restarts the inactivity timer. */
  activity(): void;
  signal: AbortSignal;
  /**
   * Settles as `work` does (reading the body), or rejects with why the exchange stopped (no activity,
   * overall limit, the caller's abort), whichever comes first. A read is never left to the platform's
   * fetch to end after an abort: one left pending with its socket gone is never settled, and whatever
   * awaits it (a closing firewall) would wait for ever.
   */
  within<T>(work: Promise<T>): Promise<T>;
  dispose(): void;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

export async function timedFetch(url: string, options: TimedFetchOptions): Promise<TimedResponse> {
  // Our own timers and listeners end the exchange (`stop`), not only the signals handed to fetch: they
  // are held by the timer list and the caller's controller, so they fire even when nothing else holds the
  // request any more.
  // Not Promise.race with one long-lived `stopped` promise: each race leaves a reaction on it that holds
  // the race's result, so a download kept every chunk it read alive (a 64 MiB body: 62 MiB still
  // reachable after a collection, measured). Each wait registers itself and leaves when it settles.
  let stoppedBy: SyncError | null = null;
  const waiting = new Set<(reason: SyncError) => void>();
  const stop = (reason: SyncError) => {
    if (stoppedBy !== null) return;
    stoppedBy = reason;
    for (const fail of waiting) fail(reason);
    waiting.clear();
  };
  const idle = new AbortController();
  const total = new AbortController();
  const end = (controller: AbortController, reason: SyncError) => {
    controller.abort(reason);
    stop(reason);
  };
  let timer: NodeJS.Timeout | undefined;
  const activity = () => {
    clearTimeout(timer);
    timer = setTimeout(() => end(idle, new SyncError('timeout', `no answer from ${redact(url)} for ${options.idleTimeoutMs} ms`)), options.idleTimeoutMs);
    timer.unref();
  };
  const totalTimer = setTimeout(() => end(total, new SyncError('timeout', `${redact(url)} took too long (overall limit)`)), options.totalTimeoutMs);
  totalTimer.unref();
  const signals = [idle.signal, total.signal];
  const caller = options.signal;
  const onCallerAbort = () => stop(fetchError(caller!.reason, caller!, url));
  if (caller) {
    signals.push(caller);
    if (caller.aborted) onCallerAbort();
    else caller.addEventListener('abort', onCallerAbort, { once: true });
  }
  const signal = AbortSignal.any(signals);
  const within = <T>(work: Promise<T>) => new Promise<T>((resolve, reject) => {
    if (stoppedBy !== null) {
      work.catch(() => {}); // given up on: its own failure is no longer anyone's
      reject(stoppedBy);
      return;
    }
    waiting.add(reject);
    work.then((value) => { waiting.delete(reject); resolve(value); }, (error: unknown) => { waiting.delete(reject); reject(error); });
  });
  const dispose = () => {
    clearTimeout(timer);
    clearTimeout(totalTimer);
    caller?.removeEventListener('abort', onCallerAbort);
  };
  activity();
  let current = url;
  try {
    for (let redirects = 0; ; redirects++) {
      let response: Response;
      try {
        response = await within(fetch(current, {
          method: options.method ?? 'GET', headers: options.headers, body: options.body, redirect: 'manual', signal,
        }));
      } catch (error) {
        throw fetchError(error, signal, current);
      }
      if (!REDIRECTS.has(response.status)) {
        activity();
        return { response, url: current, activity, signal, within, dispose };
      }
      if (response.body !== null) await within(response.body.cancel().catch(() => {}));
      const location = response.headers.get('location');
      if (location === null) throw new SyncError('bad-redirect', `${response.status} from ${redact(current)} without a Location`);
      if (redirects >= options.maxRedirects) throw new SyncError('too-many-redirects', `more than ${options.maxRedirects} redirects from ${redact(url)}`);
      current = redirectTarget(current, location, response.status, options.method ?? 'GET');
    }
  } catch (error) {
    dispose();
    throw error;
  }
}

/** Where a redirect from `current` leads, or a SyncError when it is not one to follow. */
export function redirectTarget(current: string, location: string, status: number, method: 'GET' | 'POST'): string {
  const next = new URL(location, current);
  if (next.protocol !== 'http:' && next.protocol !== 'https:') throw new SyncError('bad-redirect', `redirect to a ${next.protocol} URL refused`);
  // From https to http would hand the API key in the URL, and the files, to anyone on the path.
  if (next.protocol === 'http:' && new URL(current).protocol === 'https:') throw new SyncError('bad-redirect', 'redirect from https to http refused');
  // A 303 (and, as browsers do, 301/302 after POST) turns into a GET; this client only redirects GETs.
  if (method === 'POST' && status !== 307 && status !== 308) {
    throw new SyncError('bad-redirect', `upsync redirected with ${status}; only 307/308 keep the body`);
  }
  return next.href;
}

/** Turns an abort or a network failure into a SyncError that says which. */
export function fetchError(error: unknown, signal: AbortSignal, url: string): SyncError {
  if (error instanceof SyncError) return error;
  if (signal.aborted) {
    const reason = signal.reason as unknown;
    if (reason instanceof SyncError) return reason;
    if (reason instanceof Error && reason.name === 'TimeoutError') return new SyncError('timeout', `${redact(url)} took too long (overall limit)`, { cause: reason });
    return new SyncError('aborted', `request to ${redact(url)} aborted`, { cause: reason });
  }
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  const detail = cause?.code ?? cause?.message ?? (error as Error).message;
  return new SyncError('network', `cannot reach ${redact(url)}: ${detail}`, { cause: error });
}

/**
 * URLs carry the API key as their last path segment (`…/<category>/<key>`, `…/upsync/<key>`, whatever
 * path the hub URL has): logs and status show only its first characters, and no query.
 */
export function redact(url: string): string {
  const end = url.search(/[?#]/);
  const path = end < 0 ? url : url.slice(0, end);
  const slash = path.lastIndexOf('/');
  // `scheme://host` alone has no path segment to hide.
  if (slash < 0 || path.lastIndexOf('//', slash) === slash - 1) return path;
  const last = path.slice(slash + 1);
  return last.length > 4 ? `${path.slice(0, slash + 1)}${last.slice(0, 4)}…` : path;
}

/**
 * The body as text, at most `maxBytes` of it: the rest is never read, so a hub (or anyone on a plain
 * http path) answering with an endless body costs no more memory than that. Each chunk feeds the idle timer.
 */
export async function boundedText(timed: Pick<TimedResponse, 'response' | 'within' | 'activity'>, maxBytes: number): Promise<string> {
  const body = timed.response.body;
  if (body === null) return '';
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < maxBytes) {
      const { done, value } = await timed.within(reader.read());
      if (done) break;
      timed.activity();
      chunks.push(value);
      size += value.length;
    }
  } finally {
    reader.cancel().catch(() => {});
  }
  return Buffer.concat(chunks, size).subarray(0, maxBytes).toString('utf8');
}
