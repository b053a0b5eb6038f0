/**
 * Reading a site's raw reports oldest first, in keyset pages, from a connection of one's own: the rule
 * preview does this in a worker thread, so it opens the store again there (SQLite read-only on the same
 * file, PostgreSQL a client of its own) rather than sharing the hub's connection and event loop.
 */

/** Where a worker can open the reports: a store file, or a database URL (never logged). */
export type ReportScanSource = { kind: 'sqlite'; file: string } | { kind: 'postgres'; connectionString: string };

/**
 * One report as the scan reads it: id, ts, ip, method, host, path, parameter, user agent, treatment code
 * (0 Passed, 1 Allowed, 2 Blocked), the number of requests it stands for when it is a count (else null),
 * and its hashed keys (the `keys` column, `header:x-api-key=<32 hex> …`, null when it had none).
 * Method, host, parameter and keys are null when the scanner was opened without them.
 */
export type ScanRow = [
  id: number, ts: number, ip: string, method: string | null, host: string | null, path: string, parameter: string | null, userAgent: string,
  treatment: number, aggregateCount: number | null, keys: string | null,
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
  /** The reports' hashed keys: read only when a rule counts or bans by a header, cookie or user key. */
  keys?: boolean;
}

export const ALL_SCAN_COLUMNS: ScanColumns = { method: true, host: true, parameter: true, keys: true };

/** The SELECT list of a scan, id first, as ScanRow orders it. */
export function scanSelectList(columns: ScanColumns): string {
  return `id, ts, ip, ${columns.method ? 'method' : 'NULL'}, ${columns.host ? 'host' : 'NULL'}, path, `
    + `${columns.parameter ? 'parameter' : 'NULL'}, user_agent, treatment, aggregate_count, ${columns.keys === true ? 'keys' : 'NULL'}`;
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

/**
 * One of two disjoint halves of a site's reports, split by the client a rate limit counts (its IPv4
 * address or IPv6 prefix), so that each half holds every report of its clients and two workers replay a
 * rate limit exactly, side by side. The split is by text, inside the database, so a worker is never
 * handed the other half's rows: dotted addresses (IPv4, and IPv4-mapped IPv6 as Node writes it) ending
 * in an odd digit are half 1; everything else (other IPv4, all IPv6) is half 0. An address's last digit
 * is the same in all its dotted spellings, and every IPv6 prefix stays whole in half 0. Uneven for
 * IPv6-heavy traffic, but exact, except for spellings Node never gives a peer address: an IPv4-mapped
 * address in hex (`::ffff:c000:201`, half 0 while its dotted form may be half 1), and IPv6 with a
 * dotted tail that is not mapped (`64:ff9b::192.0.2.1`), whose /64 may then fall in both halves.
 */
export type KeyHalf = 0 | 1;

/** The SQL condition of half 1: dotted text ending in an odd digit. */
function keyHalfOneCondition(lastCharacter: string, containsDot: string): string {
  return `(${containsDot} AND ${lastCharacter} IN ('1', '3', '5', '7', '9'))`;
}

export async function openReportScanner(source: ReportScanSource, columns: ScanColumns = ALL_SCAN_COLUMNS, half?: KeyHalf): Promise<ReportScanner> {
  if (source.kind === 'sqlite') {
    const { SqliteReportScanner } = await import('./sqlite/report-scan.js');
    return new SqliteReportScanner(source.file, columns, half);
  }
  const { openPostgresReportScanner } = await import('./postgres/report-scan.js');
  return openPostgresReportScanner(source.connectionString, columns, half);
}

/** `AND <condition>` limiting a scan to a half of the keys, or nothing for a whole scan. */
export function keyHalfClause(half: KeyHalf | undefined, lastCharacter: string, containsDot: string): string {
  if (half === undefined) return '';
  const one = keyHalfOneCondition(lastCharacter, containsDot);
  return half === 1 ? ` AND ${one}` : ` AND NOT ${one}`;
}
