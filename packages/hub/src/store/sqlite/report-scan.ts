import Database from 'better-sqlite3';
import { clientHalfClause, SCAN_MMAP_BYTES, scanSelectList, SQLITE_SPLIT, type ClientHalf, type ReportScanner, type ScanColumns, type ScanCursor, type ScanRow } from '../report-scan.js';

/** Between the values of a text column in a page read as columns; a value holding it sends the page to the row read. */
const TEXT_SEPARATOR = '\x1f';

/**
 * Keyset pages over `reports_site_ts (site_id, ts)`, whose entries carry the rowid, so the order
 * (ts, id) comes from the index with no sort. Each page is its own read transaction, so a long scan
 * never holds one WAL snapshot (which would stop checkpoints) for its whole length.
 *
 * A page comes back as one row of columns (each column's values joined by `group_concat`), split here:
 * SQLite walks and decodes 1 M reports in about 0.2 s, but handing them over one JavaScript row each
 * cost 0.8 µs a row, most of a preview worker's time; as columns the same page read 0.75–0.8× as long
 * (interleaved runs, 500 k reports). Exact: a page whose columns do not split into its count of values (a
 * text holding the separator) or whose rows are not in (ts, id) order is read again as rows.
 */
export class SqliteReportScanner implements ReportScanner {
  private readonly db: Database.Database;
  private readonly rows;
  private readonly columns;
  private readonly lines;
  private readonly wanted: ScanColumns;

  constructor(file: string, columns: ScanColumns, half?: ClientHalf) {
    this.db = new Database(file, { readonly: true, fileMustExist: true, timeout: 5000 });
    this.db.pragma(`mmap_size = ${SCAN_MMAP_BYTES}`);
    this.db.pragma('cache_size = -65536');
    this.wanted = columns;
    const page = `FROM reports INDEXED BY reports_site_ts
      WHERE site_id = ? AND ts >= ? AND ts < ? AND (ts > ? OR id > ?)${clientHalfClause(half, SQLITE_SPLIT)}
      ORDER BY ts, id LIMIT ?`;
    this.rows = this.db.prepare<[number, number, number, number, number, number], ScanRow>(`SELECT ${scanSelectList(columns)} ${page}`).raw();
    const text = (column: string) => `group_concat(${column}, char(31))`;
    const optional = (wanted: boolean | undefined, column: string) => (wanted === true ? text(column) : 'NULL');
    // keys may be NULL: a NULL is '' and a text is 'k' + the text, so the two stay apart.
    const keys = "CASE WHEN keys IS NULL THEN '' ELSE 'k' || keys END";
    this.columns = this.db.prepare<[number, number, number, number, number, number], PageColumns>(
      `SELECT count(*), group_concat(id), group_concat(ts), ${text('ip')}, ${optional(columns.method, 'method')}, ${optional(columns.host, 'host')},
        ${text('path')}, ${optional(columns.parameter, 'parameter')}, ${text('user_agent')}, group_concat(treatment),
        group_concat(ifnull(aggregate_count, '')), ${optional(columns.keys, keys)}
      FROM (SELECT ${scanSelectList(columns)} ${page})`,
    ).raw();
    this.lines = this.db.prepare<[number, number], { method: string; host: string }>('SELECT method, host FROM reports WHERE id = ? AND site_id = ?');
  }

  async page(siteId: number, from: number, to: number, cursor: ScanCursor, limit: number): Promise<ScanRow[]> {
    // The lower bound on ts alone is what the index seeks to; a row-value comparison would make SQLite
    // read from `from` on every page.
    const params = [siteId, Math.max(from, cursor.ts), to, cursor.ts, cursor.id, limit] as const;
    const page = this.columns.get(...params);
    if (page === undefined || page[0] === 0) return [];
    return rowsOf(page, this.wanted) ?? this.rows.all(...params);
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

/** count, then each ScanRow column's values joined (numbers by commas, texts by TEXT_SEPARATOR); null for a column not read. */
type PageColumns = [
  count: number, ids: string, ts: string, ip: string, method: string | null, host: string | null, path: string, parameter: string | null,
  userAgent: string, treatment: string, aggregateCount: string, keys: string | null,
];

/** The page's rows, or null when its columns cannot be trusted to line up (then the caller reads it as rows). */
function rowsOf(page: PageColumns, wanted: ScanColumns): ScanRow[] | null {
  const count = page[0];
  const split = (joined: string | null, separator: string): string[] | null => (joined === null ? null : joined.split(separator));
  const ids = split(page[1], ',')!;
  const ts = split(page[2], ',')!;
  const ip = split(page[3], TEXT_SEPARATOR)!;
  const method = wanted.method ? split(page[4], TEXT_SEPARATOR) : null;
  const host = wanted.host ? split(page[5], TEXT_SEPARATOR) : null;
  const path = split(page[6], TEXT_SEPARATOR)!;
  const parameter = wanted.parameter ? split(page[7], TEXT_SEPARATOR) : null;
  const userAgent = split(page[8], TEXT_SEPARATOR)!;
  const treatment = split(page[9], ',')!;
  const aggregate = split(page[10], ',')!;
  const keys = wanted.keys === true ? split(page[11], TEXT_SEPARATOR) : null;
  for (const values of [ids, ts, ip, method, host, path, parameter, userAgent, treatment, aggregate, keys]) {
    if (values !== null && values.length !== count) return null;
  }
  const rows = new Array<ScanRow>(count);
  let lastTs = -Infinity;
  let lastId = -Infinity;
  for (let i = 0; i < count; i++) {
    const id = Number(ids[i]);
    const at = Number(ts[i]);
    // The columns share one order, whatever it is; it must be the page's (ts, id) order too.
    if (at < lastTs || (at === lastTs && id <= lastId)) return null;
    lastTs = at;
    lastId = id;
    const times = aggregate[i]!;
    const keyText = keys?.[i];
    rows[i] = [
      id, at, ip[i]!, method?.[i] ?? null, host?.[i] ?? null, path[i]!, parameter?.[i] ?? null, userAgent[i]!, Number(treatment[i]),
      times === '' ? null : Number(times), keyText === undefined || keyText === '' ? null : keyText.slice(1),
    ];
  }
  return rows;
}
