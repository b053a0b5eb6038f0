import type Database from 'better-sqlite3';
import { addToSketch, estimate, mergeInto, newSketch } from '../../stats/hyperloglog.js';
import {
  EXACT_UNIQUE_LIMIT, PRUNE_CHUNK, REPORT_MAX_AHEAD_SECONDS, ROLLUP_CHUNK, SIZED_DIMENSIONS, TREATMENT_CODE, type ReportRow as SharedReportRow,
  type TotalsRow, hourDimensions, hourFloor, hoursOf, parseCursor, reportPage, toRuleHits, toStoredReport, toTotals,
} from '../report-rows.js';
import type {
  PassedSampling, ReportFilter, ReportPage, ReportRecord, RetentionPolicy, RuleHits, StoredReport, TimeBucket, TopDimension,
  TopEntry, Totals, ValueHour,
} from '../store.js';

/** Up to this many (hour, value) rows in a range, a top list is one plain GROUP BY. */
const PLAIN_TOP_LIMIT = 20_000;

/** Rows per multi-row INSERT (17 columns each, well under SQLite's 32766 parameter limit). */
const INSERT_ROWS_PER_STATEMENT = 50;

const HOUR_DIMENSIONS = hourDimensions({ always: '1', tab: 'char(9)' });

/** Requests a reports row stands for: one, or its count (a count of Passed requests, see migration 6). */
const REQUESTS = 'coalesce(aggregate_count, 1)';

/** `monitored` is stored as JSON text. */
type ReportRow = SharedReportRow<string | null>;

/** Raw reports, their rollups and the dashboard queries over them. */
export class SqliteReports {
  private readonly insertStmt;
  private readonly insertManyStmt;
  private readonly rollupStatements: Database.Statement[];
  private readonly watermarkGet;
  private readonly watermarkSet;
  private readonly maxIdStmt;

  constructor(private readonly db: Database.Database) {
    const insertSql = (rows: number) => `INSERT INTO reports (site_id, ts, ip, method, host, path, parameter, user_agent,
      request_id, treatment, category, rule, rule_id, monitored, ip_source, country, aggregate_count)
      VALUES ${Array.from({ length: rows }, () => '(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)').join(', ')}`;
    this.insertStmt = db.prepare(insertSql(1));
    this.insertManyStmt = db.prepare(insertSql(INSERT_ROWS_PER_STATEMENT));
    this.watermarkGet = db.prepare<[], number>('SELECT last_report_id FROM rollup_state WHERE id = 1').pluck();
    this.watermarkSet = db.prepare('UPDATE rollup_state SET last_report_id = ? WHERE id = 1');
    this.maxIdStmt = db.prepare<[number, number], number>(
      'SELECT max(id) FROM (SELECT id FROM reports WHERE id > ? ORDER BY id LIMIT ?)',
    ).pluck();
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
    this.newestBelow = db.prepare<[number, number, number], number | null>(
      'SELECT max(ts) FROM reports WHERE site_id = ? AND ts >= ? AND ts < ?').pluck();
    this.dimSizeSum = db.prepare<[number, string, number, number], number>(
      'SELECT coalesce(sum(distinct_values), 0) FROM hour_dim_size WHERE site_id = ? AND dim = ? AND hour >= ? AND hour < ?').pluck();
  }

