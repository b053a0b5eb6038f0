/**
 * Server benchmark (issue 3 §8): throughput of the same hello-world server with and without Moat, for
 * node:http, Express and Fastify, measured in the same run. Moat runs with a big data file (2 M ranges
 * in a blocked list) and big substring lists (10 k path and 10 k user-agent patterns) loaded.
 *
 * Each server runs in its own child process (this file, started with `--serve`), and so does the load
 * generator (autocannon, `--load`): neither shares a thread or a heap with the bench's big inputs. Rounds
 * alternate which variant goes first; the figure is the median requests/s over the rounds.
 */
import { fork, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpus } from 'node:os';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { IpRange } from '../packages/moat/src/ip/range.js';
import { writeFullRules, writeThreatData } from './lib/full-load.js';
import { median } from './lib/measure.js';
import { syntheticRanges } from './lib/synthetic.js';

export type ServerKind = 'node:http' | 'express' | 'fastify';
const SERVERS: readonly ServerKind[] = ['node:http', 'express', 'fastify'];

export interface ServerBenchOptions {
  /** A few seconds, tiny lists: proves the bench works, figures mean little. */
  quick?: boolean;
  /** Ranges in the data file (default 2,000,000; quick 20,000). */
  ranges?: number;
  /** Path and user-agent patterns each (default 10,000; quick 500). */
  patterns?: number;
  /** User-agent patterns, when they should differ from `patterns` (0 isolates the cost of UA matching). */
  userAgentPatterns?: number;
  /** Measured rounds per server and variant (default 9; quick 1). */
  rounds?: number;
  /** Seconds per measurement (default 3; quick 0.5). */
  seconds?: number;
  /** Concurrent connections (default 50). */
  connections?: number;
  servers?: readonly ServerKind[];
  log?: (line: string) => void;
}

export interface ServerBenchRow {
  server: ServerKind;
  /** Median requests/s without Moat. */
  bare: number;
  /** Median requests/s with Moat. */
  moat: number;
  /** Median requests/s with Moat in managed mode, reporting every decision. */
  reporting: number;
  /**
   * Median over the rounds of moat / bare − 1, each round's variants measured back to back: −0.05 means
   * 5 % fewer requests per second. Pairing within a round cancels the machine's slow drift, which moves
   * whole rounds by ±10 % here and made a ratio of medians swing by several points between runs.
   */
  change: number;
  /** Quartiles of the per-round changes, to show how sure the median is. */
  changeSpread: [number, number];
  /** The same for reporting / bare − 1. */
  reportingChange: number;
  reportingChangeSpread: [number, number];
  /** Median over the rounds of autocannon's p99 latency, in ms: without Moat, with it, with reporting on. */
  bareP99: number;
  moatP99: number;
  reportingP99: number;
  reportingRounds: number[];
  bareRounds: number[];
  moatRounds: number[];
  /** Non-2xx answers seen while measuring (must be 0: every request is a Passed hello world). */
  errors: number;
}

export interface ServerBenchResult {
  setup: { ranges: number; patterns: number; userAgentPatterns: number; rounds: number; seconds: number; connections: number; quick: boolean };
  rows: ServerBenchRow[];
  /** A markdown section for the report. */
  markdown: string[];
}

// A browser-like request that passes every rule but makes each of them work: IP lookup, user agent
// and path matching against the big lists, query decoding for the parameter rule.
const REQUEST_PATH = '/products/42?page=2&sort=price';
const USER_AGENT = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36';
const LOOPBACK = 0x7f000001n;

interface AutocannonResult {
  requests: { average: number; total: number };
  latency: { p99: number };
  duration: number;
  non2xx: number;
  errors: number;
}
type Autocannon = (options: Record<string, unknown>) => Promise<AutocannonResult>;

/** Writes the rules and data files Moat loads in the bench. */
function buildFiles(dir: string, ranges: number, patterns: number, uaPatterns: number): { rules: string; data: string } {
  // The load comes from 127.0.0.1: keep it out of the blocked ranges so every request is Passed.
  const list: IpRange[] = syntheticRanges(ranges, 42).filter((r) => !(r.family === 4 && r.start <= LOOPBACK && LOOPBACK <= r.end));
  const data = join(dir, 'data.moat');
  writeThreatData(list, data);
  const rulesPath = join(dir, 'rules.moat');
  writeFullRules({
    pathPatterns: patterns, userAgentPatterns: uaPatterns, loginLimit: 10,
    extra: [{ action: 'block', kind: 'ip', value: '198.51.100.0/24' }],
  }, rulesPath);
  return { rules: rulesPath, data };
}

