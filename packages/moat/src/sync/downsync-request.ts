// One downsync request on the wire: the URL, the conditional GET with its timeouts, and what the
// answer's status means. The caller handles a 200 or 304 answer and disposes of it.
import type { CategorySyncConfig } from './category-sync-config.js';
import type { DownsyncAnswer, DownsyncFetch, HeaderReader } from './downsync-answer.js';
import { LONG_POLL_HEADER, NO_PUSH, readPushAnswer, type PushAnswer } from './long-poll.js';
import { redact } from './http-fetch.js';
import { SyncError } from './sync-error.js';

type RequestConfig = Pick<CategorySyncConfig<unknown>,
  'category' | 'apiKey' | 'client' | 'requestTimeoutMs' | 'downloadTimeoutMs' | 'maxRedirects'>;

/** `waitSeconds`: the hold offered (0: a probe), -1 when not long-polling at all (no parameter sent). */
export function downsyncUrl(config: RequestConfig, hub: string, clientDb: string, waitSeconds: number): string {
  const c = config.client;
  const query = new URLSearchParams({
    client: c.client, client_db: clientDb, framework: c.framework, hostname: c.hostname, process_id: c.processId, version: c.version,
  });
  if (waitSeconds >= 0) query.set('wait', String(waitSeconds));
  return `${hub.replace(/\/+$/, '')}/${config.category}/${encodeURIComponent(config.apiKey!)}?${query}`;
}

/** Asks for the file through `fetch` (in the downsync worker, or on this thread); `etag` makes it conditional (304 when the file in use is current). */
export function fetchDownsync(
  fetch: DownsyncFetch, config: RequestConfig, url: string, etag: string | null, waitSeconds: number, signal: AbortSignal,
): Promise<DownsyncAnswer> {
  const holdMs = Math.max(0, waitSeconds) * 1000;
  const headers: Record<string, string> = { 'user-agent': `moat/${config.client.version}`, accept: 'application/octet-stream' };
  if (etag) headers['if-none-match'] = etag;
  return fetch(url, {
    // The hold is silence by design: the wait for the headers may last it plus the usual allowance.
    headers, idleTimeoutMs: config.requestTimeoutMs + holdMs, totalTimeoutMs: config.downloadTimeoutMs + holdMs,
    maxRedirects: config.maxRedirects, signal,
  });
}

/** What the hub said about holding our next request (only a 200 or 304 to a long-poll request says anything). */
export function pushAnswerOf(response: { status: number; headers: HeaderReader }, waitSeconds: number): PushAnswer {
  return waitSeconds >= 0 && (response.status === 200 || response.status === 304)
    ? readPushAnswer(response.headers.get(LONG_POLL_HEADER)) : NO_PUSH;
}

/** How much of an error answer is read: its first 200 characters are quoted, the rest never read. */
const ERROR_TEXT_BYTES = 4096;

/** Throws for an answer that is neither 200 nor 304: a refused key (which stops syncing) or any other status. */
export async function throwUnlessOk(response: Pick<DownsyncAnswer, 'status' | 'text' | 'discard'>, config: Pick<RequestConfig, 'category'>, url: string): Promise<void> {
  if (response.status === 200 || response.status === 304) return;
  if (response.status === 401 || response.status === 403) {
    await response.discard();
    throw new SyncError('unauthorized', `the hub refused the API key for ${config.category} (${response.status} from ${redact(url)}); ` +
      'downsync stopped: check WAFRIS_API_KEY / apiKey');
  }
  const text = await response.text(ERROR_TEXT_BYTES).catch(() => '');
  throw new SyncError(`http-${response.status}`, `${config.category}: the hub answered ${response.status}${text ? `: ${text.slice(0, 200)}` : ''}`);
}
