/**
 * Downloads one feed into a file, with every bound a hostile or broken server could abuse: only http and
 * https, no non-public address (address-policy.ts), at most `maxRedirects` hops, one deadline for the
 * whole exchange (a server that drips a byte a second is cut off like one that never answers), and at
 * most `maxBytes` both on the wire and after gzip (a 10 MB gzip of zeros is refused at the cap, never
 * inflated whole). The body streams to disk and is hashed on the way; nothing is held in memory.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { guardedLookup, isPublicAddress } from './address-policy.js';

export interface FetchLimits {
  maxBytes: number;
  timeoutMs: number;
  maxRedirects: number;
  allowPrivate: boolean;
}

export interface Validators {
  etag: string | null;
  lastModified: string | null;
}

export type FetchOutcome =
  | { kind: 'not_modified' }
  | { kind: 'fetched'; bytes: number; sha256: string; etag: string | null; lastModified: string | null };

export type FeedFetchErrorCode =
  | 'bad_url' | 'refused_address' | 'too_many_redirects' | 'http_status' | 'too_large' | 'timeout' | 'bad_encoding' | 'network';

/** Why a fetch failed; `code` is stable (shown on the Data page and in the API), the message explains. */
export class FeedFetchError extends Error {
  constructor(readonly code: FeedFetchErrorCode, message: string) {
    super(message);
  }
}

/** The URL, checked: http or https, no credentials, and a literal address host must be public (lookup never sees those). */
export function checkFeedUrl(text: string, allowPrivate: boolean): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new FeedFetchError('bad_url', 'not a URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new FeedFetchError('bad_url', `only http and https URLs are fetched, not ${url.protocol}`);
  if (url.username || url.password) throw new FeedFetchError('bad_url', 'credentials in the URL are not accepted');
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (!allowPrivate && (isIP(host) !== 0 ? !isPublicAddress(host) : host === 'localhost' || host.endsWith('.localhost'))) {
    throw new FeedFetchError('refused_address', `${host} is not a public address (start the hub with --feeds-allow-private to allow it)`);
  }
  return url;
}

/** Counts bytes through a stream and fails it past the cap. */
function byteCap(maxBytes: number, what: string): Transform & { seen: () => number } {
  let seen = 0;
  const t = new Transform({
    transform(chunk: Buffer, _encoding, done: TransformCallback) {
      seen += chunk.length;
      if (seen > maxBytes) return done(new FeedFetchError('too_large', `${what} is larger than the ${maxBytes}-byte cap`));
      return done(null, chunk);
    },
  });
  return Object.assign(t, { seen: () => seen });
}

/**
 * Fetches `urlText` into `outFile`. With validators from the last good copy, sends a conditional GET and
 * answers `not_modified` on 304 (outFile is then not written). On any failure outFile is removed.
 */
export async function fetchFeed(urlText: string, outFile: string, validators: Validators, limits: FetchLimits, stop?: AbortSignal): Promise<FetchOutcome> {
  const controller = new AbortController();
  const deadline = setTimeout(() => controller.abort(), limits.timeoutMs);
  const onStop = () => controller.abort();
  stop?.addEventListener('abort', onStop, { once: true });
  try {
    let url = checkFeedUrl(urlText, limits.allowPrivate);
    for (let hop = 0; ; hop++) {
      const response = await request(url, validators, limits, controller.signal);
      const status = response.statusCode ?? 0;
      if (status >= 300 && status < 400 && status !== 304) {
        response.resume();
        const location = response.headers.location;
        if (!location) throw new FeedFetchError('http_status', `HTTP ${status} without a Location`);
        if (hop >= limits.maxRedirects) throw new FeedFetchError('too_many_redirects', `more than ${limits.maxRedirects} redirects`);
        url = checkFeedUrl(new URL(location, url).href, limits.allowPrivate);
        continue;
      }
      if (status === 304) {
        response.resume();
        return { kind: 'not_modified' };
      }
      if (status !== 200) {
        response.resume();
        throw new FeedFetchError('http_status', `HTTP ${status}`);
      }
      return await saveBody(response, outFile, limits.maxBytes);
    }
  } catch (error) {
    await rm(outFile, { force: true });
    if (stop?.aborted) throw new FeedFetchError('network', 'the hub is stopping');
    if (controller.signal.aborted) throw new FeedFetchError('timeout', `no complete answer within ${limits.timeoutMs} ms`);
    if (error instanceof FeedFetchError) throw error;
    const code = (error as { code?: string }).code;
    if (code === 'refused_address') throw new FeedFetchError('refused_address', (error as Error).message);
    if (code === 'Z_DATA_ERROR' || code === 'Z_BUF_ERROR') throw new FeedFetchError('bad_encoding', 'the gzip body is corrupt');
    throw new FeedFetchError('network', `${code ?? 'error'}: ${(error as Error).message}`.slice(0, 300));
  } finally {
    clearTimeout(deadline);
    stop?.removeEventListener('abort', onStop);
  }
}

function request(url: URL, validators: Validators, limits: FetchLimits, signal: AbortSignal): Promise<IncomingMessage> {
  const headers: Record<string, string> = { 'accept-encoding': 'gzip', 'user-agent': 'moat-hub feeds' };
  if (validators.etag) headers['if-none-match'] = validators.etag;
  if (validators.lastModified) headers['if-modified-since'] = validators.lastModified;
  const get = url.protocol === 'https:' ? https.get : http.get;
  return new Promise((resolve, reject) => {
    const req = get(url, { headers, signal, lookup: guardedLookup(limits.allowPrivate) as never, agent: false }, resolve);
    req.once('error', reject);
  });
}

async function saveBody(response: IncomingMessage, outFile: string, maxBytes: number): Promise<FetchOutcome> {
  const declared = Number(response.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) {
    response.destroy();
    throw new FeedFetchError('too_large', `the body is ${declared} bytes, over the ${maxBytes}-byte cap`);
  }
  const encoding = (response.headers['content-encoding'] ?? 'identity').toLowerCase();
  if (encoding !== 'identity' && encoding !== 'gzip' && encoding !== 'x-gzip') {
    response.destroy();
    throw new FeedFetchError('bad_encoding', `unsupported Content-Encoding ${encoding.slice(0, 40)}`);
  }
  const hash = createHash('sha256');
  const wire = byteCap(maxBytes, 'the body');
  const decoded = byteCap(maxBytes, 'the decompressed body');
  const hashing = new Transform({
    transform(chunk: Buffer, _e, done: TransformCallback) {
      hash.update(chunk);
      done(null, chunk);
    },
  });
  const stages = encoding === 'identity' ? [wire, hashing] : [wire, createGunzip(), decoded, hashing];
  await pipeline(response, ...(stages as [Transform]), createWriteStream(outFile));
  return {
    kind: 'fetched', bytes: encoding === 'identity' ? wire.seen() : decoded.seen(), sha256: hash.digest('hex'),
    etag: header(response, 'etag'), lastModified: header(response, 'last-modified'),
  };
}

function header(response: IncomingMessage, name: string): string | null {
  const value = response.headers[name];
  return typeof value === 'string' && value.length <= 512 ? value : null;
}
