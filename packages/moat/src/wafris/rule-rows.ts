/**
 * What one Moat rule becomes in a Wafris custom_rules file, so that the unmodified gem decides as Moat
 * does wherever its lookups allow. The gem compares raw request text case-sensitively (substrings with
 * Ruby's `include?`, hosts, methods, countries and rate-limit rows with SQL `=`), where Moat compares
 * case-insensitively after decoding; so an entry is written in the forms clients actually send:
 * - user agents and paths: as written, lower and UPPER case (a rule `SQLMap` must still catch `sqlmap/1.7`);
 *   paths also percent-encoded as browsers send them (`/<x` arrives as `/%3Cx`);
 * - parameters: the same case forms, also form-encoded, because the gem matches against the parameters
 *   re-encoded by Rack (`<script` arrives as `%3Cscript`, a space as `+`);
 * - hosts: lower and UPPER case; methods: upper case, as clients send them;
 * - a rate limit without a method: one row per method the gem can meet, since it selects rows by
 *   `path = ? AND method = ?`.
 * Mixed case (`SqLmAp`) and other encodings of the same text still pass the gem; docs/hub.md lists
 * those differences. Every row carries the rule's number (wafrisRuleNumber), the one the gem reports.
 */
import { createHash } from 'node:crypto';
import { CONTINENT_OF } from '../rules/continents.js';
import type { Rule } from '../rules/types.js';
import { wafrisCountryToken } from './country-token.js';

/** The custom_rules tables holding one `entries` text per row. */
export type WafrisEntryTable =
  | 'allowed_ips' | 'blocked_ips' | 'blocked_user_agents' | 'blocked_paths' | 'blocked_parameters' | 'blocked_hosts' | 'blocked_methods';

export const WAFRIS_ENTRY_TABLES: readonly WafrisEntryTable[] = [
  'allowed_ips', 'blocked_ips', 'blocked_user_agents', 'blocked_paths', 'blocked_parameters', 'blocked_hosts', 'blocked_methods',
];

/**
 * The methods a method-less rate limit is written for: those of HTTP itself and of WebDAV, which Rails
 * routes. The gem compares the method as Rack passes it, as the client sent it; clients send these in
 * upper case, and Puma, the usual Rack server, accepts no other, so other spellings are not written.
 */
export const WAFRIS_RATE_LIMIT_METHODS: readonly string[] = [
  'GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'CONNECT', 'TRACE',
  'PROPFIND', 'PROPPATCH', 'MKCOL', 'COPY', 'MOVE', 'LOCK', 'UNLOCK',
];

/**
 * The number a rule carries in a Wafris file (its `rule_id`; the gem reports it for rate limits as a JSON
 * number). A rule whose id already is a number of up to 15 digits keeps it; any other id maps to a fixed
 * number from 10^15 up to 2^53 - 1 (a hash of the id), so the number stays the same across exports, never
 * meets a kept one, and stays exact in JSON. A hub maps a reported number back by computing this for its rules.
 */
export function wafrisRuleNumber(ruleId: string): number {
  if (/^\d{1,15}$/.test(ruleId)) return Number(ruleId);
  const low = BigInt(`0x${createHash('sha256').update(ruleId).digest('hex').slice(0, 14)}`);
  const span = (1n << 53n) - 10n ** 15n;
  return Number(10n ** 15n + (low % span));
}

function caseForms(value: string): string[] {
  return unique([value, value.toLowerCase(), value.toUpperCase()]);
}

function unique(values: string[]): string[] {
  return [...new Set(values)];
}

/** UTF-8 bytes outside printable ASCII, and the characters browsers percent-encode in a path. */
const PATH_ENCODED = new Set([0x20, 0x22, 0x23, 0x3c, 0x3e, 0x3f, 0x60, 0x7b, 0x7d]);

function browserPathForm(path: string): string {
  let out = '';
  for (const byte of Buffer.from(path, 'utf8')) {
    out += byte < 0x21 || byte > 0x7e || PATH_ENCODED.has(byte) ? `%${byte.toString(16).toUpperCase().padStart(2, '0')}` : String.fromCharCode(byte);
  }
  return out;
}

