/**
 * The threshold preview on both cores. Counting is per key, so two workers count the two halves of the
 * keys (ClientHalf: by the reported key's hash, else by IP, split inside the database) and each lists its
 * crossings with their report's (ts, id). Bans are not per key (the site's cap, the rule's bans per
 * minute, standing bans), so one worker then merges both lists in (ts, id) order, the order of one pass,
 * and judges them with the same BanJudge one pass uses.
 *
 * Enforce mode needs the requests a ban then blocked, and whether a ban stood at a report depends on
 * every other key's crossings. Each part therefore keeps, after each crossing of a key, that key's
 * requests within the rule's ban time (per second, as weights); once the judge knows until when a ban
 * stood at each crossing (its own, the one still standing, or none when refused), those tallies give the
 * blocked counts exactly. That holds for rules by IP or /64, where a request's ban is its own key's; a
 * keyed rule's request may also be blocked by its address's ban, and a condition on blocked requests
 * counts differently while a ban stands, so those drafts (in enforce mode) are replayed in one pass.
 *
 * The figures equal one pass while no part's counters evict (fewer counted keys than maxCounterKeys);
 * beyond that each half evicts among its own keys, as the hub does not, and counterEvictions says so.
 */
import { banKeyOf, isReportedKeyKind } from './ban-key.js';
import { SlidingCounters } from './sliding-counters.js';
import { draftRule, MatchProbe, SITE, type BacktestOptions, type BacktestRecord, type ThresholdBacktestResult } from './threshold-preview-backtest.js';
import { ThresholdEvaluator } from './threshold-evaluator.js';
import { BanJudge, EXAMPLES } from './threshold-preview-judge.js';
import type { ThresholdRule, ThresholdRuleInput } from './threshold-types.js';

/** Whether a draft's preview may be split by key (see above). */
export function splittableByKey(draft: ThresholdRuleInput): boolean {
  return draft.mode === 'monitor' || (!isReportedKeyKind(draft.key) && draft.condition.requests !== 'blocked');
}

/** What one part counted, sent to the merging part (arrays, so the port copies them cheaply). */
export interface PartCrossings {
  requests: number;
  matched: number;
  counterEvictions: number;
  /** Crossings in the part's (ts, id) order: report time, report id, key. */
  at: number[];
  id: number[];
  key: string[];
  /**
   * Enforce mode: requests of a key after its crossing number `crossing` (an index above) and before its
   * next one, within the rule's ban time: per second, their weight and the weight recorded other than Blocked.
   * At most one entry per report, 16 bytes each (typed arrays, trimmed to their length).
   */
  tally: { crossing: Uint32Array; ts: Uint32Array; weight: Uint32Array; newly: Uint32Array };
}

/** A Uint32Array that doubles as it fills. */
class GrowingU32 {
  data = new Uint32Array(1024);
  length = 0;

  push(value: number): void {
    if (this.length === this.data.length) {
      const next = new Uint32Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length++] = value;
  }

  trimmed(): Uint32Array {
    return this.data.slice(0, this.length);
  }
}

/** A key's latest crossing in this part, and the tally entry of its newest second. */
interface OpenSegment {
  crossing: number;
  until: number;
  lastEntry: number;
}

/** One part's counting: the hub's evaluator over the part's keys, crossings listed, nothing judged. */
export class ThresholdPartCounter {
  private readonly rule: ThresholdRule;
  private readonly evaluator: ThresholdEvaluator;
  private readonly probe: MatchProbe;
  private readonly enforce: boolean;
  private readonly batch: BacktestRecord[] = [];
  private readonly open = new Map<string, OpenSegment>();
  private requests = 0;
  private readonly crossings = { at: [] as number[], id: [] as number[], key: [] as string[] };
  private readonly tallies = { crossing: new GrowingU32(), ts: new GrowingU32(), weight: new GrowingU32(), newly: new GrowingU32() };

  constructor(draft: ThresholdRuleInput, options: Pick<BacktestOptions, 'maxCounterKeys'>) {
    this.rule = draftRule(draft);
    this.evaluator = new ThresholdEvaluator(new SlidingCounters(options.maxCounterKeys));
    this.evaluator.setRules(SITE, [this.rule]);
    this.probe = new MatchProbe(this.rule);
    this.enforce = draft.mode === 'enforce';
  }

