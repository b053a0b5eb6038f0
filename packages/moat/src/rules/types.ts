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
  | 'rateLimit';

export const RULE_KINDS: readonly RuleKind[] = [
  'ip', 'country', 'asn', 'list', 'userAgent', 'path', 'param', 'host', 'method', 'rateLimit',
];

export type RuleAction = 'allow' | 'block';
/** `monitor` rules never change a decision; their matches are reported. */
export type RuleMode = 'block' | 'monitor';

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
}

export interface Rule {
  /** Stable identifier; generated from the content when the author gives none. */
  id: string;
  action: RuleAction;
  kind: RuleKind;
  /** The matched value as written by the author (rate limits: the path). */
  value: string;
  note?: string;
  mode: RuleMode;
  /** Expiry as Unix milliseconds; the rule is ignored from then on. */
  expires?: number;
  /** Present exactly when kind === 'rateLimit'. */
  rateLimit?: RateLimitSpec;
}
