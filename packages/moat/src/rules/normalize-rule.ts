/**
 * Validates one rule as an author or the hub wrote it and returns its canonical form, or throws a
 * RuleError listing every problem of the rule (not only the first).
 * Canonical values make ids and content hashes stable: `10.0.0.5/8` and `10.0.0.0/8` are one rule.
 * Spaces are trimmed only where they cannot mean anything (IPs, countries, ASNs, lists, hosts, methods):
 * in a substring rule `"; "` is not `";"`.
 */
import { createHash } from 'node:crypto';
import { formatRange, tryParseRange } from '../ip/range.js';
import { CONTINENT_NAMES, CONTINENT_OF } from './continents.js';
import { HTTP_METHODS } from './http-methods.js';
import { parseDuration } from './duration.js';
import { RuleError } from './rule-error.js';
import { MAX_RATE_LIMIT, MIN_RATE_LIMIT_WINDOW_MS, unsafeRuleProblems } from './rule-safety.js';
import { formatRateLimitKey, parseRateLimitKey } from './rate-limit-key.js';
import { formatKeyHash, parseKeyHash } from './key-ban.js';
import type { MatchRule, RateLimitSpec, Rule, RuleAction, RuleKind, RuleMode } from './types.js';
import { RULE_KINDS } from './types.js';
import { percentDecode } from '../http/percent-decode.js';
import { normalizePath } from '../http/request-path.js';

export interface RuleInput {
  id?: string;
  action: RuleAction;
  kind: RuleKind;
  value: string;
  note?: string;
  mode?: RuleMode;
  /** Unix ms (from 1e11), an ISO 8601 date-time with `Z` or an offset, or a date (UTC midnight). */
  expires?: number | string;
  rateLimit?: {
    method?: string | null;
    path: string;
    match?: 'exact' | 'prefix';
    /** A whole number from 1 to 1 000 000. */
    limit: number;
    /** `60s`, `1m`, … or seconds; at least 1 s. */
    window: string | number;
    /** What to count by: `ip` (default), `header:<name>`, `cookie:<name>` or `user` (rules/rate-limit-key.ts). */
    key?: string | null;
  };
}

const MAX_VALUE = 1024;
const ID_RE = /^[A-Za-z0-9_.:-]{1,64}$/;
const LIST_RE = /^[a-z0-9][a-z0-9_.-]{0,63}$/;
const HOST_RE = /^[a-z0-9]([a-z0-9._-]{0,252})$/;
// Every ISO 3166-1 alpha-2 code has a continent (so has XK, Kosovo, as geo databases write it); AN, the
// former Netherlands Antilles, is still in registry data. Any other pair (`XX`) would never match.
const COUNTRY_CODES: ReadonlySet<string> = new Set([...CONTINENT_OF.keys(), 'AN']);

function quote(v: unknown): string {
  const s = typeof v === 'string' ? v : String(v);
  return JSON.stringify(s.length > 80 ? `${s.slice(0, 77)}...` : s);
}

/**
 * The request-path readings decode %XX once (http/request-path.ts), so a rule written with escapes would
 * never match: `/caf%C3%A9` is read as `/café`. The rule's own characters are text, not the latin1 bytes
 * a request line arrives as, hence the UTF-8 round trip. Escapes that are not UTF-8 (`%C3` alone) are refused.
 */
function decodedPath(text: string, read: (bytes: string) => string): string {
  const decoded = read(Buffer.from(text, 'utf8').toString('latin1'));
  if (decoded.includes('\uFFFD') && !text.includes('\uFFFD')) throw new RuleError(`path ${quote(text)} holds percent-escapes that are not UTF-8 text`);
  return decoded;
}

