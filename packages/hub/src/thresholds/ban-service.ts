import { MAX_REPORT_KEYS, parseRateLimitKey, type RateLimitKey, type Rule } from 'moat-waf';
import { tryParseRange, type IpRange } from 'moat-waf/ip';
import type { Actor } from '../audit/actor.js';
import type { AuditLog } from '../audit/audit-log.js';
import type { RulesBuilder } from '../distribution/rules-builder.js';
import { HttpError } from '../server/http-error.js';
import { DatabaseUnavailableError } from '../store/postgres/database-unavailable.js';
import type { HubStore } from '../store/store.js';
import { decideBan } from './ban-decision.js';
import { BAN_RULE_PREFIX, isReportedBanKey, isReportedKeyKind } from './ban-key.js';
import { BanBrakes } from './ban-policy.js';
import { FleetCounts, type FleetBatch, type FleetCountStats } from './fleet-counts.js';
import { BUCKETS, SlidingCounters, type CounterStats } from './sliding-counters.js';
import { ThresholdEvaluator, type Crossing, type ThresholdRecord } from './threshold-evaluator.js';
import { THRESHOLD_LIMITS } from './threshold-input.js';
import type { FleetCountStore } from './threshold-store.js';
import type { Ban, ThresholdMode, ThresholdRule, ThresholdRuleInput } from './threshold-types.js';

export interface ThresholdOptions {
  /** Counter keys (rule × IP) kept in memory over all sites; the least recently seen is evicted beyond. */
  maxCounterKeys: number;
  /** Standing bans per site (and, separately, would-be bans): more are refused and recorded as an event. */
  maxActiveBansPerSite: number;
  /** Crossings waiting to be stored; more are dropped and counted (the store is slower than counting). */
  maxPendingCrossings: number;
  /** Records of big batches waiting to be counted slice by slice; a batch beyond is dropped and counted. */
  maxPendingRecords: number;
  /** Hubs on one PostgreSQL database whose fleet-wide counts are exact (see FleetCounts). */
  fleetHubs: number;
  /** Shared-count increments waiting for the next flush; more are dropped and counted. */
  maxPendingCounts: number;
  /** Milliseconds between flushes of shared counts (PostgreSQL). */
  fleetFlushMs: number;
  /** Days an ended ban (expired or lifted) and a threshold event stay listed before they are deleted. */
  banHistoryDays: number;
  /** Milliseconds between housekeeping passes (pruning ended bans, old events and old shared counts). */
  housekeepingMs: number;
}

export const DEFAULT_THRESHOLD_OPTIONS: ThresholdOptions = {
  maxCounterKeys: 200_000,
  maxActiveBansPerSite: 10_000,
  maxPendingCrossings: 10_000,
  maxPendingRecords: 200_000,
  fleetHubs: 10,
  maxPendingCounts: 20_000,
  fleetFlushMs: 250,
  banHistoryDays: 7,
  housekeepingMs: 10 * 60_000,
};

/** How often the rules are reloaded from the store (changes made by another hub on the same database). */
const RULES_REFRESH_MS = 30_000;

/** Counter updates (records × rules) per event-loop turn. */
const COUNT_BUDGET = 20_000;

/** What the auto-ban has done since the hub started; every refusal and drop is counted here. */
export interface ThresholdStats {
  counters: CounterStats;
  crossings: number;
  bans: number;
  wouldBans: number;
  /** Crossings of keys an allow rule covers: never banned. */
  allowListed: number;
  refusedByCap: number;
  refusedByRate: number;
  /** Crossings dropped because maxPendingCrossings were waiting. */
  droppedCrossings: number;
  /** Records not counted because maxPendingRecords were waiting to be counted. */
  droppedRecords: number;
  pendingRecords: number;
  pendingCrossings: number;
  /** Crossing batches whose storing failed (logged); their keys may cross again. */
  failures: number;
  /** Crossings of keys another hub had banned a moment before (the ban is stored once). */
  alreadyBanned: number;
  /** Ended bans and old events deleted by housekeeping. */
  prunedBans: number;
  prunedEvents: number;
  /** Fleet-wide counting (PostgreSQL); null with SQLite, whose one hub counts alone. */
  fleet: FleetCountStats | null;
}

