/**
 * Dashboard queries on PostgreSQL against SQLite, same data, same run:
 *   node --import tsx packages/hub/test/postgres-query-bench.ts [--records 1000000] [--explain] [--keep] [--reuse NAME]
 * Loads N reports spread over the last 24 h (the hub bench's traffic shape) into both stores through
 * HubStore.insertReports + rollUp, then times each dashboard query through the store API (median of 9
 * after a warm-up), PostgreSQL twice: with the server's defaults and with parallel plans off for the
 * session. --explain prints EXPLAIN (ANALYZE, BUFFERS) of the request-log window queries; --keep keeps
 * the database and --reuse NAME times a kept one again without loading it.
 * PostgreSQL from MOAT_TEST_POSTGRES_URL or scripts/ensure-postgres.sh.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { benchReport } from '../../../bench/hub-traffic.js';
import { PostgresStore } from '../src/store/postgres/postgres-store.js';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import type { HubStore } from '../src/store/store.js';
import { freshDatabase, postgresUrl } from './support/postgres.js';

const { values } = parseArgs({
  options: { records: { type: 'string', default: '1000000' }, explain: { type: 'boolean', default: false }, keep: { type: 'boolean', default: false },
    reuse: { type: 'string' } },
});
const RECORDS = Math.max(1000, Number(values.records));
const now = Math.floor(Date.now() / 1000);

async function load(store: HubStore): Promise<number> {
  const site = await store.createSite('bench');
  const chunk = 20_000;
  const t = performance.now();
  for (let done = 0; done < RECORDS; done += chunk) {
    const n = Math.min(chunk, RECORDS - done);
    await store.insertReports(site.id, Array.from({ length: n }, (_, i) => benchReport(done + i, now - 86_400 + Math.floor(((done + i) / RECORDS) * 86_400))));
    while (await store.rollUp() > 0);
  }
  console.log(`  loaded ${RECORDS} in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  return site.id;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
async function timeMs(fn: () => Promise<unknown>): Promise<number> {
  await fn();
  const times: number[] = [];
  for (let i = 0; i < 9; i++) {
    const t = performance.now();
    await fn();
    times.push(performance.now() - t);
  }
  return median(times);
}

/** The dashboard's queries, as the pages call them. */
function queries(store: HubStore, siteId: number): Array<[string, () => Promise<unknown>]> {
  const day = { from: now - 86_400, to: now + 60 };
  const deep = async (filter: Parameters<HubStore['queryReports']>[1], pages: number) => {
    let before: string | undefined;
    for (let p = 0; p < pages; p++) {
      const page = await store.queryReports(siteId, filter, { limit: 50, before });
      if (!page.next) break;
      before = page.next;
    }
  };
  return [
    ['request log, first page', () => store.queryReports(siteId, {}, { limit: 50 })],
    ['request log, page 20 (keyset)', () => deep({}, 20)],
    ['request log, Blocked, first page', () => store.queryReports(siteId, { treatment: 'Blocked' }, { limit: 50 })],
    ['request log, Blocked, page 10', () => deep({ treatment: 'Blocked' }, 10)],
    ['request log, one IP', () => store.queryReports(siteId, { ip: '10.0.0.7' }, { limit: 50 })],
    ['request log, path prefix', () => store.queryReports(siteId, { path: '/p/1999/' }, { limit: 50 })],
    ['request log, rule id', () => store.queryReports(siteId, { rule: 'b-wpadmin' }, { limit: 50 })],
    ['request log, from 6 h ago to 5 h ago', () => store.queryReports(siteId, { from: now - 6 * 3600, to: now - 5 * 3600 }, { limit: 50 })],
    ['overview (totals, unique IPs, series)', () => Promise.all([
      store.totals(siteId, day.from, day.to), store.uniqueIps(siteId, day.from, day.to), store.timeSeries(siteId, day.from, day.to, 300)])],
    ['top lists (5 dimensions)', () => Promise.all((['ip', 'path', 'userAgent', 'country', 'rule'] as const).map((d) => store.top(siteId, d, day.from, day.to, 10)))],
    ['IP detail (hours + recent)', () => Promise.all([
      store.valueHours(siteId, 'ip', '10.0.0.7', now - 7 * 86_400, now + 1), store.queryReports(siteId, { ip: '10.0.0.7' }, { limit: 20 })])],
    ['rule hits (24 h)', () => store.ruleHits(siteId, day.from, day.to, { ids: ['b-wpadmin'], matches: ['bp\t/wp-admin'] })],
  ];
}

