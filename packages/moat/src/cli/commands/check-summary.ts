/**
 * What a rule set would have done to a stream of recorded requests, summed up: the `moat-waf check
 * --ndjson --summary` output and the hub's rule preview are both this, so the two give the same numbers
 * for the same records. Memory is bounded whatever the stream's length: top lists and the distinct-IP
 * sets are capped, and say so when the cap made them approximate.
 */
import type { Decision, KnownKeyHashes, MoatRequest, Treatment } from '../../engine/decision.js';
import type { Engine } from '../../engine/engine.js';
import { normalizeHost } from '../../http/request-target.js';
import { normalizePath } from '../../http/request-path.js';
import { DistinctCounter, type DistinctCounterState } from '../../replay/distinct-counter.js';

export { DistinctCounter, type DistinctCounterState };

/** One recorded request: what the engine reads, plus when it came and what it got then (if known). */
export interface ReplayRecord {
  ip: string;
  method?: string;
  host?: string;
  path?: string;
  /** Query and form parameters, `a=1&b=2` (a leading `?`, as reports carry it, is dropped). */
  params?: string;
  userAgent?: string;
  /** Unix seconds; drives the rate limiters' clock in a replay. */
  ts?: number;
  /** The treatment the request got when it was recorded. */
  treatment?: Treatment;
  /** How many requests the record stands for (a hub's counted Passed requests); 1 when absent. */
  count?: number;
  /** Where the record is stored (a hub's report id): kept in its example, so a reader that skipped columns can fill them in. */
  id?: number;
  /**
   * The hashes of the request's keys as reports carry them, `header:x-api-key=<32 hex> user=<32 hex>`:
   * keyed rate limits and keyed bans count and match by these, as clients did by the values.
   */
  keys?: string | null;
}

/** The request the engine sees for a record, normalised as the middleware does for live traffic. */
export function replayedRequest(r: ReplayRecord): MoatRequest {
  const params = r.params === undefined ? undefined : String(r.params);
  return {
    ip: String(r.ip ?? ''),
    method: r.method === undefined ? undefined : String(r.method),
    host: r.host === undefined ? undefined : normalizeHost(String(r.host)),
    path: r.path === undefined ? undefined : normalizePath(String(r.path)),
    params: params !== undefined && params.startsWith('?') ? params.slice(1) : params,
    userAgent: r.userAgent === undefined ? undefined : String(r.userAgent),
    // Always set in a replay, even empty: the request then never reads keys from headers it lacks.
    knownKeyHashes: knownKeyHashes(r.keys),
  };
}

const NO_KEYS: KnownKeyHashes = new Map<string, string>();

/**
 * `header:x-api-key=<hash> user=<hash>` read by key when the engine asks, not split up front: a keyed
 * replay judges a million reports, and a Map of slices per report was a twentieth of its judging. Tokens
 * that are not `<key>=<hash>` are ignored; of two with the same key, the later counts.
 */
class KeysText implements KnownKeyHashes {
  constructor(private readonly text: string) {}

  get(key: string): string | undefined {
    const text = this.text;
    let found: string | undefined;
    for (let start = 0; start < text.length;) {
      let end = text.indexOf(' ', start);
      if (end < 0) end = text.length;
      const eq = text.lastIndexOf('=', end - 1);
      if (eq === start + key.length && eq > start && eq < end - 1 && text.startsWith(key, start)) found = text.slice(eq + 1, end);
      start = end + 1;
    }
    return found;
  }
}

function knownKeyHashes(text: unknown): KnownKeyHashes {
  return typeof text !== 'string' || text === '' ? NO_KEYS : new KeysText(text);
}

export interface TopValue {
  value: string;
  count: number;
}

/** A top list; `exact` is false when values were dropped to stay in bounds (counts may then be low by `maxError`). */
export interface TopList {
  entries: TopValue[];
  exact: boolean;
  maxError: number;
}

