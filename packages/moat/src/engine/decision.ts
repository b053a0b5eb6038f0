import type { PendingRateLimits } from './shared-rate-limit-store.js';
import type { RateLimitKeyKind } from '../rules/types.js';
import type { AttackCategory, AttackMatch } from '../attacks/types.js';
import type { BotCategory } from '../bots/catalogue.js';

/** The request as the engine sees it: already normalised by the adapter (see http/). */
export interface MoatRequest {
  /** Client IP as text (any IPv4/IPv6 form). */
  ip: string;
  /**
   * Where `ip` came from (the adapters fill it in). `'proxy'`: a trusted proxy's own address, its client-IP
   * header unusable; IP allow rules are then not applied (a client cannot make itself the allowed proxy).
   */
  ipSource?: string;
  /** Upper- or lower-case HTTP method. */
  method?: string;
  /** Host without port. */
  host?: string;
  /**
   * Other hosts the app may act on, e.g. the Host header when the target was in absolute form
   * (`GET http://a/` with `Host: b`). Host rules are checked against `host` and each of these.
   */
  hostForms?: readonly string[];
  /** Normalised path (percent-decoded, dot segments resolved), without the query. */
  path?: string;
  /**
   * Other readings of the path a router may act on (e.g. decoded but with `..` kept: `/wp-admin/..`).
   * Path rules and rate limits are checked against `path` and each of these; a rule counts once.
   */
  pathForms?: readonly string[];
  /** Query and form parameters as one decoded string, `a=1&b=2`. */
  params?: string;
  userAgent?: string;
  /** The raw request target (path and query, still encoded): attack detection reads its parameters one by one. */
  url?: string;
  /** Request headers; attack detection reads User-Agent, Referer and Cookie. */
  headers?: Readonly<Record<string, string | string[] | undefined>>;
  /**
   * The app's own user id (the firewall's `user` option), read only while a rate limit keyed by user is
   * in force; absent or empty counts by IP.
   */
  user?: string;
  /**
   * The peeked body, for attack detection: a form body as received (still encoded, bytes as latin1), or
   * JSON text. `bytes`, when given, are the form body's bytes (`text` is their latin1): the attack scan
   * copies them as they are instead of encoding the text again.
   */
  body?: { kind: 'form' | 'json'; text: string; bytes?: Uint8Array };
  /**
   * The hashes of the request's keys, already known, by key (`header:x-api-key` → 32 hex digits): a
   * replay of stored reports has these and never the values. When set, keyed rate limits and keyed bans
   * read the key from here instead of the headers or `user`; a key absent here counts by IP.
   */
  knownKeyHashes?: KnownKeyHashes;
}

/** Key hashes by key (`header:x-api-key`); a Map is one, a replay reads them from the report's text. */
export interface KnownKeyHashes {
  get(key: string): string | undefined;
}

export type Treatment = 'Allowed' | 'Blocked' | 'Passed';

/** Wafris v2 category codes. */
export type Category =
  | 'ai' | 'ac' | 'bi' | 'bc' | 'bctry' | 'brep' | 'bu' | 'bp' | 'bparam' | 'bh' | 'bm' | 'brl' | 'passed'
  // Moat only (Wafris has no attack detection): `attack-sqli` … , and `attack-cut` for a request whose
  // inputs were not all examined (the per-request work cap, attacks/request-attacks.ts).
  | `attack-${AttackCategory}` | 'attack-cut'
  // Moat only: bots by catalogue category (bots/), a claim of a verifiable crawler from outside its ranges, a bot no entry names.
  | `bot-${BotCategory}` | 'bot-spoofed' | 'bot-unknown'
  // Moat only: a keyed ban (rule kind `key`) matched the hash of the request's header, cookie or user id.
  | 'bkey'
  // Moat only: a body longer than the firewall's `body.limit`, with `body.oversize` monitoring or blocking.
  | 'body-oversize';

/** A monitor-mode rule that matched: it would have decided the request had it been in block mode. */
export interface MonitorMatch {
  category: Category;
  rule: string;
  ruleId: string;
}

export interface Decision {
  treatment: Treatment;
  category: Category;
  /** What matched, in Wafris terms: the IP, the entry, `G_<CC>`, the list name, `-` when nothing did. */
  rule: string;
  /** The id of the deciding rule, or null when nothing matched. */
  ruleId: string | null;
  /** Monitor-mode rules that matched before the decision was reached. Empty array is shared; never mutate. */
  monitored: readonly MonitorMatch[];
  /** For rate-limit blocks: seconds until the client may retry. */
  retryAfter?: number;
  /** For rate-limit blocks: what the counter was keyed by (`ip` also when the request lacked the rule's key); never the value. */
  rateLimitKey?: RateLimitKeyKind;
  /**
   * Only from an engine with a shared rate-limit store, on a Passed decision: the rate limits still to
   * count. `Engine.settleRateLimits` turns it into the final decision (the firewall does this).
   */
  pendingRateLimits?: PendingRateLimits;
  /** For attack blocks (category `attack-…`): what was found, where (`query.q`, `json.user.name`), a redacted snippet. */
  attack?: AttackMatch;
  /**
   * The request's keys the rules file asks to report (`header:x-api-key=<32 hex> user=<32 hex>`, hashes
   * only), for the hub's keyed threshold rules; absent when the file asks for none or the request has none.
   */
  reportKeys?: string;
}