function canonicalValue(kind: RuleKind, raw: unknown): string {
  if (typeof raw !== 'string') throw new RuleError(`value must be a string, got ${quote(raw)}`);
  if (raw.length > MAX_VALUE) throw new RuleError(`value is longer than ${MAX_VALUE} characters`);
  if (kind === 'userAgent' || kind === 'path' || kind === 'param') {
    // Substring values are kept exactly: a leading or trailing space is part of what is matched.
    if (raw.trim() === '') throw new RuleError(raw === '' ? 'value is empty' : 'value is only spaces, which (nearly) every request contains');
    // A path rule is matched against the decoded path readings only, so its escapes are decoded too.
    return kind === 'path' ? decodedPath(raw, percentDecode) : raw;
  }
  const v = raw.trim();
  if (v === '') throw new RuleError('value is empty');
  switch (kind) {
    case 'ip': {
      const r = tryParseRange(v);
      if (!r) throw new RuleError(`invalid IP, CIDR or range ${quote(v)}`);
      return formatRange(r);
    }
    case 'country': {
      const up = v.toUpperCase();
      if (COUNTRY_CODES.has(up)) return up;
      const m = /^CONTINENT:([A-Z]{2})$/.exec(up);
      if (m && CONTINENT_NAMES[m[1]!]) return `continent:${m[1]}`; // the pattern's group always takes part
      throw new RuleError(
        `invalid country ${quote(v)}: use an ISO 3166-1 alpha-2 country code such as "KP" or continent:<${Object.keys(CONTINENT_NAMES).join('|')}>`,
      );
    }
    case 'asn': {
      const m = /^(?:AS)?(\d{1,10})$/i.exec(v);
      if (!m || Number(m[1]) > 4294967295) throw new RuleError(`invalid ASN ${quote(v)}: use "AS13335" or "13335"`);
      return `AS${Number(m[1])}`;
    }
    case 'list': {
      const l = v.toLowerCase();
      if (!LIST_RE.test(l)) throw new RuleError(`invalid list name ${quote(v)}: letters, digits, "_", "-" and "."`);
      return l;
    }
    case 'host': {
      const h = v.toLowerCase().replace(/\.$/, '');
      if (h.includes('*')) {
        throw new RuleError(`wildcard hosts are not supported (${quote(v)}): a host rule matches one host exactly, so list each host`);
      }
      if (!HOST_RE.test(h)) throw new RuleError(`invalid host ${quote(v)}: a host name without scheme, port or path`);
      return h;
    }
    case 'method': {
      const m = v.toUpperCase();
      if (!HTTP_METHODS.has(m)) throw new RuleError(`invalid method ${quote(v)}`);
      return m;
    }
    case 'key': {
      const { key, hash } = parseKeyHash(v);
      return formatKeyHash(key, hash);
    }
    case 'rateLimit':
      return v;
    default:
      throw new RuleError(`unknown rule kind ${quote(kind)}; expected one of ${RULE_KINDS.join(', ')}`);
  }
}

/** The range of a JavaScript Date, in ms either side of 1970: an expiry past it cannot be written as a date. */
const MAX_DATE_MS = 8.64e15;
/** Unix ms below this (March 1973) are taken for seconds written by mistake: `1798675200` is 2026 in seconds. */
const MIN_EXPIRES_MS = 1e11;
/** `2026-12-31`, or a date-time with its zone (RFC 3339, seconds optional): `2026-12-31T00:00Z`, `… 00:00:00.5+01:00`. */
const EXPIRES_RE = /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?([Zz]|([+-])(\d{2}):?(\d{2}))?)?$/;
const EXPIRES_HINT = 'use "2026-12-31T00:00:00Z" (a time needs Z or an offset such as +01:00), a date "2026-12-31" (read as UTC midnight) or Unix milliseconds';

/**
 * Reads an expiry as the same instant on every machine: a time without a zone would be read in the
 * compiling machine's local time (and so give another rule and hash per TZ), and Date.parse rolls
 * `2026-02-30` over to March; both are refused here, as is a number that looks like seconds.
 */