/**
 * `text` as Rack's build_query writes parameters: form-encoded (the WHATWG urlencoded serializer uses
 * the same byte set and `+` for space). Which `&` and `=` in an entry separate pairs is unknown, so two
 * forms: every `&` and `=` kept (`a=1&b=2`), and only each pair's first `=` kept (`id=1 or 1=1` arrives
 * as `id=1+or+1%3D1`).
 */
function rackQueryForms(text: string): string[] {
  const encode = (part: string) => new URLSearchParams([['', part]]).toString().slice(1);
  const pairs = text.split('&');
  const everySeparator = pairs.map((pair) => pair.split('=').map(encode).join('=')).join('&');
  const firstEquals = pairs.map((pair) => {
    const eq = pair.indexOf('=');
    return eq < 0 ? encode(pair) : `${encode(pair.slice(0, eq))}=${encode(pair.slice(eq + 1))}`;
  }).join('&');
  return [everySeparator, firstEquals];
}

export interface WafrisEntryRow {
  table: WafrisEntryTable;
  entry: string;
}

/** The entries a substring, host or method rule is written as; the rule's own text comes first. */
export function wafrisEntryRows(rule: Rule): WafrisEntryRow[] {
  const rows = (table: WafrisEntryTable, entries: string[]) => unique(entries).map((entry) => ({ table, entry }));
  switch (rule.kind) {
    case 'userAgent':
      return rows('blocked_user_agents', caseForms(rule.value));
    case 'path':
      return rows('blocked_paths', caseForms(rule.value).flatMap((v) => [v, browserPathForm(v)]));
    case 'param':
      return rows('blocked_parameters', caseForms(rule.value).flatMap((v) => [v, ...rackQueryForms(v)]));
    case 'host':
      return rows('blocked_hosts', caseForms(rule.value));
    case 'method':
      return rows('blocked_methods', [rule.value.toUpperCase()]);
    default:
      return [];
  }
}

/** The ISO codes a country rule blocks (a continent expands to its countries). */
export function countriesOf(rule: Rule): string[] {
  if (rule.kind !== 'country') return [];
  if (!rule.value.startsWith('continent:')) return [rule.value];
  const continent = rule.value.slice('continent:'.length);
  return [...CONTINENT_OF].filter(([, c]) => c === continent).map(([cc]) => cc);
}

export interface WafrisRateLimitRow {
  path: string;
  method: string;
  interval: number;
  maxCount: number;
}

/** The blocked_rate_limits rows of an exact-path, per-IP rate limit (prefix and keyed limits have no Wafris form). */
export function wafrisRateLimitRows(rule: Rule): WafrisRateLimitRow[] {
  const rl = rule.kind === 'rateLimit' ? rule.rateLimit : undefined;
  if (!rl || rl.match !== 'exact' || rl.key !== undefined) return [];
  // The gem compares the raw request path case-sensitively; Moat's rule path is lower case, as app routes are.
  const interval = Math.max(1, Math.round(rl.windowMs / 1000));
  return (rl.method === null ? WAFRIS_RATE_LIMIT_METHODS : [rl.method]).map((method) => ({ path: rl.path, method, interval, maxCount: rl.limit }));
}

/**
 * Every `category` + `rule` pair the gem can report in upsync when this rule decides; empty for address
 * rules, which it reports by the client's address. A hub attributes Wafris reports to rules with this.
 */
export function wafrisReportedAs(rule: Rule): { category: string; rule: string }[] {
  // The gem's category per table (address tables included for completeness: their rows come from no rule here).
  const categoryOf: Record<WafrisEntryTable, string> = {
    allowed_ips: 'ai', blocked_ips: 'bi', blocked_user_agents: 'bu', blocked_paths: 'bp', blocked_parameters: 'bparam', blocked_hosts: 'bh', blocked_methods: 'bm',
  };
  if (rule.kind === 'country') return countriesOf(rule).map((cc) => ({ category: 'bctry', rule: `G_${wafrisCountryToken(cc)}` }));
  if (rule.kind === 'rateLimit') return wafrisRateLimitRows(rule).length > 0 ? [{ category: 'brl', rule: String(wafrisRuleNumber(rule.id)) }] : [];
  return wafrisEntryRows(rule).map((r) => ({ category: categoryOf[r.table], rule: r.entry }));
}