const sqliteDir = mkdtempSync(join(tmpdir(), 'moat-query-bench-'));
const sqlite = SqliteStore.open(join(sqliteDir, 'hub.db'));
// --reuse NAME: a database a --keep run loaded (site 1), to compare code changes without reloading.
const db = values.reuse
  ? { name: values.reuse, url: Object.assign(new URL(postgresUrl()), { pathname: `/${values.reuse}` }).toString(), drop: async () => undefined }
  : await freshDatabase('moat_qbench');
const postgres = await PostgresStore.open(db.url);
// The same database through connections whose session default forbids parallel plans (PGOPTIONS is read
// when a connection opens), to measure whether the pool should set it.
process.env.PGOPTIONS = '-c max_parallel_workers_per_gather=0';
const serial = await PostgresStore.open(db.url);
delete process.env.PGOPTIONS;
try {
  console.log(`SQLite:`);
  const sqliteSite = await load(sqlite);
  sqlite.db.pragma('optimize');
  console.log(`PostgreSQL (${db.name}):`);
  const pgSite = values.reuse ? 1 : await load(postgres);
  await postgres.pool.query('VACUUM ANALYZE');
  const sq = queries(sqlite, sqliteSite);
  const pq = queries(postgres, pgSite);
  const pqSerial = queries(serial, pgSite);
  console.log(`\n| query (${RECORDS.toLocaleString('en-US')} reports) | SQLite ms | PostgreSQL ms | PG / SQLite | PG, no parallel plans, ms |`);
  console.log('|---|---:|---:|---:|---:|');
  for (let i = 0; i < sq.length; i++) {
    const s = await timeMs(sq[i]![1]);
    const p = await timeMs(pq[i]![1]);
    const p0 = await timeMs(pqSerial[i]![1]);
    console.log(`| ${sq[i]![0]} | ${s.toFixed(2)} | ${p.toFixed(2)} | ${(p / s).toFixed(2)} | ${p0.toFixed(2)} |`);
  }
  if (values.explain) {
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      for (const [label, sql, params] of [
        ['first page', 'SELECT * FROM reports WHERE site_id = $1 AND ts >= $2 AND ts < $3 AND (ts < $4 OR (ts = $4 AND id < $5)) ORDER BY ts DESC, id DESC LIMIT 51',
          [pgSite, now - 3600, now + 1, now + 1, Number.MAX_SAFE_INTEGER]],
        ['Blocked', 'SELECT * FROM reports WHERE site_id = $1 AND ts >= $2 AND ts < $3 AND treatment = 2 AND (ts < $4 OR (ts = $4 AND id < $5)) ORDER BY ts DESC, id DESC LIMIT 51',
          [pgSite, now - 3600, now + 1, now + 1, Number.MAX_SAFE_INTEGER]],
      ] as const) {
        const plan = await client.query(`EXPLAIN (ANALYZE, BUFFERS) ${sql}`, [...params]);
        console.log(`\n-- ${label}\n${plan.rows.map((r) => r['QUERY PLAN']).join('\n')}`);
      }
    } finally {
      await client.end();
    }
  }
} finally {
  await sqlite.close();
  rmSync(sqliteDir, { recursive: true, force: true });
  await postgres.close();
  await serial.close();
  if (!values.keep) await db.drop();
}
