import { formatRateLimitKey, KEY_HASH_RE, MAX_REPORT_KEYS, parseRateLimitKey } from 'moat-waf';
import type { ReportedKey } from '../thresholds/ban-key.js';

/** Longest `keys` text a record may carry: MAX_REPORT_KEYS keys of at most ~105 characters each. */
export const MAX_REPORTED_KEYS_LENGTH = 1024;

/**
 * A record's `keys` (Moat clients only): the hashes of the request's header, cookie or user id keys its
 * site's threshold rules count by, `header:x-api-key=<32 hex> user=<32 hex>`. Checked strictly before
 * anything counts by it: a bounded string, at most MAX_REPORT_KEYS distinct keys, each a canonical key
 * (a header carrying the client address is refused, as for rate limits) and 32 lower-case hex digits —
 * a raw value cannot pass as a hash. Null when absent; a string saying why when refused (the record is
 * then refused, never stored or counted).
 */
export function parseReportedKeys(value: unknown): ReportedKey[] | null | string {
  if (value === undefined || value === null || value === '') return null;
  if (typeof value !== 'string') return 'must be text';
  if (value.length > MAX_REPORTED_KEYS_LENGTH) return `longer than ${MAX_REPORTED_KEYS_LENGTH} characters`;
  const parts = value.split(' ');
  if (parts.length > MAX_REPORT_KEYS) return `more than ${MAX_REPORT_KEYS} keys`;
  const keys: ReportedKey[] = [];
  for (const part of parts) {
    const eq = part.lastIndexOf('=');
    const hash = eq < 0 ? '' : part.slice(eq + 1);
    if (!KEY_HASH_RE.test(hash)) return 'each key needs 32 lower-case hex digits after "="';
    const kind = part.slice(0, eq);
    let canonical: string | null = null;
    try {
      const key = parseRateLimitKey(kind);
      if (key !== undefined) canonical = formatRateLimitKey(key);
    } catch {
      // Refused below.
    }
    if (canonical === null || canonical !== kind) return 'a key is "header:<name>" (lower case), "cookie:<name>" or "user"';
    if (keys.some((k) => k.kind === kind)) return `the key ${kind} is listed twice`;
    keys.push({ kind, hash });
  }
  return keys;
}
