import type { Pool, PoolClient } from 'pg';
import { addToSketch, estimate, mergeInto, newSketch } from '../../stats/hyperloglog.js';
import {
  EXACT_UNIQUE_LIMIT, PRUNE_CHUNK, REPORT_MAX_AHEAD_SECONDS, ROLLUP_CHUNK, SIZED_DIMENSIONS, TREATMENT_CODE, type ReportRow as SharedReportRow,
  type TotalsRow, hourDimensions, hourFloor, hoursOf, parseCursor, reportPage, storedKeysText, storedStatus, toRuleHits, toStoredReport, toTotals,
} from '../report-rows.js';
import type {
  BatchKey, InsertOutcome, PassedSampling, ReportFilter, ReportPage, ReportRecord, RetentionPolicy, RuleHitKeys, RuleHits, StoredReport, TimeBucket, TopDimension,
  TopEntry, Totals, ValueHour,
} from '../store.js';
import { DAY_BUILD_ROWS, DAY_SECONDS, DAY_TOP_DIMENSIONS, PLAIN_TOP_LIMIT, type Head, dayFloor, hourHeadSize, topFromHeads } from '../top-heads.js';
import { LOCK_NAMESPACE, LOCKS } from './advisory-locks.js';
import { buildFinishedDays, hourHeads, markChangedDays } from './day-tops.js';
import { DEFAULT_PARTITION } from './report-partitions.js';
import { withTransaction } from './transaction.js';

// Fixed SQL fragments only; every value that comes from outside is a bound parameter.
const HOUR_DIMENSIONS = hourDimensions({ always: 'true', tab: 'chr(9)' });

const HOUR_TOP_UPSERT = `ON CONFLICT (site_id, dim, hour, value) DO UPDATE SET total = hour_top.total + excluded.total,
  blocked = hour_top.blocked + excluded.blocked`;

/** Requests a reports row stands for: one, or its count (a count of Passed requests, see migration 6). */
const REQUESTS = 'coalesce(aggregate_count, 1)';

const ROLLUP_SQL: readonly string[] = [
  `INSERT INTO minute_stats (site_id, minute, total, blocked, allowed, passed, monitored, passed_counted)
    SELECT site_id, ts - ts % 60, sum(${REQUESTS}), count(*) FILTER (WHERE treatment = 2), count(*) FILTER (WHERE treatment = 1),
      coalesce(sum(${REQUESTS}) FILTER (WHERE treatment = 0), 0), count(monitored), coalesce(sum(aggregate_count), 0)
    FROM reports WHERE id > $1 AND id <= $2 GROUP BY 1, 2
    ON CONFLICT (site_id, minute) DO UPDATE SET total = minute_stats.total + excluded.total,
      blocked = minute_stats.blocked + excluded.blocked, allowed = minute_stats.allowed + excluded.allowed,
      passed = minute_stats.passed + excluded.passed, monitored = minute_stats.monitored + excluded.monitored,
      passed_counted = minute_stats.passed_counted + excluded.passed_counted`,
  ...HOUR_DIMENSIONS.map(({ dim, expr, where }) => `INSERT INTO hour_top (site_id, dim, hour, value, total, blocked)
    SELECT site_id, '${dim}', ts - ts % 3600, ${expr}, sum(${REQUESTS}), count(*) FILTER (WHERE treatment = 2)
    FROM reports WHERE id > $1 AND id <= $2 AND ${where} GROUP BY 1, 3, 4 ${HOUR_TOP_UPSERT}`),
  // Monitor-mode matches, one row per monitored entry; "blocked" counts would-have-blocked (all of them).
  `INSERT INTO hour_top (site_id, dim, hour, value, total, blocked)
    SELECT r.site_id, 'monitor', r.ts - r.ts % 3600,
      coalesce(m->>'rule_id', (m->>'category') || chr(9) || (m->>'rule')), count(*), count(*)
    FROM reports r CROSS JOIN LATERAL jsonb_array_elements(r.monitored) m
    WHERE r.id > $1 AND r.id <= $2 AND r.monitored IS NOT NULL
    GROUP BY 1, 3, 4 ${HOUR_TOP_UPSERT}`,
];

