/**
 * The threshold preview's read of a site's reports, oldest first in keyset pages, from a connection of
 * its own (the worker's). Not the rule preview's scanner: a threshold rule reads other columns (the
 * stored hashed keys, when the store has them) and needs no split by client. Same index, same keyset.
 */
import type { ReportScanSource, ScanCursor } from '../store/report-scan.js';

/**
 * id, ts, ip, method, path, user agent, treatment code (0 Passed, 1 Allowed, 2 Blocked), aggregate count,
 * keys text, response status (null when none was reported, or when the scan was opened without it).
 */
export type ThresholdScanRow = [
  id: number, ts: number, ip: string, method: string, path: string, userAgent: string, treatment: number,
  aggregateCount: number | null, keys: string | null, status: number | null,
];

/** The optional columns a threshold scan reads: each only when the draft's rule needs it. */
export interface ThresholdScanColumns {
  keys: boolean;
  status: boolean;
}

export interface ThresholdReportScanner {
  /** Whether the stored reports carry the reported keys (else keyed rules count every report by IP). */
  readonly keysStored: boolean;
  /** Whether the store has the status column (a store not yet migrated has none: a status condition then matches nothing). */
  readonly statusStored: boolean;
  page(siteId: number, from: number, to: number, cursor: ScanCursor, limit: number): Promise<ThresholdScanRow[]>;
  close(): Promise<void>;
}

/** `keys` and `status` when wanted and the column exists (a string per report costs; read only for a rule that needs it). */
function selectList(keys: boolean, status: boolean): string {
  return `id, ts, ip, method, path, user_agent, treatment, aggregate_count, ${keys ? 'keys' : 'NULL'}, ${status ? 'status' : 'NULL'}`;
}

export async function openThresholdScanner(source: ReportScanSource, read: ThresholdScanColumns): Promise<ThresholdReportScanner> {
  if (source.kind === 'sqlite') {
    const { default: Database } = await import('better-sqlite3');
    const db = new Database(source.file, { readonly: true, fileMustExist: true, timeout: 5000 });
    db.pragma('mmap_size = 268435456');
    const hasColumn = (name: string) => db.prepare("SELECT 1 FROM pragma_table_info('reports') WHERE name = ?").get(name) !== undefined;
    const keysStored = hasColumn('keys');
    const statusStored = hasColumn('status');
    // Each page its own read transaction: a long scan never holds one WAL snapshot (see the rule preview's scanner).
    const stmt = db.prepare<[number, number, number, number, number, number], ThresholdScanRow>(
      `SELECT ${selectList(read.keys && keysStored, read.status && statusStored)} FROM reports INDEXED BY reports_site_ts
      WHERE site_id = ? AND ts >= ? AND ts < ? AND (ts > ? OR id > ?) ORDER BY ts, id LIMIT ?`,
    ).raw();
    return {
      keysStored,
      statusStored,
      page: async (siteId, from, to, cursor, limit) => stmt.all(siteId, Math.max(from, cursor.ts), to, cursor.ts, cursor.id, limit),
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
    const text = `SELECT ${selectList(read.keys && keysStored, read.status && statusStored)} FROM reports
      WHERE site_id = $1 AND ts >= $2 AND ts < $3 AND (ts, id) > ($4, $5) ORDER BY ts, id LIMIT $6`;
    return {
      keysStored,
      statusStored,
      page: async (siteId, from, to, cursor, limit) => (await client.query<ThresholdScanRow>({
        text, values: [siteId, Math.max(from, cursor.ts), to, cursor.ts, cursor.id, limit], rowMode: 'array', types,
      })).rows,
      close: async () => { await client.end(); },
    };
  } catch (error) {
    await client.end().catch(() => undefined);
    throw error;
  }
}