function parseExpires(raw: number | string | undefined): number | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw === 'number') {
    if (!Number.isInteger(raw) || raw < 0 || raw > MAX_DATE_MS) throw new RuleError(`invalid expiry ${quote(raw)}: ${EXPIRES_HINT}`);
    if (raw < MIN_EXPIRES_MS) throw new RuleError(`invalid expiry ${quote(raw)}: it looks like Unix seconds; expiries in numbers are Unix milliseconds (${raw * 1000}), or ${EXPIRES_HINT}`);
    return raw;
  }
  const m = typeof raw === 'string' ? EXPIRES_RE.exec(raw.trim()) : null;
  if (!m) throw new RuleError(`invalid expiry ${quote(raw)}: ${EXPIRES_HINT}`);
  const [year, month, day, hour, minute, second] = [m[1], m[2], m[3], m[4], m[5], m[6]].map((f) => Number(f ?? 0)) as [number, number, number, number, number, number];
  const fraction = m[7] === undefined ? 0 : Math.floor(Number(m[7]) * 1000);
  const offsetMinutes = m[9] === undefined ? 0 : (m[9] === '-' ? -1 : 1) * (Number(m[10]) * 60 + Number(m[11]));
  const local = Date.UTC(year, month - 1, day, hour, minute, second, fraction);
  // Every field must survive the round trip: Date.UTC rolls 2026-02-30 over to March 2 and 24:00 to the next day.
  const back = new Date(local);
  if (year < 1000 || back.getUTCFullYear() !== year || back.getUTCMonth() !== month - 1 || back.getUTCDate() !== day ||
    back.getUTCHours() !== hour || back.getUTCMinutes() !== minute || back.getUTCSeconds() !== second ||
    m[10] !== undefined && (Number(m[10]) > 23 || Number(m[11]) > 59)) {
    throw new RuleError(`invalid expiry ${quote(raw)}: no such date or time; ${EXPIRES_HINT}`);
  }
  if (m[4] !== undefined && m[8] === undefined) throw new RuleError(`invalid expiry ${quote(raw)}: ${EXPIRES_HINT}`);
  return local - offsetMinutes * 60_000;
}

