/**
 * Hub benchmark: ingestion through the real `POST /v2/upsync` endpoint, and dashboard query latency
 * with many stored reports. Baselines measured in the same run: the store's own batched insert
 * (no HTTP, no validation) for ingestion, and a raw-table scan for the overview queries.
 * The same measures on PostgreSQL follow, beside SQLite at the same size in the same run, when a
 * PostgreSQL server is available (scripts/ensure-postgres.sh; quick runs only use one already running).
 *
 *   node --import tsx bench/hub-bench.ts [--quick] [--records N] [--pg-records N] [--batch N]
 */
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { createHub, type Hub } from '../packages/hub/src/index.js';
import { HUB_ACTOR } from '../packages/hub/src/audit/actor.js';
import type { PostgresStore } from '../packages/hub/src/store/postgres/postgres-store.js';
import type { SqliteStore } from '../packages/hub/src/store/sqlite/sqlite-store.js';
import type { HubStore } from '../packages/hub/src/store/store.js';
import { benchPostgresUrl, freshBenchDatabase } from './bench-postgres.js';
import { keyedBenchReport, makeRecord, toStored } from './hub-traffic.js';
import { measurePreview, type PreviewTiming } from './preview-bench.js';

export interface HubBenchOptions {
  quick?: boolean;
  /** Records per upsync request (default 1000; Wafris clients send 250). */
  batchSize?: number;
  /** Reports stored for the query benchmark (default 1M, quick 50k). */
  storedRecords?: number;
  /**
   * Reports stored for the PostgreSQL query rows and the SQLite rows beside them (default 1M, which keeps
   * the PostgreSQL part to a few minutes; quick 20k). 0 skips the PostgreSQL rows.
   */
  postgresStoredRecords?: number;
  log?: (line: string) => void;
}

export interface QueryTimings {
  storedRecords: number;
  bulkLoadRecordsPerSecond: number;
  /** The whole database on disk: raw reports, rollups and every index. */
  databaseMiB: number;
  /** The raw reports table with its indexes (all partitions on PostgreSQL). */
  reportsMiB: number;
  /** Median milliseconds over HTTP (JSON API / full page), 24 h range. */
  overviewMs: number;
  topListsMs: number;
  overviewPageMs: number;
  /** The request log filtered to Blocked, first page of 50. */
  requestLogMs: number;
  /** The request log unfiltered: first page, and the 20th page through its keyset cursor. */
  requestLogFirstPageMs: number;
  requestLogPage20Ms: number;
  /** Baseline: the same totals counted from the raw table. */
  rawScanTotalsMs: number;
}

export interface IngestTimings {
  httpRecordsPerSecond: number;
  directRecordsPerSecond: number;
  /** http / direct. */
  ratio: number;
  batchSize: number;
  batches: number;
  concurrency: number;
  rollupRecordsPerSecond: number;
}

/** PostgreSQL beside SQLite: the same ingestion, and the queries at one size on both, in one run. */
export interface PostgresComparison {
  ingest: IngestTimings;
  queries: QueryTimings;
  /** SQLite at the same number of stored reports, measured in the same run. */
  sqliteQueries: QueryTimings;
}

/** Auto-ban's cost: the hub's event-loop busy time per record ingested over HTTP, with and without rules. */
export interface ThresholdCost {
  records: number;
  /** Microseconds of busy hub event loop per record, no threshold rules. */
  noRulesMicrosPerRecord: number;
  /** The same with 20 threshold rules (monitor mode) counting every record, in the same run. */
  twentyRulesMicrosPerRecord: number;
}

export interface HubBenchResult {
  thresholds: ThresholdCost;
  ingest: IngestTimings & {
    /** Ingestion with the rollup timer on (every 2 s), until every record is also rolled up. */
    sustainedRecordsPerSecond: number;
  };
  queries: QueryTimings;
  /**
   * The previews (bench/preview-bench.ts) over the stored reports of `queries`, preceded by the same over
   * 1 M reports in a hub of their own when `queries` holds more.
   */
  preview: PreviewTiming[];
  /** The PostgreSQL rows, or why there are none ("PostgreSQL not available …"). */
  postgres: PostgresComparison | { unavailable: string };
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function timeMs(fn: () => Promise<unknown>, rounds: number): Promise<number> {
  await fn();
  const times: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const t = performance.now();
    await fn();
    times.push(performance.now() - t);
  }
  return median(times);
}

