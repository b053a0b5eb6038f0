/**
 * Fleet-wide auto-ban latency (issue 18 §2): from the request that crosses a threshold on one instance to
 * the first 403 for that client on another. A real hub runs in-process on 127.0.0.1 with one threshold rule
 * ("≥ 20 requests blocked by any rule in 5 min → ban 1 h") and a block rule for /wp-admin. App A and app B
 * are node:http apps behind a managed Moat firewall, each in its own process, with the default reporting
 * and sync settings (Blocked records reported within 1 s, Passed every 10 s; long-poll push); only the
 * hub URL, key, public key and the trusted proxy (127.0.0.1, so the bench can vary the client IP through X-Forwarded-For) are set.
 *
 * Each scanner IP sends `threshold` requests to /wp-admin on A, one after another; the clock starts when
 * the last one (the one that crosses) is sent, and stops when a probe to B, every PROBE_EVERY_MS, gets 403
 * for that IP. Scanners start at random gaps, so they land at random points of A's report cycle (the first
 * record of a batch waits the flush interval at most). Each figure is split at the moment the hub stored
 * the ban: before it, the report's wait and the upsync; after it, rebuild, push, download, install.
 *
 * A second row runs the same against an app A whose Blocked records wait for the whole 10 s flush
 * interval, as every record did before Blocked ones got their own deadline (upsync.flushBlockedMs,
 * default 1 s): the baseline of the same run.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { percentile, rng } from './lib/measure.js';

export interface BanLatencyOptions {
  quick?: boolean;
  log?: (s: string) => void;
}

export interface BanLatencyRow {
  /** What app A runs with, in words. */
  setting: string;
  /** How long app A's Blocked records wait at most before they are sent (the default is 1 s). */
  flushIntervalMs: number;
  scanners: number;
  /** Milliseconds from sending the crossing request to A until B answers that IP 403. */
  p50: number;
  p95: number;
  min: number;
  max: number;
  /** Medians of the two parts: crossing request sent → ban stored on the hub; ban stored → 403 on B. */
  reportP50: number;
  pushP50: number;
  samples: number[];
}

export interface BanLatencyResult {
  threshold: number;
  probeEveryMs: number;
  targetMs: number;
  rows: BanLatencyRow[];
}

const THRESHOLD = 20;
const PROBE_EVERY_MS = 50;
const TARGET_MS = 5000;
const DEFAULT_FLUSH_MS = 10_000;
const DEFAULT_BLOCKED_FLUSH_MS = 1_000;
/** Guard only: a ban that never arrives ends the part instead of hanging it; no figure is asserted. */
const GIVE_UP_MS = 40_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const clock = () => performance.timeOrigin + performance.now();

interface App {
  url: string;
  close(): Promise<void>;
}

/** One app process (this file run with --app); resolves once its firewall has rules and it listens. */
async function startApp(options: object): Promise<App> {
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), ['--app', JSON.stringify(options)], {
    execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    child.on('message', (m: { type: string; url?: string }) => {
      if (m.type === 'ready') resolve(m.url!);
    });
    child.once('exit', (code) => reject(new Error(`bans: app process exited (${code}) before it was ready`)));
  });
  return {
    url,
    async close() {
      if (child.exitCode === null && child.signalCode === null) child.send({ type: 'close' });
      await exited;
    },
  };
}

/** One request as the trusted proxy in front of the apps forwards it from `ip`; resolves with the status. */
async function statusFor(app: App, path: string, ip: string): Promise<number> {
  const response = await fetch(app.url + path, { headers: { 'x-forwarded-for': ip } });
  await response.arrayBuffer();
  return response.status;
}

