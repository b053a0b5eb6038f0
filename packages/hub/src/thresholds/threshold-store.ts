import type {
  Ban, BanQuery, NewBan, NewThresholdEvent, ThresholdEvent, ThresholdRule, ThresholdRuleInput,
} from './threshold-types.js';

/**
 * Storage of threshold rules, bans and their events: a part of every HubStore (`store.thresholds`), kept
 * as its own contract so that the stores implement it in a file of its own. Times are Unix seconds.
 */
export interface ThresholdStore {
  /** One site's rules, or every site's (loading them at start), oldest first. */
  listThresholdRules(siteId?: number): Promise<ThresholdRule[]>;
  getThresholdRule(siteId: number, id: number): Promise<ThresholdRule | undefined>;
  createThresholdRule(siteId: number, input: ThresholdRuleInput, now: number): Promise<ThresholdRule>;
  /** undefined when the site has no such rule. */
  updateThresholdRule(siteId: number, id: number, input: ThresholdRuleInput, now: number): Promise<ThresholdRule | undefined>;
  deleteThresholdRule(siteId: number, id: number): Promise<boolean>;

  insertBan(ban: NewBan): Promise<Ban>;
  /** Newest first. */
  listBans(siteId: number, query: BanQuery): Promise<Ban[]>;
  /** Ends a standing ban now; undefined when the site has no such ban still standing. */
  liftBan(siteId: number, id: number, now: number): Promise<Ban | undefined>;
  /** The sites with enforced bans standing at `now`, and the earliest expiry of each (for the expiry timer). */
  activeBanSites(now: number): Promise<{ siteId: number; nextExpiry: number }[]>;

  appendThresholdEvent(event: NewThresholdEvent): Promise<void>;
  /** Newest first. */
  listThresholdEvents(siteId: number, limit: number): Promise<ThresholdEvent[]>;
}