  /** One report of this part, in (ts, id) order. */
  add(record: BacktestRecord, id: number): void {
    const weight = record.aggregateCount ?? 1;
    this.requests += weight;
    // Before counting, as one pass checks the standing bans before it counts the report.
    if (this.enforce && this.open.size > 0) this.tally(record, weight);
    this.probe.add(record, weight);
    this.batch[0] = record;
    for (const crossing of this.evaluator.evaluate(SITE, this.batch)) {
      const index = this.crossings.at.length;
      this.crossings.at.push(crossing.at);
      this.crossings.id.push(id);
      this.crossings.key.push(crossing.key);
      if (this.enforce) this.open.set(crossing.key, { crossing: index, until: crossing.at + this.rule.banSeconds, lastEntry: -1 });
    }
  }

  counts(): PartCrossings {
    const t = this.tallies;
    return {
      ...this.crossings, requests: this.requests, matched: this.probe.matched, counterEvictions: this.evaluator.counters.stats().evictions,
      tally: { crossing: t.crossing.trimmed(), ts: t.ts.trimmed(), weight: t.weight.trimmed(), newly: t.newly.trimmed() },
    };
  }

  /** By IP or /64 (see splittableByKey), the ban that may cover a report is its own key's. */
  private tally(record: BacktestRecord, weight: number): void {
    const key = banKeyOf(record.ip, this.rule.key);
    if (key === null) return;
    const segment = this.open.get(key);
    if (segment === undefined || record.ts >= segment.until) return;
    const tally = this.tallies;
    const newly = record.treatment === 'Blocked' ? 0 : weight;
    const last = segment.lastEntry;
    if (last >= 0 && tally.ts.data[last] === record.ts) {
      tally.weight.data[last]! += weight;
      tally.newly.data[last]! += newly;
      return;
    }
    segment.lastEntry = tally.ts.length;
    tally.crossing.push(segment.crossing);
    tally.ts.push(record.ts);
    tally.weight.push(weight);
    tally.newly.push(newly);
  }
}

/** A report whose crossing made one of the first bans (an example), by id, with the banned key. */
export interface ExampleCrossing {
  id: number;
  key: string;
}

/** Both parts' crossings judged in one pass's order; the examples still to be read by report id. */
export function judgeParts(draft: ThresholdRuleInput, options: BacktestOptions, parts: readonly PartCrossings[]):
  { result: Omit<ThresholdBacktestResult, 'examples'>; examples: ExampleCrossing[] } {
  const rule = draftRule(draft);
  const enforce = draft.mode === 'enforce';
  const judge = new BanJudge(rule, options, enforce);
  // Per part and crossing: until when a ban stood once it was judged (0: none).
  const until = parts.map((p) => new Array<number>(p.at.length).fill(0));
  const next = parts.map(() => 0);
  const examples: ExampleCrossing[] = [];
  for (;;) {
    // The earliest unjudged crossing by (ts, id): report ids are unique, so the order is one pass's.
    let pick = -1;
    for (let p = 0; p < parts.length; p++) {
      const i = next[p]!;
      const part = parts[p]!;
      if (i >= part.at.length) continue;
      if (pick < 0) { pick = p; continue; }
      const best = parts[pick]!;
      const j = next[pick]!;
      if (part.at[i]! < best.at[j]! || (part.at[i] === best.at[j] && part.id[i]! < best.id[j]!)) pick = p;
    }
    if (pick < 0) break;
    const i = next[pick]!++;
    const part = parts[pick]!;
    const key = part.key[i]!;
    const verdict = judge.judge(key, part.at[i]!);
    if (verdict === 'ban') {
      until[pick]![i] = judge.standing.get(key)!;
      if (examples.length < EXAMPLES) examples.push({ id: part.id[i]!, key });
    } else if (verdict === 'standing') {
      until[pick]![i] = judge.standing.get(key)!;
    }
  }
  if (enforce) {
    parts.forEach((part, p) => {
      const { crossing, ts, weight, newly } = part.tally;
      for (let e = 0; e < ts.length; e++) {
        const c = crossing[e]!;
        if (ts[e]! < until[p]![c]!) judge.countBlocked(part.key[c]!, weight[e]!, newly[e]!);
      }
    });
  }
  let requests = 0;
  let matched = 0;
  let counterEvictions = 0;
  for (const part of parts) {
    requests += part.requests;
    matched += part.matched;
    counterEvictions += part.counterEvictions;
  }
  return { result: { requests, matched, ...judge.figures(), counterEvictions }, examples };
}
