// Attack: a holder of a site's API key (every app server has one), or anyone sending requests with unique
// paths, user agents and addresses to a protected app that reports them, fills a week of the site's
// hourly counts with values seen once. Every overview then ran five top lists; for a site whose own
// traffic is small next to the made-up values, each list's candidate pass could not prove its answer and
// fell back to a GROUP BY over every value of the range: at a million made-up values, 1.2 s per overview
// on the SQLite store's event loop (3.2 s of PostgreSQL time). Now a list reads at most 100 values per day
// summary and 101 per remaining hour. Real store API (insert, rollups); rows read are counted by the
// database (PostgreSQL's statistics), or in SQLite by temporary views over the rollup tables that count
// each row a statement visits; nothing is timed.
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { loadTopLists } from '../../src/stats/overview.js';
import { windowFor } from '../../src/stats/time-range.js';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { HubStore, ReportRecord, TopDimension } from '../../src/store/store.js';
import { HEAD_VALUES, HOUR_ROWS_BUDGET } from '../../src/store/top-heads.js';
import { freshDatabase, type TestDatabase } from '../support/postgres.js';

const HOUR = 3600;
/** The last rolled-up hour ends here, 07:00 UTC: the week has partial days at both ends. */
const END = 1_700_031_600;
const NOW = END - 1;
const HOURS = 7 * 24;
const MADE_UP_PER_HOUR = 1_200;
/** Rows a list may read over 7 days: 100 per day summary, 101 per other hour (the partial days at both ends). */
const LIST_BOUND = 7 * 100 + 48 * 101;

function report(ts: number, ip: string, path: string, userAgent: string, blocked: boolean): ReportRecord {
  return {
    ts, ip, method: 'GET', host: 'shop.test', path, parameter: '', userAgent, requestId: '', treatment: blocked ? 'Blocked' : 'Passed',
    category: blocked ? 'bp' : 'passed', rule: blocked ? '/admin' : '-', ruleId: null, monitored: null, ipSource: null, country: 'DE',
  };
}

/** A week: each hour the shop's own ten paths, agents and addresses ((12 − k) requests each), and 1,200 made-up ones. */
async function fill(store: HubStore, siteId: number): Promise<void> {
  for (let h = 0; h < HOURS; h++) {
    const start = END - (h + 1) * HOUR;
    const rows: ReportRecord[] = [];
    for (let k = 0; k < 10; k++) {
      for (let j = 0; j < 12 - k; j++) rows.push(report(start + 60 * j + k, `198.51.100.${k}`, `/real/${k}`, `real-agent-${k}`, j === 0));
    }
    for (let i = 0; i < MADE_UP_PER_HOUR; i++) {
      rows.push(report(start + (i % HOUR), `10.${h}.${i >> 8}.${i & 255}`, `/made-up/${h}-${i}`, `made-up-agent-${h}-${i}`, false));
    }
    await store.insertReports(siteId, rows);
  }
  while ((await store.rollUp()) > 0);
}

/** The exact top 10: the shop's own values, (12 − k) × 168 requests, one in 12 − k blocked per hour. */
function expectedTop(dim: 'ip' | 'path' | 'userAgent'): Array<{ value: string; total: number; blocked: number }> {
  const name = (k: number) => (dim === 'ip' ? `198.51.100.${k}` : dim === 'path' ? `/real/${k}` : `real-agent-${k}`);
  return Array.from({ length: 10 }, (_, k) => ({ value: name(k), total: (12 - k) * HOURS, blocked: HOURS }));
}

interface Subject {
  store: HubStore;
  siteId: number;
  /** (Day, dimension) summaries still to build. */
  pendingDays(): Promise<number>;
  /** Drops every day summary, as the upgrade to schema 19 leaves a database: every day pending. */
  unsummarise(): Promise<void>;
  /** Rows of hour_top and day_top read while `work` runs. */
  rowsRead(work: () => Promise<unknown>): Promise<number>;
  close(): Promise<void>;
}

async function sqliteSubject(): Promise<Subject> {
  const store = SqliteStore.open(':memory:');
  const site = await store.createSite('shop');
  await fill(store, site.id);
  let reads = 0;
  store.db.function('moat_count_read', { deterministic: false }, (_key: unknown) => { reads++; return 1; });
  return {
    store,
    siteId: site.id,
    pendingDays: async () => store.db.prepare('SELECT count(*) FROM day_top_floor WHERE floor IS NULL').pluck().get() as number,
    unsummarise: async () => { store.db.exec('UPDATE day_top_floor SET floor = NULL; DELETE FROM day_top'); },
    rowsRead: async (work) => {
      // Temporary views shadow the tables for unqualified names: same indexes, same plans, and each row a
      // statement visits passes the counting condition once.
      const tables = ['hour_top', 'day_top'].filter((t) => store.db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(t));
      for (const t of tables) store.db.exec(`CREATE TEMP VIEW ${t} AS SELECT * FROM main.${t} WHERE moat_count_read(site_id)`);
      reads = 0;
      try {
        await work();
        return reads;
      } finally {
        for (const t of tables) store.db.exec(`DROP VIEW temp.${t}`);
      }
    },
    close: () => store.close(),
  };
}

