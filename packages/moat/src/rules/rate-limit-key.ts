/**
 * A rate limit's key as authors, files and the hub write it: one short text, `ip` (the default),
 * `header:<name>`, `cookie:<name>` or `user`. Parsed into the rule model's RateLimitKey and back.
 */
import { RuleError } from './rule-error.js';
import type { RateLimitKey } from './types.js';

/** RFC 9110 token characters: what a header or cookie name may hold. */
const TOKEN_RE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,64}$/;

/**
 * Headers that carry the client address or every cookie. Keying by them would let a client choose its
 * own counter (or split one cookie's budget by reordering the others): the IP key reads the address
 * from trusted proxies only, and `cookie:<name>` reads one cookie.
 */
const REFUSED_HEADERS: ReadonlyMap<string, string> = new Map([
  ...['x-forwarded-for', 'forwarded', 'x-real-ip', 'true-client-ip', 'cf-connecting-ip', 'fly-client-ip', 'x-client-ip']
    .map((h): [string, string] => [h, 'the client address is read from trusted proxies only: use key "ip"']),
  ['cookie', 'name one cookie: use key "cookie:<name>"'],
]);

/** Parses `ip`, `header:x-api-key`, `cookie:session` or `user`; `ip` (and nothing) is undefined: no key. */
export function parseRateLimitKey(text: unknown): RateLimitKey | undefined {
  if (text === undefined || text === null || text === '') return undefined;
  if (typeof text !== 'string') throw new RuleError(`rate limit key must be text such as "header:x-api-key", got ${JSON.stringify(text)}`);
  const t = text.trim();
  if (t === 'ip') return undefined;
  if (t === 'user') return { by: 'user' };
  const colon = t.indexOf(':');
  const by = colon < 0 ? t : t.slice(0, colon);
  const name = colon < 0 ? '' : t.slice(colon + 1).trim();
  if (by !== 'header' && by !== 'cookie') {
    throw new RuleError(`invalid rate limit key ${JSON.stringify(t.slice(0, 80))}: use "ip", "header:<name>", "cookie:<name>" or "user"`);
  }
  if (!TOKEN_RE.test(name)) {
    throw new RuleError(`invalid ${by} name ${JSON.stringify(name.slice(0, 80))} in rate limit key: up to 64 letters, digits and !#$%&'*+-.^_\`|~`);
  }
  if (by === 'cookie') return { by, name };
  // Header names are case-insensitive; Node hands them over in lower case.
  const lower = name.toLowerCase();
  const refused = REFUSED_HEADERS.get(lower);
  if (refused !== undefined) throw new RuleError(`rate limit key "header:${lower}": ${refused}`);
  return { by, name: lower };
}

/** The key as text (`ip` for none): documents, the file's `rl_key` column, the hub. */
export function formatRateLimitKey(key: RateLimitKey | undefined): string {
  if (key === undefined) return 'ip';
  return key.by === 'user' ? 'user' : `${key.by}:${key.name}`;
}
