/**
 * A rate-limit store shared by many processes (Redis, say). Counting there takes a round trip, so the
 * engine does not call it while evaluating: a request that matches rate-limit rules and otherwise passes
 * comes back with the checks still to make (`Decision.pendingRateLimits`), and `Engine.settleRateLimits`
 * makes them. Requests that match no rate-limit rule never see this path and stay synchronous.
 */

import type { RateLimitKeyKind } from '../rules/types.js';

/** One counter to bump: the rule, the client (IPv4 address, IPv6 prefix or hashed key), its limit and window. */
export interface RateLimitHit {
  rule: string;
  /** The IP key, or for a keyed rule `k:` and the key's hash (engine/rate-limit-client.ts), never a raw value. */
  client: string;
  /** What `client` stands for (the engine always says; absent reads as `ip`). */
  by?: RateLimitKeyKind;
  /** The client's IP key, for a keyed `client`: local limiters cap keyed counters per IP with it. */
  ip?: string;
  limit: number;
  windowMs: number;
  /** A refusal here decides the request (a block-mode rule), so later hits are not counted. */
  stop: boolean;
}

export interface SharedRateLimitOutcome {
  /**
   * Per hit, in order: 0 when counted, otherwise the milliseconds until a request would be allowed.
   * Shorter than the hits when a `stop` hit refused (the rest were not counted).
   */
  waits: readonly number[];
  /** Set when the shared store could not answer (down, slow, erroring) and the local limiter did instead. */
  fallback: Error | null;
}

export interface SharedRateLimitStore {
  /**
   * Counts the hits of one request, in order, within the store's time budget. Never rejects: when the
   * shared counters cannot answer in time, a local limiter answers and `fallback` says why.
   * `now` is the engine's clock, for stores that count on the client's clock.
   */
  hitAll(hits: readonly RateLimitHit[], now: number): Promise<SharedRateLimitOutcome>;
}

/** What the engine hands over for a request whose rate limits are still to count. */
export interface PendingRateLimits {
  readonly hits: readonly RateLimitHit[];
  /** Rule indices, parallel to `hits`. */
  readonly rules: readonly number[];
  readonly now: number;
}
