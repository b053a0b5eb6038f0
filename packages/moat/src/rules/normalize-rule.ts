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

export interface RuleInput {
  id?: string;
  action: RuleAction;
  kind: RuleKind;
  value: string;
  note?: string;
  mode?: RuleMode;
  /** Unix ms, or an ISO 8601 date-time. */
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

function canonicalValue(kind: RuleKind, raw: unknown): string {
  if (typeof raw !== 'string') throw new RuleError(`value must be a string, got ${quote(raw)}`);
  if (raw.length > MAX_VALUE) throw new RuleError(`value is longer than ${MAX_VALUE} characters`);
  if (kind === 'userAgent' || kind === 'path' || kind === 'param') {
    // Substring values are kept exactly: a leading or trailing space is part of what is matched.
    if (raw.trim() === '') throw new RuleError(raw === '' ? 'value is empty' : 'value is only spaces, which (nearly) every request contains');
    return raw;
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

function parseExpires(raw: number | string | undefined): number | undefined {
  if (raw === undefined || raw === null) return undefined;
  const ms = typeof raw === 'number' ? raw : Date.parse(raw);
  if (!Number.isFinite(ms) || (typeof raw === 'string' && !/^\d{4}-\d{2}-\d{2}/.test(raw))) {
    throw new RuleError(`invalid expiry ${quote(raw)}: use an ISO 8601 date such as "2026-12-31T00:00:00Z"`);
  }
  return ms;
}

function parseRateLimit(input: NonNullable<RuleInput['rateLimit']>): RateLimitSpec {
  const problems: string[] = [];
  let path = '/';
  let match: 'exact' | 'prefix' = 'exact';
  if (typeof input.path !== 'string' || !input.path.trim().startsWith('/')) {
    problems.push(`rate limit path must start with "/", got ${quote(input.path)}`);
  } else {
    path = input.path.trim().toLowerCase();
    const wanted = input.match ?? 'exact';
    if (wanted !== 'exact' && wanted !== 'prefix') problems.push('rate limit match must be "exact" or "prefix"');
    else match = wanted;
    // `/api/*` is shorthand for a prefix match on `/api/`.
    if (path.endsWith('*')) {
      path = path.slice(0, -1);
      match = 'prefix';
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
