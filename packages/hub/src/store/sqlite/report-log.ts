import type Database from 'better-sqlite3';
import {
  TREATMENT_CODE, type ReportRow as SharedReportRow, hourFloor, parseCursor, reportPage, toStoredReport,
} from '../report-rows.js';
import type { ReportFilter, ReportPage, StoredReport } from '../store.js';

/** `monitored` is stored as JSON text. */
type ReportRow = SharedReportRow<string | null>;

/** The request log: raw reports, newest first, filtered, a page at a time. */
export class SqliteReportLog {
  private readonly newestBelow;

  /** `rolledUpBelow`: every report older than this is in the rollups (SqliteRollups.rolledUpBelow). */
  constructor(private readonly db: Database.Database, private readonly rolledUpBelow: () => number) {
    this.newestBelow = db.prepare<[number, number, number], number | null>(
      'SELECT max(ts) FROM reports WHERE site_id = ? AND ts >= ? AND ts < ?').pluck();
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

  private oldestTs(siteId: number): number | undefined {
    return this.db.prepare<[number], number>('SELECT min(ts) FROM reports WHERE site_id = ?').pluck().get(siteId) ?? undefined;
  }

  private newestTs(siteId: number): number | undefined {
    return this.db.prepare<[number], number>('SELECT max(ts) FROM reports WHERE site_id = ?').pluck().get(siteId) ?? undefined;
  }
}

function toReport(r: ReportRow): StoredReport {
  return toStoredReport(r, r.monitored ? (JSON.parse(r.monitored) as StoredReport['monitored']) : null);
}