/** The counts that belong to one site (each is also in the hub-wide ThresholdStats). */
type SiteCountName = 'crossings' | 'bans' | 'wouldBans' | 'allowListed' | 'refusedByCap' | 'refusedByRate' | 'droppedCrossings'
  | 'droppedRecords' | 'failures' | 'alreadyBanned';

/**
 * One site's share of ThresholdStats, what a viewer of that site may see: its counters (keys, evictions,
 * and as maxKeys the share of the counters it is owed now) and its own counts and queued work. Hub-wide
 * figures (other sites' activity, fleet counting, housekeeping) are in ThresholdStats, for admins.
 */
export type SiteThresholdStats = Record<SiteCountName, number> & { counters: CounterStats; pendingRecords: number; pendingCrossings: number };

const NO_SITE_COUNTS: Readonly<Record<SiteCountName, number>> = Object.freeze({
  crossings: 0, bans: 0, wouldBans: 0, allowListed: 0, refusedByCap: 0, refusedByRate: 0, droppedCrossings: 0, droppedRecords: 0, failures: 0, alreadyBanned: 0,
});

/** What one housekeeping pass deleted. */
export interface Housekeeping {
  bans: number;
  events: number;
  counts: number;
}

/**
 * Longest wait of the expiry timer: a later expiry is re-checked then, so a stepped clock (NTP, or a
 * test's clock) cannot hold a ban in the files long past its expiry. One small query per period, and
 * only while some ban stands.
 */
const MAX_TIMER_MS = 10_000;

/**
 * Auto-ban: counts ingested reports against each site's threshold rules (ThresholdEvaluator, in memory,
 * bounded) and turns crossings into bans stored with their reason and expiry, compiled into the site's
 * rules file as IP blocks (see ruleSource). Storing runs after the upsync answer, one crossing batch at a
 * time, so ingest never waits for it. On PostgreSQL the counts of keys that matter are also shared with
 * the other hubs and judged on the fleet's sum (flushFleet). Counters start from zero when the hub
 * restarts; bans do not, and ended ones are pruned after banHistoryDays (housekeep).
 */
export class BanService {
  readonly evaluator: ThresholdEvaluator;
  readonly options: ThresholdOptions;
  private readonly brakes = new BanBrakes();
  private readonly pending: { siteId: number; crossings: readonly Crossing[] }[] = [];
  private readonly counting: { siteId: number; records: readonly ThresholdRecord[]; next: number; slice: number }[] = [];
  private countingRecords = 0;
  private pendingCount = 0;
  private draining: Promise<void> | undefined;
  /** Standing keys per site and mode → expiry (Unix seconds), loaded from the store on first use. */
  private readonly standing = new Map<string, Map<string, number>>();
  private readonly rebuildQueued = new Set<number>();
  private readonly rebuilds = new Set<Promise<unknown>>();
  private expiryTimer: NodeJS.Timeout | undefined;
  private refreshTimer: NodeJS.Timeout | undefined;
  private flushTimer: NodeJS.Timeout | undefined;
  private housekeepingTimer: NodeJS.Timeout | undefined;
  private readonly fleet: FleetCounts | undefined;
  private flushing: Promise<void> | undefined;
  private stopped = false;
  private readonly siteCounts = new Map<number, Record<SiteCountName, number>>();
  private readonly counts = {
    crossings: 0, bans: 0, wouldBans: 0, allowListed: 0, refusedByCap: 0, refusedByRate: 0, droppedCrossings: 0, droppedRecords: 0, failures: 0,
    alreadyBanned: 0, prunedBans: 0, prunedEvents: 0,
  };

  constructor(
    private readonly store: HubStore,
    private readonly builder: RulesBuilder,
    private readonly audit: AuditLog,
    private readonly now: () => number,
    private readonly logError: (error: unknown, message: string) => void,
    options: Partial<ThresholdOptions> = {},
  ) {
    this.options = { ...DEFAULT_THRESHOLD_OPTIONS, ...options };
    if (store.thresholds.fleetCounts) this.fleet = new FleetCounts({ fleetHubs: this.options.fleetHubs, maxPendingCounts: this.options.maxPendingCounts });
    this.evaluator = new ThresholdEvaluator(new SlidingCounters(this.options.maxCounterKeys), this.fleet);
  }

