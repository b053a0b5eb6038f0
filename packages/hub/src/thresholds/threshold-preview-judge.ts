/**
 * The threshold preview's ban bookkeeping, in the order crossings happened: each crossing judged by the
 * hub's own decideBan (standing ban, allow list, cap, BanBrakes) at its report's time, the bans tallied
 * per key. One pass (ThresholdBacktest) and the split scan (threshold-preview-split.ts) both judge here,
 * so their figures cannot drift apart.
 */
import { decideBan, type BanVerdict } from './ban-decision.js';
import { banKeyLabel } from './ban-key.js';
import { BanBrakes } from './ban-policy.js';
import type { BacktestOptions, BannedKey, ThresholdBacktestResult } from './threshold-preview-backtest.js';
import type { ThresholdRule } from './threshold-types.js';

const TOP_KEYS = 20;
/** Per-key figures kept for the top list; more banned keys are counted, not listed (bounded memory). */
const MAX_TRACKED_KEYS = 100_000;
/** Examples shown: the reports of the first bans. */
export const EXAMPLES = 20;

/** Everything of a result but the examples and what the scan counted alone. */
export type JudgedFigures = Omit<ThresholdBacktestResult, 'requests' | 'matched' | 'examples' | 'counterEvictions'>;

export class BanJudge {
  private readonly brakes = new BanBrakes();
  /** Keys banned (or would-be banned) → end of the ban, Unix seconds. */
  readonly standing = new Map<string, number>();
  private readonly tracked = new Map<string, BannedKey>();
  private crossings = 0;
  private bans = 0;
  private untracked = 0;
  private blocked = 0;
  private newlyBlocked = 0;
  private readonly refused = { allowListed: 0, cap: 0, rate: 0 };

  constructor(private readonly rule: ThresholdRule, private readonly options: BacktestOptions, private readonly enforce: boolean) {}

  /** A crossing of `key` at `at` (Unix seconds), judged now; a `ban` is recorded as standing. */
  judge(key: string, at: number): BanVerdict {
    this.crossings += 1;
    const verdict = decideBan(key, this.rule, {
      standing: this.standing, allowRanges: this.options.allowRanges, maxActiveBans: this.options.maxActiveBans, brakes: this.brakes, nowSeconds: at,
    });
    if (verdict === 'standing') return verdict;
    if (verdict !== 'ban') {
      this.refused[verdict] += 1;
      return verdict;
    }
    this.standing.set(key, at + this.rule.banSeconds);
    this.bans += 1;
    const seen = this.tracked.get(key);
    if (seen) seen.bans += 1;
    else if (this.tracked.size < MAX_TRACKED_KEYS) this.tracked.set(key, { key: banKeyLabel(key), firstBanAt: at, bans: 1, blocked: this.enforce ? 0 : null });
    else this.untracked += 1;
    return verdict;
  }

  /** Enforce mode: `weight` requests from `key` while its ban stood, `newly` of them recorded other than Blocked. */
  countBlocked(key: string, weight: number, newly: number): void {
    this.blocked += weight;
    this.newlyBlocked += newly;
    const tracked = this.tracked.get(key);
    if (tracked) tracked.blocked! += weight;
  }

  figures(): JudgedFigures {
    const topKeys = [...this.tracked.values()]
      .sort((a, b) => b.bans - a.bans || a.firstBanAt - b.firstBanAt || (a.key < b.key ? -1 : 1))
      .slice(0, TOP_KEYS)
      .map((k) => ({ ...k }));
    return {
      crossings: this.crossings, bans: this.bans, bannedKeys: this.tracked.size + this.untracked, refused: { ...this.refused },
      blockedAfterBan: this.enforce ? this.blocked : null, newlyBlocked: this.enforce ? this.newlyBlocked : null,
      topKeys, untrackedKeys: this.untracked,
    };
  }
}
