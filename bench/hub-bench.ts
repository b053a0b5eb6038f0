/**
 * Hub benchmark: ingestion through the real `POST /v2/upsync` endpoint, and dashboard query latency
 * with many stored reports. Baselines measured in the same run: the store's own batched insert
 * (no HTTP, no validation) for ingestion, and a raw-table scan for the overview queries.
 *
 *   node --import tsx bench/hub-bench.ts [--quick] [--records N]
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { createHub, type Hub } from '../packages/hub/src/index.js';
import type { ReportRecord } from '../packages/hub/src/store/store.js';

export interface HubBenchOptions {
  quick?: boolean;
  /** Records per upsync request (default 1000; Wafris clients send 250). */
  batchSize?: number;
  /** Reports stored for the query benchmark (default 1M, quick 50k). */
  storedRecords?: number;
  log?: (line: string) => void;
}

export interface HubBenchResult {
  ingest: {
    httpRecordsPerSecond: number;
    directRecordsPerSecond: number;
    /** http / direct. */
    ratio: number;
    batchSize: number;
    batches: number;
    concurrency: number;
    rollupRecordsPerSecond: number;
    /** Ingestion with the rollup timer on (every 2 s), until every record is also rolled up. */
    sustainedRecordsPerSecond: number;
  };
  queries: {
    storedRecords: number;
    bulkLoadRecordsPerSecond: number;
    databaseMiB: number;
    /** Median milliseconds over HTTP (JSON API / full page), 24 h range. */
    overviewMs: number;
    topListsMs: number;
    overviewPageMs: number;
    requestLogMs: number;
    /** Baseline: the same totals counted from the raw table. */
    rawScanTotalsMs: number;
  };
}

const IP_POOL = 50_000;
const PATHS = Array.from({ length: 2000 }, (_, i) => `/p/${i}/${['view', 'edit', 'list'][i % 3]}`);
const AGENTS = Array.from({ length: 300 }, (_, i) => `Mozilla/5.0 agent-${i} (bench)`);

/** Zipf-like pick: a few values are hot, most are rare, as in real traffic. */
function skewed(n: number, r: number): number {
  return Math.min(n - 1, Math.floor(n * r * r * r));
}

function makeRecord(i: number, ts: number): Record<string, unknown> {
  const r = ((i * 2654435761) >>> 0) / 2 ** 32;
  const ip = skewed(IP_POOL, r);
  const blocked = i % 17 === 0;
  return {
    ip: `10.${(ip >> 16) & 255}.${(ip >> 8) & 255}.${ip & 255}`,
    user_agent: AGENTS[skewed(AGENTS.length, (r * 7) % 1)], path: PATHS[skewed(PATHS.length, (r * 13) % 1)],
    parameter: i % 5 === 0 ? 'q=shoes&page=2' : '', host: 'shop.example.com', method: i % 9 === 0 ? 'POST' : 'GET',
    request_id: `req-${i}`, timestamp: ts, treatment: blocked ? 'Blocked' : 'Passed',
    category: blocked ? 'bp' : 'passed', rule: blocked ? '/wp-admin' : '-', rule_id: blocked ? 'b-wpadmin' : null,
  };
}