  /**
   * Loads every site's rules and arms the expiry timer for bans stored before a restart; then reloads the
   * rules every RULES_REFRESH_MS, so hubs sharing one PostgreSQL database pick up each other's changes
   * (unchanged rules keep their counts).
   */
  async start(): Promise<void> {
    await this.loadAllRules();
    await this.armExpiryTimer();
    this.refreshTimer = setInterval(() => {
      // A database outage is logged by the store at a bounded rate; the next tick tries again.
      this.loadAllRules().catch((error: unknown) => {
        if (!(error instanceof DatabaseUnavailableError)) this.logError(error, 'could not reload the threshold rules');
      });
    }, RULES_REFRESH_MS);
    this.refreshTimer.unref();
    if (this.fleet) {
      this.flushTimer = setInterval(() => void this.flushFleet(), this.options.fleetFlushMs);
      this.flushTimer.unref();
    }
    this.housekeepingTimer = setInterval(() => {
      this.housekeep().catch((error: unknown) => {
        if (!(error instanceof DatabaseUnavailableError)) this.logError(error, 'could not prune ended bans');
      });
    }, this.options.housekeepingMs);
    this.housekeepingTimer.unref();
  }

  /**
   * Sends this hub's shared-count increments and judges the fleet's sums of their keys: a key at its
   * threshold there is a crossing like one found here alone (the ban is stored once, whichever hubs find
   * it). One flush at a time; a failed flush loses its increments (counted), never the hub's own counts.
   */
  flushFleet(): Promise<void> {
    const fleet = this.fleet;
    const shared = this.store.thresholds.fleetCounts;
    if (!fleet || !shared || this.stopped || this.flushing) return this.flushing ?? Promise.resolve();
    const batch = fleet.take();
    if (batch.increments.length === 0 && batch.resets.length === 0) return Promise.resolve();
    this.flushing = this.writeFleet(fleet, shared, batch).finally(() => {
      this.flushing = undefined;
    });
    return this.flushing;
  }

  private async writeFleet(fleet: FleetCounts, shared: FleetCountStore, batch: FleetBatch): Promise<void> {
    try {
      await shared.resetCounts(batch.resets);
      await shared.addCounts(batch.increments);
      const sums = await shared.sumCounts(batch.windows);
      const bySite = new Map<number, Crossing[]>();
      const crossed: { ruleId: number; key: string }[] = [];
      batch.windows.forEach((window, i) => {
        const sum = sums[i]!;
        if (sum < window.rule.threshold) return;
        crossed.push({ ruleId: window.ruleId, key: window.key });
        this.evaluator.counters.reset(window.ruleId, window.key);
        const list = bySite.get(window.rule.siteId) ?? [];
        list.push({ rule: window.rule, key: window.key, count: sum, at: Math.floor(((window.head + 1) * window.rule.windowSeconds) / BUCKETS) });
        bySite.set(window.rule.siteId, list);
      });
      await shared.resetCounts(crossed);
      for (const [siteId, crossings] of bySite) this.queueCrossings(siteId, crossings);
      fleet.flushed(batch, crossed.length);
    } catch (error) {
      fleet.failed(batch);
      if (!(error instanceof DatabaseUnavailableError)) this.logError(error, 'could not share threshold counts with the other hubs');
    }
  }

  /**
   * Deletes bans that ended (expired or lifted) more than banHistoryDays ago, threshold events older than
   * that, and shared counts no window holds any more. Standing bans are never touched; the rules files
   * only ever hold standing ones.
   */
  async housekeep(): Promise<Housekeeping> {
    const nowSeconds = this.nowSeconds();
    const before = nowSeconds - Math.round(this.options.banHistoryDays * 86_400);
    const bans = await this.store.thresholds.pruneBans(before);
    const events = await this.store.thresholds.pruneThresholdEvents(before);
    const counts = (await this.store.thresholds.fleetCounts?.pruneCounts(nowSeconds)) ?? 0;
    this.counts.prunedBans += bans;
    this.counts.prunedEvents += events;
    return { bans, events, counts };
  }

  private async loadAllRules(): Promise<void> {
    const bySite = new Map<number, ThresholdRule[]>();
    for (const rule of await this.store.thresholds.listThresholdRules()) {
      const list = bySite.get(rule.siteId) ?? [];
      list.push(rule);
      bySite.set(rule.siteId, list);
    }
    if (this.stopped) return;
    for (const siteId of this.evaluator.siteIds()) if (!bySite.has(siteId)) this.evaluator.setRules(siteId, []);
    for (const [siteId, rules] of bySite) this.evaluator.setRules(siteId, rules);
  }

