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

/**
 * The memory map of the previews' SQLite scanners: SQLite's largest (SQLITE_MAX_MMAP_SIZE, just under 2 GiB).
 * A 10 M-report store is ~1.5 GiB, and a page past the map costs a system call: with the whole file mapped a
 * keyed scan of 10 M reports took 0.93–0.96× the time of a 256 MiB map. The map is the kernel's shared page
 * cache, not the worker's own memory.
 */
export const SCAN_MMAP_BYTES = 0x7fff0000;

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

/**
 * A half of the clients a keyed counter counts (a keyed rate limit, a keyed threshold rule): a report
 * carrying the rule's key (`kind`) belongs to the half of its hash's last hex digit (odd: half 1), one
 * without it to its IP's half (KeyHalf). Every report of one counted client, a key from any address or
 * an address without the key, falls in one half, so two workers count exactly what one pass counts.
 */
export interface ClientHalf {
  half: KeyHalf;
  /** The key kind the counter prefers (`header:x-api-key`); absent: by IP alone. */
  keyKind?: string;
}

/** Functions a dialect spells differently: (haystack, needle) → 1-based position or 0, and (text, from) → one character. */
export interface SplitDialect {
  position(haystack: string, needle: string): string;
  character(text: string, at: string): string;
  lastCharacter(text: string): string;
}

export const SQLITE_SPLIT: SplitDialect = {
  position: (haystack, needle) => `instr(${haystack}, ${needle})`,
  character: (text, at) => `substr(${text}, ${at}, 1)`,
  lastCharacter: (text) => `substr(${text}, -1)`,
};

export const POSTGRES_SPLIT: SplitDialect = {
  position: (haystack, needle) => `strpos(${haystack}, ${needle})`,
  character: (text, at) => `substr(${text}, ${at}, 1)`,
  lastCharacter: (text) => `right(${text}, 1)`,
};

/** Canonical key kinds (`header:<token>`, `cookie:<name>`, `user`): nothing that could end the SQL literal but `'`, doubled. */
const KEY_KIND_RE = /^[\x21-\x7e]{1,200}$/;

/**
 * `AND <condition>` limiting a scan to a half of the clients, or nothing for a whole scan. The key kind
 * goes in as a literal (validated, quotes doubled): the statements' positional parameters stay as they are.
 */
export function clientHalfClause(split: ClientHalf | undefined, dialect: SplitDialect): string {
  if (split === undefined) return '';
  const byIp = keyHalfOneCondition(dialect.lastCharacter('ip'), `${dialect.position('ip', "'.'")} > 0`);
  let one = byIp;
  if (split.keyKind !== undefined) {
    if (!KEY_KIND_RE.test(split.keyKind) || split.keyKind.includes(' ')) throw new Error('not a key kind');
    // ' ' || keys: the kind at a token's start only (`header:x-api-key` is not `header:my-x-api-key`); the
    // token starts at that position in `keys`, its hash after `<kind>=`, 32 digits, the last one deciding.
    const needle = `' ${split.keyKind.replace(/'/g, "''")}='`;
    const at = dialect.position(`' ' || keys`, needle);
    const lastDigit = dialect.character('keys', `${at} + ${split.keyKind.length + 32}`);
    one = `(CASE WHEN ${at} > 0 THEN ${lastDigit} IN ('1', '3', '5', '7', '9', 'b', 'd', 'f') ELSE ${byIp} END)`;
  }
  return split.half === 1 ? ` AND ${one}` : ` AND NOT ${one}`;
}

export async function openReportScanner(source: ReportScanSource, columns: ScanColumns = ALL_SCAN_COLUMNS, half?: ClientHalf): Promise<ReportScanner> {
  if (source.kind === 'sqlite') {
    const { SqliteReportScanner } = await import('./sqlite/report-scan.js');
    return new SqliteReportScanner(source.file, columns, half);
  }
  const { openPostgresReportScanner } = await import('./postgres/report-scan.js');
  return openPostgresReportScanner(source.connectionString, columns, half);
}
