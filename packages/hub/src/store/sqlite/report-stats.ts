import type Database from 'better-sqlite3';
import { estimate, mergeInto, newSketch } from '../../stats/hyperloglog.js';
import { EXACT_UNIQUE_LIMIT, type TotalsRow, hourFloor, hoursOf, toRuleHits, toTotals } from '../report-rows.js';
import type { PassedSampling, RuleHitKeys, RuleHits, TimeBucket, TopDimension, TopEntry, Totals, ValueHour } from '../store.js';
import { DAY_SECONDS, PLAIN_TOP_LIMIT, type Head, dayFloor, hourHead, hourHeadSize, topFromHeads } from '../top-heads.js';
import { HOUR_HEAD_SQL } from './day-tops.js';

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
  private readonly hourSizes;
  private readonly plainTop;
  private readonly dayFloors;
  private readonly dayRows;
  private readonly hourHead;

  constructor(private readonly db: Database.Database) {
    this.dimSizeSum = db.prepare<[number, string, number, number], number>(
      'SELECT coalesce(sum(distinct_values), 0) FROM hour_dim_size WHERE site_id = ? AND dim = ? AND hour >= ? AND hour < ?').pluck();
    this.hourSizes = db.prepare<[number, string, number, number], [number, number]>(
      'SELECT hour, distinct_values FROM hour_dim_size WHERE site_id = ? AND dim = ? AND hour >= ? AND hour < ? ORDER BY hour').raw();
    this.plainTop = db.prepare<[number, string, number, number, number], TopEntry>(
      `SELECT value, sum(total) AS total, sum(blocked) AS blocked FROM hour_top
      WHERE site_id = ? AND dim = ? AND hour >= ? AND hour < ? GROUP BY value ORDER BY total DESC, value LIMIT ?`);
    this.dayFloors = db.prepare<[number, string, number, number], [number, number]>(
      'SELECT day, floor FROM day_top_floor WHERE site_id = ? AND dim = ? AND day >= ? AND day <= ? AND floor IS NOT NULL').raw();
    this.dayRows = db.prepare<[number, string, number, number], [number, string, number, number, number]>(
      'SELECT day, value, total, blocked, missed FROM day_top WHERE site_id = ? AND dim = ? AND day >= ? AND day <= ?').raw();
    this.hourHead = db.prepare<[number, string, number, number], [string, number, number]>(HOUR_HEAD_SQL).raw();
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
   * The top values of a dimension. Up to PLAIN_TOP_LIMIT hourly rows in the range: one GROUP BY, exact.
   * Above: the range's finished days from their summaries (day_top, at most HEAD_VALUES rows a day) and
   * its other hours from the index (the HEAD_VALUES largest of each, or `limit` when more; fewer when
   * there are many such hours, see hourHeadSize), merged with the most each count may be low by
   * (store/top-heads.ts). Rows read are bounded by the range's days and
   * hours, whatever the number of values: a million made-up paths over 7 days made the old GROUP BY read
   * a million rows (0.4 s a list on the event loop).
   */
  top(siteId: number, dim: TopDimension | 'monitor' | 'rule_id', from: number, to: number, limit: number): TopEntry[] {
    const lo = hourFloor(from);
    const sized = this.hourSizes.all(siteId, dim, lo, to);
    let rows = 0;
    for (const [, n] of sized) rows += n;
    if (rows <= PLAIN_TOP_LIMIT) return this.plainTop.all(siteId, dim, lo, to, limit);
    const days = new Map<number, Head>();
    const firstDay = dayFloor(lo + DAY_SECONDS - 1);
    const lastDay = dayFloor(to) - DAY_SECONDS;
    if (firstDay <= lastDay) {
      for (const [day, floor] of this.dayFloors.all(siteId, dim, firstDay, lastDay)) days.set(day, { rows: [], floor });
      for (const [day, value, total, blocked, missed] of this.dayRows.all(siteId, dim, firstDay, lastDay)) {
        days.get(day)?.rows.push({ value, total, blocked, missed });
      }
    }
    const pieces = [...days.values()];
    const hours = sized.filter(([hour]) => !days.has(dayFloor(hour)));
    const n = hourHeadSize(hours.length, limit);
    for (const [hour] of hours) pieces.push(hourHead(this.hourHead.all(siteId, dim, hour, n + 1), n));
    return topFromHeads(pieces, limit);
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