function parseRateLimit(input: NonNullable<RuleInput['rateLimit']>): RateLimitSpec {
  const problems: string[] = [];
  let path = '/';
  let match: 'exact' | 'prefix' = 'exact';
  if (typeof input.path !== 'string' || !input.path.trim().startsWith('/')) {
    problems.push(`rate limit path must start with "/", got ${quote(input.path)}`);
  } else {
    const written = input.path.trim();
    let text = written;
    const wanted = input.match ?? 'exact';
    if (wanted !== 'exact' && wanted !== 'prefix') problems.push('rate limit match must be "exact" or "prefix"');
    else match = wanted;
    // `/api/*` is shorthand for a prefix match on `/api/`.
    if (text.endsWith('*')) {
      text = text.slice(0, -1);
      match = 'prefix';
    }
    // Each of these would be kept and never match a request, so the limit would silently count nothing.
    if (text.includes('*')) problems.push(`rate limit path ${quote(written)}: "*" may only end the path ("/api/*" counts every path under /api/)`);
    else if (/[?#]/.test(text)) problems.push(`rate limit path ${quote(written)} holds a query or fragment ("?", "#"): give the path alone, such as "/login"`);
    else {
      // The engine's reading of a request path (decoded, `//` merged, dot segments resolved), in lower case.
      path = RuleError.collect(problems, () => decodedPath(text, normalizePath).toLowerCase()) ?? '/';
      // An exact `/login/` is `/login`: routers send each to the other (Express's non-strict routing),
      // and the engine counts a request with or without the slash for a rule without it.
      if (match === 'exact' && path.length > 1 && path.endsWith('/')) path = path.slice(0, -1);
    }
  }
  if (!Number.isInteger(input.limit) || input.limit < 1 || input.limit > MAX_RATE_LIMIT) {
    problems.push(`rate limit "limit" must be a whole number from 1 to ${MAX_RATE_LIMIT}, got ${quote(input.limit)}`);
  }
  const method = input.method == null || input.method === '*' || input.method === '' ? null : String(input.method).trim().toUpperCase();
  if (method !== null && !HTTP_METHODS.has(method)) problems.push(`invalid method ${quote(input.method)}`);
  const windowMs = RuleError.collect(problems, () => parseDuration(input.window as string | number, 'rate limit window'));
  if (windowMs !== undefined && windowMs < MIN_RATE_LIMIT_WINDOW_MS) problems.push(`rate limit window must be at least 1s, got ${quote(input.window)}`);
  const key = RuleError.collect(problems, () => parseRateLimitKey(input.key));
  if (problems.length > 0 || windowMs === undefined) throw new RuleError(problems);
  const spec: RateLimitSpec = { method, path, match, limit: input.limit, windowMs };
  // Set only when keyed: a per-IP rule keeps the exact shape (and so the id and content hash) it always had.
  if (key !== undefined) spec.key = key;
  return spec;
}

/** The id a rule gets when its author gave none: derived from its content, so it is stable. */
export function contentId(rule: Pick<Rule, 'action' | 'kind' | 'value' | 'rateLimit'>): string {
  const rl = rule.rateLimit;
  const spec = rl ? `|${rl.method ?? '*'}|${rl.match}|${rl.limit}|${rl.windowMs}${rl.key ? `|${formatRateLimitKey(rl.key)}` : ''}` : '';
  const h = createHash('sha256').update(`${rule.action}|${rule.kind}|${rule.value}${spec}`).digest('hex');
  return `${rule.kind === 'rateLimit' ? 'rl' : rule.action[0]}-${h.slice(0, 12)}`;
}

export function normalizeRule(input: RuleInput): Rule {
  if (input === null || typeof input !== 'object') throw new RuleError('a rule must be an object');
  const kind = input.kind;
  if (!RULE_KINDS.includes(kind)) throw new RuleError(`unknown rule kind ${quote(kind)}; expected one of ${RULE_KINDS.join(', ')}`);
  const problems: string[] = [];
  const action: RuleAction = kind === 'rateLimit' ? 'block' : input.action;
  if (action !== 'allow' && action !== 'block') problems.push(`action must be "allow" or "block", got ${quote(action)}`);
  else if (action === 'allow' && kind !== 'ip') problems.push(`only IP rules can allow; ${kind} rules can only block`);
  const mode: RuleMode = input.mode ?? 'block';
  if (mode !== 'block' && mode !== 'monitor') problems.push(`mode must be "block" or "monitor", got ${quote(mode)}`);
  if (input.note !== undefined && (typeof input.note !== 'string' || input.note.length > 500)) {
    problems.push('note must be a string of at most 500 characters');
  }
  let rateLimit: RateLimitSpec | undefined;
  let value: string | undefined;
  if (kind === 'rateLimit') {
    const spec = input.rateLimit;
    if (!spec) problems.push('a rate limit needs path, limit and window');
    else rateLimit = RuleError.collect(problems, () => parseRateLimit(spec));
    if (rateLimit) value = rateLimit.match === 'prefix' ? `${rateLimit.path}*` : rateLimit.path;
  } else {
    value = RuleError.collect(problems, () => canonicalValue(kind, input.value));
  }
  const expires = RuleError.collect(problems, () => parseExpires(input.expires));
  let id: string | undefined;
  if (input.id !== undefined && input.id !== null && input.id !== '') {
    id = String(input.id).trim();
    if (!ID_RE.test(id)) problems.push(`invalid id ${quote(input.id)}: up to 64 letters, digits, "_", ".", ":" or "-"`);
  }
  if (problems.length > 0 || value === undefined) throw new RuleError(problems);
  let rule: Rule;
  if (kind === 'rateLimit') {
    if (rateLimit === undefined) throw new RuleError(problems);
    rule = { id: id ?? contentId({ action, kind, value, rateLimit }), action: 'block', kind, value, mode, rateLimit };
  } else {
    rule = { id: id ?? contentId({ action, kind, value }), action, kind, value, mode } satisfies MatchRule;
  }
  if (input.note) rule.note = input.note;
  if (expires !== undefined) rule.expires = expires;
  const unsafe = unsafeRuleProblems(rule);
  if (unsafe.length > 0) throw new RuleError(unsafe);
  return rule;
}
