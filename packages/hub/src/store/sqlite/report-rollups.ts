import type Database from 'better-sqlite3';
import { addToSketch, newSketch } from '../../stats/hyperloglog.js';
import { ROLLUP_CHUNK, SIZED_DIMENSIONS, hourDimensions } from '../report-rows.js';
import { DAY_BUILD_ROWS, dayFloor } from '../top-heads.js';
import { SqliteDayTops } from './day-tops.js';

const yieldToOthers = () => new Promise<void>((resolve) => setImmediate(resolve));

export const HOUR_DIMENSIONS = hourDimensions({ always: '1', tab: 'char(9)' });

/** Requests a reports row stands for: one, or its count (a count of Passed requests, see migration 6). */
const REQUESTS = 'coalesce(aggregate_count, 1)';

/**
 * Reports folded per transaction. A rollUp() call folds up to ROLLUP_CHUNK in slices of this many, giving
 * the event loop a turn between them: on a week of a million made-up paths and user agents, where each
 * made-up value is a new hour_top row in three indexes (about 10 µs a report), one 50,000-report
 * transaction held the loop 450–690 ms of CPU, a slice 27–38 ms (medians; test/support/rollup-chunk-measure.ts).
 */
export const ROLLUP_SLICE = 2_000;

/**
 * Folds raw reports into the rollups (minute_stats, hour_top, hour_ip_sketch, hour_dim_size) a slice at
 * a time behind a watermark: every report with an id up to it is counted, exactly once. Days it touches
 * lose their top-list summaries (day_top) until they are rebuilt, a few per call, once finished.
 */
export class SqliteRollups {
  private readonly rollupStatements: Database.Statement[];
  private readonly watermarkGet;
  private readonly watermarkSet;
  private readonly sliceEnd;
  private readonly chunkHours;
  private readonly chunkIps;
  private readonly sketchGet;
  private readonly sketchPut;
  private readonly dimSizePut;
  private readonly dayTops;

  constructor(private readonly db: Database.Database) {
    this.dayTops = new SqliteDayTops(db);
    this.watermarkGet = db.prepare<[], number>('SELECT last_report_id FROM rollup_state WHERE id = 1').pluck();
    this.watermarkSet = db.prepare('UPDATE rollup_state SET last_report_id = ? WHERE id = 1');
    this.sliceEnd = db.prepare<[number, number], { hi: number | null; n: number }>(
      'SELECT max(id) AS hi, count(*) AS n FROM (SELECT id FROM reports WHERE id > ? ORDER BY id LIMIT ?)');
    // A row stands for `aggregate_count` Passed requests when it is a count (REQUESTS), else for one.
    const minute = `INSERT INTO minute_stats (site_id, minute, total, blocked, allowed, passed, monitored, passed_counted)
      SELECT site_id, ts - ts % 60, sum(${REQUESTS}), sum(treatment = 2), sum(treatment = 1), sum((treatment = 0) * ${REQUESTS}),
             sum(monitored IS NOT NULL), coalesce(sum(aggregate_count), 0)
      FROM reports WHERE id > ? AND id <= ? GROUP BY site_id, ts - ts % 60
      ON CONFLICT (site_id, minute) DO UPDATE SET total = total + excluded.total,
        blocked = blocked + excluded.blocked, allowed = allowed + excluded.allowed,
        passed = passed + excluded.passed, monitored = monitored + excluded.monitored,
        passed_counted = passed_counted + excluded.passed_counted`;
    const upsert = `ON CONFLICT (site_id, dim, hour, value) DO UPDATE SET total = total + excluded.total,
        blocked = blocked + excluded.blocked`;
    const hourly = HOUR_DIMENSIONS.map(({ dim, expr, where }) => `INSERT INTO hour_top (site_id, dim, hour, value, total, blocked)
      SELECT site_id, '${dim}', ts - ts % 3600, ${expr}, sum(${REQUESTS}), sum(treatment = 2)
      FROM reports WHERE id > ? AND id <= ? AND ${where} GROUP BY site_id, ts - ts % 3600, ${expr} ${upsert}`);
    // Monitor-mode matches: one row per monitored entry; "blocked" here counts nothing useful, so it
    // records the would-have-blocked count instead (every monitored match would have blocked).
    const monitor = `INSERT INTO hour_top (site_id, dim, hour, value, total, blocked)
      SELECT r.site_id, 'monitor', r.ts - r.ts % 3600,
             coalesce(json_extract(m.value, '$.rule_id'), json_extract(m.value, '$.category') || char(9) || json_extract(m.value, '$.rule')) AS v,
             count(*), count(*)
      FROM reports r, json_each(r.monitored) m
      WHERE r.id > ? AND r.id <= ? AND r.monitored IS NOT NULL
      GROUP BY r.site_id, r.ts - r.ts % 3600, v ${upsert}`;
    this.rollupStatements = [minute, ...hourly, monitor].map((sql) => db.prepare(sql));
    this.chunkHours = db.prepare<[number, number], { site_id: number; hour: number }>(
      'SELECT DISTINCT site_id, ts - ts % 3600 AS hour FROM reports WHERE id > ? AND id <= ?');
    this.chunkIps = db.prepare<[number, number], [number, number, string]>(
      'SELECT site_id, ts - ts % 3600, ip FROM reports WHERE id > ? AND id <= ?').raw();
    this.sketchGet = db.prepare<[number, number], Buffer>('SELECT sketch FROM hour_ip_sketch WHERE site_id = ? AND hour = ?').pluck();
    this.sketchPut = db.prepare(`INSERT INTO hour_ip_sketch (site_id, hour, sketch) VALUES (?, ?, ?)
      ON CONFLICT (site_id, hour) DO UPDATE SET sketch = excluded.sketch`);
    this.dimSizePut = db.prepare(`INSERT INTO hour_dim_size (site_id, dim, hour, distinct_values)
      SELECT @site, @dim, @hour, count(*) FROM hour_top WHERE site_id = @site AND dim = @dim AND hour = @hour
      ON CONFLICT (site_id, dim, hour) DO UPDATE SET distinct_values = excluded.distinct_values`);
  }

