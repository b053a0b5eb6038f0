/**
 * Sync benchmark (issue 7 §5): time from a rule change on the hub to its enforcement in a client. A real
 * hub runs in-process on 127.0.0.1 with a demo site; a ManagedFirewall polls it every `intervalMs`. Each
 * change creates a block rule for a fresh IP through the hub's rule service (what the dashboard and API
 * call: store, recompile, sign) and the clock stops when the client's engine answers Blocked for that IP.
 * Changes land at random points of the poll cycle, so the expected figure is about half an interval plus
 * the compile, download and install; the interval itself is the reference the figures are compared with.
 * These polling rows (long-poll off) are the baseline for the push rows (issue 18): clients held on the hub
 * (long-poll, the default) with a 1 h poll interval, so only the push can bring a change. N = 1 is a real
 * ManagedFirewall; N = 100 and 1,000 are lightweight long-poll clients (real sockets, each checking the
 * file version it receives) in one child process. Plus the hub's heap per held client.
 */
import { fork } from 'node:child_process';
import { request as httpRequest, Agent } from 'node:http';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
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
  /** Push rows: fleet sizes (default [1, 100, 1000]; quick [1, 100]); changes per size (default 5; quick 2). */
  pushClients?: number[];
  pushChanges?: number;
}

export interface PushRow {
  clients: number;
  changes: number;
  /** Milliseconds from the start of a change to each client holding it (all clients, all changes). */
  p50: number;
  p95: number;
  max: number;
  /** Per change, the slowest client: "enforced in all". */
  allP50: number;
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
  push: PushRow[];
  /** Hub heap per held long-poll client (sockets, request, waiter), bytes; measured with 1,000 held. */
  heapPerWaiterBytes: number | null;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runSyncBench(o: SyncBenchOptions = {}): Promise<SyncBenchResult> {
  const quick = o.quick === true;
  const changes = o.changes ?? (quick ? 4 : 20);
  const intervals = o.intervalsMs ?? (quick ? [100] : [200, 1000]);
  const log = o.log ?? (() => {});
  const dir = mkdtempSync(join(tmpdir(), 'moat-sync-bench-'));
  const hub = await createHub({
    dataDir: join(dir, 'hub'), host: '127.0.0.1', port: 0, createDemoSite: true, longPoll: { maxWaiters: 5000, maxWaitersPerKey: 5000 },
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
        publicKey, upsync: false, logger: false, watchIntervalMs: 60_000, longPollSeconds: 0, // today's polling
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
    const push: PushRow[] = [];
    let heapPerWaiterBytes: number | null = null;
    const pushChanges = o.pushChanges ?? (quick ? 2 : 5);
    const create = async (ip: string) => {
      await hub.context.rules.create(siteId, { action: 'block', kind: 'ip', value: ip, mode: 'block', note: undefined, expires: undefined }, { userId: null, email: 'bench', ip: null });
      return (await hub.context.builder.current(siteId, 'moat')).fileName;
    };
    const nextIp = () => {
      ipCounter++;
      return `198.19.${ipCounter >> 8}.${ipCounter & 255}`;
    };
    for (const clients of o.pushClients ?? (quick ? [1, 100] : [1, 100, 1000])) {
      const samples: number[] = [];
      const slowest: number[] = [];
      if (clients === 1) {
        // A real Moat client: long-poll is the default; the 1 h interval means only a push can be in time.
        const firewall = new ManagedFirewall({
          apiKey, hubUrl: hub.url, dir: join(dir, 'client-push'), customRulesIntervalMs: 3_600_000, publicKey, upsync: false, logger: false,
        });
        try {
          await firewall.ready();
          for (let c = 0; c < pushChanges; c++) {
            while (hub.context.waiters.stats().waiting < 1) await sleep(5);
            const ip = nextIp();
            const t0 = performance.now();
            await create(ip);
            const deadline = t0 + 30_000;
            while (firewall.currentEngine?.evaluate({ ip, method: 'GET', host: 'bench.example', path: '/' }).treatment !== 'Blocked') {
              if (performance.now() > deadline) throw new Error(`push: rule for ${ip} not enforced within 30 s`);
              await sleep(1);
            }
            samples.push(performance.now() - t0);
            slowest.push(samples[samples.length - 1]!);
          }
        } finally {
          await firewall.close();
        }
      } else {
        const fleet = await startFleet(hub.url, apiKey, clients, (await hub.context.builder.current(siteId, 'moat')).fileName);
        try {
          await until(() => hub.context.waiters.stats().waiting >= clients, `${clients} held clients`);
          if (clients >= 1000 && heapPerWaiterBytes === null) heapPerWaiterBytes = await heapPerWaiter(hub, fleet, clients);
          for (let c = 0; c < pushChanges; c++) {
            await until(() => hub.context.waiters.stats().waiting >= clients, `${clients} held again`);
            const t0 = performance.timeOrigin + performance.now();
            const expected = await create(nextIp());
            const got = await fleet.collect(expected, 60_000);
            const latencies = got.map((at) => at - t0);
            samples.push(...latencies);
            slowest.push(Math.max(...latencies));
          }
        } finally {
          await fleet.stop();
        }
      }
      const row: PushRow = {
        clients, changes: pushChanges, p50: percentile(samples, 50), p95: percentile(samples, 95), max: Math.max(...samples), allP50: median(slowest),
      };
      push.push(row);
      log(`  push, ${clients} client(s): p50 ${row.p50.toFixed(0)} ms, p95 ${row.p95.toFixed(0)} ms, max ${row.max.toFixed(0)} ms (all enforced, median ${row.allP50.toFixed(0)} ms)`);
    }
    if (heapPerWaiterBytes !== null) log(`  hub heap per held client: ${(heapPerWaiterBytes / 1024).toFixed(1)} KiB`);
    return { rows, signed: publicKey !== undefined, push, heapPerWaiterBytes };
  } finally {
    await hub.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function until(condition: () => boolean, what: string, guardMs = 120_000): Promise<void> {
  const deadline = performance.now() + guardMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`bench: gave up waiting for ${what}`);
    await sleep(5);
  }
}

/** Hub heap with the fleet held, minus the heap with nobody held (both after a full GC), per client. */
async function heapPerWaiter(hub: { context: { waiters: { stats(): { waiting: number } } } }, fleet: Fleet, clients: number): Promise<number> {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const settled = async () => {
    for (let i = 0; i < 3; i++) {
      gc();
      await sleep(20);
    }
    return process.memoryUsage().heapUsed;
  };
  const held = await settled();
  await fleet.pause(); // the fleet drops its connections and does not come back until resumed
  await until(() => hub.context.waiters.stats().waiting === 0, 'the fleet to let go');
  const empty = await settled();
  await fleet.resume();
  return Math.max(0, (held - empty) / clients);
}

interface Fleet {
  /** Resolves with each client's arrival time (ms since the epoch, from performance.timeOrigin) of `fileName`. */
  collect(fileName: string, guardMs: number): Promise<number[]>;
  pause(): Promise<void>;
  resume(): Promise<void>;
  stop(): Promise<void>;
}

/** N lightweight long-poll clients in one child process (this file, run with --fleet). */
async function startFleet(url: string, apiKey: string, clients: number, clientDb: string): Promise<Fleet> {
  const child = fork(fileURLToPath(import.meta.url), ['--fleet', url, apiKey, String(clients), clientDb], {
    execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const arrivals = new Map<string, number[]>();
  const acks: (() => void)[] = [];
  child.on('message', (m: { kind: string; fileName?: string; at?: number; bad?: string }) => {
    if (m.kind === 'got') {
      const list = arrivals.get(m.fileName!) ?? [];
      list.push(m.at!);
      arrivals.set(m.fileName!, list);
    } else if (m.kind === 'ack') acks.shift()?.();
    else if (m.kind === 'error') console.error(`fleet: ${m.bad}`);
  });
  const command = (kind: string) => new Promise<void>((resolve) => {
    acks.push(resolve);
    child.send({ kind });
  });
  return {
    async collect(fileName, guardMs) {
      await until(() => (arrivals.get(fileName)?.length ?? 0) >= clients, `${clients} clients to get ${fileName}`, guardMs);
      return arrivals.get(fileName)!;
    },
    pause: () => command('pause'),
    resume: () => command('resume'),
    async stop() {
      child.kill();
      await new Promise((r) => child.once('exit', r));
    },
  };
}

/** The child side: each client holds a downsync with the version it has, checks what it gets, and asks again. */
function runFleet(url: string, apiKey: string, clients: number, firstDb: string): void {
  let agent = new Agent({ keepAlive: true, maxSockets: clients + 10 });
  let paused = false;
  const waiting: (() => void)[] = [];
  const ask = (clientDb: string): void => {
    if (paused) {
      waiting.push(() => ask(clientDb));
      return;
    }
    const query = new URLSearchParams({ client: 'moat', client_db: clientDb, hostname: 'fleet', process_id: String(process.pid), version: 'bench', wait: '25' });
    const req = httpRequest(`${url}/v2/downsync/custom_rules/${apiKey}?${query}`, { agent }, (res) => {
      res.resume();
      res.on('end', () => {
        const name = /filename=(\S+)/.exec(res.headers['content-disposition'] ?? '')?.[1];
        if (res.statusCode === 200 && name) {
          // The version check a real client makes: a new name, not the one it already holds.
          if (name === clientDb) process.send!({ kind: 'error', bad: `served the file it already had: ${name}` });
          process.send!({ kind: 'got', fileName: name, at: performance.timeOrigin + performance.now() });
          ask(name);
        } else if (res.statusCode === 304) ask(clientDb);
        else setTimeout(() => ask(clientDb), 500 + Math.random() * 500);
      });
    });
    req.on('error', () => setTimeout(() => ask(clientDb), 500 + Math.random() * 500));
    req.end();
  };
  process.on('message', (m: { kind: string }) => {
    if (m.kind === 'pause') {
      paused = true;
      agent.destroy(); // held requests end as their sockets close; each parks itself until resume
    } else if (m.kind === 'resume') {
      paused = false;
      agent = new Agent({ keepAlive: true, maxSockets: clients + 10 });
      for (const go of waiting.splice(0)) go();
    }
    process.send!({ kind: 'ack' });
  });
  for (let i = 0; i < clients; i++) ask(firstDb);
}

if (process.argv[2] === '--fleet') {
  runFleet(process.argv[3]!, process.argv[4]!, Number(process.argv[5]), process.argv[6]!);
} else if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(JSON.stringify(await runSyncBench({ quick: process.argv.includes('--quick'), log: console.log }), null, 2));
}
