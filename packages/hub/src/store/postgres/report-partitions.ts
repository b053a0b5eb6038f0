import type { Pool, PoolClient } from 'pg';
import { LOCK_NAMESPACE, LOCKS } from './advisory-locks.js';
import { withTransaction } from './transaction.js';

/**
 * The PostgreSQL reports table is range-partitioned by `ts`, one partition per UTC day
 * (`reports_dYYYYMMDD`, [day start, next day start) in Unix seconds), plus `reports_default` for any
 * timestamp no day partition covers, so no report is ever refused or lost. Day partitions are created
 * ahead by maintenance (and when the store opens); retention drops whole day partitions instead of
 * deleting rows, which leaves no dead rows for VACUUM and takes milliseconds whatever the day held.
 *
 * Retention granularity is therefore one day: a day's reports go when the whole day is older than the
 * raw retention. Rows in the default partition are still deleted one by one (few: dates outside every
 * day partition, such as far-past or far-future reports).
 */

export const DAY_SECONDS = 86_400;
/** Day partitions kept ready beyond today, so a hub whose maintenance stalls for a while still ingests into them. */
export const PARTITION_DAYS_AHEAD = 3;
export const DEFAULT_PARTITION = 'reports_default';

/**
 * How long partition DDL waits for its table lock: creating and dropping partitions lock the reports
 * table briefly, and a DDL statement waiting in the lock queue would hold up every insert and query
 * behind it. After this it gives up and the next maintenance pass tries again.
 */
const DDL_LOCK_TIMEOUT = '2s';

/** SQLSTATE lock_not_available: the lock_timeout expired. */
const LOCK_NOT_AVAILABLE = '55P03';

export interface DayPartition {
  name: string;
  /** Inclusive start and exclusive end, Unix seconds. */
  from: number;
  to: number;
}

export function dayFloor(t: number): number {
  return t - (((t % DAY_SECONDS) + DAY_SECONDS) % DAY_SECONDS);
}

/** `reports_d20261201` for the day starting at `dayStart` (UTC); the same spelling the migration uses. */
export function partitionName(dayStart: number): string {
  const date = new Date(dayStart * 1000);
  return Number.isNaN(date.getTime()) ? 'reports_invalid' : `reports_d${date.toISOString().slice(0, 10).replaceAll('-', '')}`;
}

/** The day a partition name stands for, or undefined for any other table (the default partition). */
export function partitionDay(name: string): number | undefined {
  const m = /^reports_d(\d{4})(\d{2})(\d{2})$/.exec(name);
  if (!m) return undefined;
  const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  return Number.isFinite(ms) && partitionName(ms / 1000) === name ? ms / 1000 : undefined;
}

/** The day partitions attached to `reports`, oldest first. */
export async function listDayPartitions(client: Pool | PoolClient): Promise<DayPartition[]> {
  const { rows } = await client.query<{ name: string }>(
    `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
     WHERE i.inhparent = 'reports'::regclass`);
  const days: DayPartition[] = [];
  for (const { name } of rows) {
    const from = partitionDay(name);
    if (from !== undefined) days.push({ name, from, to: from + DAY_SECONDS });
  }
  return days.sort((a, b) => a.from - b.from);
}

/**
 * Makes sure day partitions exist from yesterday to PARTITION_DAYS_AHEAD days after `now`; returns the
 * names created. Hub instances doing this at once queue on an advisory lock, and the second finds the
 * first one's partitions: nothing is created twice, nothing fails. A lock it cannot get within
 * DDL_LOCK_TIMEOUT leaves the rest for the next pass (answering what was created so far).
 */
