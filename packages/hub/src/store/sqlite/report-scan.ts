import Database from 'better-sqlite3';
import { clientHalfClause, SCAN_MMAP_BYTES, SQLITE_SPLIT, type ClientHalf, type ReportScanner, type ScanColumns, type ScanCursor, type ScanRow } from '../report-scan.js';
import { ColumnPageReader, type PageColumn } from './column-page.js';

/**
 * Keyset pages over `reports_site_ts (site_id, ts)`, whose entries carry the rowid, so the order
 * (ts, id) comes from the index with no sort. Each page is its own read transaction, so a long scan
 * never holds one WAL snapshot (which would stop checkpoints) for its whole length. Each page is read
 * as one row of columns (column-page.ts).
 */
export class SqliteReportScanner implements ReportScanner {
  private readonly db: Database.Database;
  private readonly pages: ColumnPageReader<ScanRow>;
  private readonly lines;

  constructor(file: string, columns: ScanColumns, half?: ClientHalf) {
    this.db = new Database(file, { readonly: true, fileMustExist: true, timeout: 5000 });
    this.db.pragma(`mmap_size = ${SCAN_MMAP_BYTES}`);
    this.db.pragma('cache_size = -65536');
    const text = (sql: string, wanted = true): PageColumn => (wanted ? { sql, type: 'text' } : null);
    // As ScanRow orders them.
    const read: PageColumn[] = [
      { sql: 'id', type: 'int' }, { sql: 'ts', type: 'int' }, text('ip'), text('method', columns.method), text('host', columns.host), text('path'),
      text('parameter', columns.parameter), text('user_agent'), { sql: 'treatment', type: 'int' }, { sql: 'aggregate_count', type: 'int?' },
      columns.keys === true ? { sql: 'keys', type: 'text?' } : null,
    ];
    this.pages = new ColumnPageReader(this.db, read, `FROM reports INDEXED BY reports_site_ts
      WHERE site_id = ? AND ts >= ? AND ts < ? AND (ts > ? OR id > ?)${clientHalfClause(half, SQLITE_SPLIT)}
      ORDER BY ts, id LIMIT ?`);
    this.lines = this.db.prepare<[number, number], { method: string; host: string }>('SELECT method, host FROM reports WHERE id = ? AND site_id = ?');
  }

  async page(siteId: number, from: number, to: number, cursor: ScanCursor, limit: number): Promise<ScanRow[]> {
    // The lower bound on ts alone is what the index seeks to; a row-value comparison would make SQLite
    // read from `from` on every page.
    return this.pages.page(siteId, Math.max(from, cursor.ts), to, cursor.ts, cursor.id, limit);
  }

  async requestLines(siteId: number, ids: readonly number[]): Promise<Map<number, { method: string; host: string }>> {
    const found = new Map<number, { method: string; host: string }>();
    for (const id of ids) {
      const line = this.lines.get(id, siteId);
      if (line) found.set(id, line);
    }
    return found;
  }

  async close(): Promise<void> {
    this.db.close();
  }
}
