/**
 * Sync benchmark (issue 7 §5): time from a rule change on the hub to its enforcement in a client. A real
 * hub runs in-process on 127.0.0.1 with a demo site; a ManagedFirewall polls it every `intervalMs`. Each
 * change creates a block rule for a fresh IP through the hub's rule service (what the dashboard and API
 * call: store, recompile, sign) and the clock stops when the client's engine answers Blocked for that IP.
 * Changes land at random points of the poll cycle, so the expected figure is about half an interval plus
 * the compile, download and install; the interval itself is the reference the figures are compared with.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createHub } from '../packages/hub/src/index.js';
import { ManagedFirewall } from '../packages/moat/src/managed/managed-firewall.js';
import { median, percentile, rng } from './lib/measure.js';

export interface SyncBenchOptions {
  quick?: boolean;
  /** Rule changes per interval (default 20; quick 4). */
  changes?: number;
  /** Client poll intervals to measure, ms (default [200, 1000]; quick [100]). */
  intervalsMs?: number[];
  log?: (s: string) => void;
}

export interface SyncRow {
  intervalMs: number;
  changes: number;
  /** Milliseconds from the start of the change to the first Blocked answer. */
  p50: number;
  p95: number;
  min: number;
  max: number;
  /** Of that, the hub's part (store, recompile, sign) until the change call returned: median ms. */
  hubMedian: number;
  /** p50 / interval: 0.5 would be "half a poll interval", the least polling can do on average. */
  p50OverInterval: number;
  samples: number[];
}

export interface SyncBenchResult {
  rows: SyncRow[];
  signed: boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runSyncBench(o: SyncBenchOptions = {}): Promise<SyncBenchResult> {
  const quick = o.quick === true;
  const changes = o.changes ?? (quick ? 4 : 20);
  const intervals = o.intervalsMs ?? (quick ? [100] : [200, 1000]);
  const log = o.log ?? (() => {});
  const dir = mkdtempSync(join(tmpdir(), 'moat-sync-bench-'));
  const hub = await createHub({
    dataDir: join(dir, 'hub'), host: '127.0.0.1', port: 0, createDemoSite: true,
    adminEmail: 'bench@example.com', adminPassword: 'bench-password-not-secret', print: () => {}, logger: false,
  });
  const rows: SyncRow[] = [];
  try {
    const siteId = hub.firstRun.demoSiteId;
    const apiKey = hub.firstRun.demoApiKey;
    if (siteId === undefined || apiKey === undefined) throw new Error('the hub created no demo site (createDemoSite)');
    const publicKey = hub.context.signingKey?.publicKeyBase64;
    const rand = rng(77);
    let ipCounter = 0;
    for (const intervalMs of intervals) {
      const firewall = new ManagedFirewall({
        apiKey, hubUrl: hub.url, dir: join(dir, `client-${intervalMs}`), customRulesIntervalMs: intervalMs, jitter: 0,
        publicKey, upsync: false, logger: false, watchIntervalMs: 60_000,
      });
      try {
        const status = await firewall.ready();
        if (status.keyRefused) throw new Error('the hub refused the demo API key');
        const samples: number[] = [];
        const hubTimes: number[] = [];
        for (let c = 0; c < changes; c++) {
          await sleep(rand() * intervalMs); // land anywhere in the poll cycle
          ipCounter++;
          const ip = `198.18.${ipCounter >> 8}.${ipCounter & 255}`;
          const request = { ip, method: 'GET', host: 'bench.example', path: '/' };
          const blocked = () => firewall.currentEngine?.evaluate(request).treatment === 'Blocked';
          if (blocked()) throw new Error(`${ip} is blocked before its rule exists`);
          const t0 = performance.now();
          await hub.context.rules.create(siteId, { action: 'block', kind: 'ip', value: ip, mode: 'block', note: undefined, expires: undefined }, { userId: null, email: 'bench', ip: null });
          hubTimes.push(performance.now() - t0);
          const deadline = t0 + intervalMs * 5 + 10_000; // bounded wait
          while (!blocked()) {
            if (performance.now() > deadline) throw new Error(`rule for ${ip} not enforced within ${(deadline - t0).toFixed(0)} ms`);
            await sleep(1);
          }
          samples.push(performance.now() - t0);
        }
        const p50 = percentile(samples, 50);
        rows.push({
          intervalMs, changes, p50, p95: percentile(samples, 95), min: Math.min(...samples), max: Math.max(...samples),
          hubMedian: median(hubTimes), p50OverInterval: p50 / intervalMs, samples,
        });
        log(`  poll every ${intervalMs} ms: p50 ${p50.toFixed(0)} ms, p95 ${percentile(samples, 95).toFixed(0)} ms (hub part ${median(hubTimes).toFixed(0)} ms)`);
      } finally {
        await firewall.close();
      }
    }
    return { rows, signed: publicKey !== undefined };
  } finally {
    await hub.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(JSON.stringify(await runSyncBench({ quick: process.argv.includes('--quick'), log: console.log }), null, 2));
}