/**
 * With two or more cores, servers run on core 0 and the load generator on core 1 (taskset), as if on
 * separate machines: unpinned, the server's helper threads (GC, zlib) and autocannon fought over the
 * same cores and the same comparison moved by ±10 % between runs; pinned it repeats within a few %.
 */
const PIN = cpus().length >= 2 && spawnSync('taskset', ['-c', '0', 'true']).status === 0;
const SERVER_CPU = '0';
const LOAD_CPU = '1';

/** This file in a child process with IPC, on one core when pinning is possible. */
function forkPinned(args: string[], cpu: string): ChildProcess {
  const node = ['--import', 'tsx', fileURLToPath(import.meta.url), ...args];
  if (!PIN) return fork(fileURLToPath(import.meta.url), args, { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return spawn('taskset', ['-c', cpu, process.execPath, ...node], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
}

interface Running {
  child: ChildProcess;
  port: number;
}

/** Starts one server in a child process; resolves with its port. */
function startServer(kind: ServerKind, files: { rules: string; data: string } | null, sink = ''): Promise<Running> {
  const args = ['--serve', kind, files?.rules ?? '', files?.data ?? '', sink];
  const child = forkPinned(args, SERVER_CPU);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { child.kill(); reject(new Error(`${kind} server did not start`)); }, 120_000);
    child.once('message', (message) => {
      clearTimeout(timer);
      resolve({ child, port: (message as { port: number }).port });
    });
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`${kind} server exited (${code})`)); });
  });
}

/**
 * The load generator: autocannon in a child process of its own, so it neither shares a heap with the
 * bench's big synthetic inputs nor a thread with anything else. One request at a time over IPC.
 */
class LoadGenerator {
  private constructor(readonly child: ChildProcess) {}

  static async start(): Promise<LoadGenerator> {
    const child = forkPinned(['--load'], LOAD_CPU);
    await new Promise<void>((resolve, reject) => {
      child.once('message', () => resolve());
      child.once('exit', (code) => reject(new Error(`load generator exited (${code})`)));
    });
    return new LoadGenerator(child);
  }

  run(port: number, seconds: number, connections: number): Promise<AutocannonResult> {
    return new Promise((resolve) => {
      this.child.once('message', (result) => resolve(result as AutocannonResult));
      this.child.send({ port, seconds, connections });
    });
  }

  stop(): void {
    this.child.kill();
  }
}

function autocannonOptions(port: number, seconds: number, connections: number): Record<string, unknown> {
  return {
    url: `http://127.0.0.1:${port}${REQUEST_PATH}`,
    connections,
    duration: seconds,
    headers: { 'user-agent': USER_AGENT, host: 'www.example.com' },
  };
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const spread = (xs: number[]) => `${fmt(Math.min(...xs))}–${fmt(Math.max(...xs))}`;
const pct = (x: number) => `${x >= 0 ? '+' : '−'}${Math.abs(x * 100).toFixed(1)} %`;
const pctRange = ([lo, hi]: [number, number]) => `${pct(lo)} … ${pct(hi)}`;

/** First and third quartile (nearest rank). */
function quartiles(xs: readonly number[]): [number, number] {
  const sorted = [...xs].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.round(q * (sorted.length - 1))))]!;
  return [at(0.25), at(0.75)];
}

