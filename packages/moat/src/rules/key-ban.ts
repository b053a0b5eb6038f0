/**
 * Keys a request is banned or reported by, beside its IP: `header:<name>`, `cookie:<name>` or `user`
 * (the rate-limit key texts, rules/rate-limit-key.ts), each with the hash of the request's value.
 * A keyed ban's value and a reported key are both written `<key>=<hash>`, the hash being the first 128
 * bits of SHA-256 in lower-case hex (engine/rate-limit-client.ts keyHash): raw values never leave the app.
 */
import { RuleError } from './rule-error.js';
import { formatRateLimitKey, parseRateLimitKey } from './rate-limit-key.js';
import type { RateLimitKey } from './types.js';

/** 128 bits of SHA-256 as lower-case hex. */
export const KEY_HASH_RE = /^[0-9a-f]{32}$/;

/**
 * Most keys a rules file may ask clients to report (and a report may carry): each costs a hash per
 * request and ~100 bytes per record, so the list stays short whatever the hub's rules say.
 */
export const MAX_REPORT_KEYS = 8;

/** A request key and the hash of its value. */
export interface KeyHash {
  key: RateLimitKey;
  hash: string;
}

/** Parses `header:x-api-key=3f2a…` (32 hex digits); throws a RuleError on anything else. */
export function parseKeyHash(text: string): KeyHash {
  const eq = text.lastIndexOf('=');
  const hash = eq < 0 ? '' : text.slice(eq + 1);
  if (!KEY_HASH_RE.test(hash)) {
    throw new RuleError(`invalid key ban ${JSON.stringify(text.slice(0, 80))}: use "<key>=<32 lower-case hex digits>", e.g. "header:x-api-key=3f2a…"`);
  }
  const key = parseRateLimitKey(text.slice(0, eq));
  // "ip" (no key) is what a ban by IP is for: an IP rule.
  if (key === undefined) throw new RuleError(`invalid key ban ${JSON.stringify(text.slice(0, 80))}: the key is "header:<name>", "cookie:<name>" or "user"; ban an IP with an IP rule`);
  return { key, hash };
}

export function formatKeyHash(key: RateLimitKey, hash: string): string {
  return `${formatRateLimitKey(key)}=${hash}`;
}

/**
 * The keys a rules file asks clients to report, as written in it: key texts, at most MAX_REPORT_KEYS,
 * each valid (a refused one, e.g. `header:x-forwarded-for`, throws), duplicates dropped, in canonical order.
 */
export function normalizeReportKeys(texts: readonly unknown[]): RateLimitKey[] {
  if (texts.length > MAX_REPORT_KEYS) throw new RuleError(`at most ${MAX_REPORT_KEYS} report keys, got ${texts.length}`);
  const byText = new Map<string, RateLimitKey>();
  for (const text of texts) {
    const key = parseRateLimitKey(text);
    if (key === undefined) throw new RuleError(`report key ${JSON.stringify(text)}: "ip" is always reported; name a header, a cookie or user`);
    byText.set(formatRateLimitKey(key), key);
  }
  return [...byText.keys()].sort().map((text) => byText.get(text)!);
}
