/**
 * The rule model shared by the compiler, the engine, the CLI and the hub.
 * A rule is data; what it means at request time is decided in engine/.
 */

/** What a rule looks at. */
export type RuleKind =
  | 'ip' // single IP, CIDR or start-end range
  | 'country' // ISO 3166 alpha-2 code, or a continent group `continent:<code>` (data file)
  | 'asn' // autonomous system number, e.g. `AS13335` or `13335` (data file)
  | 'list' // named IP list in the data file, e.g. `tor`
  | 'userAgent' // case-insensitive substring
  | 'path' // case-insensitive substring of the normalised path
  | 'param' // case-insensitive substring of the decoded parameter string
  | 'host' // exact, case-insensitive, without port
  | 'method' // exact, case-insensitive
  | 'key' // a request key's hash, `header:<name>=<32 hex>` (a keyed ban, see rules/key-ban.ts); block only
  | 'rateLimit';

export const RULE_KINDS: readonly RuleKind[] = [
  'ip', 'country', 'asn', 'list', 'userAgent', 'path', 'param', 'host', 'method', 'key', 'rateLimit',
];

export type RuleAction = 'allow' | 'block';
/** `monitor` rules never change a decision; their matches are reported. */
export type RuleMode = 'block' | 'monitor';

const SHARED_WORDS = new Map<string, string>([...RULE_KINDS, 'allow', 'block', 'monitor'].map((w) => [w, w]));

/**
 * The one shared copy of a rule's kind, action or mode word. A rules file read from SQLite or JSON holds
 * a fresh copy per rule: 60 k strings for 20 k rules, which every major GC of the app has to mark.
 */
export function sharedWord<W extends string>(word: W): W {
  return (SHARED_WORDS.get(word) as W | undefined) ?? word;
}

/**
 * What a rate limit counts by, besides the client IP (the default, which has no key): a request header
 * (lower-case name, e.g. an API key), a cookie (name as sent, case-sensitive), or the app's own user id
 * (the firewall's `user` option). A request without the key is counted by IP, so leaving it out never
 * escapes the limit. Values are hashed before they are counted (engine/rate-limit-key.ts).
 */
export type RateLimitKey =
  | { by: 'header'; name: string }
  | { by: 'cookie'; name: string }
  | { by: 'user' };

/** What a rate-limit counter was keyed by for one request: the rule's key, or `ip` (default or fallback). */
export type RateLimitKeyKind = 'ip' | RateLimitKey['by'];

export interface RateLimitSpec {
  /** Upper-case method, or null for any method. */
  method: string | null;
  /** Path to match (normalised, lower-cased at compile time). */
  path: string;
  /** `exact` matches the path only; `prefix` matches the path and everything below it. */
  match: 'exact' | 'prefix';
  /** Requests allowed per window. */
  limit: number;
  /** Window length in milliseconds. */
  windowMs: number;
  /** Absent: counted per client IP (IPv6 by prefix), as before keys existed. */
  key?: RateLimitKey;
}

export interface RuleFields {
  /** Stable identifier; generated from the content when the author gives none. */
  id: string;
  /** The matched value as written by the author (rate limits: the path, `*` ending a prefix). */
  value: string;
  note?: string;
  mode: RuleMode;
  /** Expiry as Unix milliseconds; the rule is ignored from then on. */
  expires?: number;
}

/** A rule that matches a request attribute (IP, country, user agent, …). */
export interface MatchRule extends RuleFields {
  kind: Exclude<RuleKind, 'rateLimit'>;
  action: RuleAction;
  /** Never set: lets code read `rule.rateLimit` on any rule and get the spec only for rate limits. */
  rateLimit?: undefined;
}

/** A rate limit: always blocks (429) once its limit is reached. */
export interface RateLimitRule extends RuleFields {
  kind: 'rateLimit';
  action: 'block';
  rateLimit: RateLimitSpec;
}

/** A rule is a match rule or a rate limit; `kind` tells which, so the compiler knows when `rateLimit` is there. */
export type Rule = MatchRule | RateLimitRule;
