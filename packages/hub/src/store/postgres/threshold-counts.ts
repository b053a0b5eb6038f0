import type { Pool } from 'pg';
import { BUCKETS } from '../../thresholds/sliding-counters.js';
import type { CountIncrement, CountWindow, FleetCountStore } from '../../thresholds/threshold-store.js';

/**
 * The fleet's threshold counts in table threshold_counts (migration 10): one row per rule, key and bucket,
 * which every hub adds its increments to. Each call is one statement over arrays, so a flush of any size
 * is one round trip, and each statement commits on its own: of two hubs adding and then summing at once,
 * the one summing last sees both additions (its sum starts after its own addition committed, which was
 * after the other's sum began, which was after the other's addition committed).
 */
export class PostgresThresholdCounts implements FleetCountStore {
  constructor(private readonly pool: Pool) {}

  async addCounts(increments: readonly CountIncrement[]): Promise<void> {
    if (increments.length === 0) return;
    await this.pool.query(`INSERT INTO threshold_counts (rule_id, rule_version, count_key, bucket, count)
      SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::bigint[], $5::bigint[])
      ON CONFLICT (rule_id, count_key, bucket, rule_version) DO UPDATE SET count = threshold_counts.count + excluded.count`,
    [increments.map((i) => i.ruleId), increments.map((i) => i.ruleVersion), increments.map((i) => i.key),
      increments.map((i) => i.bucket), increments.map((i) => i.count)]);
  }

  async sumCounts(windows: readonly CountWindow[]): Promise<number[]> {
    if (windows.length === 0) return [];
    const { rows } = await this.pool.query<{ i: string; total: string }>(`SELECT w.i, sum(c.count) AS total
      FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::bigint[]) WITH ORDINALITY AS w(rule_id, rule_version, count_key, head, i)
      JOIN threshold_counts c ON c.rule_id = w.rule_id AND c.count_key = w.count_key AND c.rule_version = w.rule_version
        AND c.bucket > w.head - $5
      GROUP BY w.i`,
    [windows.map((w) => w.ruleId), windows.map((w) => w.ruleVersion), windows.map((w) => w.key), windows.map((w) => w.head), BUCKETS]);
    const totals = windows.map(() => 0);
    for (const row of rows) totals[Number(row.i) - 1] = Number(row.total);
    return totals;
  }

  async resetCounts(keys: readonly { ruleId: number; key: string }[]): Promise<void> {
    if (keys.length === 0) return;
    await this.pool.query(`DELETE FROM threshold_counts c USING unnest($1::bigint[], $2::text[]) AS k(rule_id, count_key)
      WHERE c.rule_id = k.rule_id AND c.count_key = k.count_key`, [keys.map((k) => k.ruleId), keys.map((k) => k.key)]);
  }

  async pruneCounts(nowSeconds: number): Promise<number> {
    const result = await this.pool.query(`DELETE FROM threshold_counts c WHERE NOT EXISTS (
      SELECT 1 FROM threshold_rules r WHERE r.id = c.rule_id AND r.updated_at = c.rule_version
        AND c.bucket > floor($1::float8 * $2 / r.window_seconds) - $2)`, [nowSeconds, BUCKETS]);
    return result.rowCount ?? 0;
  }
}