export async function ensureDayPartitions(pool: Pool, now: number): Promise<string[]> {
  const today = dayFloor(now);
  const wanted: number[] = [];
  for (let day = today - DAY_SECONDS; day <= today + PARTITION_DAYS_AHEAD * DAY_SECONDS; day += DAY_SECONDS) {
    // Only days with a yyyymmdd name (years 1970–9999): a clock that far off stores into the default partition.
    if (partitionDay(partitionName(day)) === day) wanted.push(day);
  }
  // Read without the lock first: on almost every pass every partition exists and nothing is locked.
  const have = new Set((await listDayPartitions(pool)).map((p) => p.from));
  const created: string[] = [];
  for (const day of wanted.filter((d) => !have.has(d))) {
    try {
      const name = await withTransaction(pool, async (client) => {
        await client.query('SELECT pg_advisory_xact_lock($1, $2)', [LOCK_NAMESPACE, LOCKS.partitions]);
        if ((await listDayPartitions(client)).some((p) => p.from === day)) return undefined;
        await client.query(`SET LOCAL lock_timeout = '${DDL_LOCK_TIMEOUT}'`);
        return createDayPartition(client, day);
      });
      if (name) created.push(name);
    } catch (error) {
      if ((error as { code?: string }).code === LOCK_NOT_AVAILABLE) break;
      throw error;
    }
  }
  return created;
}

/**
 * Creates the partition of one day inside the caller's transaction. Reports of that day already in the
 * default partition (stored while no partition covered the day) move into it first: PostgreSQL refuses
 * to attach a partition whose range the default partition still holds rows of.
 */
async function createDayPartition(client: PoolClient, day: number): Promise<string> {
  const name = partitionName(day);
  if (partitionDay(name) !== day) throw new Error(`not a day start: ${day}`);
  // DDL takes no bind parameters: the name is built from digits and both bounds are integers checked above.
  await client.query(`CREATE TABLE ${name} (LIKE reports INCLUDING DEFAULTS)`);
  await client.query(`WITH moved AS (DELETE FROM ${DEFAULT_PARTITION} WHERE ts >= $1 AND ts < $2 RETURNING *)
    INSERT INTO ${name} SELECT * FROM moved`, [day, day + DAY_SECONDS]);
  // ATTACH builds the partitioned indexes on the new table and takes a weaker lock on `reports` than
  // CREATE TABLE … PARTITION OF would.
  await client.query(`ALTER TABLE reports ATTACH PARTITION ${name} FOR VALUES FROM (${day}) TO (${day + DAY_SECONDS})`);
  return name;
}

/**
 * Drops the day partitions that end at or before `cutoff` and whose reports are all folded into the
 * rollups (every id at or below the rollup watermark); returns the reports dropped with them. The
 * watermark is checked with the partition's lock held, so no insert can slip in between the check and
 * the drop. DROP locks `reports` itself for a moment; a lock not granted within DDL_LOCK_TIMEOUT leaves
 * the partition for the next pass.
 */
export async function dropExpiredPartitions(pool: Pool, cutoff: number): Promise<number> {
  let dropped = 0;
  for (const partition of await listDayPartitions(pool)) {
    if (partition.to > cutoff) break;
    try {
      dropped += await withTransaction(pool, async (client) => {
        await client.query('SELECT pg_advisory_xact_lock($1, $2)', [LOCK_NAMESPACE, LOCKS.partitions]);
        if (!(await listDayPartitions(client)).some((p) => p.name === partition.name)) return 0;
        // Counted before the lock: a day past retention gets no new reports (ingest refuses them), and
        // counting millions of rows under the exclusive lock would stall every query planned over `reports`.
        const count = (await client.query<{ n: number }>(`SELECT count(*) AS n FROM ${partition.name}`)).rows[0]!.n;
        await client.query(`SET LOCAL lock_timeout = '${DDL_LOCK_TIMEOUT}'`);
        await client.query(`LOCK TABLE ${partition.name} IN ACCESS EXCLUSIVE MODE`);
        const { rows } = await client.query<{ unfolded: boolean }>(
          `SELECT coalesce(max(id), 0) > (SELECT last_report_id FROM rollup_state WHERE id = 1) AS unfolded FROM ${partition.name}`);
        if (rows[0]!.unfolded) return 0;
        await client.query(`DROP TABLE ${partition.name}`);
        return count;
      });
    } catch (error) {
      if ((error as { code?: string }).code === LOCK_NOT_AVAILABLE) break;
      throw error;
    }
  }
  return dropped;
}
