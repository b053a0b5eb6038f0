/**
 * A draft threshold rule replayed over stored reports, oldest first: pure, no I/O (the worker feeds it).
 * Counting is the hub's own ThresholdEvaluator on its SlidingCounters, and each crossing is judged by
 * the hub's own ban decision (decideBan: standing ban, allow list, cap, BanBrakes), clocked by the
 * reports' times instead of the hub's. In enforce mode a request from a key while its
 * hypothetical ban stands is counted as blocked, and counted on as Blocked, as clients would report it.
 * (The live hub counts no request a ban blocked, see blockedByBan; while the ban stands that changes
 * nothing, as crossings are ignored then, but a key's count may be higher here when the ban ends.)
 */
import type { IpRange } from 'moat-waf/ip';
import { banKeyLabel, banKeyOf, isReportedKeyKind } from './ban-key.js';
import { SlidingCounters } from './sliding-counters.js';
import { BanJudge, EXAMPLES } from './threshold-preview-judge.js';
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

/** The draft's counters live in a space of their own, never a stored rule's id. */
export const DRAFT_RULE_ID = -1;
export const SITE = 0;
const PROBE_ADDRESS = '0.0.0.0';

/** The draft as the evaluator counts it, in the preview's own rule space. */
export function draftRule(draft: ThresholdRuleInput): ThresholdRule {
  return { ...draft, id: DRAFT_RULE_ID, siteId: SITE, createdAt: 0, updatedAt: 0 };
}

/**
 * The condition alone, by the evaluator too: a probe rule with threshold 1 crosses on every request it
 * counts, so its crossings' counts sum to the requests matched. It is fed a copy of each record under
 * one constant address, so it needs one counter slot (reset at each crossing) and never evicts.
 */
export class MatchProbe {
  private readonly probe: ThresholdEvaluator;
  private readonly record: ThresholdRecord = { ts: 0, ip: PROBE_ADDRESS, method: '', path: '', treatment: 'Passed', status: null, aggregateCount: 1 };
  private readonly batch: ThresholdRecord[] = [this.record];
  matched = 0;

  constructor(rule: ThresholdRule) {
    this.probe = new ThresholdEvaluator(new SlidingCounters(1));
    this.probe.setRules(SITE, [{ ...rule, key: 'ip', threshold: 1 }]);
  }

  add(record: ThresholdRecord, weight: number): void {
    const probe = this.record;
    probe.ts = record.ts;
    probe.method = record.method;
    probe.path = record.path;
    probe.treatment = record.treatment;
    probe.status = record.status;
    // The count and whether the address was said decide whether a record counts at all; under the probe's
    // own address, a proxy's address counts as the request it is.
    probe.aggregateCount = record.aggregateCount === undefined ? undefined : weight;
    probe.ipSource = record.ipSource === null ? null : 'socket';
    for (const crossing of this.probe.evaluate(SITE, this.batch)) this.matched += crossing.count;
  }
}

export class ThresholdBacktest {
  private readonly evaluator: ThresholdEvaluator;
  private readonly rule: ThresholdRule;
  private readonly judge: BanJudge;
  private readonly examples: BacktestExample[] = [];
  private readonly enforce: boolean;
  private readonly keyed: boolean;
  private readonly batch: BacktestRecord[] = [];
  private requests = 0;
  private readonly probe: MatchProbe;

  constructor(draft: ThresholdRuleInput, options: BacktestOptions) {
    this.rule = draftRule(draft);
    this.evaluator = new ThresholdEvaluator(new SlidingCounters(options.maxCounterKeys));
    this.evaluator.setRules(SITE, [this.rule]);
    this.probe = new MatchProbe(this.rule);
    this.enforce = draft.mode === 'enforce';
    this.keyed = isReportedKeyKind(draft.key);
    this.judge = new BanJudge(this.rule, options, this.enforce);
  }

  /** One report, in time order. The record is read, not kept (examples copy its fields). */
  add(record: BacktestRecord): void {
    const weight = record.aggregateCount ?? 1;
    this.requests += weight;
    const treatment = record.treatment;
    // Only while some ban stands does a record need its keys looked up.
    if (this.enforce && this.judge.standing.size > 0) {
      const ban = this.banCovering(record);
      if (ban !== null) {
        this.judge.countBlocked(ban, weight, treatment !== 'Blocked' ? weight : 0);
        record.treatment = 'Blocked';
      }
    }
    this.probe.add(record, weight);
    this.batch[0] = record;
    const crossings = this.evaluator.evaluate(SITE, this.batch);
    for (const crossing of crossings) {
      if (this.judge.judge(crossing.key, crossing.at) === 'ban' && this.examples.length < EXAMPLES) {
        this.examples.push({
          ts: record.ts, ip: record.ip, method: record.method, path: record.path, userAgent: record.userAgent, recorded: record.treatment, key: banKeyLabel(crossing.key),
        });
      }
    }
    record.treatment = treatment;
  }

  result(): ThresholdBacktestResult {
    return {
      requests: this.requests, matched: this.probe.matched, ...this.judge.figures(),
      examples: [...this.examples], counterEvictions: this.evaluator.counters.stats().evictions,
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
      const until = this.judge.standing.get(key);
      return until !== undefined && until > ts ? key : null;
    };
    return standing(banKeyOf(record.ip, 'ip'))
      ?? (this.rule.key === 'ip64' ? standing(banKeyOf(record.ip, 'ip64')) : null)
      ?? (this.keyed ? standing(keyedBanKey(record.keys, this.rule.key)) : null);
  }
}
