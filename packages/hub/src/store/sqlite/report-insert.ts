import type Database from 'better-sqlite3';
import { storedKeysText, storedStatus, TREATMENT_CODE } from '../report-rows.js';
import type { ReportRecord } from '../store.js';

/** Rows per multi-row INSERT (19 columns each, well under SQLite's 32766 parameter limit). */
const INSERT_ROWS_PER_STATEMENT = 50;

/** Appends raw reports. */
export class SqliteReportWriter {
  private readonly insertStmt;
  private readonly insertManyStmt;

  constructor(private readonly db: Database.Database) {
    const insertSql = (rows: number) => `INSERT INTO reports (site_id, ts, ip, method, host, path, parameter, user_agent,
      request_id, treatment, category, rule, rule_id, monitored, ip_source, country, aggregate_count, keys, status)
      VALUES ${Array.from({ length: rows }, () => '(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)').join(', ')}`;
    this.insertStmt = db.prepare(insertSql(1));
    this.insertManyStmt = db.prepare(insertSql(INSERT_ROWS_PER_STATEMENT));
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
}

function pushRow(params: unknown[], siteId: number, r: ReportRecord): void {
  params.push(siteId, r.ts, r.ip, r.method, r.host, r.path, r.parameter, r.userAgent, r.requestId,
    TREATMENT_CODE[r.treatment], r.category, r.rule, r.ruleId,
    r.monitored && r.monitored.length > 0 ? JSON.stringify(r.monitored) : null, r.ipSource, r.country, r.aggregateCount ?? null, storedKeysText(r.keys),
    storedStatus(r.status));
}
