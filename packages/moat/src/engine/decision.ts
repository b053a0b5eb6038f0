import type { PendingRateLimits } from './shared-rate-limit-store.js';

/** The request as the engine sees it: already normalised by the adapter (see http/). */
export interface MoatRequest {
  /** Client IP as text (any IPv4/IPv6 form). */
  ip: string;
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
}

export type Treatment = 'Allowed' | 'Blocked' | 'Passed';

/** Wafris v2 category codes. */
export type Category =
  | 'ai' | 'ac' | 'bi' | 'bc' | 'bctry' | 'brep' | 'bu' | 'bp' | 'bparam' | 'bh' | 'bm' | 'brl' | 'passed';

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
  /**
   * Only from an engine with a shared rate-limit store, on a Passed decision: the rate limits still to
   * count. `Engine.settleRateLimits` turns it into the final decision (the firewall does this).
   */
  pendingRateLimits?: PendingRateLimits;
}
