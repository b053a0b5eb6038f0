import { strict as assert } from 'node:assert';
import { afterEach, beforeEach, describe, it } from 'node:test';
import pg from 'pg';
import { migrate } from '../src/store/postgres/migrate.js';
import { PG_MIGRATIONS } from '../src/store/postgres/migrations.js';
import { PostgresStore } from '../src/store/postgres/postgres-store.js';
import { DAY_SECONDS, PARTITION_DAYS_AHEAD, dayFloor, listDayPartitions, partitionDay, partitionName } from '../src/store/postgres/report-partitions.js';
import type { HubStore } from '../src/store/store.js';
import { freshDatabase, type TestDatabase } from './support/postgres.js';
import { report } from './support/store-contract.js';

/** A day start well inside 2030, so every date is ours and far from the wall clock's partitions. */
const DAY = dayFloor(1_900_000_000);
const keepAll = { rawSeconds: 10_000 * DAY_SECONDS, rollupSeconds: 10_000 * DAY_SECONDS };

async function rollUpAll(store: HubStore): Promise<number> {
  let total = 0;
  for (let n = await store.rollUp(); n > 0; n = await store.rollUp()) total += n;
  return total;
}

/** Where each stored report lives: partition name by timestamp. */
async function placement(client: pg.Client): Promise<Map<number, string>> {
  const { rows } = await client.query<{ ts: string; part: string }>('SELECT ts, tableoid::regclass::text AS part FROM reports');
  return new Map(rows.map((r) => [Number(r.ts), r.part]));
}

