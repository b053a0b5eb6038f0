/**
 * A draft threshold rule replayed over stored reports, oldest first: pure, no I/O (the worker feeds it).
 * Counting is the hub's own ThresholdEvaluator on its SlidingCounters, and each crossing is judged by
 * the hub's own ban decision (decideBan: standing ban, allow list, cap, BanBrakes), clocked by the
 * reports' times instead of the hub's. In enforce mode a request from a key while its
 * hypothetical ban stands is counted as blocked, and counted on as Blocked, as clients would report it.
 */
import type { IpRange } from 'moat-waf/ip';
import { decideBan } from './ban-decision.js';
import { banKeyLabel, banKeyOf, isReportedKeyKind } from './ban-key.js';
import { BanBrakes } from './ban-policy.js';
import { SlidingCounters } from './sliding-counters.js';
import { keyedBanKey, ThresholdEvaluator, type ThresholdRecord } from './threshold-evaluator.js';
import type { ThresholdRule, ThresholdRuleInput } from './threshold-types.js';

/** A stored report as the backtest reads it: what the rule counts, plus what an example shows. */
export interface BacktestRecord extends ThresholdRecord {
  userAgent: string;
}

export interface BacktestOptions {
  /** The site's allow rules by IP: keys they cover are never banned. */
  allowRanges: readonly IpRange[];
  /** The hub's cap on standing bans per site and mode. */
  maxActiveBans: number;
  /** The hub's cap on counted keys (its maxCounterKeys): the same memory, the same evictions. */
  maxCounterKeys: number;
}

export interface BannedKey {
  /** As the dashboard shows it (a reported key's hash shortened). */
  key: string;
  /** Unix seconds of its first ban. */
  firstBanAt: number;
  bans: number;
  /** Enforce mode: requests from it while banned; null in monitor mode. */
  blocked: number | null;
}

export interface BacktestExample {
  ts: number;
  ip: string;
  method: string;
  path: string;
  userAgent: string;
  recorded: string;
  /** The key this report's crossing banned (label). */
  key: string;
}

export interface ThresholdBacktestResult {
  /** Requests read (a count record stands for several). */
  requests: number;
  /** Of them, requests the rule's condition counted. */
  matched: number;
  /** Times a key reached the threshold. */
  crossings: number;
  /** Bans it would have made (would-be bans in monitor mode), and how many distinct keys they name. */
  bans: number;
  bannedKeys: number;
  /** Crossings not turned into bans: allow-listed addresses, the site's cap, the rule's bans per minute. */
  refused: { allowListed: number; cap: number; rate: number };
  /** Enforce mode: requests from banned keys while their ban stood, and how many of those were recorded Passed or Allowed. */
  blockedAfterBan: number | null;
  newlyBlocked: number | null;
  /** The keys banned most often, then by first ban. */
  topKeys: BannedKey[];
  /** The first reports that crossed the threshold. */
  examples: BacktestExample[];
  /** Counted keys forgotten for want of memory (their counts restarted), as on the hub. */
  counterEvictions: number;
  /** Banned keys beyond MAX_TRACKED_KEYS: in the counts above, not in topKeys. */
  untrackedKeys: number;
}

const TOP_KEYS = 20;
const EXAMPLES = 20;
/** Per-key figures kept for the top list; more banned keys are counted, not listed (bounded memory). */
const MAX_TRACKED_KEYS = 100_000;
/** The draft's counters live in a space of their own, never a stored rule's id. */
const DRAFT_RULE_ID = -1;
const SITE = 0;
const PROBE_ADDRESS = '0.0.0.0';

export class ThresholdBacktest {
  private readonly evaluator: ThresholdEvaluator;
  private readonly rule: ThresholdRule;
  private readonly brakes = new BanBrakes();
  /** Keys banned (or would-be banned) → end of the ban, Unix seconds. */
  private readonly standing = new Map<string, number>();
  private readonly tracked = new Map<string, BannedKey>();
  private readonly examples: BacktestExample[] = [];
  private readonly enforce: boolean;
  private readonly keyed: boolean;
  private readonly batch: BacktestRecord[] = [];
  private requests = 0;
  private matched = 0;
  private crossings = 0;
  private bans = 0;
  private untracked = 0;
  private blocked = 0;
  private newlyBlocked = 0;
  private readonly refused = { allowListed: 0, cap: 0, rate: 0 };
  /**
   * The condition alone, by the evaluator too: a probe rule with threshold 1 crosses on every request it
   * counts, so its crossings' counts sum to the requests matched. It is fed a copy of each record under
   * one constant address, so it needs one counter slot (reset at each crossing) and never evicts.
   */
  private readonly probe: ThresholdEvaluator;
  private readonly probeRecord: ThresholdRecord = { ts: 0, ip: PROBE_ADDRESS, method: '', path: '', treatment: 'Passed', status: null, aggregateCount: 1 };
  private readonly probeBatch: ThresholdRecord[] = [this.probeRecord];