  /** The id of the last report folded into the rollups. */
  watermark(): number {
    return this.watermarkGet.get() ?? 0;
  }

  /** Rebuilds IP sketches from the hourly IP rows when the sketch table is new (migration 2). */
  backfillSketches(): void {
    const hasSketches = this.db.prepare('SELECT 1 FROM hour_ip_sketch LIMIT 1').get() !== undefined;
    const hasIps = this.db.prepare("SELECT 1 FROM hour_top WHERE dim = 'ip' LIMIT 1").get() !== undefined;
    if (hasSketches || !hasIps) return;
    this.db.transaction(() => {
      const sketches = new Map<string, { siteId: number; hour: number; sketch: Uint8Array }>();
      const rows = this.db.prepare<[], [number, number, string]>("SELECT site_id, hour, value FROM hour_top WHERE dim = 'ip'").raw();
      for (const [siteId, hour, ip] of rows.iterate()) {
        const key = `${siteId}:${hour}`;
        let entry = sketches.get(key);
        if (!entry) sketches.set(key, (entry = { siteId, hour, sketch: newSketch() }));
        addToSketch(entry.sketch, ip);
      }
      for (const e of sketches.values()) this.sketchPut.run(e.siteId, e.hour, Buffer.from(e.sketch));
    })();
  }

  /** Updates the IP sketches and dimension sizes of the hours a folded chunk touched. */
  private foldHourSummaries(lo: number, hi: number): void {
    const sketches = new Map<string, { siteId: number; hour: number; sketch: Uint8Array }>();
    for (const [siteId, hour, ip] of this.chunkIps.iterate(lo, hi)) {
      const key = `${siteId}:${hour}`;
      let entry = sketches.get(key);
      if (!entry) {
        const stored = this.sketchGet.get(siteId, hour);
        entry = { siteId, hour, sketch: stored ? new Uint8Array(stored) : newSketch() };
        sketches.set(key, entry);
      }
      addToSketch(entry.sketch, ip);
    }
    for (const e of sketches.values()) this.sketchPut.run(e.siteId, e.hour, Buffer.from(e.sketch));
    const days = new Set<string>();
    for (const { site_id, hour } of this.chunkHours.all(lo, hi)) {
      for (const dim of SIZED_DIMENSIONS) this.dimSizePut.run({ site: site_id, dim, hour });
      const key = `${site_id}:${dayFloor(hour)}`;
      if (!days.has(key)) {
        days.add(key);
        this.dayTops.changed(site_id, dayFloor(hour));
      }
    }
  }

  /**
   * Folds up to ROLLUP_CHUNK unfolded reports into the rollups, a slice at a time (each slice with the
   * watermark, atomically; other work gets a turn between slices); then summarises finished days for the
   * top lists (a bounded number of hourly rows). Returns how many reports it folded.
   */
  async rollUp(): Promise<number> {
    let folded = 0;
    while (folded < ROLLUP_CHUNK) {
      if (folded > 0) await yieldToOthers();
      const limit = Math.min(ROLLUP_SLICE, ROLLUP_CHUNK - folded);
      const n = this.foldSlice(limit);
      folded += n;
      if (n < limit) break;
    }
    if (folded > 0) await yieldToOthers();
    this.db.transaction(() => this.dayTops.buildFinished(DAY_BUILD_ROWS)).immediate();
    return folded;
  }

  /** Folds the next `limit` unfolded reports at most, with the watermark, in one transaction; returns how many. */
  private foldSlice(limit: number): number {
    return this.db.transaction(() => {
      const lo = this.watermarkGet.get() ?? 0;
      const { hi, n } = this.sliceEnd.get(lo, limit)!;
      if (hi == null) return 0;
      for (const stmt of this.rollupStatements) stmt.run(lo, hi);
      this.foldHourSummaries(lo, hi);
      this.watermarkSet.run(hi);
      return n;
    }).immediate();
  }

  /** Every report with a timestamp below this is already in the rollups. */
  rolledUpBelow(): number {
    const watermark = this.watermark();
    const pendingMin = this.db.prepare<[number], number>('SELECT min(ts) FROM reports WHERE id > ?').pluck().get(watermark);
    return pendingMin ?? Number.MAX_SAFE_INTEGER;
  }
}
