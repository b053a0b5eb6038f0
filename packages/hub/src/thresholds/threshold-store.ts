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

  /**
   * Stores a ban, unless the key already has one of this mode standing at `ban.createdAt` (another hub on
   * the same database may have found the same crossing a moment before): then undefined, and nothing is
   * stored. So each ban is stored once, whichever hubs see it.
   */
  insertBan(ban: NewBan): Promise<Ban | undefined>;
  /** Newest first. */
  listBans(siteId: number, query: BanQuery): Promise<Ban[]>;
  /** Ends a standing ban now; undefined when the site has no such ban still standing. */
  liftBan(siteId: number, id: number, now: number): Promise<Ban | undefined>;
  /** The sites with enforced bans standing at `now`, and the earliest expiry of each (for the expiry timer). */
  activeBanSites(now: number): Promise<{ siteId: number; nextExpiry: number }[]>;

  /** Deletes bans that ended (expired or lifted) before `endedBefore`; returns how many. */
  pruneBans(endedBefore: number): Promise<number>;

  appendThresholdEvent(event: NewThresholdEvent): Promise<void>;
  /** Newest first. */
  listThresholdEvents(siteId: number, limit: number): Promise<ThresholdEvent[]>;
  /** Deletes events from before `before`; returns how many. */
  pruneThresholdEvents(before: number): Promise<number>;

  /**
   * The fleet's shared counts, when several hubs may ingest into this database (PostgreSQL): each adds
   * the counts of the keys that matter to it, and judges its crossings on the sums. Absent for SQLite,
   * whose one hub sees every report.
   */
  readonly fleetCounts?: FleetCountStore;
}

/** One hub's new requests of a key in one bucket of a rule's window, to add to the fleet's count. */
export interface CountIncrement {
  ruleId: number;
  /** The rule's updatedAt: a changed rule counts afresh, as the hubs' own counters do. */
  ruleVersion: number;
  key: string;
  /** The bucket number (time × BUCKETS / windowSeconds). */
  bucket: number;
  count: number;
}

/** A key whose fleet-wide count is asked for: the buckets of the window ending at `head`, and any newer. */
export interface CountWindow {
  ruleId: number;
  ruleVersion: number;
  key: string;
  head: number;
}

export interface FleetCountStore {
  /** Adds each increment to the fleet's count of its rule, key and bucket. */
  addCounts(increments: readonly CountIncrement[]): Promise<void>;
  /** The fleet's count of each window, in the same order. */
  sumCounts(windows: readonly CountWindow[]): Promise<number[]>;
  /** Forgets keys' counts (they crossed their threshold: counting starts again). */
  resetCounts(keys: readonly { ruleId: number; key: string }[]): Promise<void>;
  /** Deletes counts no rule's window holds any more (old buckets, changed or deleted rules); returns how many. */
  pruneCounts(nowSeconds: number): Promise<number>;
}
