/**
 * The threshold preview's read of a site's reports, oldest first in keyset pages, from a connection of
 * its own (the worker's). Not the rule preview's scanner: a threshold rule reads other columns (the
 * stored hashed keys, when the store has them). Same index, same keyset, the same split by client.
 */
import { clientHalfClause, POSTGRES_SPLIT, SCAN_MMAP_BYTES, SQLITE_SPLIT, type ClientHalf, type ReportScanSource, type ScanCursor } from '../store/report-scan.js';
import { ColumnPageReader, type PageColumn } from '../store/sqlite/column-page.js';

/**
 * id, ts, ip, method, path, user agent, treatment code (0 Passed, 1 Allowed, 2 Blocked), aggregate count,
 * keys text, response status (null when none was reported, or when the scan was opened without it), and
 * where the client read the address (null: it did not say, the Wafris gem), which decides what counts as live.
 */
export type ThresholdScanRow = [
  id: number, ts: number, ip: string, method: string | null, path: string | null, userAgent: string | null, treatment: number,
  aggregateCount: number | null, keys: string | null, status: number | null, ipSource: string | null,
];

/** The optional columns a threshold scan reads: each only when the draft's rule needs it. */
export interface ThresholdScanColumns {
  keys: boolean;
  status: boolean;
  /**
   * Method, path and user agent: a split scan reads the method and path only when the condition looks at
   * them, and no user agent (its examples are read by id), a string less per report for each.
   */
  method?: boolean;
  path?: boolean;
  userAgent?: boolean;
}

/** A report an example shows, read by id after the scan: ts, ip, method, path, user agent, treatment code. */
export type ExampleRow = [ts: number, ip: string, method: string, path: string, userAgent: string, treatment: number];

export interface ThresholdReportScanner {
  /** Whether the stored reports carry the reported keys (else keyed rules count every report by IP). */
  readonly keysStored: boolean;
  /** Whether the store has the status column (a store not yet migrated has none: a status condition then matches nothing). */
  readonly statusStored: boolean;
  page(siteId: number, from: number, to: number, cursor: ScanCursor, limit: number): Promise<ThresholdScanRow[]>;
  /** A few reports of the site by id (the examples of a split scan). */
  byIds(siteId: number, ids: readonly number[]): Promise<Map<number, ExampleRow>>;
  close(): Promise<void>;
}

/** `keys` and `status` when wanted and the column exists (a string per report costs; read only for a rule that needs it). */
function selectList(read: ThresholdScanColumns, keys: boolean, status: boolean): string {
  const column = (name: string, wanted: boolean | undefined) => (wanted === false ? 'NULL' : name);
  return `id, ts, ip, ${column('method', read.method)}, ${column('path', read.path)}, ${column('user_agent', read.userAgent)}, treatment, aggregate_count, `
    + `${keys ? 'keys' : 'NULL'}, ${status ? 'status' : 'NULL'}, ip_source`;
}

const EXAMPLE_COLUMNS = 'id, ts, ip, method, path, user_agent, treatment';