/**
 * Counts per value, at most `2 × keep` values held. When full, the lower half is dropped and the
 * highest dropped count remembered: a value that returns may be under-counted by at most that much
 * (lossy counting). A sort per `keep` new values keeps the cost amortised O(log keep) per value.
 */
export class TopCounter {
  private readonly counts = new Map<string, number>();
  private maxDropped = 0;

  constructor(private readonly keep = 1000) {}

  add(value: string, times = 1): void {
    const counts = this.counts;
    const n = counts.get(value);
    if (n !== undefined) {
      counts.set(value, n + times);
      return;
    }
    if (counts.size >= this.keep * 2) this.prune();
    counts.set(value, times);
  }

  /** Everything held, to merge into a counter elsewhere (another worker's). */
  state(): TopCounterState {
    return { counts: [...this.counts], maxDropped: this.maxDropped };
  }

  /**
   * Adds another counter's counts. A value either side dropped may be low by that side's bound, so
   * the merged bound is the sum of both: the result stays honest, never claims to be more exact.
   */
  merge(other: TopCounterState): void {
    this.maxDropped += other.maxDropped;
    for (const [value, count] of other.counts) this.add(value, count);
  }

  top(limit: number): TopList {
    const entries = [...this.counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
      .slice(0, limit).map(([value, count]) => ({ value, count }));
    return { entries, exact: this.maxDropped === 0, maxError: this.maxDropped };
  }

  private prune(): void {
    const sorted = [...this.counts].sort((a, b) => b[1] - a[1]);
    for (let i = this.keep; i < sorted.length; i++) {
      const [value, count] = sorted[i]!;
      if (count > this.maxDropped) this.maxDropped = count;
      this.counts.delete(value);
    }
  }
}

export interface TopCounterState {
  counts: [string, number][];
  maxDropped: number;
}

export interface ReplayExample {
  ts: number | null;
  ip: string;
  method: string;
  host: string;
  path: string;
  userAgent: string;
  /** What it got when recorded (null when unknown) and what it would get now. */
  recorded: Treatment | null;
  decision: Treatment;
  ruleId: string | null;
  /** The record's `id`, when it had one. */
  id?: number;
}

export interface RuleCount {
  ruleId: string;
  /** Requests the rule decided (Blocked or Allowed by it). */
  decided: number;
  /** Requests on which it matched in monitor mode (it would have decided them in block mode). */
  monitored: number;
}

export interface TrafficSummaryResult {
  requests: number;
  distinctIps: number;
  distinctIpsAtLeast: boolean;
  /** Treatments the rules give now. */
  treatments: Record<Treatment, number>;
  rules: RuleCount[];
  /** Requests some rule matched (decided, or matched in monitor mode). */
  matched: {
    requests: number;
    distinctIps: number;
    distinctIpsAtLeast: boolean;
    /** Of those, by the treatment they got when recorded: Passed and Allowed ones a block rule newly blocks. */
    recorded: Record<Treatment | 'unknown', number>;
    topIps: TopList;
    topPaths: TopList;
    topUserAgents: TopList;
    /** The newest matched requests. */
    examples: ReplayExample[];
  };
}

export interface TrafficSummaryOptions {
  /** Entries per top list in the result (default 10). */
  top?: number;
  /** Examples kept (default 10). */
  examples?: number;
}

/** A TrafficSummary's counts as plain data (see `TrafficSummary.state`). */
export interface TrafficSummaryState {
  requests: number;
  ips: DistinctCounterState;
  treatments: Record<Treatment, number>;
  rules: RuleCount[];
  matched: number;
  matchedIps: DistinctCounterState;
  recorded: Record<Treatment | 'unknown', number>;
  topIps: TopCounterState;
  topPaths: TopCounterState;
  topUserAgents: TopCounterState;
  /** Oldest first. */
  examples: ReplayExample[];
}

/** Sums up decisions one record at a time; `result()` may be called at any point (progress). */
export class TrafficSummary {
  private requests = 0;
  private readonly ips = new DistinctCounter();
  private readonly treatments: Record<Treatment, number> = { Passed: 0, Allowed: 0, Blocked: 0 };
  private readonly rules = new Map<string, RuleCount>();
  private matched = 0;
  private readonly matchedIps = new DistinctCounter();
  private readonly recorded: Record<Treatment | 'unknown', number> = { Passed: 0, Allowed: 0, Blocked: 0, unknown: 0 };
  private readonly topIps = new TopCounter();
  private readonly topPaths = new TopCounter();
  private readonly topUserAgents = new TopCounter();
  private readonly examples: ReplayExample[] = [];
  private nextExample = 0;
  private readonly topLimit: number;
  private readonly exampleLimit: number;

