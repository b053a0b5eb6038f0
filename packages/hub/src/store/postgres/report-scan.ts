import pg from 'pg';
import { clientHalfClause, POSTGRES_SPLIT, scanSelectList, type ClientHalf, type ReportScanner, type ScanColumns, type ScanCursor, type ScanRow } from '../report-scan.js';

/** BIGINT columns (id, ts) as numbers, as the store's pool reads them. */
const types = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === 20 && format !== 'binary') return (value: string) => Number(value);
    return pg.types.getTypeParser(oid, format);
  },
} as pg.CustomTypesConfig;

/** Keyset pages on `reports_site_ts_id (site_id, ts, id)`: one index range per page, every partition in it. */
class PostgresReportScanner implements ReportScanner {
  private readonly selectList: string;
  private readonly halfClause: string;

  constructor(private readonly client: pg.Client, columns: ScanColumns, half: ClientHalf | undefined) {
    this.selectList = scanSelectList(columns);
    this.halfClause = clientHalfClause(half, POSTGRES_SPLIT);
  }

  async page(siteId: number, from: number, to: number, cursor: ScanCursor, limit: number): Promise<ScanRow[]> {
    const result = await this.client.query<ScanRow>({
      text: `SELECT ${this.selectList} FROM reports
        WHERE site_id = $1 AND ts >= $2 AND ts < $3 AND (ts, id) > ($4, $5)${this.halfClause} ORDER BY ts, id LIMIT $6`,
      values: [siteId, Math.max(from, cursor.ts), to, cursor.ts, cursor.id, limit],
      rowMode: 'array',
      types,
    });
    return result.rows;
  }

  async requestLines(siteId: number, ids: readonly number[]): Promise<Map<number, { method: string; host: string }>> {
    const result = await this.client.query<{ id: number; method: string; host: string }>({
      text: 'SELECT id, method, host FROM reports WHERE site_id = $1 AND id = ANY($2::bigint[])', values: [siteId, ids], types,
    });
    return new Map(result.rows.map((r) => [r.id, { method: r.method, host: r.host }]));
  }

  async close(): Promise<void> {
    await this.client.end();
  }
}

export async function openPostgresReportScanner(connectionString: string, columns: ScanColumns, half?: ClientHalf): Promise<ReportScanner> {
  const client = new pg.Client({ connectionString, connectionTimeoutMillis: 10_000, application_name: 'moat-hub-preview' });
  await client.connect();
  return new PostgresReportScanner(client, columns, half);
}