/** `half`: only that half of the counted clients (a split scan; its rule's key kind needs the keys column). */
export async function openThresholdScanner(source: ReportScanSource, read: ThresholdScanColumns, half?: ClientHalf): Promise<ThresholdReportScanner> {
  if (source.kind === 'sqlite') {
    const { default: Database } = await import('better-sqlite3');
    const db = new Database(source.file, { readonly: true, fileMustExist: true, timeout: 5000 });
    db.pragma(`mmap_size = ${SCAN_MMAP_BYTES}`);
    const hasColumn = (name: string) => db.prepare("SELECT 1 FROM pragma_table_info('reports') WHERE name = ?").get(name) !== undefined;
    const keysStored = hasColumn('keys');
    const statusStored = hasColumn('status');
    // Without stored keys every report counts by IP, so the split is by IP too.
    const split = half?.keyKind !== undefined && !keysStored ? { half: half.half } : half;
    // Each page its own read transaction: a long scan never holds one WAL snapshot; read as columns (see the rule preview's scanner).
    const text = (sql: string, wanted: boolean | undefined): PageColumn => (wanted === false ? null : { sql, type: 'text' });
    const pages = new ColumnPageReader<ThresholdScanRow>(db, [
      { sql: 'id', type: 'int' }, { sql: 'ts', type: 'int' }, { sql: 'ip', type: 'text' }, text('method', read.method), text('path', read.path),
      text('user_agent', read.userAgent), { sql: 'treatment', type: 'int' }, { sql: 'aggregate_count', type: 'int?' },
      read.keys && keysStored ? { sql: 'keys', type: 'text?' } : null, read.status && statusStored ? { sql: 'status', type: 'int?' } : null,
      { sql: 'ip_source', type: 'text?' },
    ], `FROM reports INDEXED BY reports_site_ts
      WHERE site_id = ? AND ts >= ? AND ts < ? AND (ts > ? OR id > ?)${clientHalfClause(split, SQLITE_SPLIT)} ORDER BY ts, id LIMIT ?`);
    const byId = db.prepare<[number, number], [number, ...ExampleRow]>(`SELECT ${EXAMPLE_COLUMNS} FROM reports WHERE id = ? AND site_id = ?`).raw();
    return {
      keysStored,
      statusStored,
      page: async (siteId, from, to, cursor, limit) => pages.page(siteId, Math.max(from, cursor.ts), to, cursor.ts, cursor.id, limit),
      byIds: async (siteId, ids) => {
        const found = new Map<number, ExampleRow>();
        for (const id of ids) {
          const row = byId.get(id, siteId);
          if (row) found.set(id, row.slice(1) as ExampleRow);
        }
        return found;
      },
      close: async () => { db.close(); },
    };
  }
  const { default: pg } = await import('pg');
  // BIGINT (id, ts) as numbers, as the store reads them.
  const types = {
    getTypeParser(oid: number, format?: 'text' | 'binary') {
      if (oid === 20 && format !== 'binary') return (value: string) => Number(value);
      return pg.types.getTypeParser(oid, format);
    },
  } as import('pg').CustomTypesConfig;
  const client = new pg.Client({ connectionString: source.connectionString, connectionTimeoutMillis: 10_000, application_name: 'moat-hub-threshold-preview' });
  await client.connect();
  try {
    const found = await client.query<{ column_name: string }>(
      "SELECT column_name FROM information_schema.columns WHERE table_name = 'reports' AND column_name IN ('keys', 'status')");
    const keysStored = found.rows.some((r) => r.column_name === 'keys');
    const statusStored = found.rows.some((r) => r.column_name === 'status');
    const split = half?.keyKind !== undefined && !keysStored ? { half: half.half } : half;
    const text = `SELECT ${selectList(read, read.keys && keysStored, read.status && statusStored)} FROM reports
      WHERE site_id = $1 AND ts >= $2 AND ts < $3 AND (ts, id) > ($4, $5)${clientHalfClause(split, POSTGRES_SPLIT)} ORDER BY ts, id LIMIT $6`;
    return {
      keysStored,
      statusStored,
      page: async (siteId, from, to, cursor, limit) => (await client.query<ThresholdScanRow>({
        text, values: [siteId, Math.max(from, cursor.ts), to, cursor.ts, cursor.id, limit], rowMode: 'array', types,
      })).rows,
      byIds: async (siteId, ids) => {
        const rows = (await client.query<[number, ...ExampleRow]>({
          text: `SELECT ${EXAMPLE_COLUMNS} FROM reports WHERE site_id = $1 AND id = ANY($2::bigint[])`, values: [siteId, ids], rowMode: 'array', types,
        })).rows;
        return new Map(rows.map((row) => [row[0], row.slice(1) as ExampleRow]));
      },
      close: async () => { await client.end(); },
    };
  } catch (error) {
    await client.end().catch(() => undefined);
    throw error;
  }
}