  /**
   * Counts a stored batch (called by the upsync route after storing it); never awaited, never I/O. Work
   * per event-loop turn is bounded: a batch bigger than COUNT_BUDGET counter updates (records × the
   * site's rules) is counted in slices, one per turn, so a 10 000-record batch against 20 rules cannot
   * hold the loop (measured ~0.3 s in one go on the shared 2-core box). Slices waiting are bounded by
   * maxPendingRecords; a batch beyond that is dropped and counted.
   */
  observe(siteId: number, records: readonly ThresholdRecord[]): void {
    if (this.stopped || records.length === 0) return;
    const rules = this.evaluator.rulesOf(siteId).length;
    // Sites without threshold rules (the common case) cost this one lookup.
    if (rules === 0) return;
    const slice = Math.max(1, Math.floor(COUNT_BUDGET / rules));
    if (this.counting.length === 0 && records.length <= slice) {
      this.queueCrossings(siteId, this.evaluator.evaluate(siteId, records));
      return;
    }
    if (this.countingRecords + records.length > this.options.maxPendingRecords) {
      this.count(siteId, 'droppedRecords', records.length);
      return;
    }
    this.counting.push({ siteId, records, next: 0, slice });
    this.countingRecords += records.length;
    if (this.counting.length === 1) setImmediate(() => this.countSlice());
  }

  private countSlice(): void {
    const job = this.counting[0];
    if (!job) return;
    const end = Math.min(job.records.length, job.next + job.slice);
    if (!this.stopped) this.queueCrossings(job.siteId, this.evaluator.evaluate(job.siteId, job.records.slice(job.next, end)));
    this.countingRecords -= end - job.next;
    job.next = end;
    if (job.next >= job.records.length) this.counting.shift();
    if (this.counting.length > 0) setImmediate(() => this.countSlice());
  }

  private queueCrossings(siteId: number, crossings: readonly Crossing[]): void {
    if (crossings.length === 0) return;
    this.count(siteId, 'crossings', crossings.length);
    const room = this.options.maxPendingCrossings - this.pendingCount;
    const taken = crossings.length <= room ? crossings : crossings.slice(0, Math.max(0, room));
    this.count(siteId, 'droppedCrossings', crossings.length - taken.length);
    if (taken.length === 0) return;
    this.pending.push({ siteId, crossings: taken });
    this.pendingCount += taken.length;
    this.draining ??= this.drain().finally(() => {
      this.draining = undefined;
    });
  }

  /** The site's standing bans as block rules, for the compiled rules files (registered with the builder). */
  async ruleSource(siteId: number): Promise<Rule[]> {
    const nowSeconds = Math.floor(this.now() / 1000);
    const bans = await this.store.thresholds.listBans(siteId, { mode: 'enforce', activeAt: nowSeconds, limit: this.options.maxActiveBansPerSite });
    return bans.map(banRule);
  }

  /**
   * The keys the site's threshold rules count by besides the address (registered with the builder): its
   * Moat clients then report each request's hashes of them (rules file `report_keys`).
   */
  async reportKeys(siteId: number): Promise<RateLimitKey[]> {
    return reportedKinds(await this.store.thresholds.listThresholdRules(siteId)).map((kind) => parseRateLimitKey(kind)!);
  }

  // Threshold rules

  listRules(siteId: number): Promise<ThresholdRule[]> {
    return this.store.thresholds.listThresholdRules(siteId);
  }

  async createRule(siteId: number, input: ThresholdRuleInput, actor: Actor): Promise<ThresholdRule> {
    const existing = await this.store.thresholds.listThresholdRules(siteId);
    if (existing.length >= THRESHOLD_LIMITS.maxRulesPerSite) {
      throw new HttpError(400, `a site has at most ${THRESHOLD_LIMITS.maxRulesPerSite} threshold rules`, 'too_many_threshold_rules');
    }
    checkReportedKinds([...existing, input]);
    const rule = await this.store.thresholds.createThresholdRule(siteId, input, this.nowSeconds());
    await this.audit.record(actor, 'threshold.create', { siteId, target: `threshold-${rule.id}`, after: input });
    await this.reloadRules(siteId);
    await this.rebuildForKeys(siteId, existing, [...existing, rule]);
    return rule;
  }

