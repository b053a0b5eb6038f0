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
  dispose(): void;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

export async function timedFetch(url: string, options: TimedFetchOptions): Promise<TimedResponse> {
  const idle = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const activity = () => {
    clearTimeout(timer);
    timer = setTimeout(() => idle.abort(new SyncError('timeout', `no answer from ${redact(url)} for ${options.idleTimeoutMs} ms`)), options.idleTimeoutMs);
    timer.unref();
  };
  const signals = [idle.signal, AbortSignal.timeout(options.totalTimeoutMs)];
  if (options.signal) signals.push(options.signal);
  const signal = AbortSignal.any(signals);
  const dispose = () => clearTimeout(timer);
  activity();
  let current = url;
  try {
    for (let redirects = 0; ; redirects++) {
      let response: Response;
      try {
        response = await fetch(current, {
          method: options.method ?? 'GET', headers: options.headers, body: options.body, redirect: 'manual', signal,
        });
      } catch (error) {
        throw fetchError(error, signal, current);
      }
      if (!REDIRECTS.has(response.status)) {
        activity();
        return { response, url: current, activity, signal, dispose };
      }
      await response.body?.cancel().catch(() => {});
      const location = response.headers.get('location');
      if (location === null) throw new SyncError('bad-redirect', `${response.status} from ${redact(current)} without a Location`);
      if (redirects >= options.maxRedirects) throw new SyncError('too-many-redirects', `more than ${options.maxRedirects} redirects from ${redact(url)}`);
      const next = new URL(location, current);
      if (next.protocol !== 'http:' && next.protocol !== 'https:') throw new SyncError('bad-redirect', `redirect to a ${next.protocol} URL refused`);
      // A 303 (and, as browsers do, 301/302 after POST) turns into a GET; this client only redirects GETs.
      if (options.method === 'POST' && response.status !== 307 && response.status !== 308) {
        throw new SyncError('bad-redirect', `upsync redirected with ${response.status}; only 307/308 keep the body`);
      }
      current = next.href;
    }
  } catch (error) {
    dispose();
    throw error;
  }
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

/** URLs carry the API key in their path: logs and status show only its first characters. */
export function redact(url: string): string {
  return url.replace(/(\/v2\/(?:downsync\/[a-z_]+|upsync)\/)([^/?#]{4})[^/?#]*/, '$1$2…').replace(/\?.*$/, '');
}
