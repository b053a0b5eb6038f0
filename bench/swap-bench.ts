/**
 * Swap benchmark (issue 15): how much a data-file update while serving delays the server's event loop.
 * A node:http hello world behind a managed firewall runs in a child process (`--serve`) under load from
 * autocannon in another (`--load`). A hub stand-in here serves a data file of ~100 MiB (2.5 M ranges);
 * each round switches it to the other of two versions, and the server records its event-loop delay
 * (perf_hooks.monitorEventLoopDelay, 1 ms resolution) from the switch until the new file is in force:
 * download, checks, load and swap. The baseline is a window of the same length under the same load with
 * no update (at least 1 s), measured right after in the same run. Target: p99 under 10 ms during the swap.
 *
 * `MOAT_SWAP_BENCH_SRC` (a directory holding another build of packages/moat/src) runs the server on
 * that code instead, to compare with an older version measured the same way.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { copyFileSync, createReadStream, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import { median } from './lib/measure.js';
import { buildSyntheticInChild } from './lib/synthetic-data-file.js';

export interface SwapBenchOptions {
  /** A small file and one short round: proves the bench works, figures mean little. */
  quick?: boolean;
  /** Ranges in the data file (default 2,500,000 ≈ 105 MiB; quick 100,000 ≈ 4 MiB, still loaded in the worker). */
  ranges?: number;
  /** Swaps measured (default 3; quick 1). */
  rounds?: number;
  /** Concurrent connections of the load (default 50). */
  connections?: number;
  /**
   * Requests per second the load sends (default 4000): a busy server with room to spare. A saturating
   * load would measure the queue in front of a full core, which any extra work lengthens, not whether
   * the update blocks the loop.
   */
  rate?: number;
  log?: (line: string) => void;
}

/** Event-loop delay over one window, in ms. */
export interface DelayWindow {
  ms: number;
  p50: number;
  p99: number;
  max: number;
  /** Delay samples in the window (one per loop turn the monitor saw). */
  samples: number;
  /** Requests answered by the server in the window. */
  requests: number;
  /**
   * CPU time of the server's main thread alone in the window (ms; Linux schedstat, null elsewhere):
   * unlike delays, not inflated when other processes take the cores.
   */
  mainThreadCpuMs: number | null;
}

export interface SwapRound {
  swap: DelayWindow;
  baseline: DelayWindow;
  /** Longest the serving thread spent at once unpacking the loaded file (ms), as the loader counts it. */
  longestSliceMs: number;
}

export interface WindowSummary {
  p50: number;
  p99: number;
  max: number;
  ms: number;
  cpu: number | null;
  requests: number;
}

export interface SwapBenchResult {
  setup: { ranges: number; fileMiB: number; rounds: number; connections: number; rate: number; quick: boolean; code: string };
  rounds: SwapRound[];
  /** Medians over the rounds. */
  swap: WindowSummary;
  baseline: WindowSummary;
  targetP99Ms: number;
  meetsTarget: boolean;
  markdown: string[];
}

const API_KEY = 'swap-bench-key';
const TARGET_P99_MS = 10;
const MIN_BASELINE_MS = 1000;

/** Resolves once the server has answered `rate` requests since the call (a bound of 120 s, then an error). */
async function loadUnderWay(server: ChildProcess, rate: number): Promise<void> {
  const answered = async () => {
    const reply = nextMessage<{ answered: number }>(server, (m) => typeof m === 'object' && m !== null && 'answered' in m);
    server.send('answered');
    return (await reply).answered;
  };
  const from = await answered();
  const deadline = Date.now() + 120_000;
  while ((await answered()) - from < rate) {
    if (Date.now() > deadline) throw new Error('the load did not reach the server within 120 s');
    await sleep(100);
  }
}
/**
 * This file in a child process with IPC. Not pinned to a core (unlike the server bench): the load
 * worker is a thread of the server process and must be free to run beside its main thread, as it
 * would on any multi-core server.
 */