/** Report columns in insert order, each with the array type unnest() reads it as. */
const INSERT_SQL = `INSERT INTO reports (site_id, ts, ip, method, host, path, parameter, user_agent, request_id,
    treatment, category, rule, rule_id, monitored, ip_source, country, aggregate_count, keys, status)
  SELECT $1, * FROM unnest($2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
    $9::text[], $10::smallint[], $11::text[], $12::text[], $13::text[], $14::jsonb[], $15::text[], $16::text[], $17::bigint[],
    $18::text[], $19::smallint[])`;

/** `monitored` is jsonb, which pg parses. */
type ReportRow = SharedReportRow<StoredReport['monitored']>;

/**
 * Raw reports, their rollups and the dashboard queries, on PostgreSQL, safe with several hub instances
 * on one database:
 * - Ingestion is one `INSERT … SELECT FROM unnest(arrays)` per batch: one statement and 19 parameters
 *   whatever the batch size.
 * - Sequence ids commit out of order across connections, so the rollup watermark may only pass ids that
 *   are proven committed: every ingest transaction holds a shared advisory lock, and the rollup takes it
 *   exclusively for one statement to read max(id) — every id at or below it is committed by then, and
 *   later inserts get larger ids.
 * - Rollups lock the watermark row (FOR UPDATE) for the whole fold, so two instances rolling up run one
 *   after the other and the second starts from the first one's watermark: nothing is counted twice.
 */
export class PostgresReports {
  constructor(private readonly pool: Pool) {}

  /**
   * Stores a batch in one transaction. With a batch id, its ledger row is inserted first: a second
   * transaction with the same id waits on that row's unique key until the first ends, then finds it
   * (ON CONFLICT DO NOTHING, no row) and stores nothing — exactly once, also across hub instances.
   */
  async insert(siteId: number, records: readonly ReportRecord[], batch?: BatchKey): Promise<InsertOutcome> {
    if (records.length === 0 && !batch) return 'stored';
    const columns: unknown[][] = Array.from({ length: 18 }, () => new Array<unknown>(records.length));
    records.forEach((r, i) => {
      const row = [r.ts, r.ip, r.method, r.host, r.path, r.parameter, r.userAgent, r.requestId, TREATMENT_CODE[r.treatment],
        r.category, r.rule, r.ruleId, r.monitored && r.monitored.length > 0 ? JSON.stringify(r.monitored) : null,
        r.ipSource, r.country, r.aggregateCount ?? null, storedKeysText(r.keys), storedStatus(r.status)];
      for (let c = 0; c < 18; c++) columns[c]![i] = row[c];
    });
    return withTransaction(this.pool, async (client): Promise<InsertOutcome> => {
      await client.query('SELECT pg_advisory_xact_lock_shared($1, $2)', [LOCK_NAMESPACE, LOCKS.ingestBarrier]);
      if (batch) {
        const claimed = await client.query(`INSERT INTO upsync_batches (site_id, batch_id, received_at, stored_rows, done)
          VALUES ($1, $2, $3, $4, true) ON CONFLICT (site_id, batch_id) DO NOTHING`, [siteId, batch.id, batch.receivedAt, records.length]);
        if (claimed.rowCount === 0) return 'duplicate';
      }
      if (records.length > 0) await client.query(INSERT_SQL, [siteId, ...columns]);
      return 'stored';
    });
  }

  /** Forgets batch ids received before `cutoff`, a chunk at a time; returns ids deleted. */
  async pruneBatchIds(cutoff: number, chunk: number): Promise<number> {
    return (await this.pool.query(`DELETE FROM upsync_batches WHERE ctid IN (
      SELECT ctid FROM upsync_batches WHERE received_at < $1 LIMIT $2)`, [cutoff, chunk])).rowCount ?? 0;
  }