export async function runBanLatencyBench(o: BanLatencyOptions = {}): Promise<BanLatencyResult> {
  const quick = o.quick === true;
  const log = o.log ?? (() => {});
  const { createHub } = await import('../packages/hub/src/index.js');
  const dir = mkdtempSync(join(tmpdir(), 'moat-ban-bench-'));
  const hub = await createHub({
    dataDir: join(dir, 'hub'), host: '127.0.0.1', port: 0, createDemoSite: true,
    adminEmail: 'bench@example.com', adminPassword: 'bench-password-not-secret', print: () => {}, logger: false,
  });
  const apps: App[] = [];
  let watching = true;
  let watcher: Promise<void> = Promise.resolve();
  let watchError: unknown;
  try {
    const siteId = hub.firstRun.demoSiteId;
    const apiKey = hub.firstRun.demoApiKey;
    if (siteId === undefined || apiKey === undefined) throw new Error('the hub created no demo site (createDemoSite)');
    const actor = { userId: null, email: 'bench', ip: null };
    await hub.context.rules.create(siteId, { action: 'block', kind: 'path', value: '/wp-admin', mode: 'block', note: undefined, expires: undefined }, actor);
    await hub.context.thresholds.createRule(siteId, {
      name: 'scanner', condition: { requests: 'blocked', method: null, path: null, pathMatch: 'exact', status: null },
      windowSeconds: 300, threshold: THRESHOLD, key: 'ip', banSeconds: 3600, mode: 'enforce', maxBansPerMinute: 600,
    }, actor);

    // When the hub stored each ban: the bans counter is read every few ms (in memory), the list only when it moves.
    const bannedAt = new Map<string, number>();
    watcher = (async () => {
      let seen = 0;
      while (watching) {
        const bans = hub.context.thresholds.stats().bans;
        if (bans !== seen) {
          const at = clock();
          seen = bans;
          for (const ban of await hub.context.thresholds.listBans(siteId, 'enforce', true)) if (!bannedAt.has(ban.key)) bannedAt.set(ban.key, at);
        }
        await sleep(5);
      }
    })().catch((error: unknown) => {
      watchError = error;
    });

    const base = { apiKey, hubUrl: hub.url, publicKey: hub.context.signingKey?.publicKeyBase64, trustedProxies: ['127.0.0.1'] };
    const started = await Promise.allSettled([
      startApp({ ...base, dir: join(dir, 'app-a') }),
      startApp({ ...base, dir: join(dir, 'app-b') }),
      startApp({ ...base, dir: join(dir, 'app-a-10s'), upsync: { flushBlockedMs: DEFAULT_FLUSH_MS } }),
    ]);
    // Those that started are closed below even when another did not.
    for (const s of started) if (s.status === 'fulfilled') apps.push(s.value);
    for (const s of started) if (s.status === 'rejected') throw s.reason;
    const [a, b, a10] = apps as [App, App, App];

    const rand = rng(18);
    let ipCounter = 0;
    const measureRow = async (setting: string, scannerApp: App, flushIntervalMs: number, scanners: number, gapMs: [number, number]): Promise<BanLatencyRow> => {
      const samples: number[] = [];
      const reportParts: number[] = [];
      const pushParts: number[] = [];
      const scan = async (ip: string) => {
        if (await statusFor(b, '/', ip) !== 200) throw new Error(`bans: B does not serve ${ip} before its scan`);
        let crossingSentAt = 0;
        for (let i = 1; i <= THRESHOLD; i++) {
          if (i === THRESHOLD) crossingSentAt = clock();
          const status = await statusFor(scannerApp, `/wp-admin/${i}`, ip);
          if (status !== 403) throw new Error(`bans: A answered ${status} to the scanner's /wp-admin request`);
        }
        for (;;) {
          const probeAt = clock();
          if (await statusFor(b, '/', ip) === 403) break;
          if (probeAt - crossingSentAt > GIVE_UP_MS) throw new Error(`bans: B still serves ${ip} ${GIVE_UP_MS} ms after it crossed the threshold on A`);
          await sleep(Math.max(0, PROBE_EVERY_MS - (clock() - probeAt)));
        }
        const blockedAt = clock();
        const storedAt = bannedAt.get(ip);
        samples.push(blockedAt - crossingSentAt);
        if (storedAt !== undefined) {
          reportParts.push(storedAt - crossingSentAt);
          pushParts.push(blockedAt - storedAt);
        }
      };
      const running: Promise<void>[] = [];
      for (let s = 0; s < scanners; s++) {
        if (s > 0) await sleep(gapMs[0] + rand() * (gapMs[1] - gapMs[0]));
        ipCounter++;
        const scanning = scan(`203.0.${113 + (ipCounter >> 8)}.${ipCounter & 255}`);
        scanning.catch(() => {}); // handled here so a failure during the gaps does not end the process; Promise.all reports it
        running.push(scanning);
      }
      await Promise.all(running);
      const row: BanLatencyRow = {
        setting, flushIntervalMs, scanners, p50: percentile(samples, 50), p95: percentile(samples, 95), min: Math.min(...samples), max: Math.max(...samples),
        reportP50: percentile(reportParts, 50), pushP50: percentile(pushParts, 50), samples,
      };
      log(`  ${setting}: ${scanners} scanners, p50 ${row.p50.toFixed(0)} ms, p95 ${row.p95.toFixed(0)} ms, max ${row.max.toFixed(0)} ms ` +
        `(crossing → ban stored ${row.reportP50.toFixed(0)} ms, ban → 403 on B ${row.pushP50.toFixed(0)} ms, medians)`);
      return row;
    };

    const rows: BanLatencyRow[] = [];
    // Random gaps of 1–3 s spread the scanners over the 10 s report cycle (a dozen in about 35 s).
    rows.push(await measureRow('default reporting (Blocked records within 1 s, Passed every 10 s)', a, DEFAULT_BLOCKED_FLUSH_MS, quick ? 2 : 12, [1000, 3000]));
    rows.push(await measureRow('A\'s Blocked records held to the 10 s flush (the earlier default)', a10, DEFAULT_FLUSH_MS, quick ? 2 : 10, [1000, 3000]));
    if (watchError !== undefined) throw watchError;
    return { threshold: THRESHOLD, probeEveryMs: PROBE_EVERY_MS, targetMs: TARGET_MS, rows };
  } finally {
    watching = false;
    await watcher;
    await Promise.all(apps.map((app) => app.close()));
    await hub.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The child side: a node:http app answering "ok" behind a managed firewall built from argv options. */
async function runApp(options: object): Promise<void> {
  const { createManagedFirewall } = await import('../packages/moat/src/managed/managed-firewall.js');
  const { withMoat } = await import('../packages/moat/src/adapters/node.js');
  // env {}: the settings are the defaults plus what the bench passes, whatever the shell exports.
  const fw = createManagedFirewall({ ...options, logger: false, env: {} });
  const server = createServer(withMoat((_req, res) => {
    res.end('ok');
  }, fw));
  process.on('message', (message: { type: string }) => {
    if (message.type !== 'close') return;
    server.closeAllConnections();
    server.close();
    void fw.close().then(() => process.exit(0));
  });
  process.on('disconnect', () => process.exit(0)); // the bench went away: leave no app behind
  await fw.ready();
  server.listen(0, '127.0.0.1', () => process.send?.({ type: 'ready', url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }));
}

if (process.argv[2] === '--app') {
  await runApp(JSON.parse(process.argv[3] ?? '{}') as object);
} else if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(JSON.stringify(await runBanLatencyBench({ quick: process.argv.includes('--quick'), log: console.log }), null, 2));
}
