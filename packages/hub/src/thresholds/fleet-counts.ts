import { BUCKETS, type SlidingCounters } from './sliding-counters.js';
import type { CountIncrement, CountWindow } from './threshold-store.js';
import type { ThresholdRule } from './threshold-types.js';

/**
 * Fleet-wide counting for hubs sharing one PostgreSQL database: which of this hub's counts go to the
 * shared table, held until the next flush. Pure, no I/O (BanService flushes).
 *
 * Only keys that matter are shared: a key's counts go out once this hub counted `threshold / fleetHubs`
 * of it within the window (its whole window then, every new request after). A key no hub counted that
 * often sums to less than the threshold over `fleetHubs` hubs, so nothing that would cross is missed in a
 * fleet up to that size; a flood of distinct addresses (one request each) writes nothing unless a rule's
 * threshold is below fleetHubs. What does go out is bounded: at most maxPendingCounts increments (rule ×
 * key × bucket) wait for a flush, more are dropped and counted.
 */
export interface FleetCountOptions {
  /** Hubs the sums are exact for (each hub may hold back fewer than threshold / fleetHubs requests of a key). */
  fleetHubs: number;
  /** Increments waiting for the next flush; more are dropped and counted. */
  maxPendingCounts: number;
}

export interface FleetCountStats {
  /** Increments waiting for the next flush. */
  pending: number;
  flushes: number;
  /** Increments written to the shared table. */
  written: number;
  /** Crossings found on the fleet's sums (beside those a hub found alone). */
  fleetCrossings: number;
  /** Increments not shared: the pending cap was reached, or their flush failed. */
  dropped: number;
  /** Flushes that failed (logged); their increments are among `dropped`. */
  failures: number;
}

/** A window to sum, with the rule it belongs to (to judge the sum). */
export interface RuleWindow extends CountWindow {
  rule: ThresholdRule;
}

export interface FleetBatch {
  increments: CountIncrement[];
  windows: RuleWindow[];
  /** Keys that crossed on this hub since the last flush: the fleet's counts of them start again. */
  resets: { ruleId: number; key: string }[];
}

export class FleetCounts {
  private pending = new Map<string, CountIncrement>();
  private windows = new Map<string, RuleWindow>();
  private resets: { ruleId: number; key: string }[] = [];
  private readonly window = new Uint32Array(BUCKETS);
  private readonly counts = { flushes: 0, written: 0, fleetCrossings: 0, dropped: 0, failures: 0 };

  constructor(readonly options: FleetCountOptions) {}

  /** The count of a key on one hub from which it is shared. */
  bar(rule: ThresholdRule): number {
    return Math.max(1, Math.ceil(rule.threshold / this.options.fleetHubs));
  }

  /**
   * Called after `counters.add(rule.id, key, bucket, weight)` returned `count`: shares the increment when
   * the key matters (the first time, its whole window). Cost for a key below its bar: one comparison.
   */
  note(rule: ThresholdRule, key: string, bucket: number, weight: number, count: number, counters: SlidingCounters): void {
    if (count < this.bar(rule)) return;
    const head = counters.window(rule.id, key, this.window);
    // A record older than the key's window was not counted, so there is nothing to share.
    if (head === undefined || bucket <= head - BUCKETS) return;
    if (counters.mark(rule.id, key)) {
      for (let i = 0; i < BUCKETS; i++) if (this.window[i]! > 0) this.add(rule, key, head - BUCKETS + 1 + i, this.window[i]!);
    } else {
      this.add(rule, key, bucket, weight);
    }
    const id = `${rule.id}|${key}`;
    const known = this.windows.get(id);
    if (known === undefined) this.windows.set(id, { ruleId: rule.id, ruleVersion: rule.updatedAt, key, head, rule });
    else if (head > known.head) known.head = head;
  }

  /** A key crossed on this hub alone: the fleet's counts of it start again too. */
  crossed(rule: ThresholdRule, key: string): void {
    if (this.resets.length < this.options.maxPendingCounts) this.resets.push({ ruleId: rule.id, key });
  }

  /** What the next flush writes; the pending state starts empty again. */
  take(): FleetBatch {
    const resets = this.resets;
    let increments = [...this.pending.values()];
    let windows = [...this.windows.values()];
    if (resets.length > 0) {
      // Increments of a key counted before it crossed belong to the count that ended.
      const gone = new Set(resets.map((r) => `${r.ruleId}|${r.key}`));
      increments = increments.filter((i) => !gone.has(`${i.ruleId}|${i.key}`));
      windows = windows.filter((w) => !gone.has(`${w.ruleId}|${w.key}`));
    }
    this.pending = new Map();
    this.windows = new Map();
    this.resets = [];
    return { increments, windows, resets };
  }

  flushed(batch: FleetBatch, crossings: number): void {
    this.counts.flushes += 1;
    this.counts.written += batch.increments.length;
    this.counts.fleetCrossings += crossings;
  }

  failed(batch: FleetBatch): void {
    this.counts.failures += 1;
    this.counts.dropped += batch.increments.length;
  }

  stats(): FleetCountStats {
    return { pending: this.pending.size, ...this.counts };
  }

  private add(rule: ThresholdRule, key: string, bucket: number, count: number): void {
    const id = `${rule.id}|${key}|${bucket}`;
    const known = this.pending.get(id);
    if (known !== undefined) {
      known.count += count;
      return;
    }
    if (this.pending.size >= this.options.maxPendingCounts) {
      this.counts.dropped += 1;
      return;
    }
    this.pending.set(id, { ruleId: rule.id, ruleVersion: rule.updatedAt, key, bucket, count });
  }
}