  /**
   * Folds the next chunk of committed, unfolded reports into the rollups; then summarises finished days
   * for the top lists (a bounded number of hourly rows per call). Returns reports folded.
   */
  async rollUp(): Promise<number> {
    return withTransaction(this.pool, async (client) => {
      const lo = (await client.query<{ last_report_id: number }>(
        'SELECT last_report_id FROM rollup_state WHERE id = 1 FOR UPDATE')).rows[0]!.last_report_id;
      const committed = await this.committedHorizon(client);
      let folded = 0;
      if (committed > lo) {
        const chunk = (await client.query<{ hi: number | null; n: number }>(
          `SELECT max(id) AS hi, count(*) AS n FROM (SELECT id FROM reports WHERE id > $1 AND id <= $2 ORDER BY id LIMIT $3) s`,
          [lo, committed, ROLLUP_CHUNK])).rows[0]!;
        const hi = chunk.hi ?? committed;
        if (chunk.n > 0) {
          for (const sql of ROLLUP_SQL) await client.query(sql, [lo, hi]);
          await this.foldHourSummaries(client, lo, hi);
          await markChangedDays(client, lo, hi);
        }
        await client.query('UPDATE rollup_state SET last_report_id = $1 WHERE id = 1', [hi]);
        folded = chunk.n;
      }
      await buildFinishedDays(client, DAY_BUILD_ROWS);
      return folded;
    });
  }

  /** The largest report id below which every id is committed (the ingest barrier, held for one statement). */
  private async committedHorizon(client: PoolClient): Promise<number> {
    await client.query('SELECT pg_advisory_lock($1, $2)', [LOCK_NAMESPACE, LOCKS.ingestBarrier]);
    try {
      // READ COMMITTED: this statement's snapshot is taken after the lock, so it sees every finished insert.
      return (await client.query<{ max: number | null }>('SELECT max(id) AS max FROM reports')).rows[0]!.max ?? 0;
    } finally {
      await client.query('SELECT pg_advisory_unlock($1, $2)', [LOCK_NAMESPACE, LOCKS.ingestBarrier]);
    }
  }

  /** Updates the IP sketches and dimension sizes of the hours a folded chunk touched. */
  private async foldHourSummaries(client: PoolClient, lo: number, hi: number): Promise<void> {
    const ips = await client.query<{ site_id: number; hour: number; ip: string }>(
      'SELECT DISTINCT site_id, ts - ts % 3600 AS hour, ip FROM reports WHERE id > $1 AND id <= $2', [lo, hi]);
    const sketches = new Map<string, { siteId: number; hour: number; sketch: Uint8Array }>();
    for (const r of ips.rows) {
      const key = `${r.site_id}:${r.hour}`;
      let entry = sketches.get(key);
      if (!entry) sketches.set(key, (entry = { siteId: r.site_id, hour: r.hour, sketch: newSketch() }));
      addToSketch(entry.sketch, r.ip);
    }
    if (sketches.size > 0) {
      const entries = [...sketches.values()];
      const stored = await client.query<{ site_id: number; hour: number; sketch: Buffer }>(
        `SELECT s.site_id, s.hour, s.sketch FROM hour_ip_sketch s
         JOIN unnest($1::bigint[], $2::bigint[]) AS k(site_id, hour) ON s.site_id = k.site_id AND s.hour = k.hour`,
        [entries.map((e) => e.siteId), entries.map((e) => e.hour)]);
      for (const r of stored.rows) mergeInto(sketches.get(`${r.site_id}:${r.hour}`)!.sketch, r.sketch);
      await client.query(
        `INSERT INTO hour_ip_sketch (site_id, hour, sketch) SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bytea[])
         ON CONFLICT (site_id, hour) DO UPDATE SET sketch = excluded.sketch`,
        [entries.map((e) => e.siteId), entries.map((e) => e.hour), entries.map((e) => Buffer.from(e.sketch))]);
    }
    await client.query(
      `INSERT INTO hour_dim_size (site_id, dim, hour, distinct_values)
       SELECT h.site_id, d.dim, h.hour,
         (SELECT count(*) FROM hour_top t WHERE t.site_id = h.site_id AND t.dim = d.dim AND t.hour = h.hour)
       FROM (SELECT DISTINCT site_id, ts - ts % 3600 AS hour FROM reports WHERE id > $1 AND id <= $2) h
       CROSS JOIN unnest($3::text[]) AS d(dim)
       ON CONFLICT (site_id, dim, hour) DO UPDATE SET distinct_values = excluded.distinct_values`,
      [lo, hi, SIZED_DIMENSIONS]);
  }

