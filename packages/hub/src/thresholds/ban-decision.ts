/**
 * Whether a crossing becomes a ban: the one decision the hub's BanService makes when a key reaches a
 * threshold and the threshold preview replays, so the preview cannot drift from what the hub would do.
 * Pure and clocked by the caller (the hub's clock, or a replayed report's time); the standing keys and
 * the brakes are the caller's state, which this updates (expired keys dropped, a ban taken from the rate).
 */
import type { IpRange } from 'moat-waf/ip';
import { banKeyRange, isReportedBanKey, rangesOverlap } from './ban-key.js';
import type { BanBrakes } from './ban-policy.js';

/**
 * What became of a crossing: `ban` (the caller stores it and adds it to its standing keys), or why not:
 * the key stands banned already, an allow rule covers it, the site is at its cap, the rule's rate is spent.
 */
export type BanVerdict = 'ban' | 'standing' | 'allowListed' | 'cap' | 'rate';

export interface BanContext {
  /** Standing keys of the site and the rule's mode → end of their ban, Unix seconds. */
  standing: Map<string, number>;
  /** The site's allow rules by IP. */
  allowRanges: readonly IpRange[];
  /** Standing bans per site and mode at most. */
  maxActiveBans: number;
  brakes: BanBrakes;
  nowSeconds: number;
}

export function decideBan(key: string, rule: { id: number; maxBansPerMinute: number }, context: BanContext): BanVerdict {
  const { standing, nowSeconds } = context;
  const until = standing.get(key);
  if (until !== undefined && until > nowSeconds) return 'standing';
  // Allow wins: an address any allow rule covers is never banned, not even in monitor mode. A reported
  // key (header, cookie, user) is banned whatever the addresses it came from: the clients' engines
  // let an allow-listed address through with it all the same.
  if (!isReportedBanKey(key)) {
    const covered = banKeyRange(key);
    if (!covered || context.allowRanges.some((range) => rangesOverlap(range, covered))) return 'allowListed';
  }
  if (standing.size >= context.maxActiveBans && liveCount(standing, nowSeconds) >= context.maxActiveBans) return 'cap';
  if (!context.brakes.takeBan(rule.id, rule.maxBansPerMinute, nowSeconds)) return 'rate';
  return 'ban';
}

/** Standing entries at `nowSeconds`, dropping the expired ones (called only when the map is at the cap). */
function liveCount(standing: Map<string, number>, nowSeconds: number): number {
  for (const [key, until] of standing) if (until <= nowSeconds) standing.delete(key);
  return standing.size;
}
