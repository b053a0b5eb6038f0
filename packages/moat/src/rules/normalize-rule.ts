/**
 * Validates one rule as an author or the hub wrote it and returns its canonical form.
 * Canonical values make ids and content hashes stable: `10.0.0.5/8` and `10.0.0.0/8` are one rule.
 */
import { createHash } from 'node:crypto';
import { formatRange, tryParseRange } from '../ip/range.js';
import { CONTINENT_NAMES } from './continents.js';
import { parseDuration } from './duration.js';
import { RuleError } from './rule-error.js';
import type { RateLimitSpec, Rule, RuleAction, RuleKind, RuleMode } from './types.js';
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
    limit: number;
    /** `60s`, `1m`, … or seconds. */
    window: string | number;
  };
}

const MAX_VALUE = 1024;
const ID_RE = /^[A-Za-z0-9_.:-]{1,64}$/;
const LIST_RE = /^[a-z0-9][a-z0-9_.-]{0,63}$/;
const HOST_RE = /^[a-z0-9*]([a-z0-9.*_-]{0,252})$/;
const METHOD_RE = /^[A-Z]{1,20}$/;

function quote(v: unknown): string {
  const s = typeof v === 'string' ? v : String(v);
  return JSON.stringify(s.length > 80 ? `${s.slice(0, 77)}...` : s);
}

function canonicalValue(kind: RuleKind, raw: unknown): string {
  if (typeof raw !== 'string') throw new RuleError(`value must be a string, got ${quote(raw)}`);
  const v = raw.trim();
  if (v === '') throw new RuleError('value is empty');
  if (v.length > MAX_VALUE) throw new RuleError(`value is longer than ${MAX_VALUE} characters`);
  switch (kind) {
    case 'ip': {
      const r = tryParseRange(v);
      if (!r) throw new RuleError(`invalid IP, CIDR or range ${quote(v)}`);
      return formatRange(r);
    }
    case 'country': {
      const up = v.toUpperCase();
      if (/^[A-Z]{2}$/.test(up)) return up;
      const m = /^CONTINENT:([A-Z]{2})$/.exec(up);
      if (m && CONTINENT_NAMES[m[1]]) return `continent:${m[1]}`;
      throw new RuleError(
        `invalid country ${quote(v)}: use an ISO 3166 code such as "KP" or continent:<${Object.keys(CONTINENT_NAMES).join('|')}>`,
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
      if (!HOST_RE.test(h)) throw new RuleError(`invalid host ${quote(v)}: a host name without scheme, port or path`);
      return h;
    }
    case 'method': {
      const m = v.toUpperCase();
      if (!METHOD_RE.test(m)) throw new RuleError(`invalid method ${quote(v)}`);
      return m;
    }
    case 'userAgent':
    case 'path':
    case 'param':
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
  if (typeof input.path !== 'string' || !input.path.startsWith('/')) {
    throw new RuleError(`rate limit path must start with "/", got ${quote(input.path)}`);
  }
  let path = input.path.trim().toLowerCase();
  let match = input.match ?? 'exact';
  // `/api/*` is shorthand for a prefix match on `/api/`.
  if (path.endsWith('*')) {
    path = path.slice(0, -1);
    match = 'prefix';
  }
  if (match !== 'exact' && match !== 'prefix') throw new RuleError(`rate limit match must be "exact" or "prefix"`);
  if (!Number.isInteger(input.limit) || input.limit < 1 || input.limit > 1_000_000_000) {
    throw new RuleError(`rate limit "limit" must be a positive whole number, got ${quote(input.limit)}`);
  }
  const method = input.method == null || input.method === '*' || input.method === '' ? null : String(input.method).toUpperCase();
  if (method !== null && !METHOD_RE.test(method)) throw new RuleError(`invalid method ${quote(input.method)}`);
  const windowMs = parseDuration(input.window as string | number, 'rate limit window');
  return { method, path, match, limit: input.limit, windowMs };
}

/** The id a rule gets when its author gave none: derived from its content, so it is stable. */
export function contentId(rule: Pick<Rule, 'action' | 'kind' | 'value' | 'rateLimit'>): string {
  const rl = rule.rateLimit;
  const spec = rl ? `|${rl.method ?? '*'}|${rl.match}|${rl.limit}|${rl.windowMs}` : '';
  const h = createHash('sha256').update(`${rule.action}|${rule.kind}|${rule.value}${spec}`).digest('hex');
  return `${rule.kind === 'rateLimit' ? 'rl' : rule.action[0]}-${h.slice(0, 12)}`;
}

export function normalizeRule(input: RuleInput): Rule {
  if (input === null || typeof input !== 'object') throw new RuleError('a rule must be an object');
  const kind = input.kind;
  if (!RULE_KINDS.includes(kind)) throw new RuleError(`unknown rule kind ${quote(kind)}; expected one of ${RULE_KINDS.join(', ')}`);
  const action: RuleAction = kind === 'rateLimit' ? 'block' : input.action;
  if (action !== 'allow' && action !== 'block') throw new RuleError(`action must be "allow" or "block", got ${quote(action)}`);
  if (action === 'allow' && kind !== 'ip') throw new RuleError(`only IP rules can allow; ${kind} rules can only block`);
  const mode: RuleMode = input.mode ?? 'block';
  if (mode !== 'block' && mode !== 'monitor') throw new RuleError(`mode must be "block" or "monitor", got ${quote(mode)}`);
  if (input.note !== undefined && (typeof input.note !== 'string' || input.note.length > 500)) {
    throw new RuleError('note must be a string of at most 500 characters');
  }
  let rateLimit: RateLimitSpec | undefined;
  let value: string;
  if (kind === 'rateLimit') {
    if (!input.rateLimit) throw new RuleError('a rate limit needs path, limit and window');
    rateLimit = parseRateLimit(input.rateLimit);
    value = rateLimit.match === 'prefix' ? `${rateLimit.path}*` : rateLimit.path;
  } else {
    value = canonicalValue(kind, input.value);
  }
  const expires = parseExpires(input.expires);
  const base = { action, kind, value, rateLimit };
  let id: string;
  if (input.id !== undefined && input.id !== null && input.id !== '') {
    id = String(input.id).trim();
    if (!ID_RE.test(id)) throw new RuleError(`invalid id ${quote(input.id)}: up to 64 letters, digits, "_", ".", ":" or "-"`);
  } else {
    id = contentId(base);
  }
  const rule: Rule = { id, action, kind, value, mode };
  if (input.note) rule.note = input.note;
  if (expires !== undefined) rule.expires = expires;
  if (rateLimit) rule.rateLimit = rateLimit;
  return rule;
}