  async updateRule(siteId: number, id: number, input: ThresholdRuleInput, actor: Actor): Promise<ThresholdRule> {
    const before = await this.requireRule(siteId, id);
    const existing = await this.store.thresholds.listThresholdRules(siteId);
    checkReportedKinds([...existing.filter((r) => r.id !== id), input]);
    const rule = await this.store.thresholds.updateThresholdRule(siteId, id, input, this.nowSeconds());
    if (!rule) throw notFound('threshold rule');
    await this.audit.record(actor, 'threshold.update', { siteId, target: `threshold-${id}`, before: inputOf(before), after: input });
    this.brakes.forgetRule(id);
    await this.reloadRules(siteId);
    await this.rebuildForKeys(siteId, existing, existing.map((r) => (r.id === id ? rule : r)));
    return rule;
  }

  async deleteRule(siteId: number, id: number, actor: Actor): Promise<void> {
    const before = await this.requireRule(siteId, id);
    const existing = await this.store.thresholds.listThresholdRules(siteId);
    await this.store.thresholds.deleteThresholdRule(siteId, id);
    await this.audit.record(actor, 'threshold.delete', { siteId, target: `threshold-${id}`, before: inputOf(before) });
    this.brakes.forgetRule(id);
    await this.reloadRules(siteId);
    await this.rebuildForKeys(siteId, existing, existing.filter((r) => r.id !== id));
  }

  /** Rebuilds the site's files when the keys its rules count by changed (clients learn them from the file). */
  private async rebuildForKeys(siteId: number, before: readonly ThresholdRuleInput[], after: readonly ThresholdRuleInput[]): Promise<void> {
    if (reportedKinds(before).join(' ') !== reportedKinds(after).join(' ')) await this.builder.rebuild(siteId);
  }

  // Bans

  listBans(siteId: number, mode: ThresholdMode, activeOnly: boolean, limit = 500): Promise<Ban[]> {
    return this.store.thresholds.listBans(siteId, { mode, limit, ...(activeOnly ? { activeAt: this.nowSeconds() } : {}) });
  }

  /** Ends a ban now (audited); the site's files are rebuilt without it. */
  async liftBan(siteId: number, banId: number, actor: Actor): Promise<Ban> {
    const ban = await this.store.thresholds.liftBan(siteId, banId, this.nowSeconds());
    if (!ban) throw notFound('standing ban');
    this.standing.get(standingKey(siteId, ban.mode))?.delete(ban.key);
    await this.audit.record(actor, 'ban.lift', {
      siteId, target: `ban-${ban.id}`, before: { key: ban.key, reason: ban.reason, mode: ban.mode, expires: new Date(ban.expiresAt * 1000).toISOString() },
    });
    if (ban.mode === 'enforce') await this.builder.rebuild(siteId);
    return ban;
  }

  listEvents(siteId: number, limit = 100) {
    return this.store.thresholds.listThresholdEvents(siteId, limit);
  }

  stats(): ThresholdStats {
    return {
      ...this.counts, counters: this.evaluator.counters.stats(), pendingCrossings: this.pendingCount, pendingRecords: this.countingRecords,
      fleet: this.fleet?.stats() ?? null,
    };
  }

  /** One site's figures (see SiteThresholdStats). */
  siteStats(siteId: number): SiteThresholdStats {
    let pendingRecords = 0;
    for (const job of this.counting) if (job.siteId === siteId) pendingRecords += job.records.length - job.next;
    let pendingCrossings = 0;
    for (const batch of this.pending) if (batch.siteId === siteId) pendingCrossings += batch.crossings.length;
    return {
      ...(this.siteCounts.get(siteId) ?? NO_SITE_COUNTS), counters: this.evaluator.counters.groupStats(siteId), pendingRecords, pendingCrossings,
    };
  }

  private count(siteId: number, name: SiteCountName, n = 1): void {
    if (n === 0) return;
    this.counts[name] += n;
    let site = this.siteCounts.get(siteId);
    if (site === undefined) {
      site = { ...NO_SITE_COUNTS };
      this.siteCounts.set(siteId, site);
    }
    site[name] += n;
  }

  /** Resolves when every batch is counted, every crossing stored and every rebuild it asked for done. */
  async idle(): Promise<void> {
    while (this.counting.length > 0 || this.draining || this.rebuilds.size > 0 || this.flushing) {
      await new Promise((resolve) => setImmediate(resolve));
      await this.flushing;
      await this.draining;
      await Promise.allSettled([...this.rebuilds]);
    }
  }