  private readonly chunkHours;
  private readonly newestBelow;
  private readonly chunkIps;
  private readonly sketchGet;
  private readonly sketchPut;
  private readonly dimSizePut;
  private readonly dimSizeSum;

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
    for (const { site_id, hour } of this.chunkHours.all(lo, hi)) {
      for (const dim of SIZED_DIMENSIONS) this.dimSizePut.run({ site: site_id, dim, hour });
    }
  }

  /** Stores rows in one transaction: all or none. */
  insert(siteId: number, records: readonly ReportRecord[]): void {
    this.db.transaction(() => this.insertRows(siteId, records, 0, records.length))();
  }

  /** Inserts records[from, to) inside the caller's transaction. */
  insertRows(siteId: number, rows: readonly ReportRecord[], from: number, to: number): void {
    let i = from;
    // Several rows per statement: per-call overhead, not SQLite, dominates single-row inserts.
    const params: unknown[] = [];
    for (; i + INSERT_ROWS_PER_STATEMENT <= to; i += INSERT_ROWS_PER_STATEMENT) {
      params.length = 0;
      for (let j = i; j < i + INSERT_ROWS_PER_STATEMENT; j++) pushRow(params, siteId, rows[j]!);
      this.insertManyStmt.run(params);
    }
    for (; i < to; i++) {
      params.length = 0;
      pushRow(params, siteId, rows[i]!);
      this.insertStmt.run(params);
    }
  }

  /** Folds the next chunk of unfolded reports into the rollups, with the watermark, atomically. */
  rollUp(): number {
    return this.db.transaction(() => {
      const lo = this.watermarkGet.get() ?? 0;
      const hi = this.maxIdStmt.get(lo, ROLLUP_CHUNK);
      if (hi == null) return 0;
      for (const stmt of this.rollupStatements) stmt.run(lo, hi);
      this.foldHourSummaries(lo, hi);
      this.watermarkSet.run(hi);
      return hi - lo;
    }).immediate();
  }

  /** Deletes one chunk of expired rows; returns rows deleted (0 when nothing is left to do). */
  pruneChunk(policy: RetentionPolicy, now: number): number {
    const rawCutoff = now - policy.rawSeconds;
    const rollupCutoff = now - policy.rollupSeconds;
    const watermark = this.watermarkGet.get() ?? 0;
    const sites = this.db.prepare<[], number>('SELECT DISTINCT site_id FROM minute_stats').pluck().all();
    let deleted = 0;
    for (const siteId of sites) {
      // Only rows already folded into the rollups are deleted, so no count is lost.
      deleted += this.db.prepare(`DELETE FROM reports WHERE id IN (
        SELECT id FROM reports WHERE site_id = ? AND ts < ? AND id <= ? LIMIT ${PRUNE_CHUNK})`)
        .run(siteId, rawCutoff, watermark).changes;
      // Rows dated far ahead (stored before ingest clamped timestamps) would otherwise never age out.
      deleted += this.db.prepare(`DELETE FROM reports WHERE id IN (
        SELECT id FROM reports WHERE site_id = ? AND ts > ? AND id <= ? LIMIT ${PRUNE_CHUNK})`)
        .run(siteId, now + REPORT_MAX_AHEAD_SECONDS, watermark).changes;
      deleted += this.db.prepare('DELETE FROM minute_stats WHERE site_id = ? AND minute < ?').run(siteId, rollupCutoff).changes;
      for (const dim of [...HOUR_DIMENSIONS.map((d) => d.dim), 'monitor']) {
        deleted += this.db.prepare(`DELETE FROM hour_top WHERE site_id = ? AND dim = ? AND hour < ?`)
          .run(siteId, dim, rollupCutoff).changes;
        this.db.prepare('DELETE FROM hour_dim_size WHERE site_id = ? AND dim = ? AND hour < ?').run(siteId, dim, rollupCutoff);
      }
      this.db.prepare('DELETE FROM hour_ip_sketch WHERE site_id = ? AND hour < ?').run(siteId, rollupCutoff);
    }
    return deleted;
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

  ruleHits(siteId: number, from: number, to: number): RuleHits {
    return toRuleHits(this.db.prepare<[number, number, number], { dim: string; value: string; total: number }>(
      `SELECT dim, value, sum(total) AS total FROM hour_top
      WHERE site_id = ? AND dim IN ('rule_id', 'monitor', 'match') AND hour >= ? AND hour < ? GROUP BY dim, value`,
    ).all(siteId, hourFloor(from), to));
  }

  /**
   * The request log, newest first. It walks back one hour window at a time so that a selective filter
   * never scans the whole table in one statement: hours in which the rollups show no report for a
   * filtered IP are skipped, and after `budgetMs` a partial page is returned whose cursor continues
   * where the walk stopped.
   */
  query(siteId: number, filter: ReportFilter, page: { limit: number; before?: string; budgetMs?: number }): ReportPage {
    const started = performance.now();
    const budget = page.budgetMs ?? 250;
    // Counts of Passed requests are not requests to list (the page says how many were sampled).
    const where = ['site_id = ?', 'ts >= ?', 'ts < ?', 'aggregate_count IS NULL'];
    const params: unknown[] = [];
    if (filter.treatment) { where.push('treatment = ?'); params.push(TREATMENT_CODE[filter.treatment]); }
    if (filter.ip) { where.push('ip = ?'); params.push(filter.ip); }
    if (filter.path) { where.push('substr(path, 1, ?) = ?'); params.push(filter.path.length, filter.path); }
    if (filter.rule) { where.push('(rule = ? OR rule_id = ?)'); params.push(filter.rule, filter.rule); }
    const windowSql = `SELECT * FROM reports WHERE ${where.join(' AND ')}
      AND (ts < ? OR (ts = ? AND id < ?)) ORDER BY ts DESC, id DESC LIMIT ?`;
    const stmt = this.db.prepare<unknown[], ReportRow>(windowSql);
    const ipSeen = filter.ip
      ? this.db.prepare<[number, number, string], number>(
        `SELECT 1 FROM hour_top WHERE site_id = ? AND dim = 'ip' AND hour = ? AND value = ?`).pluck()
      : undefined;

    const cursor = page.before ? parseCursor(page.before) : undefined;
    const lowest = filter.from ?? this.oldestTs(siteId);
    if (lowest === undefined) return { rows: [], next: null };
    let upper = Math.min(filter.to ?? Number.MAX_SAFE_INTEGER, cursor ? cursor.ts + 1 : Number.MAX_SAFE_INTEGER);
    if (upper === Number.MAX_SAFE_INTEGER) upper = (this.newestTs(siteId) ?? lowest) + 1;
    let cursorTs = cursor ? cursor.ts : upper;
    let cursorId = cursor ? cursor.id : Number.MAX_SAFE_INTEGER;
    const rolledUpBelow = this.rolledUpBelow();
    const rows: ReportRow[] = [];
    // Newest hours first; the first window ends at `upper`, later ones at an hour boundary.
    let windowEnd = upper;
    while (windowEnd > lowest && rows.length <= page.limit) {
      const windowStart = Math.max(lowest, hourFloor(windowEnd - 1));
      const hourHasIp = !ipSeen || ipSeen.get(siteId, hourFloor(windowStart), filter.ip as string) !== undefined
        // The rollups may not cover this window yet: look anyway.
        || windowEnd > rolledUpBelow;
      let found = 0;
      if (hourHasIp) {
        const result = stmt.all(siteId, windowStart, windowEnd, ...params, cursorTs, cursorTs, cursorId, page.limit + 1 - rows.length);
        rows.push(...result);
        found = result.length;
      }
      // An empty window may start a quiet stretch (a site idle for days, a report dated years away):
      // one index seek finds the next older report, so the walk never steps through empty hours.
      if (found > 0 || windowStart <= lowest) {
        windowEnd = windowStart;
      } else {
        const older = this.newestBelow.get(siteId, lowest, windowStart);
        windowEnd = older == null ? lowest : older + 1;
      }
      cursorTs = windowEnd;
      cursorId = 0;
      if (rows.length <= page.limit && windowEnd > lowest && performance.now() - started > budget) {
        return { rows: rows.map(toReport), next: `${windowEnd}:0`, partial: true };
      }
    }
    return reportPage(rows, page.limit, toReport);
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

  private oldestTs(siteId: number): number | undefined {
    return this.db.prepare<[number], number>('SELECT min(ts) FROM reports WHERE site_id = ?').pluck().get(siteId) ?? undefined;
  }

  private newestTs(siteId: number): number | undefined {
    return this.db.prepare<[number], number>('SELECT max(ts) FROM reports WHERE site_id = ?').pluck().get(siteId) ?? undefined;
  }

  /** Every report with a timestamp below this is already in the rollups. */
  private rolledUpBelow(): number {
    const watermark = this.watermarkGet.get() ?? 0;
    const pendingMin = this.db.prepare<[number], number>('SELECT min(ts) FROM reports WHERE id > ?').pluck().get(watermark);
    return pendingMin ?? Number.MAX_SAFE_INTEGER;
  }
}

function pushRow(params: unknown[], siteId: number, r: ReportRecord): void {
  params.push(siteId, r.ts, r.ip, r.method, r.host, r.path, r.parameter, r.userAgent, r.requestId,
    TREATMENT_CODE[r.treatment], r.category, r.rule, r.ruleId,
    r.monitored && r.monitored.length > 0 ? JSON.stringify(r.monitored) : null, r.ipSource, r.country, r.aggregateCount ?? null);
}

function toReport(r: ReportRow): StoredReport {
  return toStoredReport(r, r.monitored ? (JSON.parse(r.monitored) as StoredReport['monitored']) : null);
}