/** A hub stand-in for reports: 304 to downsync polls, 200 to upsync batches (counted, not stored). */
async function startReportSink(): Promise<{ url: string; totals: { bytes: number; batches: number }; close(): void }> {
  const totals = { bytes: 0, batches: 0 };
  const server = createServer((req, res) => {
    if (req.method !== 'POST') {
      res.writeHead(304).end();
      return;
    }
    // Counted, not unpacked: a real hub runs elsewhere, so its work must not load the measured machine.
    req.on('data', (c: Buffer) => { totals.bytes += c.length; });
    req.on('end', () => {
      totals.batches++;
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, totals, close: () => { server.closeAllConnections(); server.close(); } };
}

/** Runs the server bench; see ServerBenchOptions. */
export async function runServerBench(options: ServerBenchOptions = {}): Promise<ServerBenchResult> {
  const quick = options.quick === true;
  const patterns = options.patterns ?? (quick ? 500 : 10_000);
  const setup = {
    ranges: options.ranges ?? (quick ? 20_000 : 2_000_000),
    patterns,
    userAgentPatterns: options.userAgentPatterns ?? patterns,
    // Many short rotating rounds: a burst of load from elsewhere on the machine moves one round, not the median.
    rounds: options.rounds ?? (quick ? 1 : 15),
    seconds: options.seconds ?? (quick ? 0.5 : 2),
    connections: options.connections ?? 50,
    quick,
  };
  const log = options.log ?? (() => {});
  const servers = options.servers ?? SERVERS;
  const dir = mkdtempSync(join(tmpdir(), 'moat-server-bench-'));
  const children: ChildProcess[] = [];
  let stopSink = () => {};
  let sinkTotals = { bytes: 0, batches: 0 };
  try {
    const t0 = Date.now();
    const files = buildFiles(dir, setup.ranges, setup.patterns, setup.userAgentPatterns);
    log(`  built ${setup.ranges.toLocaleString('en-US')} ranges, ${setup.patterns.toLocaleString('en-US')} path and ${setup.userAgentPatterns.toLocaleString('en-US')} user-agent patterns in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    // All servers start at once (each loads its own copy of the files); idle ones cost no CPU. Three
    // variants: bare; Moat judging every request (standalone); and Moat in managed mode with reporting on,
    // as in production, upsyncing every decision to a sink (a hub stand-in on 127.0.0.1 that answers 304
    // to rule polls and 200 to report batches).
    const sink = await startReportSink();
    sinkTotals = sink.totals;
    stopSink = sink.close;
    const loader = await LoadGenerator.start();
    children.push(loader.child);
    const load = (port: number, seconds: number) => loader.run(port, seconds, setup.connections);
    const started = await Promise.all(servers.map(async (kind) => {
      const trio = await Promise.all([startServer(kind, null), startServer(kind, files), startServer(kind, files, sink.url)]);
      for (const server of trio) children.push(server.child);
      return { kind, variants: trio };
    }));
    const rows: ServerBenchRow[] = [];
    for (const { kind, variants } of started) {
      if (!quick) for (const server of variants) await load(server.port, 2); // warm-up: let the JIT settle
      const rounds: number[][] = [[], [], []];
      const p99s: number[][] = [[], [], []];
      let errors = 0;
      for (let round = 0; round < setup.rounds; round++) {
        // Rotate the order so no variant always runs first or last.
        for (let k = 0; k < 3; k++) {
          const v = (round + k) % 3;
          const result = await load(variants[v]!.port, setup.seconds);
          errors += result.non2xx + result.errors;
          rounds[v]!.push(result.requests.total / result.duration);
          p99s[v]!.push(result.latency.p99);
        }
      }
      const [bareRounds, moatRounds, reportingRounds] = rounds as [number[], number[], number[]];
      const moatChanges = moatRounds.map((x, k) => x / bareRounds[k]! - 1);
      const reportingChanges = reportingRounds.map((x, k) => x / bareRounds[k]! - 1);
      const row: ServerBenchRow = {
        server: kind, bare: median(bareRounds), moat: median(moatRounds), reporting: median(reportingRounds),
        change: median(moatChanges), changeSpread: quartiles(moatChanges),
        reportingChange: median(reportingChanges), reportingChangeSpread: quartiles(reportingChanges),
        bareRounds, moatRounds, reportingRounds, errors,
        bareP99: median(p99s[0]!), moatP99: median(p99s[1]!), reportingP99: median(p99s[2]!),
      };
      rows.push(row);
      log(`  ${kind}: ${fmt(row.bare)} req/s bare, ${fmt(row.moat)} with Moat (${pct(row.change)}), ${fmt(row.reporting)} with reporting on (${pct(row.reportingChange)}); p99 ${row.bareP99} / ${row.moatP99} / ${row.reportingP99} ms${errors ? `, ${errors} errors` : ''}`);
      for (const server of variants) server.child.kill();
    }
    const markdown = [
      '## Server throughput with and without Moat',
      '',
      `Hello world, \`GET ${REQUEST_PATH}\` with a browser user agent, autocannon ${setup.connections} connections, ` +
        `${setup.rounds} rounds of ${setup.seconds} s per variant (rotating order); req/s are medians over the rounds, and each change is the median ` +
        `of the per-round changes (the variants of a round run back to back, so pairing cancels the machine's drift), with its quartiles; each server in its own process` +
        `${PIN ? ', servers pinned to core 0 and the load generator to core 1' : ', sharing the cores with the load generator'}. Moat loaded ${setup.ranges.toLocaleString('en-US')} blocked ranges and ` +
        `${setup.patterns.toLocaleString('en-US')} path + ${setup.userAgentPatterns.toLocaleString('en-US')} user-agent patterns; every ` +
        `request is judged and passes. "Reporting on" is managed mode sending every decision (no sampling) in gzip batches to a local ` +
        `sink (${fmt(sinkTotals.batches)} batches, ${(sinkTotals.bytes / 2 ** 20).toFixed(1)} MiB received).${quick ? ' Quick run: figures are indicative only.' : ''}`,
      '',
      '| server | without Moat (req/s) | with Moat | change (quartiles) | with Moat, reporting on | change (quartiles) | p99 without / with / reporting (ms) |',
      '|---|---:|---:|---:|---:|---:|---:|',
      ...rows.map((r) => `| ${r.server} | ${fmt(r.bare)} | ${fmt(r.moat)} | ${pct(r.change)} (${pctRange(r.changeSpread)}) | ${fmt(r.reporting)} | ${pct(r.reportingChange)} (${pctRange(r.reportingChangeSpread)}) | ${r.bareP99} / ${r.moatP99} / ${r.reportingP99} |`),
      '',
      'Rounds (min–max): ' + rows.map((r) => `${r.server} ${spread(r.bareRounds)} / ${spread(r.moatRounds)} / ${spread(r.reportingRounds)}`).join('; ') + '.',
      '',
    ];
    return { setup, rows, markdown };
  } finally {
    for (const child of children) if (child.exitCode === null) child.kill();
    stopSink();
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------------
// Child process: `--serve <kind> <rules> <data>` starts one hello-world server and reports its port.

async function serve(kind: ServerKind, rules: string, data: string, sink: string): Promise<void> {
  let options: import('../packages/moat/src/firewall/firewall.js').Firewall | { rules: string; data: string; trustedProxies: never[]; logger: false } | null =
    rules === '' ? null : { rules, data, trustedProxies: [], logger: false as const };
  if (options !== null && sink !== '') {
    const { createManagedFirewall } = await import('../packages/moat/src/managed/managed-firewall.js');
    options = createManagedFirewall({
      rules, data, hubUrl: sink, apiKey: 'bench', dir: mkdtempSync(join(tmpdir(), 'moat-server-bench-client-')),
      customRulesIntervalMs: 3_600_000, dataIntervalMs: 3_600_000, trustedProxies: [], logger: false,
    });
  }
  let server;
  if (kind === 'node:http') {
    const hello = (_req: IncomingMessage, res: ServerResponse) => {
      res.setHeader('content-type', 'text/plain');
      res.end('hello world');
    };
    const { withMoat } = await import('../packages/moat/src/adapters/node.js');
    server = createServer(options === null ? hello : withMoat(hello, options));
  } else if (kind === 'express') {
    const express = (await import('express')).default;
    const app = express();
    if (options !== null) app.use((await import('../packages/moat/src/adapters/express.js')).moat(options));
    app.get('/products/:id', (_req, res) => { res.send('hello world'); });
    server = createServer(app);
  } else {
    const Fastify = (await import('fastify')).default;
    const app = Fastify();
    if (options !== null) {
      const { moat } = await import('../packages/moat/src/adapters/fastify.js');
      const { Firewall } = await import('../packages/moat/src/firewall/firewall.js');
      await app.register(moat, options instanceof Firewall ? { firewall: options } : options);
    }
    app.get('/products/:id', async () => 'hello world');
    await app.listen({ port: 0, host: '127.0.0.1' });
    server = app.server;
  }
  if (!server.listening) await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  process.send!({ port: (server.address() as AddressInfo).port });
  // Bounded life: ends with the parent.
  process.on('disconnect', () => process.exit(0));
}

/** Child process `--load`: runs autocannon for each `{ port, seconds, connections }` it is sent. */
async function generateLoad(): Promise<void> {
  const autocannon = (await import('autocannon' as string)).default as Autocannon;
  process.on('message', async (message) => {
    const { port, seconds, connections } = message as { port: number; seconds: number; connections: number };
    const result = await autocannon(autocannonOptions(port, seconds, connections));
    process.send!({ requests: result.requests, latency: { p99: result.latency.p99 }, duration: result.duration, non2xx: result.non2xx, errors: result.errors });
  });
  process.on('disconnect', () => process.exit(0));
  process.send!('ready');
}

if (process.argv[2] === '--serve' && process.send !== undefined) {
  await serve(process.argv[3] as ServerKind, process.argv[4] ?? '', process.argv[5] ?? '', process.argv[6] ?? '');
} else if (process.argv[2] === '--load' && process.send !== undefined) {
  await generateLoad();
}
