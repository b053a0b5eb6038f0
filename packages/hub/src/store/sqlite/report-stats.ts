import type Database from 'better-sqlite3';
import { estimate, mergeInto, newSketch } from '../../stats/hyperloglog.js';
import { EXACT_UNIQUE_LIMIT, type TotalsRow, hourFloor, hoursOf, toRuleHits, toTotals } from '../report-rows.js';
import type { PassedSampling, RuleHitKeys, RuleHits, TimeBucket, TopDimension, TopEntry, Totals, ValueHour } from '../store.js';

/** Up to this many (hour, value) rows in a range, a top list is one plain GROUP BY. */
const PLAIN_TOP_LIMIT = 20_000;

/** The dashboard's numbers, read from the rollups: totals, series, top lists, unique IPs, rule hits. */
/**
 * Hit counts of the given values of one rule dimension: one seek per key on hour_top_rule_values, named
 * because without table statistics SQLite would walk the range by hour instead (every value clients
 * reported, a million made-up entries took 3 s); the repeated `dim IN` lets it use that partial index.
 */
export const RULE_HITS_SQL = `SELECT dim, value, sum(total) AS total FROM hour_top INDEXED BY hour_top_rule_values
  WHERE site_id = ? AND dim IN ('rule_id', 'monitor', 'match') AND dim = ? AND value IN (SELECT value FROM json_each(?))
  AND hour >= ? AND hour < ? GROUP BY value`;

export class SqliteReportStats {
  private readonly dimSizeSum;

  constructor(private readonly db: Database.Database) {
    this.dimSizeSum = db.prepare<[number, string, number, number], number>(
      'SELECT coalesce(sum(distinct_values), 0) FROM hour_dim_size WHERE site_id = ? AND dim = ? AND hour >= ? AND hour < ?').pluck();
  }

  totals(siteId: number, from: number, to: number): Totals {
    const row = this.db.prepare<[number, number, number], TotalsRow>(`SELECT sum(total) total, sum(blocked) blocked,
      sum(allowed) allowed, sum(passed) passed, sum(monitored) monitored
      FROM minute_stats WHERE site_id = ? AND minute >= ? AND minute < ?`).get(siteId, from, to);
    return toTotals(row);
  }

  timeSeries(siteId: number, from: number, to: number, step: number): TimeBucket[] {
    const rows = this.db.prepare<[number, number, number, number], TotalsRow & { t: number }>(
      `SELECT minute - minute % ? AS t, sum(total) total, sum(blocked) blocked, sum(allowed) allowed,
        sum(passed) passed, sum(monitored) monitored
      FROM minute_stats WHERE site_id = ? AND minute >= ? AND minute < ? GROUP BY t ORDER BY t`,
    ).all(step, siteId, from, to);
    return rows.map((r) => ({ t: r.t, ...toTotals(r) }));
  }