function forkChild(args: string[]): ChildProcess {
  return fork(fileURLToPath(import.meta.url), args, { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
}

function nextMessage<T>(child: ChildProcess, accept: (m: unknown) => boolean = () => true, timeoutMs = 600_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { cleanup(); reject(new Error('child did not answer in time')); }, timeoutMs);
    const onMessage = (m: unknown) => { if (accept(m)) { cleanup(); resolve(m as T); } };
    const onExit = (code: number | null) => { cleanup(); reject(new Error(`child exited (${code})`)); };
    const cleanup = () => { clearTimeout(timer); child.off('message', onMessage); child.off('exit', onExit); };
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

/** The downsync half of a hub: one rules file, and whichever data file is current, streamed from disk. */
async function startHubStandIn(rulesPath: string, dataPath: () => { path: string; name: string }): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://hub');
    const m = /^\/v2\/downsync\/(custom_rules|data_subscriptions)\/([^/]+)$/.exec(url.pathname);
    if (m === null || decodeURIComponent(m[2]) !== API_KEY) return void res.writeHead(m === null ? 404 : 401).end();
    const file = m[1] === 'custom_rules' ? { path: rulesPath, name: 'rules.db' } : dataPath();
    if (url.searchParams.get('client_db') === file.name) return void res.writeHead(304).end();
    res.writeHead(200, {
      'content-type': 'application/octet-stream', 'content-disposition': `attachment; filename=${file.name}`,
      etag: `"${file.name}"`, 'content-length': String(statSync(file.path).size),
    });
    createReadStream(file.path).pipe(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

/** A rules file blocking the data file's list, so every request looks its address up. */
async function writeRules(path: string): Promise<void> {
  const { writeRulesFile } = await import('../packages/moat/src/format/write-rules.js');
  const { normalizeRule } = await import('../packages/moat/src/rules/normalize-rule.js');
  writeRulesFile([normalizeRule({ action: 'block', kind: 'list', value: 'bench' })], path);
}

/** A second version of `from`: the same ranges and one more table, so its bytes and name differ. */
function secondVersion(from: string, to: string): void {
  copyFileSync(from, to);
  const db = new Database(to);
  db.exec("CREATE TABLE bench_version (v TEXT); INSERT INTO bench_version VALUES ('2')");
  db.close();
}

export async function runSwapBench(o: SwapBenchOptions = {}): Promise<SwapBenchResult> {
  const quick = o.quick === true;
  const ranges = o.ranges ?? (quick ? 100_000 : 2_500_000);
  const roundCount = o.rounds ?? (quick ? 1 : 3);
  const connections = o.connections ?? 50;
  const rate = o.rate ?? 4000;
  const log = o.log ?? (() => {});
  const code = process.env.MOAT_SWAP_BENCH_SRC ?? 'this tree';
  const dir = mkdtempSync(join(tmpdir(), 'moat-swap-bench-'));
  const children: ChildProcess[] = [];
  let hub: Server | null = null;
  try {
    log(`swap: building a data file of ${ranges.toLocaleString('en-US')} ranges`);
    const built = await buildSyntheticInChild(join(dir, 'v1.db'), { n: ranges, seed: 15 });
    secondVersion(built.path, join(dir, 'v2.db'));
    const versions = [{ path: built.path, name: 'data-v1.db' }, { path: join(dir, 'v2.db'), name: 'data-v2.db' }];
    let current = 0;
    const rulesPath = join(dir, 'rules.db');
    await writeRules(rulesPath);
    const standIn = await startHubStandIn(rulesPath, () => versions[current]);
    hub = standIn.server;

    const server = forkChild(['--serve', standIn.url, join(dir, 'client')]);
    children.push(server);
    const { port } = await nextMessage<{ port: number }>(server, (m) => typeof m === 'object' && m !== null && 'port' in m);
    const load = forkChild(['--load']);
    children.push(load);
    await nextMessage(load, (m) => m === 'ready');
    log(`swap: server on port ${port}, first file in force (${(built.bytes / 2 ** 20).toFixed(1)} MiB)`);

    const rounds: SwapRound[] = [];
    for (let r = 0; r < roundCount; r++) {
      // A bound only: the load is stopped once the swap and the baseline window after it are measured.
      const loadSeconds = 900;
      const loadDone = nextMessage<{ requests: number }>(load, (m) => typeof m === 'object' && m !== null && 'requests' in m);
      load.send({ port, seconds: loadSeconds, connections, rate });
      // The load is up to speed once the server has answered a second's worth of it; on a slow shared
      // machine that may take longer than a fixed pause, and a window without load measures nothing.
      await loadUnderWay(server, rate);
      current = 1 - current;
      server.send({ window: 'start', expect: versions[current].name });
      const swap = await nextMessage<DelayWindow & { longestSliceMs: number }>(server, (m) => typeof m === 'object' && m !== null && 'p99' in m);
      await sleep(500);
      // The same length as the swap, but never so short that a slow machine answers nothing in it.
      server.send({ window: 'start', expect: null, ms: Math.max(swap.ms, MIN_BASELINE_MS) });
      const baseline = await nextMessage<DelayWindow>(server, (m) => typeof m === 'object' && m !== null && 'p99' in m);
      load.send('stop');
      await loadDone;
      rounds.push({ swap, baseline, longestSliceMs: swap.longestSliceMs });
      log(`swap round ${r + 1}: swap ${swap.ms.toFixed(0)} ms p99 ${swap.p99.toFixed(1)} ms max ${swap.max.toFixed(1)} ms; ` +
        `baseline p99 ${baseline.p99.toFixed(1)} ms max ${baseline.max.toFixed(1)} ms`);
    }
    const med = (pick: (w: DelayWindow) => number, which: 'swap' | 'baseline') => median(rounds.map((x) => pick(x[which])));
    const summary = (which: 'swap' | 'baseline'): WindowSummary => ({
      p50: med((w) => w.p50, which), p99: med((w) => w.p99, which), max: med((w) => w.max, which), ms: med((w) => w.ms, which),
      cpu: rounds.every((x) => x[which].mainThreadCpuMs !== null) ? med((w) => w.mainThreadCpuMs!, which) : null,
      requests: med((w) => w.requests, which),
    });
    const result: SwapBenchResult = {
      setup: { ranges, fileMiB: built.bytes / 2 ** 20, rounds: roundCount, connections, rate, quick, code },
      rounds, swap: summary('swap'), baseline: summary('baseline'), targetP99Ms: TARGET_P99_MS,
      meetsTarget: summary('swap').p99 < TARGET_P99_MS, markdown: [],
    };
    result.markdown = swapReport(result);
    return result;
  } finally {
    for (const child of children) child.kill();
    hub?.closeAllConnections();
    hub?.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ms1 = (x: number) => `${x.toFixed(1)} ms`;
const cpu = (x: number | null) => (x === null ? 'n/a' : ms1(x));

export function swapReport(r: SwapBenchResult): string[] {
  const s = r.setup;
  return [
    '## Data file swapped in while serving',
    '',
    `A node:http hello world behind a managed firewall, under load (autocannon, ${s.connections} connections, ` +
      `${s.rate.toLocaleString('en-US')} requests/s, separate process), ` +
      `receives a new data file of ${s.ranges.toLocaleString('en-US')} ranges (${s.fileMiB.toFixed(1)} MiB) from a local hub stand-in: ` +
      'download, signature and SQLite checks, loading and swapping in. The server records its event-loop delay ' +
      '(`monitorEventLoopDelay`, 1 ms resolution) from the moment the hub serves the new file until the new file is in force; the ' +
      `baseline is a window of the same length (at least 1 s) under the same load without an update. Medians over ${s.rounds} swap(s); code: ${s.code}.`,
    '',
    '| window | length | p50 delay | p99 delay | max delay | main-thread CPU | requests answered |',
    '|---|---|---|---|---|---|---|',
    `| during the swap | ${ms1(r.swap.ms)} | ${ms1(r.swap.p50)} | ${ms1(r.swap.p99)} | ${ms1(r.swap.max)} | ${cpu(r.swap.cpu)} | ${r.swap.requests} |`,
    `| baseline, no swap | ${ms1(r.baseline.ms)} | ${ms1(r.baseline.p50)} | ${ms1(r.baseline.p99)} | ${ms1(r.baseline.max)} | ${cpu(r.baseline.cpu)} | ${r.baseline.requests} |`,
    '',
    `Target: p99 under ${r.targetP99Ms} ms during the swap — ${r.meetsTarget ? 'met' : '**not met**'}. Longest single step of the ` +
      `serving thread while unpacking the loaded file: ${r.rounds.map((x) => ms1(x.longestSliceMs)).join(', ')}.`,
    '',
  ];
}

// ---------------------------------------------------------------------------------------------------
// Child `--serve <hubUrl> <dir>`: the server. Sends { port } once the first data file is in force; each
// { window: 'start', expect } starts a delay window that ends when data file `expect` is in force (or,
// with expect null, after `ms`), answered with the window's figures.

async function serve(hubUrl: string, dir: string): Promise<void> {
  const src = process.env.MOAT_SWAP_BENCH_SRC ?? fileURLToPath(new URL('../packages/moat/src', import.meta.url));
  const { createManagedFirewall } = await import(pathToFileURL(join(src, 'managed/managed-firewall.ts')).href) as
    typeof import('../packages/moat/src/managed/managed-firewall.js');
  const { withMoat } = await import(pathToFileURL(join(src, 'adapters/node.ts')).href) as typeof import('../packages/moat/src/adapters/node.js');
  const loading = await import(pathToFileURL(join(src, 'loading/load-off-thread.ts')).href).catch(() => null) as
    typeof import('../packages/moat/src/loading/load-off-thread.js') | null;
  const fw = createManagedFirewall({
    apiKey: API_KEY, hubUrl, dir, customRulesIntervalMs: 3_600_000, dataIntervalMs: 100, jitter: 0,
    upsync: false, logger: false, env: {}, trustedProxies: [],
  });
  let answered = 0;
  const server = createServer(withMoat((_req, res) => { res.end('hello world'); }, fw));
  server.on('request', () => { answered++; }); // every answer, Passed or Blocked
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const inForce = () => fw.status().dataSubscriptions.file?.servedName ?? null;
  while (inForce() === null) await sleep(50);
  process.on('message', (message: 'answered' | { window: 'start'; expect: string | null; ms?: number }) => {
    if (message === 'answered') return void process.send!({ answered });
    const histogram = monitorEventLoopDelay({ resolution: 1 });
    const started = performance.now();
    const cpuBefore = mainThreadCpuMs();
    const answeredBefore = answered;
    if (loading !== null) loading.offThreadLoadCounts.longestSliceMs = 0;
    histogram.enable();
    const finish = () => {
      histogram.disable();
      const ms = (x: number) => x / 1e6;
      process.send!({
        ms: performance.now() - started, p50: ms(histogram.percentile(50)), p99: ms(histogram.percentile(99)), max: ms(histogram.max),
        samples: histogram.count, requests: answered - answeredBefore,
        mainThreadCpuMs: cpuBefore === null ? null : mainThreadCpuMs()! - cpuBefore, longestSliceMs: loading?.offThreadLoadCounts.longestSliceMs ?? 0,
      });
    };
    if (message.expect === null) {
      setTimeout(finish, message.ms ?? 1000);
      return;
    }
    // Polled, not hooked, so the old code can be measured too; every 20 ms, so the polling itself stays negligible.
    const check = setInterval(() => {
      if (inForce() !== message.expect) return;
      clearInterval(check);
      finish();
    }, 20);
  });
  process.send!({ port: (server.address() as AddressInfo).port });
  process.on('disconnect', () => process.exit(0));
}

/** CPU time this process's main thread has used (ms), from the kernel's scheduler statistics; null off Linux. */
function mainThreadCpuMs(): number | null {
  try {
    return Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[0]) / 1e6;
  } catch {
    return null;
  }
}

// Child `--load`: autocannon for each { port, seconds, connections, rate }, stopped early by 'stop'.
async function generateLoad(): Promise<void> {
  type Instance = { stop(): void } & PromiseLike<{ requests: { total: number } }>;
  const autocannon = (await import('autocannon' as string)).default as (o: Record<string, unknown>) => Instance;
  let running: Instance | null = null;
  process.on('message', async (message) => {
    if (message === 'stop') {
      running?.stop();
      return;
    }
    const { port, seconds, connections, rate } = message as { port: number; seconds: number; connections: number; rate: number };
    running = autocannon({ url: `http://127.0.0.1:${port}/products/42?page=2`, connections, duration: seconds, overallRate: rate });
    const result = await running;
    running = null;
    process.send!({ requests: result.requests.total });
  });
  process.on('disconnect', () => process.exit(0));
  process.send!('ready');
}

if (process.argv[2] === '--serve' && process.send !== undefined) {
  await serve(process.argv[3], process.argv[4]);
} else if (process.argv[2] === '--load' && process.send !== undefined) {
  await generateLoad();
} else if (process.argv[1] === fileURLToPath(import.meta.url)) {
  // Run alone: `node --import tsx bench/swap-bench.ts [--quick]`; writes the result beside the report.
  const result = await runSwapBench({ quick: process.argv.includes('--quick'), log: (s) => console.log(s) });
  console.log(result.markdown.join('\n'));
  if (process.env.MOAT_SWAP_BENCH_JSON) writeFileSync(process.env.MOAT_SWAP_BENCH_JSON, JSON.stringify(result, null, 2));
}