  constructor(options: TrafficSummaryOptions = {}) {
    this.topLimit = options.top ?? 10;
    this.exampleLimit = options.examples ?? 10;
  }

  /** Adds `times` requests of this record, all with this decision. */
  add(record: ReplayRecord, decision: Decision, times = 1): void {
    this.requests += times;
    this.ips.add(record.ip);
    this.treatments[decision.treatment] += times;
    // Most records match nothing: they cost the three counters above and nothing more.
    if (decision.ruleId === null && decision.monitored.length === 0) return;
    if (decision.ruleId !== null) this.ruleCount(decision.ruleId).decided += times;
    for (const m of decision.monitored) this.ruleCount(m.ruleId).monitored += times;
    this.matched += times;
    this.matchedIps.add(record.ip);
    this.recorded[record.treatment ?? 'unknown'] += times;
    this.topIps.add(record.ip, times);
    this.topPaths.add(record.path ?? '', times);
    this.topUserAgents.add(record.userAgent ?? '', times);
    const example: ReplayExample = {
      ts: record.ts ?? null, ip: record.ip, method: record.method ?? '', host: record.host ?? '', path: record.path ?? '',
      userAgent: record.userAgent ?? '', recorded: record.treatment ?? null, decision: decision.treatment,
      ruleId: decision.ruleId ?? decision.monitored[0]?.ruleId ?? null,
    };
    if (record.id !== undefined) example.id = record.id;
    this.addExample(example);
  }

  /** A ring of the newest: replays run oldest first. */
  private addExample(example: ReplayExample): void {
    if (this.examples.length < this.exampleLimit) this.examples.push(example);
    else if (this.exampleLimit > 0) this.examples[this.nextExample] = example;
    if (this.exampleLimit > 0) this.nextExample = (this.nextExample + 1) % this.exampleLimit;
  }

  /**
   * Everything counted so far, as plain data a worker can post: a scan split in time across workers
   * merges these (`merge`) into the summary one scan would have made.
   */
  state(): TrafficSummaryState {
    return {
      requests: this.requests, ips: this.ips.state(), treatments: { ...this.treatments }, rules: [...this.rules.values()].map((r) => ({ ...r })),
      matched: this.matched, matchedIps: this.matchedIps.state(), recorded: { ...this.recorded }, topIps: this.topIps.state(),
      topPaths: this.topPaths.state(), topUserAgents: this.topUserAgents.state(), examples: this.orderedExamples(),
    };
  }

  /**
   * Adds the counts of a summary over other records: later ones (a replay split in time) or the same
   * time's other clients (split by client). The examples kept are the newest of both by time, then id.
   */
  merge(later: TrafficSummaryState): void {
    this.requests += later.requests;
    this.ips.merge(later.ips);
    for (const t of ['Passed', 'Allowed', 'Blocked'] as const) this.treatments[t] += later.treatments[t];
    for (const r of later.rules) {
      const count = this.ruleCount(r.ruleId);
      count.decided += r.decided;
      count.monitored += r.monitored;
    }
    this.matched += later.matched;
    this.matchedIps.merge(later.matchedIps);
    for (const t of ['Passed', 'Allowed', 'Blocked', 'unknown'] as const) this.recorded[t] += later.recorded[t];
    this.topIps.merge(later.topIps);
    this.topPaths.merge(later.topPaths);
    this.topUserAgents.merge(later.topUserAgents);
    const examples = [...this.orderedExamples(), ...later.examples].sort(olderExampleFirst);
    this.examples.length = 0;
    this.nextExample = 0;
    for (const example of examples) this.addExample(example);
  }