describe('PostgreSQL reports partitioned by day', () => {
  let db: TestDatabase;
  let sql: pg.Client;
  beforeEach(async () => {
    db = await freshDatabase('moat_parts');
    sql = new pg.Client({ connectionString: db.url });
    await sql.connect();
  });
  afterEach(async () => {
    await sql.end();
    await db.drop();
  });

  it('partition names and days round-trip; other names are not day partitions', () => {
    assert.equal(partitionName(DAY), `reports_d${new Date(DAY * 1000).toISOString().slice(0, 10).replaceAll('-', '')}`);
    assert.equal(partitionDay(partitionName(DAY)), DAY);
    assert.equal(partitionDay('reports_default'), undefined);
    assert.equal(partitionDay('reports_d20301399'), undefined, 'no 99th day of a 13th month');
    assert.equal(dayFloor(DAY + DAY_SECONDS - 1), DAY);
    const year11476 = dayFloor(300_000_000_000);
    assert.notEqual(partitionDay(partitionName(year11476)), year11476, 'no yyyymmdd name past 9999: such days get no partition');
  });

  it('the retention pass creates partitions ahead: yesterday to PARTITION_DAYS_AHEAD days on, each once', async () => {
    const store = await PostgresStore.open(db.url, { max: 2 });
    try {
      await store.prune(keepAll, DAY + 5);
      await store.prune(keepAll, DAY + 500);
      const days = (await listDayPartitions(store.pool)).map((p) => p.from).filter((d) => d >= DAY - DAY_SECONDS && d < DAY + 10 * DAY_SECONDS);
      assert.deepEqual(days, Array.from({ length: PARTITION_DAYS_AHEAD + 2 }, (_, i) => DAY + (i - 1) * DAY_SECONDS));
      const wallClockToday = dayFloor(Math.floor(Date.now() / 1000));
      assert.ok((await listDayPartitions(store.pool)).some((p) => p.from === wallClockToday), 'opening the store prepared today');
    } finally {
      await store.close();
    }
  });

  it('a report at the last second of a day and one at the first second of the next land in their own partitions', async () => {
    const store = await PostgresStore.open(db.url, { max: 2 });
    try {
      await store.prune(keepAll, DAY);
      const site = await store.createSite('s');
      await store.insertReports(site.id, [report({ ts: DAY - 1 }), report({ ts: DAY }), report({ ts: DAY + DAY_SECONDS - 1 }), report({ ts: DAY + DAY_SECONDS })]);
      const where = await placement(sql);
      assert.equal(where.get(DAY - 1), partitionName(DAY - DAY_SECONDS));
      assert.equal(where.get(DAY), partitionName(DAY));
      assert.equal(where.get(DAY + DAY_SECONDS - 1), partitionName(DAY));
      assert.equal(where.get(DAY + DAY_SECONDS), partitionName(DAY + DAY_SECONDS));
    } finally {
      await store.close();
    }
  });

  it('far-past and far-future timestamps are stored in the default partition, not lost, and show in the request log', async () => {
    const store = await PostgresStore.open(db.url, { max: 2 });
    try {
      const site = await store.createSite('s');
      const year5138 = 99_999_999_999;
      await store.insertReports(site.id, [report({ ts: 1 }), report({ ts: year5138 }), report({ ts: -5 })]);
      const where = await placement(sql);
      assert.deepEqual([where.get(1), where.get(year5138), where.get(-5)], ['reports_default', 'reports_default', 'reports_default']);
      const log = await store.queryReports(site.id, { from: -10 }, { limit: 10 });
      assert.deepEqual(log.rows.map((r) => r.ts), [year5138, 1, -5]);
      assert.equal(await rollUpAll(store), 3);
      // A hub clock past the year 9999 (a test's, a broken one) makes maintenance create nothing rather than fail.
      const before = (await listDayPartitions(store.pool)).length;
      await store.prune({ rawSeconds: 4e11, rollupSeconds: 4e11 }, 300_000_000_000);
      assert.equal((await listDayPartitions(store.pool)).length, before);
      assert.equal((await store.queryReports(site.id, { from: -10 }, { limit: 10 })).rows.length, 3);
    } finally {
      await store.close();
    }
  });

  it('a partition created for a day the default partition already holds reports of takes those reports along', async () => {
    const store = await PostgresStore.open(db.url, { max: 2 });
    try {
      const site = await store.createSite('s');
      // No partition covers these yet (the maintenance that would have made them did not run).
      await store.insertReports(site.id, [report({ ts: DAY + 10 }), report({ ts: DAY + 20 }), report({ ts: DAY + 9 * DAY_SECONDS })]);
      assert.equal((await placement(sql)).get(DAY + 10), 'reports_default');
      await store.prune(keepAll, DAY + 30);
      const where = await placement(sql);
      assert.equal(where.get(DAY + 10), partitionName(DAY));
      assert.equal(where.get(DAY + 20), partitionName(DAY));
      assert.equal(where.get(DAY + 9 * DAY_SECONDS), 'reports_default', 'beyond the days prepared ahead');
      assert.equal(where.size, 3);
    } finally {
      await store.close();
    }
  });

  it('retention drops whole day partitions past the raw retention, keeps the younger ones and every rollup count', async () => {
    const store = await PostgresStore.open(db.url, { max: 2 });
    try {
      const site = await store.createSite('s');
      // Ten days of traffic, maintenance running every day as it would.
      for (let d = 0; d < 10; d++) {
        await store.prune(keepAll, DAY + d * DAY_SECONDS);
        await store.insertReports(site.id, Array.from({ length: 5 }, (_, i) => report({ ts: DAY + d * DAY_SECONDS + i * 3600, requestId: `${d}-${i}` })));
      }
      await rollUpAll(store);
      const now = DAY + 10 * DAY_SECONDS + 100;
      const before = await store.totals(site.id, DAY, now);
      assert.equal(before.total, 50);
      const deleted = await store.prune({ rawSeconds: 7 * DAY_SECONDS, rollupSeconds: 90 * DAY_SECONDS }, now);
      assert.equal(deleted, 15, 'days 0, 1 and 2 end before the cutoff (now − 7 days, inside day 3)');
      const days = (await listDayPartitions(store.pool)).map((p) => p.from).filter((d) => d < now + 10 * DAY_SECONDS && d >= DAY - DAY_SECONDS);
      assert.equal(days[0], DAY + 3 * DAY_SECONDS, 'the oldest partition left is day 3, which still has reports inside retention');
      const left = await sql.query<{ n: string }>('SELECT count(*) AS n FROM reports');
      assert.equal(Number(left.rows[0]!.n), 35);
      assert.deepEqual(await store.totals(site.id, DAY, now), before, 'the dashboard counts come from the rollups, unchanged');
      assert.equal(await store.prune({ rawSeconds: 7 * DAY_SECONDS, rollupSeconds: 90 * DAY_SECONDS }, now), 0, 'a second pass finds nothing');
    } finally {
      await store.close();
    }
  });

  it('a day partition with reports not yet rolled up is kept until they are folded', async () => {
    const store = await PostgresStore.open(db.url, { max: 2 });
    try {
      const site = await store.createSite('s');
      await store.prune(keepAll, DAY);
      await store.insertReports(site.id, [report({ ts: DAY + 60 })]);
      const policy = { rawSeconds: DAY_SECONDS, rollupSeconds: 90 * DAY_SECONDS };
      const later = DAY + 5 * DAY_SECONDS;
      assert.equal(await store.prune(policy, later), 0, 'not folded: kept');
      assert.ok((await listDayPartitions(store.pool)).some((p) => p.from === DAY));
      await rollUpAll(store);
      assert.equal(await store.prune(policy, later), 1);
      assert.ok(!(await listDayPartitions(store.pool)).some((p) => p.from === DAY));
      assert.equal((await store.totals(site.id, DAY, later)).total, 1);
    } finally {
      await store.close();
    }
  });

  it('two hubs running maintenance at once neither fail nor create a partition twice', async () => {
    const a = await PostgresStore.open(db.url, { max: 3 });
    const b = await PostgresStore.open(db.url, { max: 3 });
    try {
      const site = await a.createSite('s');
      for (let d = 0; d < 6; d++) {
        await a.insertReports(site.id, [report({ ts: DAY + d * DAY_SECONDS })]);
        const now = DAY + d * DAY_SECONDS;
        await Promise.all([a.prune(keepAll, now), b.prune(keepAll, now), a.prune(keepAll, now), b.prune(keepAll, now)]);
      }
      await Promise.all([rollUpAll(a), rollUpAll(b)]);
      const policy = { rawSeconds: 2 * DAY_SECONDS, rollupSeconds: 90 * DAY_SECONDS };
      const now = DAY + 6 * DAY_SECONDS;
      const deleted = await Promise.all([a.prune(policy, now), b.prune(policy, now)]);
      assert.equal(deleted[0]! + deleted[1]!, 4, 'days 0 to 3 dropped once, by one of the two');
      const names = (await listDayPartitions(a.pool)).map((p) => p.name);
      assert.equal(new Set(names).size, names.length);
      assert.equal((await a.totals(site.id, DAY, now + DAY_SECONDS)).total, 6);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('migrating an unpartitioned reports table keeps every row, its id, and rollups continue without double counting', async () => {
    // A database as the previous release left it: schema version 4, one plain reports table.
    const old = new pg.Pool({ connectionString: db.url, max: 2 });
    const today = dayFloor(Math.floor(Date.now() / 1000));
    try {
      await migrate(old, PG_MIGRATIONS.filter((m) => m.version <= 4));
      await old.query("INSERT INTO sites (name, created_at) VALUES ('s', 0)");
      await old.query(`INSERT INTO reports (site_id, ts, ip, method, host, path, parameter, user_agent, request_id, treatment, category, rule)
        SELECT 1, ts, '198.51.100.' || (n % 200), 'GET', 'h', '/p/' || n, '', 'ua', 'r' || n, n % 3, 'c', '-'
        FROM generate_series(1, 3000) AS n, LATERAL (SELECT CASE
          WHEN n % 10 = 0 THEN 99999999999                      -- far future
          WHEN n % 10 = 1 THEN ${today} - 400 * 86400 + n       -- older than any partition made
          ELSE ${today} - (n % 5) * 86400 + n END AS ts) t`);
      await old.query('UPDATE rollup_state SET last_report_id = 1000');
    } finally {
      await old.end();
    }
    const fingerprint = 'SELECT count(*)::int AS n, sum(id)::text AS ids, sum(ts)::text AS ts, max(id)::int AS top, string_agg(md5(path), \'\' ORDER BY id) AS rows FROM reports';
    const before = (await sql.query(fingerprint)).rows[0];

    // Two hubs starting at once on the old database: one migrates, the other waits and finds the latest version.
    const [a, b] = await Promise.all([PostgresStore.open(db.url, { max: 2 }), PostgresStore.open(db.url, { max: 2 })]);
    try {
      assert.equal(await a.schemaVersion(), Math.max(...PG_MIGRATIONS.map((m) => m.version)));
      assert.deepEqual((await sql.query(fingerprint)).rows[0], before, 'every row, with its id and contents');
      const parted = await sql.query<{ part: string; n: number }>(
        'SELECT tableoid::regclass::text AS part, count(*)::int AS n FROM reports GROUP BY 1 ORDER BY 1');
      const byPart = new Map(parted.rows.map((r) => [r.part, r.n]));
      const perDay = new Map<number, number>();
      for (let n = 1; n <= 3000; n++) if (n % 10 > 1) perDay.set(n % 5, (perDay.get(n % 5) ?? 0) + 1);
      for (const [d, count] of perDay) assert.equal(byPart.get(partitionName(today - d * DAY_SECONDS)), count, `day −${d}`);
      assert.equal(byPart.get('reports_default'), 600, 'far-future and 400-day-old rows');
      const kind = await sql.query("SELECT relkind FROM pg_class WHERE relname = 'reports'");
      assert.equal(kind.rows[0].relkind, 'p');
      assert.equal((await sql.query("SELECT count(*)::int AS n FROM pg_class WHERE relname = 'reports_unpartitioned'")).rows[0].n, 0);

      // New ids continue above the old ones; the rollup folds exactly the 2,000 ids above its watermark, and the new row.
      await a.insertReports(1, [report({ ts: today + 60 })]);
      const newest = await sql.query<{ id: number }>('SELECT max(id)::int AS id FROM reports');
      assert.ok(newest.rows[0]!.id > before.top);
      assert.equal(await rollUpAll(b), 2_001);

      // Columns added after the partitioning (migration 15's keys and status) reach every partition made
      // before them, and a report stored there keeps its status.
      const lacking = await sql.query<{ part: string }>(`SELECT c.relname AS part FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'reports'::regclass AND NOT EXISTS (SELECT 1 FROM information_schema.columns
          WHERE table_name = c.relname AND column_name = 'status' AND data_type = 'smallint')`);
      assert.deepEqual(lacking.rows, []);
      await a.insertReports(1, [report({ ts: today - DAY_SECONDS + 5, requestId: 'old-day', status: 429 }), report({ ts: 7, requestId: 'default', status: 503 })]);
      const stored = await sql.query<{ request_id: string; part: string; status: number }>(
        "SELECT request_id, tableoid::regclass::text AS part, status FROM reports WHERE request_id IN ('old-day', 'default') ORDER BY request_id");
      assert.deepEqual(stored.rows, [
        { request_id: 'default', part: 'reports_default', status: 503 },
        { request_id: 'old-day', part: partitionName(today - DAY_SECONDS), status: 429 },
      ]);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});