function toStored(r: Record<string, unknown>): ReportRecord {
  const blocked = r.treatment === 'Blocked';
  return {
    ts: r.timestamp as number, ip: r.ip as string, method: r.method as string, host: r.host as string, path: r.path as string,
    parameter: r.parameter as string, userAgent: r.user_agent as string, requestId: r.request_id as string,
    treatment: blocked ? 'Blocked' : 'Passed', category: r.category as string, rule: r.rule as string,
    ruleId: (r.rule_id as string | null) ?? null, monitored: null, ipSource: null, country: null,
  };
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

async function signIn(hub: Hub): Promise<{ cookie: string; csrf: string }> {
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

async function startBenchHub(rollupIntervalMs = 3_600_000): Promise<{ hub: Hub; dir: string; siteId: number; apiKey: string; cookie: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'moat-hub-bench-'));
  const hub = await createHub({
    dataDir: dir, port: 0, adminEmail: 'bench@example.test', adminPassword: 'bench password 123',
    rollupIntervalMs, print: () => undefined, upsyncMaxRecords: 10_000, selfProtection: false,
  });
  const { cookie, csrf } = await signIn(hub);
  const headers = { cookie, 'x-csrf-token': csrf, 'content-type': 'application/json' };
  const site = (await (await fetch(`${hub.url}/api/sites`, { method: 'POST', headers, body: '{"name":"bench"}' })).json()) as { site: { id: number } };
  const key = (await (await fetch(`${hub.url}/api/sites/${site.site.id}/keys`, { method: 'POST', headers, body: '{}' })).json()) as { key: string };
  return { hub, dir, siteId: site.site.id, apiKey: key.key, cookie };
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

export async function runHubBench(options: HubBenchOptions = {}): Promise<HubBenchResult> {
  const quick = options.quick ?? false;
  const log = options.log ?? (() => undefined);
  const batchSize = options.batchSize ?? 1000;
  const batches = Math.ceil((quick ? 20_000 : 300_000) / batchSize);
  const concurrency = 4;
  const now = Math.floor(Date.now() / 1000);

  // Ingestion over HTTP: bodies serialised beforehand, so the figure is the hub's work alone.
  const ingestHub = await startBenchHub();
  let ingest: HubBenchResult['ingest'];
  try {
    // A pool of distinct bodies, reused round-robin: holding hundreds of MB of bodies would measure the GC.
    const pool = Math.min(batches, 25);
    const poolBodies = Array.from({ length: pool }, (_, b) => JSON.stringify({
      meta: { version: '0.1.0', client: 'bench', framework: 'node' },
      batch: Array.from({ length: batchSize }, (_, i) => makeRecord(b * batchSize + i, now - 3600 + Math.floor(((b * batchSize + i) / (pool * batchSize)) * 3600))),
    }));
    // The load comes from a worker thread, as clients are other machines: the hub's event loop does
    // only the hub's work.
    const started = performance.now();
    await sendFromWorker(`${ingestHub.hub.url}/v2/upsync/${ingestHub.apiKey}`, poolBodies, batches, concurrency);
    const httpSeconds = (performance.now() - started) / 1000;
    const httpRecordsPerSecond = (batches * batchSize) / httpSeconds;
    log(`ingest over HTTP: ${Math.round(httpRecordsPerSecond).toLocaleString('en-US')} records/s (${batches} × ${batchSize}, ${concurrency} connections)`);

    const rollStart = performance.now();
    const folded = await ingestHub.hub.rollUpNow();
    const rollupRecordsPerSecond = folded / ((performance.now() - rollStart) / 1000);
    log(`rollup: ${Math.round(rollupRecordsPerSecond).toLocaleString('en-US')} records/s`);

    // Baseline: the same records through the store's batched insert, no HTTP or validation.
    const direct = poolBodies.map((b) => (JSON.parse(b) as { batch: Record<string, unknown>[] }).batch.map(toStored));
    const directStart = performance.now();
    for (let b = 0; b < batches; b++) await ingestHub.hub.store.insertReports(ingestHub.siteId, direct[b % pool]!);
    const directRecordsPerSecond = (batches * batchSize) / ((performance.now() - directStart) / 1000);
    log(`baseline, direct store insert: ${Math.round(directRecordsPerSecond).toLocaleString('en-US')} records/s`);
    // Sustained: a fresh hub with its rollup timer at the default 2 s, timed until all is folded.
    let sustainedRecordsPerSecond = 0;
    const sustainedHub = await startBenchHub(2000);
    try {
      const t0 = performance.now();
      await sendFromWorker(`${sustainedHub.hub.url}/v2/upsync/${sustainedHub.apiKey}`, poolBodies, batches, concurrency);
      await sustainedHub.hub.rollUpNow();
      sustainedRecordsPerSecond = (batches * batchSize) / ((performance.now() - t0) / 1000);
    } finally {
      await sustainedHub.hub.close();
      rmSync(sustainedHub.dir, { recursive: true, force: true });
    }
    log(`sustained (ingest + rollups every 2 s, until folded): ${Math.round(sustainedRecordsPerSecond).toLocaleString('en-US')} records/s`);
    ingest = {
      sustainedRecordsPerSecond,
      httpRecordsPerSecond, directRecordsPerSecond, ratio: httpRecordsPerSecond / directRecordsPerSecond,
      batchSize, batches, concurrency, rollupRecordsPerSecond,
    };
  } finally {
    await ingestHub.hub.close();
    rmSync(ingestHub.dir, { recursive: true, force: true });
  }

  // Queries over many stored reports, spread over the last 24 hours.
  const stored = options.storedRecords ?? (quick ? 50_000 : 1_000_000);
  const queryHub = await startBenchHub();
  try {
    const { hub, siteId, cookie } = queryHub;
    const loadStart = performance.now();
    const chunk = 20_000;
    for (let done = 0; done < stored; done += chunk) {
      const n = Math.min(chunk, stored - done);
      const rows = Array.from({ length: n }, (_, i) => toStored(makeRecord(done + i, now - Math.floor(((done + i) / stored) * 86_400))));
      await hub.store.insertReports(siteId, rows);
      await hub.rollUpNow();
      if (!quick && (done / chunk) % 50 === 0) log(`  loaded ${(done + n).toLocaleString('en-US')} reports`);
    }
    const bulkLoadRecordsPerSecond = stored / ((performance.now() - loadStart) / 1000);
    hub.store.db.pragma('optimize');
    const databaseMiB = statSync(hub.config.databaseFile).size / 2 ** 20;
    log(`stored ${stored.toLocaleString('en-US')} reports (with rollups) at ${Math.round(bulkLoadRecordsPerSecond).toLocaleString('en-US')} records/s, ${databaseMiB.toFixed(0)} MiB`);

    const get = async (path: string) => {
      const response = await fetch(hub.url + path, { headers: { cookie } });
      if (response.status !== 200) throw new Error(`${path}: ${response.status}`);
      return response.text();
    };
    const rounds = quick ? 3 : 9;
    const overviewMs = await timeMs(() => get(`/api/sites/${siteId}/stats/overview?range=24h`), rounds);
    const topListsMs = await timeMs(() => get(`/api/sites/${siteId}/stats/top?range=24h`), rounds);
    const overviewPageMs = await timeMs(() => get(`/sites/${siteId}?range=24h`), rounds);
    const requestLogMs = await timeMs(() => get(`/api/sites/${siteId}/requests?treatment=Blocked&limit=50`), rounds);
    const rawScan = hub.store.db.prepare(`SELECT count(*), sum(treatment = 2), sum(treatment = 1), count(DISTINCT ip)
      FROM reports WHERE site_id = ? AND ts >= ?`);
    const rawScanTotalsMs = await timeMs(async () => rawScan.get(siteId, now - 86_400), rounds);
    log(`24 h overview ${overviewMs.toFixed(1)} ms, top lists ${topListsMs.toFixed(1)} ms, overview page ${overviewPageMs.toFixed(1)} ms, `
      + `request log ${requestLogMs.toFixed(1)} ms; baseline raw scan ${rawScanTotalsMs.toFixed(1)} ms`);
    return {
      ingest,
      queries: { storedRecords: stored, bulkLoadRecordsPerSecond, databaseMiB, overviewMs, topListsMs, overviewPageMs, requestLogMs, rawScanTotalsMs },
    };
  } finally {
    await queryHub.hub.close();
    rmSync(queryHub.dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const quick = process.argv.includes('--quick');
  const at = process.argv.indexOf('--records');
  const storedRecords = at > 0 ? Number(process.argv[at + 1]) : undefined;
  const b = process.argv.indexOf('--batch');
  const batchSize = b > 0 ? Number(process.argv[b + 1]) : undefined;
  const result = await runHubBench({ quick, storedRecords, batchSize, log: (l) => console.log(l) });
  console.log(JSON.stringify(result, null, 2));
}