  /** Deletes one chunk of expired rows (rollups, the default partition); returns rows deleted (0 when nothing is left to do). */
  async pruneChunk(policy: RetentionPolicy, now: number): Promise<number> {
    const rawCutoff = now - policy.rawSeconds;
    const rollupCutoff = now - policy.rollupSeconds;
    return withTransaction(this.pool, async (client) => {
      // One retention pass at a time across instances; a second one waits, then finds little to do.
      await client.query('SELECT pg_advisory_xact_lock($1, $2)', [LOCK_NAMESPACE, LOCKS.prune]);
      const watermark = (await client.query<{ w: number }>('SELECT last_report_id AS w FROM rollup_state WHERE id = 1')).rows[0]!.w;
      const sites = (await client.query<{ site_id: number }>('SELECT DISTINCT site_id FROM minute_stats')).rows.map((r) => r.site_id);
      let deleted = 0;
      for (const siteId of sites) {
        // Day partitions go whole (dropExpiredPartitions); here only the default partition's rows, dated
        // outside every day partition. Only rows already folded into the rollups, so no count is lost.
        deleted += (await client.query(`DELETE FROM ${DEFAULT_PARTITION} WHERE ctid IN (
          SELECT ctid FROM ${DEFAULT_PARTITION} WHERE site_id = $1 AND ts < $2 AND id <= $3 LIMIT $4)`,
        [siteId, rawCutoff, watermark, PRUNE_CHUNK])).rowCount ?? 0;
        // Rows dated far ahead (stored before ingest clamped timestamps) would otherwise never age out.
        deleted += (await client.query(`DELETE FROM ${DEFAULT_PARTITION} WHERE ctid IN (
          SELECT ctid FROM ${DEFAULT_PARTITION} WHERE site_id = $1 AND ts > $2 AND id <= $3 LIMIT $4)`,
        [siteId, now + REPORT_MAX_AHEAD_SECONDS, watermark, PRUNE_CHUNK])).rowCount ?? 0;
        deleted += (await client.query('DELETE FROM minute_stats WHERE site_id = $1 AND minute < $2', [siteId, rollupCutoff])).rowCount ?? 0;
        deleted += (await client.query('DELETE FROM hour_top WHERE site_id = $1 AND hour < $2', [siteId, rollupCutoff])).rowCount ?? 0;
        await client.query('DELETE FROM hour_dim_size WHERE site_id = $1 AND hour < $2', [siteId, rollupCutoff]);
        await client.query('DELETE FROM hour_ip_sketch WHERE site_id = $1 AND hour < $2', [siteId, rollupCutoff]);
        // Day summaries go with the last of their hours.
        const lastExpiredDay = rollupCutoff - DAY_SECONDS;
        deleted += (await client.query('DELETE FROM day_top WHERE site_id = $1 AND dim = ANY($2::text[]) AND day <= $3',
          [siteId, DAY_TOP_DIMENSIONS, lastExpiredDay])).rowCount ?? 0;
        await client.query('DELETE FROM day_top_floor WHERE site_id = $1 AND dim = ANY($2::text[]) AND day <= $3', [siteId, DAY_TOP_DIMENSIONS, lastExpiredDay]);
      }
      return deleted;
    });
  }

  async totals(siteId: number, from: number, to: number): Promise<Totals> {
    const { rows } = await this.pool.query<TotalsRow>(`SELECT sum(total) AS total, sum(blocked) AS blocked,
      sum(allowed) AS allowed, sum(passed) AS passed, sum(monitored) AS monitored
      FROM minute_stats WHERE site_id = $1 AND minute >= $2 AND minute < $3`, [siteId, from, to]);
    return toTotals(rows[0]);
  }

  async timeSeries(siteId: number, from: number, to: number, step: number): Promise<TimeBucket[]> {
    const { rows } = await this.pool.query<TotalsRow & { t: number }>(
      `SELECT minute - minute % $1::bigint AS t, sum(total) AS total, sum(blocked) AS blocked, sum(allowed) AS allowed,
        sum(passed) AS passed, sum(monitored) AS monitored
      FROM minute_stats WHERE site_id = $2 AND minute >= $3 AND minute < $4 GROUP BY 1 ORDER BY 1`,
      [step, siteId, from, to]);
    return rows.map((r) => ({ t: r.t, ...toTotals(r) }));
  }