async function signIn(hub: Hub<HubStore>): Promise<{ cookie: string; csrf: string }> {
  const page = await fetch(`${hub.url}/login`);
  const loginCookie = page.headers.getSetCookie()[0]!.split(';')[0]!;
  const token = /name="_csrf" value="([^"]+)"/.exec(await page.text())![1]!;
  const login = await fetch(`${hub.url}/login`, {
    method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: loginCookie },
    body: new URLSearchParams({ email: 'bench@example.test', password: 'bench password 123', _csrf: token }).toString(),
  });
  const cookie = login.headers.getSetCookie().find((c) => c.startsWith('moat_session='))!.split(';')[0]!;
  const me = (await (await fetch(`${hub.url}/api/me`, { headers: { cookie } })).json()) as { csrfToken: string };
  return { cookie, csrf: me.csrfToken };
}

interface BenchHub { hub: Hub<HubStore>; dir: string; siteId: number; apiKey: string; cookie: string; close(): Promise<void> }

/** A hub on SQLite in a temporary directory, or on the PostgreSQL database at `databaseUrl`. */
async function startBenchHub(rollupIntervalMs = 3_600_000, databaseUrl?: string): Promise<BenchHub> {
  const dir = mkdtempSync(join(tmpdir(), 'moat-hub-bench-'));
  const hub: Hub<HubStore> = await createHub({
    dataDir: dir, databaseUrl, port: 0, adminEmail: 'bench@example.test', adminPassword: 'bench password 123',
    rollupIntervalMs, print: () => undefined, upsyncMaxRecords: 10_000, selfProtection: false,
  });
  const { cookie, csrf } = await signIn(hub);
  const headers = { cookie, 'x-csrf-token': csrf, 'content-type': 'application/json' };
  const site = (await (await fetch(`${hub.url}/api/sites`, { method: 'POST', headers, body: '{"name":"bench"}' })).json()) as { site: { id: number } };
  const key = (await (await fetch(`${hub.url}/api/sites/${site.site.id}/keys`, { method: 'POST', headers, body: '{}' })).json()) as { key: string };
  return {
    hub, dir, siteId: site.site.id, apiKey: key.key, cookie,
    close: async () => {
      await hub.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Posts `total` bodies (round-robin from `bodies`) over `concurrency` connections, from a worker thread. */
function sendFromWorker(url: string, bodies: string[], total: number, concurrency: number): Promise<void> {
  const code = `
    const { parentPort, workerData } = require('node:worker_threads');
    const { url, bodies, total, concurrency } = workerData;
    let next = 0;
    const lane = async () => {
      while (next < total) {
        const body = bodies[next++ % bodies.length];
        const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
        const text = await response.text();
        if (response.status !== 200) throw new Error('upsync answered ' + response.status + ': ' + text);
      }
    };
    Promise.all(Array.from({ length: concurrency }, lane)).then(() => parentPort.postMessage('done'), (e) => parentPort.postMessage(String(e)));
  `;
  return new Promise((resolve, reject) => {
    const worker = new Worker(code, { eval: true, workerData: { url, bodies, total, concurrency } });
    worker.once('message', (message) => {
      void worker.terminate();
      if (message === 'done') resolve();
      else reject(new Error(String(message)));
    });
    worker.once('error', reject);
  });
}

/** Upsync bodies: `pool` distinct ones of `batchSize` records over the last hour, reused round-robin. */
export function upsyncBodies(pool: number, batchSize: number, now: number): string[] {
  return Array.from({ length: pool }, (_, b) => JSON.stringify({
    meta: { version: '0.1.0', client: 'bench', framework: 'node' },
    batch: Array.from({ length: batchSize }, (_, i) => makeRecord(b * batchSize + i, now - 3600 + Math.floor(((b * batchSize + i) / (pool * batchSize)) * 3600))),
  }));
}

/** Ingestion over HTTP, then the rollup of it, then the same records through the store directly. */
async function measureIngest(target: BenchHub, bodies: string[], batches: number, batchSize: number, concurrency: number,
  log: (line: string) => void): Promise<IngestTimings> {
  // The load comes from a worker thread, as clients are other machines: the hub's event loop does
  // only the hub's work.
  const started = performance.now();
  await sendFromWorker(`${target.hub.url}/v2/upsync/${target.apiKey}`, bodies, batches, concurrency);
  const httpRecordsPerSecond = (batches * batchSize) / ((performance.now() - started) / 1000);
  log(`ingest over HTTP: ${Math.round(httpRecordsPerSecond).toLocaleString('en-US')} records/s (${batches} × ${batchSize}, ${concurrency} connections)`);

  const rollStart = performance.now();
  const folded = await target.hub.rollUpNow();
  const rollupRecordsPerSecond = folded / ((performance.now() - rollStart) / 1000);
  log(`rollup: ${Math.round(rollupRecordsPerSecond).toLocaleString('en-US')} records/s`);

  // Baseline: the same records through the store's batched insert, no HTTP or validation.
  const direct = bodies.map((b) => (JSON.parse(b) as { batch: Record<string, unknown>[] }).batch.map(toStored));
  const directStart = performance.now();
  for (let b = 0; b < batches; b++) await target.hub.store.insertReports(target.siteId, direct[b % bodies.length]!);
  const directRecordsPerSecond = (batches * batchSize) / ((performance.now() - directStart) / 1000);
  log(`baseline, direct store insert: ${Math.round(directRecordsPerSecond).toLocaleString('en-US')} records/s`);
  return {
    httpRecordsPerSecond, directRecordsPerSecond, ratio: httpRecordsPerSecond / directRecordsPerSecond,
    batchSize, batches, concurrency, rollupRecordsPerSecond,
  };
}

/** Bytes on disk: the whole database, and the raw reports table with its indexes. */
async function diskUse(hub: Hub<HubStore>, postgres: boolean): Promise<{ databaseMiB: number; reportsMiB: number }> {
  const mib = (bytes: number) => bytes / 2 ** 20;
  if (postgres) {
    const pool = (hub.store as PostgresStore).pool;
    await pool.query('VACUUM ANALYZE');
    // Leaf tables only (a partitioned parent has no storage); pg_total_relation_size counts TOAST and indexes.
    const { rows } = await pool.query<{ all: number; reports: number }>(
      `SELECT sum(pg_total_relation_size(c.oid)) AS all,
        sum(pg_total_relation_size(c.oid)) FILTER (WHERE c.oid IN (SELECT relid FROM pg_partition_tree('reports'))) AS reports
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind IN ('r', 'm')`);
    return { databaseMiB: mib(rows[0]!.all), reportsMiB: mib(rows[0]!.reports) };
  }
  const db = (hub.store as SqliteStore).db;
  db.pragma('optimize');
  db.pragma('wal_checkpoint(TRUNCATE)');
  const reports = db.prepare<[], number>(
    "SELECT sum(pgsize) FROM dbstat WHERE name = 'reports' OR name IN (SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'reports')").pluck().get() ?? 0;
  // The file and its write-ahead log: the checkpoint above cannot finish while the hub's checkpointer
  // worker reads, and pages still in the log are the database's too.
  const file = hub.config.databaseFile;
  const wal = existsSync(`${file}-wal`) ? statSync(`${file}-wal`).size : 0;
  return { databaseMiB: mib(statSync(file).size + wal), reportsMiB: mib(reports) };
}

/**
 * Stores `stored` reports spread evenly over the last 24 h, oldest first as ingestion appends them (index
 * pages fill as they do in production); a third carry a hashed API key (keyedBenchReport), for the keyed
 * previews. With `rollUp`, rolled up chunk by chunk as the hub would (the dashboard reads the rollups).
 */
async function storeReports(target: BenchHub, stored: number, now: number, o: { rollUp: boolean; quick: boolean; log: (line: string) => void }): Promise<void> {
  const chunk = 20_000;
  for (let done = 0; done < stored; done += chunk) {
    const n = Math.min(chunk, stored - done);
    const rows = Array.from({ length: n }, (_, i) => keyedBenchReport(done + i, now - 86_400 + Math.floor(((done + i) / stored) * 86_400)));
    await target.hub.store.insertReports(target.siteId, rows);
    if (o.rollUp) await target.hub.rollUpNow();
    if (!o.quick && (done / chunk) % 50 === 0) o.log(`  loaded ${(done + n).toLocaleString('en-US')} reports`);
  }
}

/** Stores `stored` reports spread over the last 24 h (with rollups), then times the dashboard over HTTP. */
async function measureQueries(target: BenchHub, stored: number, now: number, quick: boolean, log: (line: string) => void): Promise<QueryTimings> {
  const { hub, siteId, cookie } = target;
  const postgres = hub.config.databaseUrl !== undefined;
  const loadStart = performance.now();
  await storeReports(target, stored, now, { rollUp: true, quick, log });
  const bulkLoadRecordsPerSecond = stored / ((performance.now() - loadStart) / 1000);
  const { databaseMiB, reportsMiB } = await diskUse(hub, postgres);
  log(`stored ${stored.toLocaleString('en-US')} reports (with rollups) at ${Math.round(bulkLoadRecordsPerSecond).toLocaleString('en-US')} records/s, `
    + `${databaseMiB.toFixed(0)} MiB (raw reports with indexes ${reportsMiB.toFixed(0)} MiB)`);

  const get = async (path: string) => {
    const response = await fetch(hub.url + path, { headers: { cookie } });
    if (response.status !== 200) throw new Error(`${path}: ${response.status}`);
    return response.text();
  };
  let cursor: string | null = null;
  for (let page = 1; page < 20; page++) {
    cursor = (JSON.parse(await get(`/api/sites/${siteId}/requests?limit=50${cursor ? `&before=${cursor}` : ''}`)) as { next: string | null }).next;
    if (!cursor) break;
  }
  const rounds = quick ? 3 : 9;
  const overviewMs = await timeMs(() => get(`/api/sites/${siteId}/stats/overview?range=24h`), rounds);
  const topListsMs = await timeMs(() => get(`/api/sites/${siteId}/stats/top?range=24h`), rounds);
  const overviewPageMs = await timeMs(() => get(`/sites/${siteId}?range=24h`), rounds);
  const requestLogMs = await timeMs(() => get(`/api/sites/${siteId}/requests?treatment=Blocked&limit=50`), rounds);
  const requestLogFirstPageMs = await timeMs(() => get(`/api/sites/${siteId}/requests?limit=50`), rounds);
  const requestLogPage20Ms = await timeMs(() => get(`/api/sites/${siteId}/requests?limit=50${cursor ? `&before=${cursor}` : ''}`), rounds);
  const rawScanTotalsMs = postgres
    ? await timeMs(() => (hub.store as PostgresStore).pool.query(`SELECT count(*), count(*) FILTER (WHERE treatment = 2),
        count(*) FILTER (WHERE treatment = 1), count(DISTINCT ip) FROM reports WHERE site_id = $1 AND ts >= $2`, [siteId, now - 86_400]), rounds)
    : await timeMs(async () => (hub.store as SqliteStore).db.prepare(`SELECT count(*), sum(treatment = 2), sum(treatment = 1), count(DISTINCT ip)
        FROM reports WHERE site_id = ? AND ts >= ?`).get(siteId, now - 86_400), rounds);
  log(`24 h overview ${overviewMs.toFixed(1)} ms, top lists ${topListsMs.toFixed(1)} ms, overview page ${overviewPageMs.toFixed(1)} ms, `
    + `request log ${requestLogMs.toFixed(1)} ms (Blocked), ${requestLogFirstPageMs.toFixed(1)} ms (first page), ${requestLogPage20Ms.toFixed(1)} ms (page 20); `
    + `baseline raw scan ${rawScanTotalsMs.toFixed(1)} ms`);
  return {
    storedRecords: stored, bulkLoadRecordsPerSecond, databaseMiB, reportsMiB, overviewMs, topListsMs, overviewPageMs,
    requestLogMs, requestLogFirstPageMs, requestLogPage20Ms, rawScanTotalsMs,
  };
}

export async function runHubBench(options: HubBenchOptions = {}): Promise<HubBenchResult> {
  const quick = options.quick ?? false;
  const log = options.log ?? (() => undefined);
  const batchSize = options.batchSize ?? 1000;
  const batches = Math.ceil((quick ? 20_000 : 300_000) / batchSize);
  const concurrency = 4;
  const now = Math.floor(Date.now() / 1000);
  // A pool of distinct bodies, reused round-robin: holding hundreds of MB of bodies would measure the GC.
  // Serialised beforehand, so the figure is the hub's work alone.
  const bodies = upsyncBodies(Math.min(batches, 25), batchSize, now);

  log('SQLite:');
  const ingestHub = await startBenchHub();
  let ingest: HubBenchResult['ingest'];
  try {
    const timings = await measureIngest(ingestHub, bodies, batches, batchSize, concurrency, log);
    // Sustained: a fresh hub with its rollup timer at the default 2 s, timed until all is folded.
    let sustainedRecordsPerSecond = 0;
    const sustainedHub = await startBenchHub(2000);
    try {
      const t0 = performance.now();
      await sendFromWorker(`${sustainedHub.hub.url}/v2/upsync/${sustainedHub.apiKey}`, bodies, batches, concurrency);
      await sustainedHub.hub.rollUpNow();
      sustainedRecordsPerSecond = (batches * batchSize) / ((performance.now() - t0) / 1000);
    } finally {
      await sustainedHub.close();
    }
    log(`sustained (ingest + rollups every 2 s, until folded): ${Math.round(sustainedRecordsPerSecond).toLocaleString('en-US')} records/s`);
    ingest = { ...timings, sustainedRecordsPerSecond };
  } finally {
    await ingestHub.close();
  }

  // Queries over many stored reports, spread over the last 24 hours.
  const stored = options.storedRecords ?? (quick ? 50_000 : 1_000_000);
  const queryHub = await startBenchHub();
  let queries: QueryTimings;
  let preview: PreviewTiming[];
  try {
    queries = await measureQueries(queryHub, stored, now, quick, log);
    preview = await measurePreview({ ...queryHub, storedReports: stored }, log);
  } finally {
    await queryHub.close();
  }
  // The targets' two sizes: 1 M in a hub of its own when the query hub holds more (10 M in the full run);
  // a quick run takes half its reports, so the same path runs.
  const firstSize = quick ? Math.floor(stored / 2) : PREVIEW_FIRST_SIZE;
  if (stored > firstSize) preview = [...await measurePreviewAt(firstSize, now, log), ...preview];
  const thresholds = await measureThresholdCost(bodies, batchSize, quick, log);
  return { ingest, queries, preview, thresholds, postgres: await comparePostgres(options, bodies, batches, batchSize, concurrency, now, log) };
}

/** The smaller of the previews' two target sizes (≤ 2 s at 1 M stored reports, ≤ 20 s at 10 M). */
const PREVIEW_FIRST_SIZE = 1_000_000;

/** The previews over `stored` reports in a fresh hub (no rollups: the previews read the raw reports). */
export async function measurePreviewAt(stored: number, now: number, log: (line: string) => void): Promise<PreviewTiming[]> {
  const target = await startBenchHub();
  try {
    log(`previews at ${stored.toLocaleString('en-US')} stored reports:`);
    await storeReports(target, stored, now, { rollUp: false, quick: true, log });
    return await measurePreview({ ...target, storedReports: stored }, log);
  } finally {
    await target.close();
  }
}

/**
 * Hub CPU per ingested record with 20 threshold rules against none, on one hub in one run. The hub's work
 * runs on its event loop (SQLite is synchronous), so the loop's busy time while a worker thread posts the
 * batches is the hub's CPU for them; the sender's own CPU is not in it.
 */
export async function measureThresholdCost(bodies: string[], batchSize: number, quick: boolean, log: (line: string) => void): Promise<ThresholdCost> {
  const target = await startBenchHub();
  try {
    const batches = Math.max(2, Math.ceil((quick ? 10_000 : 100_000) / batchSize));
    const records = batches * batchSize;
    const busyMicrosPerRecord = async () => {
      const before = performance.eventLoopUtilization();
      await sendFromWorker(`${target.hub.url}/v2/upsync/${target.apiKey}`, bodies, batches, 4);
      await target.hub.context.thresholds.idle();
      return (performance.eventLoopUtilization(before).active * 1000) / records;
    };
    await busyMicrosPerRecord(); // warm-up: JIT and SQLite caches
    const noRulesMicrosPerRecord = await busyMicrosPerRecord();
    // Twenty rules of the kinds operators write, each looking at every record; thresholds too high to ban.
    for (let i = 0; i < 20; i++) {
      const condition = i % 4 === 0 ? { requests: 'blocked' as const, method: null, path: null, pathMatch: 'exact' as const, status: null }
        : i % 4 === 1 ? { requests: 'any' as const, method: 'POST', path: '/login', pathMatch: 'exact' as const, status: null }
          : i % 4 === 2 ? { requests: 'any' as const, method: null, path: '/api', pathMatch: 'prefix' as const, status: null }
            : { requests: 'any' as const, method: null, path: null, pathMatch: 'exact' as const, status: null };
      await target.hub.context.thresholds.createRule(target.siteId, {
        name: `bench ${i}`, condition, windowSeconds: 60 + i, threshold: 1_000_000, key: i % 2 === 0 ? 'ip' : 'ip64', banSeconds: 3600,
        mode: 'monitor', maxBansPerMinute: 60,
      }, HUB_ACTOR);
    }
    const twentyRulesMicrosPerRecord = await busyMicrosPerRecord();
    log(`auto-ban: hub busy ${noRulesMicrosPerRecord.toFixed(1)} µs/record with no threshold rules, ${twentyRulesMicrosPerRecord.toFixed(1)} µs/record with 20 (${records.toLocaleString('en-US')} records each)`);
    return { records, noRulesMicrosPerRecord, twentyRulesMicrosPerRecord };
  } finally {
    await target.close();
  }
}

/** The PostgreSQL rows: ingestion, and the queries at one size on PostgreSQL and on SQLite. */
async function comparePostgres(options: HubBenchOptions, bodies: string[], batches: number, batchSize: number, concurrency: number,
  now: number, log: (line: string) => void): Promise<HubBenchResult['postgres']> {
  const quick = options.quick ?? false;
  const stored = options.postgresStoredRecords ?? (quick ? 20_000 : 1_000_000);
  if (stored <= 0) return { unavailable: 'PostgreSQL rows not asked for' };
  const server = await benchPostgresUrl(!quick);
  if ('unavailable' in server) {
    log(server.unavailable);
    return server;
  }
  log('PostgreSQL:');
  const onPostgres = async <T>(task: (target: BenchHub) => Promise<T>): Promise<T> => {
    const db = await freshBenchDatabase(server.url);
    try {
      const target = await startBenchHub(3_600_000, db.url);
      try {
        return await task(target);
      } finally {
        await target.close();
      }
    } finally {
      await db.drop();
    }
  };
  const ingest = await onPostgres((target) => measureIngest(target, bodies, batches, batchSize, concurrency, log));
  const queries = await onPostgres((target) => measureQueries(target, stored, now, quick, log));
  log(`SQLite at the same size (${stored.toLocaleString('en-US')} reports):`);
  const sqliteHub = await startBenchHub();
  try {
    return { ingest, queries, sqliteQueries: await measureQueries(sqliteHub, stored, now, quick, log) };
  } finally {
    await sqliteHub.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const quick = process.argv.includes('--quick');
  const at = process.argv.indexOf('--records');
  const storedRecords = at > 0 ? Number(process.argv[at + 1]) : undefined;
  const b = process.argv.indexOf('--batch');
  const batchSize = b > 0 ? Number(process.argv[b + 1]) : undefined;
  const p = process.argv.indexOf('--pg-records');
  const postgresStoredRecords = p > 0 ? Number(process.argv[p + 1]) : undefined;
  const result = await runHubBench({ quick, storedRecords, batchSize, postgresStoredRecords, log: (l) => console.log(l) });
  console.log(JSON.stringify(result, null, 2));
}
