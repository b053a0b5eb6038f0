// A downsync answer as the sync steps use it: its status and headers, then one thing done with its body
// (dropped, read as a short error text, or streamed into a part file with its hash). The same steps run
// on either side of a thread boundary: here over a fetch made on this thread, and in downsync-thread.ts
// over one made in a worker, whose body never reaches the serving thread.
import { downloadBody, type DownloadedBody } from './download-body.js';
import { boundedText, timedFetch, type TimedFetchOptions, type TimedResponse } from './http-fetch.js';

/** What the steps read of an answer's headers: Fetch's `Headers` (names case-insensitive, null when absent). */
export interface HeaderReader {
  get(name: string): string | null;
  /** Each name once, in lower case, its values combined. */
  forEach(callback: (value: string, name: string) => void): void;
}

export interface DownsyncAnswer {
  readonly status: number;
  /** The URL that answered (after redirects). */
  readonly url: string;
  readonly headers: HeaderReader;
  /** Drops the body unread. */
  discard(): Promise<void>;
  /** The body's first `maxBytes` as text; the rest is never read. */
  text(maxBytes: number): Promise<string>;
  /**
   * Streams the body into a new file at `path`, hashing it (download-body.ts). `onChunk` is called as the
   * bytes arrive when they arrive on this thread; a worker's download does not call it.
   */
  save(path: string, maxBytes: number, limitName: string, onChunk: () => void): Promise<DownloadedBody>;
  /** Ends the exchange (timers, and a body not yet read). */
  dispose(): void;
}

/** Sends a GET and hands on its answer (a SyncError for no answer at all). */
export type DownsyncFetch = (url: string, options: Omit<TimedFetchOptions, 'method' | 'body'>) => Promise<DownsyncAnswer>;

/** An exchange made on this thread. */
export function answerOf(timed: TimedResponse): DownsyncAnswer {
  const { response } = timed;
  return {
    status: response.status,
    url: timed.url,
    headers: response.headers,
    discard: async () => {
      if (response.body !== null) await timed.within(response.body.cancel().catch(() => {}));
    },
    text: (maxBytes) => boundedText(timed, maxBytes),
    save: (path, maxBytes, limitName, onChunk) => downloadBody(timed, path, maxBytes, onChunk, limitName),
    dispose: () => timed.dispose(),
  };
}

export const fetchOnThisThread: DownsyncFetch = async (url, options) => answerOf(await timedFetch(url, options));