  /**
   * The top values of a dimension, as in the SQLite store: up to PLAIN_TOP_LIMIT hourly rows in the
   * range, one GROUP BY (exact); above, the finished days' summaries (day_top) and the other hours'
   * largest values (one backward descent of hour_top_by_total per hour), merged with the most each count
   * may be low by (store/top-heads.ts). Before, a range whose candidate pass failed (any low-traffic
   * site with many values) ran the plain GROUP BY over every value: 3 s of database time per overview
   * at a million made-up paths and user agents over 7 days. Ties sort by value in byte order (COLLATE "C").
   */
  async top(siteId: number, dim: TopDimension | 'monitor' | 'rule_id', from: number, to: number, limit: number): Promise<TopEntry[]> {
    const lo = hourFloor(from);
    const sized = await this.pool.query<{ hour: number; n: number }>(
      'SELECT hour, distinct_values AS n FROM hour_dim_size WHERE site_id = $1 AND dim = $2 AND hour >= $3 AND hour < $4 ORDER BY hour',
      [siteId, dim, lo, to]);
    if (sized.rows.reduce((sum, r) => sum + r.n, 0) <= PLAIN_TOP_LIMIT) {
      return (await this.pool.query<TopEntry>(
        `SELECT value, sum(total) AS total, sum(blocked) AS blocked FROM hour_top
        WHERE site_id = $1 AND dim = $2 AND hour >= $3 AND hour < $4
        GROUP BY value ORDER BY total DESC, value COLLATE "C" LIMIT $5`,
        [siteId, dim, lo, to, limit])).rows;
    }
    const days = new Map<number, Head>();
    const firstDay = dayFloor(lo + DAY_SECONDS - 1);
    const lastDay = dayFloor(to) - DAY_SECONDS;
    if (firstDay <= lastDay) {
      // One statement, so the floors and the rows are of one snapshot whatever a rollup commits meanwhile;
      // each part one range of its primary key.
      const { rows } = await this.pool.query<{ day: number; floor: number | null; value: string | null; total: number; blocked: number; missed: number }>(
        `SELECT day, floor, NULL AS value, 0 AS total, 0 AS blocked, 0 AS missed FROM day_top_floor
          WHERE site_id = $1 AND dim = $2 AND day >= $3 AND day <= $4 AND floor IS NOT NULL
        UNION ALL
        SELECT day, NULL, value, total, blocked, missed FROM day_top WHERE site_id = $1 AND dim = $2 AND day >= $3 AND day <= $4`,
        [siteId, dim, firstDay, lastDay]);
      for (const r of rows) if (r.floor !== null) days.set(r.day, { rows: [], floor: r.floor });
      for (const r of rows) {
        if (r.value !== null) days.get(r.day)?.rows.push({ value: r.value, total: r.total, blocked: r.blocked, missed: r.missed });
      }
    }
    const hours = sized.rows.map((r) => r.hour).filter((hour) => !days.has(dayFloor(hour)));
    const { heads } = await hourHeads(this.pool, siteId, dim, hours, hourHeadSize(hours.length, limit));
    return topFromHeads([...days.values(), ...heads.values()], limit);
  }

  async passedSampling(siteId: number, from: number, to: number): Promise<PassedSampling> {
    const { rows } = await this.pool.query<{ passed: string | null; counted: string | null }>(
      'SELECT sum(passed) AS passed, sum(passed_counted) AS counted FROM minute_stats WHERE site_id = $1 AND minute >= $2 AND minute < $3',
      [siteId, from, to]);
    return { passed: Number(rows[0]?.passed ?? 0), counted: Number(rows[0]?.counted ?? 0) };
  }

  async earliestMinute(siteId: number): Promise<number | undefined> {
    const { rows } = await this.pool.query<{ m: string | number | null }>('SELECT min(minute) AS m FROM minute_stats WHERE site_id = $1', [siteId]);
    return rows[0]?.m == null ? undefined : Number(rows[0].m);
  }