  constructor(draft: ThresholdRuleInput, private readonly options: BacktestOptions) {
    this.rule = { ...draft, id: DRAFT_RULE_ID, siteId: SITE, createdAt: 0, updatedAt: 0 };
    this.evaluator = new ThresholdEvaluator(new SlidingCounters(options.maxCounterKeys));
    this.evaluator.setRules(SITE, [this.rule]);
    this.probe = new ThresholdEvaluator(new SlidingCounters(1));
    this.probe.setRules(SITE, [{ ...this.rule, key: 'ip', threshold: 1 }]);
    this.enforce = draft.mode === 'enforce';
    this.keyed = isReportedKeyKind(draft.key);
  }

  /** One report, in time order. The record is read, not kept (examples copy its fields). */
  add(record: BacktestRecord): void {
    const weight = record.aggregateCount ?? 1;
    this.requests += weight;
    const treatment = record.treatment;
    // Only while some ban stands does a record need its keys looked up.
    if (this.enforce && this.standing.size > 0) {
      const ban = this.banCovering(record);
      if (ban !== null) {
        this.blocked += weight;
        if (treatment !== 'Blocked') this.newlyBlocked += weight;
        const tracked = this.tracked.get(ban);
        if (tracked) tracked.blocked! += weight;
        record.treatment = 'Blocked';
      }
    }
    this.batch[0] = record;
    const probe = this.probeRecord;
    probe.ts = record.ts;
    probe.method = record.method;
    probe.path = record.path;
    probe.treatment = record.treatment;
    probe.status = record.status;
    probe.aggregateCount = weight;
    for (const crossing of this.probe.evaluate(SITE, this.probeBatch)) this.matched += crossing.count;
    const crossings = this.evaluator.evaluate(SITE, this.batch);
    for (const crossing of crossings) this.judge(crossing.key, crossing.at, record);
    record.treatment = treatment;
  }

  result(): ThresholdBacktestResult {
    const topKeys = [...this.tracked.values()]
      .sort((a, b) => b.bans - a.bans || a.firstBanAt - b.firstBanAt || (a.key < b.key ? -1 : 1))
      .slice(0, TOP_KEYS);
    return {
      requests: this.requests, matched: this.matched, crossings: this.crossings, bans: this.bans,
      bannedKeys: this.tracked.size + this.untracked, refused: { ...this.refused },
      blockedAfterBan: this.enforce ? this.blocked : null, newlyBlocked: this.enforce ? this.newlyBlocked : null,
      topKeys, examples: [...this.examples], counterEvictions: this.evaluator.counters.stats().evictions, untrackedKeys: this.untracked,
    };
  }

  /**
   * The standing (hypothetical) ban that covers the record, as the clients' block rules would: its
   * address, its /64, or its reported key; null when none does.
   */
  private banCovering(record: BacktestRecord): string | null {
    const ts = record.ts;
    const standing = (key: string | null) => {
      if (key === null) return null;
      const until = this.standing.get(key);
      return until !== undefined && until > ts ? key : null;
    };
    return standing(banKeyOf(record.ip, 'ip'))
      ?? (this.rule.key === 'ip64' ? standing(banKeyOf(record.ip, 'ip64')) : null)
      ?? (this.keyed ? standing(keyedBanKey(record.keys, this.rule.key)) : null);
  }

  /** A crossing, judged by the hub's own ban decision (decideBan), at the crossing report's time. */
  private judge(key: string, at: number, record: BacktestRecord): void {
    this.crossings += 1;
    const verdict = decideBan(key, this.rule, {
      standing: this.standing, allowRanges: this.options.allowRanges, maxActiveBans: this.options.maxActiveBans, brakes: this.brakes, nowSeconds: at,
    });
    if (verdict === 'standing') return;
    if (verdict !== 'ban') {
      this.refused[verdict] += 1;
      return;
    }
    this.standing.set(key, at + this.rule.banSeconds);
    this.bans += 1;
    const label = banKeyLabel(key);
    const seen = this.tracked.get(key);
    if (seen) seen.bans += 1;
    else if (this.tracked.size < MAX_TRACKED_KEYS) this.tracked.set(key, { key: label, firstBanAt: at, bans: 1, blocked: this.enforce ? 0 : null });
    else this.untracked += 1;
    if (this.examples.length < EXAMPLES) {
      this.examples.push({ ts: record.ts, ip: record.ip, method: record.method, path: record.path, userAgent: record.userAgent, recorded: record.treatment, key: label });
    }
  }
}
