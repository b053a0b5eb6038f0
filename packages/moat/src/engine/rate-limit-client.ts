/**
 * Which counter a keyed rate limit charges a request to: the hash of its header, cookie or user id.
 * Raw values never reach a counter, a report or a log: only `k:` + the first 128 bits of SHA-256 over
 * the key kind, name and value (base64url), the same in every process so a shared store (Redis) counts
 * one key once. A guessable value (a small numeric user id) could be found again by hashing candidates,
 * which is why the counters hold nothing but these hashes and reports hold only the key kind.
 * Only requests that match a keyed rule get here; per-IP rules never hash.
 *
 * Cost, measured on the loaded 2-core machine: `createHash` took ~7 µs a call, the one-shot `crypto.hash`
 * (Node ≥ 20.12) ~1.5 µs, so that is used where present; and clients repeat their key request after
 * request, so the last values hashed are remembered (a repeat costs a slot lookup). The memo holds
 * values only in this process's memory, as the requests themselves do, never in a counter or report.
 */
import * as crypto from 'node:crypto';
import { formatRateLimitKey } from '../rules/rate-limit-key.js';
import type { RateLimitKey } from '../rules/types.js';
import type { KnownKeyHashes, MoatRequest } from './decision.js';

const sha256: (text: string) => string = typeof crypto.hash === 'function'
  ? (text) => crypto.hash('sha256', text, 'base64url')
  : (text) => crypto.createHash('sha256').update(text).digest('base64url');

/**
 * Recently hashed `kind\0name\0value` texts → counter ids. A Map emptied when full, not the sampled-slot
 * memo of text/: keys differ in a few characters, which made its slots collide on every other request.
 * Bounded: at most RECENT_IDS entries of at most RECENT_ID_LENGTH characters.
 */
const recentIds = new Map<string, string>();
const RECENT_IDS = 1024;
const RECENT_ID_LENGTH = 512;

/** The counter id for `key` in `req`, or null when the request does not carry it (then it counts by IP). */
export function keyedClient(key: RateLimitKey, req: MoatRequest): string | null {
  if (req.knownKeyHashes !== undefined) {
    // A replayed report: its key's hash stands for the value (any id unique per key counts the same).
    const known = knownKeyHash(key, req.knownKeyHashes);
    return known === null ? null : `k:${known}`;
  }
  const value = keyValue(key, req);
  if (value === null) return null;
  const text = `${key.by}\0${keyName(key)}\0${value}`;
  let id = recentIds.get(text);
  if (id === undefined) {
    id = `k:${sha256(text).slice(0, 22)}`;
    if (text.length <= RECENT_ID_LENGTH) {
      if (recentIds.size >= RECENT_IDS) recentIds.clear();
      recentIds.set(text, id);
    }
  }
  return id;
}

/**
 * Recently hashed values → keyHash results, one memo per key object (a rules file's keys live as long as
 * its engine): looked up by the value Node parsed, with no text built per request. Bounded like recentIds.
 */
const recentHashes = new WeakMap<RateLimitKey, Map<string, string>>();

/**
 * The hash a keyed ban and a report name the request's `key` by: the first 128 bits of the same SHA-256
 * as the counter id above (same text), as 32 lower-case hex digits; null when the request lacks the key.
 */
export function keyHash(key: RateLimitKey, req: MoatRequest): string | null {
  if (req.knownKeyHashes !== undefined) return knownKeyHash(key, req.knownKeyHashes);
  const value = keyValue(key, req);
  if (value === null) return null;
  let memo = recentHashes.get(key);
  if (memo === undefined) {
    memo = new Map();
    recentHashes.set(key, memo);
  }
  let hash = memo.get(value);
  if (hash === undefined) {
    hash = sha256Hex(`${key.by}\0${keyName(key)}\0${value}`).slice(0, 32);
    if (value.length <= RECENT_ID_LENGTH) {
      if (memo.size >= RECENT_IDS) memo.clear();
      memo.set(value, hash);
    }
  }
  return hash;
}

/** The request's value for `key` (the user id, a header, one cookie), or null when it has none. */
function keyValue(key: RateLimitKey, req: MoatRequest): string | null {
  if (key.by === 'user') return req.user || null;
  return key.by === 'header' ? headerValue(req, key.name) : cookieValue(headerValue(req, 'cookie'), key.name);
}

/** The name hashed with the value: the header or cookie name, none for the user id. */
function keyName(key: RateLimitKey): string {
  return key.by === 'user' ? '' : key.name;
}

/** Each key's text (`header:x-api-key`), made once per key object: the name known hashes are filed under. */
const keyTexts = new WeakMap<RateLimitKey, string>();

function knownKeyHash(key: RateLimitKey, known: KnownKeyHashes): string | null {
  let text = keyTexts.get(key);
  if (text === undefined) {
    text = formatRateLimitKey(key);
    keyTexts.set(key, text);
  }
  return known.get(text) ?? null;
}

const sha256Hex: (text: string) => string = typeof crypto.hash === 'function'
  ? (text) => crypto.hash('sha256', text, 'hex')
  : (text) => crypto.createHash('sha256').update(text).digest('hex');

function headerValue(req: MoatRequest, name: string): string | null {
  const v = req.headers?.[name];
  if (v === undefined) return null;
  // Node joins repeated headers with ", " (cookies with "; "); a list comes from HTTP/2 or a Web front door.
  const text = typeof v === 'string' ? v : v.join(name === 'cookie' ? '; ' : ', ');
  return text === '' ? null : text;
}

/**
 * The first cookie called `name`, as the app's cookie parser reads it (the `cookie` package, which
 * Express, Fastify and Koa use): quotes removed and percent-decoding applied, so `session=%61bc` and
 * `session="abc"` charge the same counter as `session=abc` instead of each getting a fresh budget.
 */
export function cookieValue(header: string | null, name: string): string | null {
  if (header === null) return null;
  let at = 0;
  // The first `=` at or after `at`, searched again only once passed: a header of pairs without `=`
  // (`a;a;a;…`) is read once, not once from each pair to its end.
  let eq = -1;
  while (at < header.length) {
    let end = header.indexOf(';', at);
    if (end < 0) end = header.length;
    if (eq < at) {
      eq = header.indexOf('=', at);
      if (eq < 0) eq = header.length;
    }
    if (eq > at && eq < end && header.slice(at, eq).trim() === name) {
      let value = header.slice(eq + 1, end).trim();
      if (value.length >= 2 && value.charCodeAt(0) === 0x22 && value.charCodeAt(value.length - 1) === 0x22) value = value.slice(1, -1);
      if (value.includes('%')) {
        try {
          value = decodeURIComponent(value);
        } catch {
          // Kept as sent, as the cookie parser keeps it.
        }
      }
      return value === '' ? null : value;
    }
    at = end + 1;
  }
  return null;
}