  async valueHours(siteId: number, dim: TopDimension, value: string, from: number, to: number): Promise<ValueHour[]> {
    const hours = hoursOf(from, to);
    if (hours.length === 0) return [];
    // Equality on every primary-key column: one index probe per listed hour.
    const { rows } = await this.pool.query<{ hour: string | number; total: string | number; blocked: string | number }>(
      `SELECT hour, total, blocked FROM hour_top WHERE site_id = $1 AND dim = $2 AND value = $3 AND hour = ANY($4::bigint[]) ORDER BY hour`,
      [siteId, dim, value, hours]);
    return rows.map((r) => ({ hour: Number(r.hour), total: Number(r.total), blocked: Number(r.blocked) }));
  }

  async uniqueIps(siteId: number, from: number, to: number): Promise<number> {
    const lo = hourFloor(from);
    const size = (await this.pool.query<{ n: number }>(
      `SELECT coalesce(sum(distinct_values), 0) AS n FROM hour_dim_size WHERE site_id = $1 AND dim = 'ip' AND hour >= $2 AND hour < $3`,
      [siteId, lo, to])).rows[0]!.n;
    if (size <= EXACT_UNIQUE_LIMIT) {
      return (await this.pool.query<{ n: number }>(
        `SELECT count(DISTINCT value) AS n FROM hour_top WHERE site_id = $1 AND dim = 'ip' AND hour >= $2 AND hour < $3`,
        [siteId, lo, to])).rows[0]!.n;
    }
    const union = newSketch();
    const { rows } = await this.pool.query<{ sketch: Buffer }>(
      'SELECT sketch FROM hour_ip_sketch WHERE site_id = $1 AND hour >= $2 AND hour < $3', [siteId, lo, to]);
    for (const r of rows) mergeInto(union, r.sketch);
    return estimate(union);
  }

  async ruleHits(siteId: number, from: number, to: number, keys: RuleHitKeys): Promise<RuleHits> {
    // Index seeks per key on hour_top_rule_values, never the range's every value.
    const { rows } = await this.pool.query<{ dim: string; value: string; total: number }>(
      `SELECT dim, value, sum(total) AS total FROM hour_top
      WHERE site_id = $1 AND hour >= $2 AND hour < $3
        AND ((dim IN ('rule_id', 'monitor') AND value = ANY($4::text[])) OR (dim = 'match' AND value = ANY($5::text[])))
      GROUP BY dim, value`,
      [siteId, hourFloor(from), to, keys.ids, keys.matches]);
    return toRuleHits(rows.map((r) => ({ ...r, total: Number(r.total) })));
  }

