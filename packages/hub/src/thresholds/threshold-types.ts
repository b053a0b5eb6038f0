/**
 * The auto-ban model: threshold rules an operator writes per site, and the bans (or, in monitor mode,
 * the would-be bans) the hub derives from reports. Times are Unix seconds.
 */

/**
 * What a rule counts and bans by: the address itself (IPv4 and IPv6 /128), IPv6 by /64 (IPv4 still by
 * address), or a key Moat clients report hashed: a request header (`header:x-api-key`), a cookie
 * (`cookie:session`) or the app's user id (`user`), as rate-limit keys are written (moat's
 * parseRateLimitKey). A request without the key counts by its IP, so leaving the key out never escapes.
 */
export type ThresholdKeyKind = 'ip' | 'ip64' | 'user' | `header:${string}` | `cookie:${string}`;
/** The kinds by address. */
export const THRESHOLD_IP_KINDS: readonly ThresholdKeyKind[] = ['ip', 'ip64'];

/** monitor: records whom the rule would ban and bans nobody; enforce: bans. */
export type ThresholdMode = 'monitor' | 'enforce';
export const THRESHOLD_MODES: readonly ThresholdMode[] = ['monitor', 'enforce'];

/** Which reported requests count; every field set must hold (unset fields match anything). */
export interface ThresholdCondition {
  /** 'blocked': only requests some rule blocked; 'any': every request (a flood). */
  requests: 'blocked' | 'any';
  /** Upper-case method, or null for any. */
  method: string | null;
  /** Lower-case path (no query), or null for any. */
  path: string | null;
  pathMatch: 'exact' | 'prefix';
  /** The response status the client reported, or null for any (records without a status never match one). */
  status: number | null;
  /**
   * Whose reports count. Unset or `moat`: only reports whose client says where it read the address (Moat
   * clients, which take forwarding headers from trusted proxies only). `all`: also reports of the Wafris
   * gem, which reads the address from headers any visitor can send, so that visitor chooses whom the rule
   * bans: only for a site whose gem apps sit behind a proxy that overwrites those headers.
   */
  clients?: 'moat' | 'all';
}

export interface ThresholdRuleInput {
  name: string;
  condition: ThresholdCondition;
  windowSeconds: number;
  /** Matching requests from one key within the window that trigger a ban. */
  threshold: number;
  key: ThresholdKeyKind;
  /** How long a ban lasts. */
  banSeconds: number;
  mode: ThresholdMode;
  /** Most new bans this rule may make in a minute; more are refused and recorded as an event. */
  maxBansPerMinute: number;
}

export interface ThresholdRule extends ThresholdRuleInput {
  id: number;
  siteId: number;
  createdAt: number;
  updatedAt: number;
}

/** A ban (mode enforce) or a would-be ban (mode monitor) of one key. */
export interface Ban {
  id: number;
  siteId: number;
  /** An IP address, an IPv6 /64 as CIDR, or a reported key and its hash (`header:x-api-key=<32 hex>`; see ban-key.ts). */
  key: string;
  /** Rule name and the count seen, e.g. `login failures: 12 in 600 s`. */
  reason: string;
  /** The threshold rule that made it (kept after that rule is deleted). */
  ruleId: number | null;
  /** 'auto' for bans made by a threshold rule. */
  source: 'auto';
  mode: ThresholdMode;
  createdAt: number;
  expiresAt: number;
  /** When someone lifted it early; null while it stands. */
  liftedAt: number | null;
}

export type NewBan = Omit<Ban, 'id' | 'liftedAt'>;

/** Why a ban was not made although a key crossed a threshold. */
export type ThresholdEventKind = 'ban_cap' | 'ban_rate';

/** Something an operator must see: bans refused by the per-site cap or the per-rule rate. */
export interface ThresholdEvent {
  id: number;
  siteId: number;
  ruleId: number | null;
  at: number;
  kind: ThresholdEventKind;
  /** The first key refused in this event's minute, and how the limit stood. */
  detail: string;
}

export type NewThresholdEvent = Omit<ThresholdEvent, 'id'>;

/** What listBans returns: one mode's rows; `activeAt` keeps those not lifted and not expired at that time. */
export interface BanQuery {
  mode: ThresholdMode;
  activeAt?: number;
  limit: number;
}
