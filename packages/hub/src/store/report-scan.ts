/**
 * Reading a site's raw reports oldest first, in keyset pages, from a connection of one's own: the rule
 * preview does this in a worker thread, so it opens the store again there (SQLite read-only on the same
 * file, PostgreSQL a client of its own) rather than sharing the hub's connection and event loop.
 */

/** Where a worker can open the reports: a store file, or a database URL (never logged). */
export type ReportScanSource = { kind: 'sqlite'; file: string } | { kind: 'postgres'; connectionString: string };

/**
 * One report as the scan reads it: id, ts, ip, method, host, path, parameter, user agent, treatment code
 * (0 Passed, 1 Allowed, 2 Blocked), and the number of requests it stands for when it is a count (else null).
 * Method, host and parameter are null when the scanner was opened without them.
 */
export type ScanRow = [
  id: number, ts: number, ip: string, method: string | null, host: string | null, path: string, parameter: string | null, userAgent: string,
  treatment: number, aggregateCount: number | null,
];

/**
 * The optional columns a scan reads. Each text column read costs a string per report (skipping method,
 * host and parameter took a third off SQLite's reading of 1 M reports), so a scan reads only those its
 * rules judge; examples get method and host afterwards (`requestLines`).
 */
export interface ScanColumns {
  method: boolean;
  host: boolean;
  parameter: boolean;
}

export const ALL_SCAN_COLUMNS: ScanColumns = { method: true, host: true, parameter: true };

/** The SELECT list of a scan, id first, as ScanRow orders it. */
export function scanSelectList(columns: ScanColumns): string {
  return `id, ts, ip, ${columns.method ? 'method' : 'NULL'}, ${columns.host ? 'host' : 'NULL'}, path, `
    + `${columns.parameter ? 'parameter' : 'NULL'}, user_agent, treatment, aggregate_count`;
}

/** Position after the last row read; a page continues strictly after (ts, id). */
export interface ScanCursor {
  ts: number;
  id: number;
}

export interface ReportScanner {
  /** Reports with from ≤ ts < to after `cursor`, by (ts, id), at most `limit`. */
  page(siteId: number, from: number, to: number, cursor: ScanCursor, limit: number): Promise<ScanRow[]>;
  /** Method and host of a few reports of the site, by id (the examples' columns a narrow scan skipped). */
  requestLines(siteId: number, ids: readonly number[]): Promise<Map<number, { method: string; host: string }>>;
  close(): Promise<void>;
}

export async function openReportScanner(source: ReportScanSource, columns: ScanColumns = ALL_SCAN_COLUMNS): Promise<ReportScanner> {
  if (source.kind === 'sqlite') {
    const { SqliteReportScanner } = await import('./sqlite/report-scan.js');
    return new SqliteReportScanner(source.file, columns);
  }
  const { openPostgresReportScanner } = await import('./postgres/report-scan.js');
  return openPostgresReportScanner(source.connectionString, columns);
}
