// The engine a managed firewall runs: rebuilt whenever the rules or the data file changes, and swapped
// in by reference. Evaluation is synchronous, so a request that started on the old engine finishes on
// it; the only thing to keep alive is a replaced data set that reads its file in place (light mode),
// closed after a grace period long enough for requests still reading a body. Rate-limit counters
// live in one store shared by every engine, so a rules update does not reset them.
import type { DataSet } from '../data/data-set.js';
import { Engine } from '../engine/engine.js';
import { MemoryRateLimitStore, type RateLimitStore } from '../engine/rate-limiter.js';
import type { RuleSet } from '../engine/rule-set.js';
import { emptyRuleSet } from '../format/load-files.js';
import type { Firewall } from '../firewall/firewall.js';

export class EngineSlot {
  private rules: RuleSet | null = null;
  private data: DataSet | null = null;
  private readonly rateLimits: RateLimitStore = new MemoryRateLimitStore();
  private readonly retiring = new Map<DataSet, NodeJS.Timeout>();
  private closed = false;

  constructor(
    private readonly firewall: Firewall,
    private readonly now: (() => number) | undefined,
    private readonly graceMs: number,
  ) {}

  /** Installs both at start; null rules and no data leave the firewall without an engine (fail open / 503). */
  init(rules: RuleSet | null, data: DataSet | null): void {
    this.rules = rules;
    this.data = data;
    if (rules === null && data === null) this.firewall.setEngine(null);
    else this.swap();
  }

  setRules(rules: RuleSet): void {
    if (this.closed) return;
    this.rules = rules;
    this.swap();
  }

  setData(data: DataSet): void {
    if (this.closed) {
      data.close();
      return;
    }
    const old = this.data;
    this.data = data;
    this.swap();
    if (old !== null && old !== data) this.retire(old);
  }

  /** Detaches the engine from the firewall and closes every data set now. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.firewall.setEngine(null);
    for (const [data, timer] of this.retiring) {
      clearTimeout(timer);
      data.close();
    }
    this.retiring.clear();
    this.data?.close();
    this.data = null;
  }

  private swap(): void {
    // Custom rules work without the data file; the data file alone is useless (rules refer to it).
    if (this.rules === null && this.data === null) return;
    const engine = new Engine({
      rules: this.rules ?? emptyRuleSet(), data: this.data, rateLimits: this.rateLimits, now: this.now,
      sharedRateLimits: this.firewall.rateLimitStore,
    });
    this.firewall.setEngine(engine);
  }

  private retire(data: DataSet): void {
    const timer = setTimeout(() => {
      this.retiring.delete(data);
      data.close();
    }, this.graceMs);
    timer.unref();
    this.retiring.set(data, timer);
  }
}