  result(): TrafficSummaryResult {
    const examples = this.orderedExamples();
    return {
      requests: this.requests,
      distinctIps: this.ips.count,
      distinctIpsAtLeast: this.ips.atLeast,
      treatments: { ...this.treatments },
      rules: [...this.rules.values()].map((r) => ({ ...r })).sort((a, b) => b.decided + b.monitored - a.decided - a.monitored || (a.ruleId < b.ruleId ? -1 : 1)),
      matched: {
        requests: this.matched,
        distinctIps: this.matchedIps.count,
        distinctIpsAtLeast: this.matchedIps.atLeast,
        recorded: { ...this.recorded },
        topIps: this.topIps.top(this.topLimit),
        topPaths: this.topPaths.top(this.topLimit),
        topUserAgents: this.topUserAgents.top(this.topLimit),
        examples: examples.reverse(),
      },
    };
  }

  /** The examples kept, oldest first. */
  private orderedExamples(): ReplayExample[] {
    const n = this.examples.length;
    return n < this.exampleLimit ? [...this.examples] : [...this.examples.slice(this.nextExample), ...this.examples.slice(0, this.nextExample)];
  }

  private ruleCount(ruleId: string): RuleCount {
    let count = this.rules.get(ruleId);
    if (!count) this.rules.set(ruleId, (count = { ruleId, decided: 0, monitored: 0 }));
    return count;
  }
}

/** Oldest first, as a replay meets them: by time, then by where they are stored; a sort keeps ties in place. */
function olderExampleFirst(a: ReplayExample, b: ReplayExample): number {
  return (a.ts ?? -Infinity) - (b.ts ?? -Infinity) || (a.id ?? 0) - (b.id ?? 0);
}

/**
 * The engine's clock during a replay: each record's timestamp, so rate limits and expiries are judged
 * as at the time of the request, not the time of the replay. Records without one keep the last time.
 */
export class ReplayClock {
  private ms = Date.now();
  readonly now = (): number => this.ms;

  advanceTo(tsSeconds: number | undefined): void {
    if (typeof tsSeconds === 'number' && Number.isFinite(tsSeconds)) this.ms = tsSeconds * 1000;
  }
}

/**
 * Replays records through an engine into a summary, on a clock set from each record. A record that
 * stands for several requests is judged once and counted that many times, except under rate limits:
 * there each request counts against the limit, so each is judged (all at the record's time).
 */
export class Replay {
  readonly clock = new ReplayClock();
  readonly engine: Engine;
  readonly summary: TrafficSummary;
  private readonly rateLimited: boolean;
  /** Decisions already made, by the fields the rules read; null when a decision depends on time. */
  private readonly memo: DecisionMemo | null;

  /** `makeEngine` gets the replay's clock, for the engine's `now`. */
  constructor(makeEngine: (now: () => number) => Engine, options: TrafficSummaryOptions = {}) {
    this.engine = makeEngine(this.clock.now);
    this.summary = new TrafficSummary(options);
    this.rateLimited = this.engine.rules.rules.some((r) => r.rateLimit !== undefined);
    const key = memoKey(this.engine);
    this.memo = key === null ? null : new DecisionMemo(key);
  }

