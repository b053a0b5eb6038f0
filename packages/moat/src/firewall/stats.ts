// Counters a process can expose (health endpoint, metrics): plain numbers, bumped on the hot path.

import type { Category } from '../engine/decision.js';
import type { UninspectedReason } from '../http/body-kind.js';
import type { DecisionCounts, DecisionTally } from './decision-counts.js';

export type { DecisionCounts } from './decision-counts.js';

export interface FirewallStats {
  /** Requests Moat looked at. */
  requests: number;
  allowed: number;
  /** Blocked requests, rate-limited ones included. */
  blocked: number;
  passed: number;
  /** Of `blocked`, those a rate limit decided (answered 429 by default). */
  rateLimited: number;
  /** Requests on which a monitor-mode rule matched (they were not acted on). */
  monitored: number;
  /** Errors thrown while judging a request (engine, normalisation); each let through or answered 503. */
  engineErrors: number;
  /** Requests that arrived while no engine was loaded (start-up failed). */
  noEngine: number;
  /** Requests let through because of an error or missing engine (fail open). */
  failedOpen: number;
  /** Requests answered 503 because of an error or missing engine (`failClosed`). */
  failedClosed: number;
  /** Errors thrown by onDecision listeners or response handlers (caught; the request went on). */
  hookErrors: number;
  /** Request bodies read for parameters; `bodiesTruncated` of them longer than the limit. */
  bodiesInspected: number;
  bodiesTruncated: number;
  /**
   * Bodies parameter rules could not judge, or judged only in part, by reason (counted only while
   * parameter rules exist). `tooLarge` equals `bodiesTruncated`; the others were not read at all.
   */
  bodiesUninspected: Record<UninspectedReason, number>;
  /** Rate-limited requests counted locally because the shared rate-limit store was down, slow or failing. */
  rateLimitFallbacks: number;
  /** Requests from a trusted proxy without a usable client-IP header: judged by the proxy's own address. */
  ipHeaderMissing: number;
  /** Requests whose client-IP header was ignored because their peer is not a trusted proxy. */
  ipHeaderUntrusted: number;
  /** Requests whose socket had no peer address (a Unix socket not trusted, a closed connection): IP rules could not run. */
  noPeerAddress: number;
  /** Decisions by treatment, then category (`decisions.Blocked.bp`); categories never seen are left out. */
  decisions: DecisionCounts;
  /** Monitor-mode matches by category: what would have been acted on (a request can match several). */
  monitoredMatches: Partial<Record<Category, number>>;
}

/** The plain counters the firewall bumps; the per-category ones live in a DecisionTally. */
export type FirewallCounters = Omit<FirewallStats, 'decisions' | 'monitoredMatches'>;

export function emptyStats(): FirewallCounters {
  return {
    requests: 0, allowed: 0, blocked: 0, passed: 0, rateLimited: 0, monitored: 0, engineErrors: 0,
    noEngine: 0, failedOpen: 0, failedClosed: 0, hookErrors: 0, bodiesInspected: 0, bodiesTruncated: 0,
    bodiesUninspected: { tooLarge: 0, multipart: 0, encoding: 0, charset: 0, unreadable: 0, busy: 0 },
    rateLimitFallbacks: 0, ipHeaderMissing: 0, ipHeaderUntrusted: 0, noPeerAddress: 0,
  };
}

/** A copy no later count changes. */
export function copyStats(counters: FirewallCounters, tally: DecisionTally): FirewallStats {
  return {
    ...counters, bodiesUninspected: { ...counters.bodiesUninspected },
    decisions: tally.decisions(), monitoredMatches: tally.monitoredMatches(),
  };
}