  /**
   * The top values of a dimension. Small ranges: one GROUP BY. Large ones: a candidate pass that reads
   * only values with at least T hits in some hour (an index seek per hour), sums them exactly, and
   * accepts the result when the K-th total exceeds (T − 1) × hours, the most any skipped value can
   * have; otherwise T falls and the pass repeats, ending in the plain GROUP BY. The answer is always
   * the exact one.
   */
  top(siteId: number, dim: TopDimension | 'monitor' | 'rule_id', from: number, to: number, limit: number): TopEntry[] {
    const lo = hourFloor(from);
    const plain = () => this.db.prepare<[number, string, number, number, number], TopEntry>(
      `SELECT value, sum(total) AS total, sum(blocked) AS blocked FROM hour_top
      WHERE site_id = ? AND dim = ? AND hour >= ? AND hour < ? GROUP BY value ORDER BY total DESC, value LIMIT ?`,
    ).all(siteId, dim, lo, to, limit);
    if (this.dimSizeSum.get(siteId, dim, lo, to)! <= PLAIN_TOP_LIMIT) return plain();
    const hours = this.db.prepare<[number, string, number, number], number>(
      'SELECT hour FROM hour_dim_size WHERE site_id = ? AND dim = ? AND hour >= ? AND hour < ? ORDER BY hour').pluck().all(siteId, dim, lo, to);
    const heavy = this.db.prepare<[number, string, number, number], string>(
      'SELECT value FROM hour_top WHERE site_id = ? AND dim = ? AND hour = ? AND total >= ?').pluck();
    // Per hour, equality on hour lets SQLite seek each candidate on the primary key.
    const hourRows = this.db.prepare<[number, string, number, string], TopEntry>(
      `SELECT value, total, blocked FROM hour_top
      WHERE site_id = ? AND dim = ? AND hour = ? AND value IN (SELECT value FROM json_each(?))`);
    const sums = (candidates: string[]): TopEntry[] => {
      const json = JSON.stringify(candidates);
      const out = new Map<string, TopEntry>();
      for (const hour of hours) {
        for (const r of hourRows.iterate(siteId, dim, hour, json)) {
          const e = out.get(r.value);
          if (e) { e.total += r.total; e.blocked += r.blocked; } else out.set(r.value, { ...r });
        }
      }
      return [...out.values()].sort((a, b) => b.total - a.total || (a.value < b.value ? -1 : a.value > b.value ? 1 : 0));
    };
    for (let threshold = 4096; threshold > 1; threshold = Math.floor(threshold / 4)) {
      const candidates = new Set<string>();
      for (const hour of hours) {
        for (const value of heavy.iterate(siteId, dim, hour, threshold)) candidates.add(value);
        if (candidates.size > 5000) break;
      }
      if (candidates.size > 5000) break;
      if (candidates.size < limit) continue;
      const ranked = sums([...candidates]);
      const kth = ranked[limit - 1]?.total ?? 0;
      if (kth > (threshold - 1) * hours.length) return ranked.slice(0, limit);
    }
    return plain();
  }

  uniqueIps(siteId: number, from: number, to: number): number {
    const lo = hourFloor(from);
    if (this.dimSizeSum.get(siteId, 'ip', lo, to)! <= EXACT_UNIQUE_LIMIT) {
      return this.db.prepare<[number, number, number], number>(
        `SELECT count(DISTINCT value) FROM hour_top WHERE site_id = ? AND dim = 'ip' AND hour >= ? AND hour < ?`,
      ).pluck().get(siteId, lo, to) ?? 0;
    }
    const union = newSketch();
    const rows = this.db.prepare<[number, number, number], Buffer>(
      'SELECT sketch FROM hour_ip_sketch WHERE site_id = ? AND hour >= ? AND hour < ?').pluck();
    for (const blob of rows.iterate(siteId, lo, to)) mergeInto(union, blob);
    return estimate(union);
  }

  ruleHits(siteId: number, from: number, to: number, keys: RuleHitKeys): RuleHits {
    const lookup = this.db.prepare<[number, string, string, number, number], { dim: string; value: string; total: number }>(RULE_HITS_SQL);
    const ids = JSON.stringify(keys.ids);
    return toRuleHits([
      ...lookup.all(siteId, 'rule_id', ids, hourFloor(from), to),
      ...lookup.all(siteId, 'monitor', ids, hourFloor(from), to),
      ...lookup.all(siteId, 'match', JSON.stringify(keys.matches), hourFloor(from), to),
    ]);
  }

  /** Passed requests in [from, to), and how many of them only as counts (not in the request log). */
  passedSampling(siteId: number, from: number, to: number): PassedSampling {
    const row = this.db.prepare<[number, number, number], { passed: number | null; counted: number | null }>(
      'SELECT sum(passed) passed, sum(passed_counted) counted FROM minute_stats WHERE site_id = ? AND minute >= ? AND minute < ?',
    ).get(siteId, from, to);
    return { passed: row?.passed ?? 0, counted: row?.counted ?? 0 };
  }

  earliestMinute(siteId: number): number | undefined {
    return this.db.prepare<[number], number>('SELECT min(minute) FROM minute_stats WHERE site_id = ?').pluck().get(siteId) ?? undefined;
  }

  valueHours(siteId: number, dim: TopDimension, value: string, from: number, to: number): ValueHour[] {
    const hours = hoursOf(from, to);
    if (hours.length === 0) return [];
    // Equality on (site, dim, hour, value) per hour: the primary key answers each with one seek.
    return this.db.prepare<[number, string, string, string], ValueHour>(
      `SELECT hour, total, blocked FROM hour_top WHERE site_id = ? AND dim = ? AND value = ?
      AND hour IN (SELECT value FROM json_each(?)) ORDER BY hour`,
    ).all(siteId, dim, value, JSON.stringify(hours));
  }
}