  add(record: ReplayRecord): void {
    this.clock.advanceTo(record.ts);
    const times = typeof record.count === 'number' && record.count > 1 ? Math.floor(record.count) : 1;
    const memo = this.memo;
    if (memo !== null) {
      const key = memo.key(record);
      let decision = memo.get(key);
      if (decision === undefined) memo.set(key, (decision = this.engine.evaluate(replayedRequest(record))));
      this.summary.add(record, decision, times);
      return;
    }
    const request = replayedRequest(record);
    if (times === 1 || !this.rateLimited) {
      this.summary.add(record, this.engine.evaluate(request), times);
      return;
    }
    for (let i = 0; i < times; i++) this.summary.add(record, this.engine.evaluate(request));
  }
}

type MemoKey = string | undefined;

/**
 * The engine's decision per distinct request, when it is a pure function of the request: no rate
 * limits (they count) and no expiring rules (they read the clock). Traffic repeats itself (the same
 * few paths, agents and addresses), so a long replay judges each distinct request once. Keyed by only
 * the fields the rules read: a path rule's decisions are keyed by the path alone. Bounded by the
 * characters its keys hold; when full it starts afresh (a miss costs one evaluation, never a wrong count).
 */
class DecisionMemo {
  private readonly decisions = new Map<MemoKey, Decision>();
  private chars = 0;

  constructor(readonly key: (record: ReplayRecord) => MemoKey, private readonly maxChars = 16 * 1024 * 1024) {}

  get(key: MemoKey): Decision | undefined {
    return this.decisions.get(key);
  }

  set(key: MemoKey, decision: Decision): void {
    const size = (typeof key === 'string' ? key.length : 0) + 16;
    if (this.chars + size > this.maxChars) {
      this.decisions.clear();
      this.chars = 0;
    }
    this.decisions.set(key, decision);
    this.chars += size;
  }
}

/** A request field of a replayed record. */
export type RecordField = 'ip' | 'method' | 'host' | 'path' | 'params' | 'userAgent' | 'keys';
const ALL_FIELDS: readonly RecordField[] = ['ip', 'method', 'host', 'path', 'params', 'userAgent', 'keys'];
/** The request fields each rule kind reads; a kind not listed here is assumed to read them all. */
const FIELDS_OF_KIND: Partial<Record<string, readonly RecordField[]>> = {
  ip: ['ip'], country: ['ip'], asn: ['ip'], list: ['ip'], userAgent: ['userAgent'], path: ['path'], param: ['params'], host: ['host'],
  method: ['method'], rateLimit: ['ip', 'method', 'path'], key: ['keys'],
};
const RATE_LIMIT_FIELDS_ANY_METHOD: readonly RecordField[] = ['ip', 'path'];

/**
 * The request fields this engine's rules can read: a decision depends on these alone, so a replay may
 * key memoised decisions by them, and a reader may skip the others (the summary still needs ip, path and
 * user agent for its lists, and method and host for its examples).
 */
export function requestFieldsRead(engine: Engine): ReadonlySet<RecordField> {
  const fields = new Set<RecordField>();
  for (const r of engine.rules.rules) {
    // A rate limit for any method never reads it: a scan then skips a string per report.
    const read = r.rateLimit !== undefined && r.rateLimit.method === null ? RATE_LIMIT_FIELDS_ANY_METHOD : FIELDS_OF_KIND[r.kind] ?? ALL_FIELDS;
    read.forEach((f) => fields.add(f));
    // A keyed rate limit counts by the key's hash when the request has one.
    if (r.rateLimit?.key !== undefined) fields.add('keys');
  }
  // Attack detection reads the path, the parameters and more.
  if (engine.rules.attacks !== null) ALL_FIELDS.forEach((f) => fields.add(f));
  return fields;
}

/** How to key a memoised decision for this engine's rules; null when decisions must not be memoised. */
function memoKey(engine: Engine): ((record: ReplayRecord) => MemoKey) | null {
  const rules = engine.rules.rules;
  if (rules.some((r) => r.rateLimit !== undefined || r.expires !== undefined)) return null;
  const fields = requestFieldsRead(engine);
  const read = ALL_FIELDS.filter((f) => fields.has(f));
  if (read.length === 0) return () => undefined;
  if (read.length === 1) {
    // One field: its value is the key, with no string built per record.
    const field = read[0]!;
    return (record) => { const value = record[field]; return value === undefined ? undefined : String(value); };
  }
  // Several: JSON keeps the tuple unambiguous whatever characters the values hold.
  return (record) => JSON.stringify(read.map((f) => record[f] ?? null));
}