async function postgresSubject(db: TestDatabase): Promise<Subject> {
  // One connection: every statement runs on the backend whose statistics are flushed and read.
  const store = await PostgresStore.open(db.url, { max: 1 });
  const site = await store.createSite('shop');
  await fill(store, site.id);
  const counted = async () => {
    await store.pool.query('SELECT pg_stat_force_next_flush()');
    await store.pool.query('SELECT pg_stat_clear_snapshot()');
    const { rows } = await store.pool.query<{ n: string }>(`SELECT
      (SELECT coalesce(sum(seq_tup_read), 0) FROM pg_stat_user_tables WHERE relname IN ('hour_top', 'day_top'))
      + (SELECT coalesce(sum(idx_tup_read), 0) FROM pg_stat_user_indexes WHERE relname IN ('hour_top', 'day_top')) AS n`);
    return Number(rows[0]!.n);
  };
  return {
    store,
    siteId: site.id,
    pendingDays: async () => Number((await store.pool.query('SELECT count(*) AS n FROM day_top_floor WHERE floor IS NULL')).rows[0].n),
    unsummarise: async () => { await store.pool.query('UPDATE day_top_floor SET floor = NULL'); await store.pool.query('DELETE FROM day_top'); },
    rowsRead: async (work) => {
      const before = await counted();
      await work();
      return (await counted()) - before;
    },
    close: () => store.close(),
  };
}

for (const storeName of ['SQLite', 'PostgreSQL'] as const) {
  describe(`top lists on ${storeName} with a week of made-up values`, () => {
    let db: TestDatabase | undefined;
    let subject: Subject;

    before(async () => {
      if (storeName === 'PostgreSQL') db = await freshDatabase('moat_top_made_up');
      subject = storeName === 'SQLite' ? await sqliteSubject() : await postgresSubject(db!);
    });
    after(async () => {
      await subject?.close();
      await db?.drop();
    });

    it('an overview\'s five lists over 7 days read a bounded number of rows, not every made-up value', async () => {
      const { store, siteId } = subject;
      // The rollup timer's calls, with nothing new to fold: they summarise the days the site has moved
      // past, a few dimensions per call.
      for (let i = 0; i < 40; i++) await store.rollUp();

      let lists: Awaited<ReturnType<typeof loadTopLists>> | undefined;
      const read = await subject.rowsRead(async () => { lists = await loadTopLists(store, siteId, '7d', NOW, 10); });
      assert.ok(read <= 5 * LIST_BOUND, `${read} rows read for the five lists (bound ${5 * LIST_BOUND}); the range holds ${3 * HOURS * MADE_UP_PER_HOUR} made-up values`);
      // The shop's own values stand out in every hour: listed, in order, with exact counts.
      for (const dim of ['ip', 'path', 'userAgent'] as const) assert.deepEqual(lists![dim], expectedTop(dim), dim);
      assert.deepEqual(lists!.country, [{ value: 'DE', total: (75 + MADE_UP_PER_HOUR) * HOURS, blocked: 10 * HOURS }]);
      assert.deepEqual(lists!.rule, [{ value: 'bp\t/admin', total: 10 * HOURS, blocked: 10 * HOURS }]);
      // Every finished day is summarised in the 5 dimensions; the week's last day waits for a later report.
      assert.equal(await subject.pendingDays(), 5);
    });

    it('each list of any range stays within its bound, and a late report only adds its day\'s hours', async () => {
      const { store, siteId } = subject;
      for (const range of ['24h', '7d', '30d', '90d'] as const) {
        const w = windowFor(range, NOW);
        for (const dim of ['ip', 'path', 'userAgent'] satisfies TopDimension[]) {
          const read = await subject.rowsRead(() => store.top(siteId, dim, w.from, w.to, 100));
          assert.ok(read <= LIST_BOUND, `${range} ${dim}: ${read} rows read (bound ${LIST_BOUND})`);
        }
      }
      // A late report makes its day pending again: that day is read by the hour (at most 24 × 101 rows)
      // until the next rollups summarise it again, and the count includes the report at once.
      await store.insertReports(siteId, [report(END - 3 * 86_400, '198.51.100.0', '/real/0', 'real-agent-0', false)]);
      await store.rollUp();
      const w = windowFor('7d', NOW);
      const read = await subject.rowsRead(async () => {
        const top = await store.top(siteId, 'path', w.from, w.to, 10);
        assert.deepEqual(top[0], { value: '/real/0', total: 12 * HOURS + 1, blocked: HOURS });
      });
      assert.ok(read <= LIST_BOUND + 24 * 101, `${read} rows read with one day pending`);
    });

    it('with no day summarised yet (as just after the upgrade), a list reads its hours, still bounded', async () => {
      const { store, siteId } = subject;
      await subject.unsummarise();
      const w = windowFor('90d', NOW);
      let top: Awaited<ReturnType<HubStore['top']>> = [];
      const read = await subject.rowsRead(async () => { top = await store.top(siteId, 'userAgent', w.from, w.to, 10); });
      // About HOUR_ROWS_BUDGET hourly rows, and at most 100 for each of the week's 8 days (PostgreSQL's
      // index still hands out the dropped summaries' entries until they are vacuumed).
      assert.ok(read <= HOUR_ROWS_BUDGET + 8 * HEAD_VALUES, `${read} rows read`);
      const expected = expectedTop('userAgent');
      expected[0]!.total += 1; // the late report of the test before
      assert.deepEqual(top, expected);
    });
  });
}