  stop(): void {
    this.stopped = true;
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    if (this.refreshTimer) clearInterval(this.refreshTimer);
    if (this.flushTimer) clearInterval(this.flushTimer);
    if (this.housekeepingTimer) clearInterval(this.housekeepingTimer);
  }

  private nowSeconds(): number {
    return Math.floor(this.now() / 1000);
  }

  private async requireRule(siteId: number, id: number): Promise<ThresholdRule> {
    const rule = await this.store.thresholds.getThresholdRule(siteId, id);
    if (!rule) throw notFound('threshold rule');
    return rule;
  }

  private async reloadRules(siteId: number): Promise<void> {
    this.evaluator.setRules(siteId, await this.store.thresholds.listThresholdRules(siteId));
  }

  private async drain(): Promise<void> {
    while (this.pending.length > 0) {
      const next = this.pending.shift()!;
      this.pendingCount -= next.crossings.length;
      try {
        await this.storeCrossings(next.siteId, next.crossings);
      } catch (error) {
        this.count(next.siteId, 'failures');
        this.logError(error, 'could not store automatic bans; the keys may cross their threshold again');
      }
    }
  }

  private async storeCrossings(siteId: number, crossings: readonly Crossing[]): Promise<void> {
    const nowSeconds = this.nowSeconds();
    const allowed = await this.allowRanges(siteId);
    let banned = false;
    for (const crossing of crossings) {
      const { rule, key } = crossing;
      const standing = await this.standingKeys(siteId, rule.mode, nowSeconds);
      const verdict = decideBan(key, rule, { standing, allowRanges: allowed, maxActiveBans: this.options.maxActiveBansPerSite, brakes: this.brakes, nowSeconds });
      if (verdict === 'standing') continue;
      if (verdict === 'allowListed') {
        this.count(siteId, 'allowListed');
        continue;
      }
      if (verdict === 'cap') {
        this.count(siteId, 'refusedByCap');
        await this.event(siteId, rule, 'ban_cap', nowSeconds,
          `${key} not banned: the site has ${this.options.maxActiveBansPerSite} standing ${rule.mode === 'enforce' ? 'bans' : 'would-be bans'} (the cap)`);
        continue;
      }
      if (verdict === 'rate') {
        this.count(siteId, 'refusedByRate');
        await this.event(siteId, rule, 'ban_rate', nowSeconds,
          `${key} not banned: rule "${rule.name}" made ${rule.maxBansPerMinute} bans this minute (its rate limit)`);
        continue;
      }
      const ban = await this.store.thresholds.insertBan({
        siteId, key, reason: `${rule.name}: ${crossing.count} matching requests in ${rule.windowSeconds} s`,
        ruleId: rule.id, source: 'auto', mode: rule.mode, createdAt: nowSeconds, expiresAt: nowSeconds + rule.banSeconds,
      });
      if (!ban) {
        // Another hub on the database stored it a moment before; that hub rebuilds and notifies.
        this.count(siteId, 'alreadyBanned');
        continue;
      }
      standing.set(ban.key, ban.expiresAt);
      if (rule.mode === 'enforce') {
        this.count(siteId, 'bans');
        banned = true;
      } else {
        this.count(siteId, 'wouldBans');
      }
    }
    if (banned) {
      this.requestRebuild(siteId);
      await this.armExpiryTimer();
    }
  }

  private async event(siteId: number, rule: ThresholdRule, kind: 'ban_cap' | 'ban_rate', at: number, detail: string): Promise<void> {
    if (!this.brakes.eventDue(rule.id, kind, at)) return;
    await this.store.thresholds.appendThresholdEvent({ siteId, ruleId: rule.id, at, kind, detail });
  }

  private async standingKeys(siteId: number, mode: ThresholdMode, nowSeconds: number): Promise<Map<string, number>> {
    const key = standingKey(siteId, mode);
    let keys = this.standing.get(key);
    if (!keys) {
      keys = new Map();
      const bans = await this.store.thresholds.listBans(siteId, { mode, activeAt: nowSeconds, limit: this.options.maxActiveBansPerSite });
      for (const ban of bans) keys.set(ban.key, ban.expiresAt);
      this.standing.set(key, keys);
    }
    return keys;
  }