  /**
   * The request log, newest first, walking back one hour window at a time exactly like the SQLite store:
   * hours the rollups show without the filtered IP are skipped, and after `budgetMs` a partial page is
   * returned whose cursor continues the walk.
   */
  async query(siteId: number, filter: ReportFilter, page: { limit: number; before?: string; budgetMs?: number }): Promise<ReportPage> {
    const started = performance.now();
    const budget = page.budgetMs ?? 250;
    // $1..$3: site, window start, window end; filters next; then the cursor and the limit.
    // Counts of Passed requests are not requests to list (the page says how many were sampled).
    const where = ['site_id = $1', 'ts >= $2', 'ts < $3', 'aggregate_count IS NULL'];
    const params: unknown[] = [];
    const next = () => `$${4 + params.length}`;
    if (filter.treatment) { where.push(`treatment = ${next()}`); params.push(TREATMENT_CODE[filter.treatment]); }
    if (filter.ip) { where.push(`ip = ${next()}`); params.push(filter.ip); }
    if (filter.path) { where.push(`starts_with(path, ${next()})`); params.push(filter.path); }
    if (filter.rule) { const p = next(); params.push(filter.rule); where.push(`(rule = ${p} OR rule_id = ${p})`); }
    const n = 4 + params.length;
    const windowSql = `SELECT * FROM reports WHERE ${where.join(' AND ')}
      AND (ts < $${n} OR (ts = $${n} AND id < $${n + 1})) ORDER BY ts DESC, id DESC LIMIT $${n + 2}`;

    const cursor = page.before ? parseCursor(page.before) : undefined;
    // Each statement over `reports` plans and seeks in every partition, so a first page asks as few as
    // it can: the newest time only when no bound or cursor gives the start, no oldest time at all (an
    // empty window seeks the next older report and finding none ends the walk), and the rollup horizon
    // only for the IP shortcut.
    let upper = Math.min(filter.to ?? Number.MAX_SAFE_INTEGER, cursor ? cursor.ts + 1 : Number.MAX_SAFE_INTEGER);
    if (upper === Number.MAX_SAFE_INTEGER) {
      const newest = await this.newestTs(siteId);
      if (newest === undefined) return { rows: [], next: null };
      upper = newest + 1;
    }
    const lowest = filter.from ?? Number.MIN_SAFE_INTEGER;
    let cursorTs = cursor ? cursor.ts : upper;
    let cursorId = cursor ? cursor.id : Number.MAX_SAFE_INTEGER;
    const rolledUpBelow = filter.ip ? await this.rolledUpBelow() : Number.MAX_SAFE_INTEGER;
    const rows: ReportRow[] = [];
    let windowEnd = upper;
    while (windowEnd > lowest && rows.length <= page.limit) {
      const windowStart = Math.max(lowest, hourFloor(windowEnd - 1));
      const hourHasIp = !filter.ip || windowEnd > rolledUpBelow || (await this.pool.query(
        `SELECT 1 FROM hour_top WHERE site_id = $1 AND dim = 'ip' AND hour = $2 AND value = $3`,
        [siteId, hourFloor(windowStart), filter.ip])).rowCount !== 0;
      let found = 0;
      if (hourHasIp) {
        const result = await this.pool.query<ReportRow>(windowSql,
          [siteId, windowStart, windowEnd, ...params, cursorTs, cursorId, page.limit + 1 - rows.length]);
        rows.push(...result.rows);
        found = result.rows.length;
      }
      // An empty window may start a quiet stretch (a site idle for days, a report dated years away):
      // one index seek finds the next older report, so the walk never steps through empty hours.
      windowEnd = found > 0 || windowStart <= lowest ? windowStart : await this.nextOlderEnd(siteId, windowStart, lowest);
      cursorTs = windowEnd;
      cursorId = 0;
      if (rows.length <= page.limit && windowEnd > lowest && performance.now() - started > budget) {
        return { rows: rows.map(toReport), next: `${windowEnd}:0`, partial: true };
      }
    }
    return reportPage(rows, page.limit, toReport);
  }

  /** Just past the newest report in [lowest, before), or `lowest` when there is none. */
  private async nextOlderEnd(siteId: number, before: number, lowest: number): Promise<number> {
    const { rows } = await this.pool.query<{ t: number | null }>(
      'SELECT max(ts) AS t FROM reports WHERE site_id = $1 AND ts >= $2 AND ts < $3', [siteId, lowest, before]);
    return rows[0]!.t === null ? lowest : rows[0]!.t + 1;
  }

  private async newestTs(siteId: number): Promise<number | undefined> {
    return (await this.pool.query<{ t: number | null }>('SELECT max(ts) AS t FROM reports WHERE site_id = $1', [siteId])).rows[0]!.t ?? undefined;
  }

  /** Every report with a timestamp below this is already in the rollups. */
  private async rolledUpBelow(): Promise<number> {
    // The watermark goes in as a value, not a subquery: planned against an unknown bound, "id > (SELECT …)"
    // looked like a third of the table and got a (parallel) full scan, 400 ms at 1 M reports; with the
    // value the planner sees the few unfolded ids and reads them from the primary key.
    const watermark = (await this.pool.query<{ w: number }>('SELECT last_report_id AS w FROM rollup_state WHERE id = 1')).rows[0]!.w;
    const { rows } = await this.pool.query<{ t: number | null }>('SELECT min(ts) AS t FROM reports WHERE id > $1', [watermark]);
    return rows[0]!.t ?? Number.MAX_SAFE_INTEGER;
  }
}

function toReport(r: ReportRow): StoredReport {
  return toStoredReport(r, r.monitored ?? null);
}
