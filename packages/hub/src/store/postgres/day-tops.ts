import type { Pool, PoolClient } from 'pg';
import { DAY_SECONDS, DAY_TOP_DIMENSIONS, HEAD_VALUES, type Head, dayHead, hourHeadsOf } from '../top-heads.js';

/**
 * The largest values of each listed hour ($3) of one site and dimension, in the order of the index
 * hour_top_by_total (one backward descent per hour, `$4` entries): total, blocked, value in byte order.
 */
export const HOUR_HEADS_SQL = `SELECT h.hour, t.value, t.total, t.blocked FROM unnest($3::bigint[]) AS h(hour)
  CROSS JOIN LATERAL (SELECT value, total, blocked FROM hour_top WHERE site_id = $1 AND dim = $2 AND hour = h.hour
    ORDER BY total DESC, blocked DESC, value COLLATE "C" DESC LIMIT $4) t`;

/** Hour heads of the given hours, keyed by hour (hours without rows are left out), and the rows read. */
export async function hourHeads(db: Pool | PoolClient, siteId: number, dim: string, hours: readonly number[], n: number): Promise<{ heads: Map<number, Head>; read: number }> {
  if (hours.length === 0) return { heads: new Map(), read: 0 };
  const { rows } = await db.query<{ hour: number; value: string; total: number; blocked: number }>(HOUR_HEADS_SQL, [siteId, dim, hours, n + 1]);
  return { heads: hourHeadsOf(rows, n), read: rows.length };
}

/**
 * Day summaries for the top lists (migration 19), as in the SQLite store: the days a folded chunk
 * touched lose their summaries and become pending (floor NULL), in the rollup's transaction.
 */
export async function markChangedDays(client: PoolClient, lo: number, hi: number): Promise<void> {
  await client.query(`WITH days AS (SELECT DISTINCT site_id, ts - ts % ${DAY_SECONDS} AS day FROM reports WHERE id > $1 AND id <= $2),
      pending AS (INSERT INTO day_top_floor (site_id, dim, day, floor) SELECT d.site_id, dim, d.day, NULL::bigint FROM days d, unnest($3::text[]) AS dim
        ON CONFLICT (site_id, dim, day) DO UPDATE SET floor = NULL)
    DELETE FROM day_top t USING days d WHERE t.site_id = d.site_id AND t.dim = ANY($3::text[]) AND t.day = d.day`,
  [lo, hi, DAY_TOP_DIMENSIONS]);
}

/**
 * Builds pending days the site has moved past (it has a report of a later day), newest first, a
 * dimension at a time, until `rowBudget` hourly rows were read. Returns the rows read.
 */
export async function buildFinishedDays(client: PoolClient, rowBudget: number): Promise<number> {
  const { rows: pending } = await client.query<{ site_id: number; dim: string; day: number }>(`SELECT site_id, dim, day FROM day_top_floor p
    WHERE floor IS NULL AND day + ${DAY_SECONDS} <= (SELECT max(minute) FROM minute_stats m WHERE m.site_id = p.site_id)
    ORDER BY day DESC LIMIT 64`);
  let read = 0;
  for (const { site_id: siteId, dim, day } of pending) {
    if (read >= rowBudget) break;
    read += await buildDay(client, siteId, dim, day);
  }
  return read;
}

/** Summarises one dimension of one day of one site; returns the hourly rows read. */
async function buildDay(client: PoolClient, siteId: number, dim: string, day: number): Promise<number> {
  const hours = (await client.query<{ hour: number }>('SELECT hour FROM hour_dim_size WHERE site_id = $1 AND dim = $2 AND hour >= $3 AND hour < $4',
    [siteId, dim, day, day + DAY_SECONDS])).rows.map((r) => r.hour);
  const { heads, read } = await hourHeads(client, siteId, dim, hours, HEAD_VALUES);
  const head = dayHead([...heads.values()], HEAD_VALUES);
  await client.query('DELETE FROM day_top WHERE site_id = $1 AND dim = $2 AND day = $3', [siteId, dim, day]);
  if (head.rows.length > 0) {
    await client.query(`INSERT INTO day_top (site_id, dim, day, value, total, blocked, missed)
      SELECT $1, $2, $3, * FROM unnest($4::text[], $5::bigint[], $6::bigint[], $7::bigint[])`,
    [siteId, dim, day, head.rows.map((r) => r.value), head.rows.map((r) => r.total), head.rows.map((r) => r.blocked), head.rows.map((r) => r.missed)]);
  }
  await client.query('UPDATE day_top_floor SET floor = $4 WHERE site_id = $1 AND dim = $2 AND day = $3', [siteId, dim, day, head.floor]);
  return read;
}