  /** The site's active allow rules by IP, as ranges (the threshold preview refuses the same keys). */
  async allowRanges(siteId: number): Promise<IpRange[]> {
    const nowMs = this.now();
    const ranges: IpRange[] = [];
    // Only the allow rules are read: every batch with crossings asks, and a site may hold 10 000 rules.
    for (const rule of await this.store.allowIpRules(siteId)) {
      if (rule.expires !== undefined && rule.expires <= nowMs) continue;
      const range = tryParseRange(rule.value);
      if (range) ranges.push(range);
    }
    return ranges;
  }

  /** One rebuild per site at a time: crossings arriving meanwhile are picked up by the queued one. */
  private requestRebuild(siteId: number): void {
    if (this.rebuildQueued.has(siteId)) return;
    this.rebuildQueued.add(siteId);
    const run = Promise.resolve().then(async () => {
      this.rebuildQueued.delete(siteId);
      await this.builder.rebuild(siteId);
    }).catch((error: unknown) => this.logError(error, 'could not rebuild the rules files after an automatic ban'));
    this.rebuilds.add(run);
    void run.finally(() => this.rebuilds.delete(run));
  }

  /**
   * Arms one timer for the earliest standing ban's expiry: then the sites whose bans expired are rebuilt,
   * so the rules version changes and clients (the Wafris gem too, which knows no expiry) get files without them.
   */
  private async armExpiryTimer(): Promise<void> {
    if (this.stopped) return;
    const nowSeconds = this.nowSeconds();
    const sites = await this.store.thresholds.activeBanSites(nowSeconds);
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    this.expiryTimer = undefined;
    if (sites.length === 0) return;
    const next = Math.min(...sites.map((s) => s.nextExpiry));
    const delay = Math.min(MAX_TIMER_MS, Math.max(0, next * 1000 - this.now()));
    this.expiryTimer = setTimeout(() => {
      const nowSeconds = this.nowSeconds();
      void this.expire(sites.filter((s) => s.nextExpiry <= nowSeconds).map((s) => s.siteId));
    }, delay);
    this.expiryTimer.unref();
  }

  private async expire(siteIds: number[]): Promise<void> {
    try {
      for (const siteId of siteIds) {
        for (const mode of ['enforce', 'monitor'] as const) this.standing.delete(standingKey(siteId, mode));
        await this.builder.rebuild(siteId);
      }
      await this.armExpiryTimer();
    } catch (error) {
      this.logError(error, 'could not rebuild the rules files after bans expired');
    }
  }
}

function standingKey(siteId: number, mode: ThresholdMode): string {
  return `${siteId}|${mode}`;
}

function notFound(what: string): HttpError {
  return new HttpError(404, `no such ${what}`, 'not_found');
}

function inputOf(rule: ThresholdRule): ThresholdRuleInput {
  const { id: _id, siteId: _site, createdAt: _c, updatedAt: _u, ...input } = rule;
  return input;
}

/**
 * A standing ban as the engine's block rule, its reason as the note: an address as an IP rule, a reported
 * key as a keyed ban (`header:x-api-key=<hash>`, rule kind `key`; Moat files only, Wafris has none).
 */
export function banRule(ban: Ban): Rule {
  return {
    id: `${BAN_RULE_PREFIX}${ban.id}`, action: 'block', kind: isReportedBanKey(ban.key) ? 'key' : 'ip', value: ban.key, mode: 'block',
    note: `auto-ban: ${ban.reason}`.slice(0, 500), expires: ban.expiresAt * 1000,
  };
}

/** The distinct reported-key kinds of some rules, sorted (what the site's rules file lists). */
function reportedKinds(rules: readonly Pick<ThresholdRuleInput, 'key'>[]): string[] {
  return [...new Set(rules.filter((r) => isReportedKeyKind(r.key)).map((r) => r.key))].sort();
}

/** Clients hash and report each listed key with every request: a site's rules may count by MAX_REPORT_KEYS at most. */
function checkReportedKinds(rules: readonly Pick<ThresholdRuleInput, 'key'>[]): void {
  const kinds = reportedKinds(rules);
  if (kinds.length > MAX_REPORT_KEYS) {
    throw new HttpError(400, `a site's threshold rules count by at most ${MAX_REPORT_KEYS} headers, cookies or user ids (got ${kinds.length})`, 'too_many_threshold_keys');
  }
}
