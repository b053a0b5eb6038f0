import { formatRange, tryParseIp, tryParseRange, type IpRange } from 'moat-waf/ip';
import { KEY_HASH_RE } from 'moat-waf';
import type { ThresholdKeyKind } from './threshold-types.js';

/** One key a Moat client reported with a request: its kind (`header:x-api-key`) and the hash of its value. */
export interface ReportedKey {
  kind: string;
  hash: string;
}

/** The id of a ban's rule in the compiled files is this and the ban's number; clients report it back. */
export const BAN_RULE_PREFIX = 'auto-ban-';

/** Whether a rule counts by a reported key (header, cookie, user) rather than by address. */
export function isReportedKeyKind(kind: ThresholdKeyKind): boolean {
  return kind !== 'ip' && kind !== 'ip64';
}

/**
 * The ban key of a reported key: `header:x-api-key=<32 hex>`, the very text of the moat rule that
 * blocks it (rule kind `key`). Never an address, so it can never be read as one (banKeyRange: null).
 */
export function reportedBanKey(kind: string, hash: string): string {
  return `${kind}=${hash}`;
}

/** Whether a ban key names a reported key (else it is an address or a /64). */
export function isReportedBanKey(key: string): boolean {
  const eq = key.lastIndexOf('=');
  return eq > 0 && KEY_HASH_RE.test(key.slice(eq + 1));
}

/**
 * A ban key as the dashboard shows it: an address as it is, a reported key as its kind and the first
 * eight digits of its hash (`header:x-api-key #3f2a9c01…`): enough to tell bans apart, nothing more.
 */
export function banKeyLabel(key: string): string {
  if (!isReportedBanKey(key)) return key;
  const eq = key.lastIndexOf('=');
  return `${key.slice(0, eq)} #${key.slice(eq + 1, eq + 9)}…`;
}

const LOW_64 = (1n << 64n) - 1n;

/**
 * The key a reported address counts under: canonical text, an address or an IPv6 /64 as CIDR
 * (`2001:db8:1:2::/64`); null when it is not an address (a record's `ip` is free text from the client,
 * so `0.0.0.0/0` or `*` must never become a key). IPv4-mapped IPv6 counts as the IPv4 address, so one
 * client is one key either way; IPv4 is keyed by address under 'ip64' too (a /64 is an IPv6 notion).
 */
export function banKeyOf(ip: string, kind: ThresholdKeyKind): string | null {
  // Most reports carry a plain dotted quad, already canonical: no BigInt parse for them.
  if (isCanonicalIpv4(ip)) return ip;
  const address = tryParseIp(ip);
  if (!address) return null;
  let range: IpRange = { family: address.family, start: address.value, end: address.value };
  if (kind === 'ip64' && address.family === 6) {
    const start = address.value & ~LOW_64;
    range = { family: 6, start, end: start | LOW_64 };
  }
  return formatRange(range);
}

/** The addresses a key covers (a key is always banKeyOf's output, so it parses). */
export function banKeyRange(key: string): IpRange | null {
  return tryParseRange(key);
}

/** Whether two ranges share an address. */
export function rangesOverlap(a: IpRange, b: IpRange): boolean {
  return a.family === b.family && a.start <= b.end && b.start <= a.end;
}

/** `a.b.c.d`, each part 0–255 without leading zeros: the text formatIp would give back. */
function isCanonicalIpv4(ip: string): boolean {
  const length = ip.length;
  if (length < 7 || length > 15) return false;
  let parts = 0;
  let value = 0;
  let digits = 0;
  for (let i = 0; i <= length; i++) {
    const c = i === length ? 46 : ip.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || value > 255) return false;
      parts += 1;
      value = 0;
      digits = 0;
      continue;
    }
    if (c < 48 || c > 57) return false;
    if (digits === 1 && value === 0) return false; // a leading zero
    value = value * 10 + (c - 48);
    digits += 1;
  }
  return parts === 4;
}
