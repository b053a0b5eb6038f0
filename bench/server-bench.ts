/**
 * Server benchmark (issue 3 §8, issue 15): the same hello-world server with and without Moat, for
 * node:http, Express and Fastify, measured in the same run. Moat runs with a big data file (2 M ranges
 * in a blocked list) and big substring lists (10 k path and 10 k user-agent patterns) loaded. Beside it,
 * Zen by Aikido (`@aikidosec/firewall`), the closest open-source peer, on the same servers.
 *
 * Each server runs in its own child process (this file, started with `--serve`), and so does the load
 * generator (autocannon, `--load`): neither shares a thread or a heap with the bench's big inputs. Each
 * round runs the variants in a new order. Two figures per variant and round: requests/s (autocannon) and the
 * server's CPU time per request (`process.cpuUsage()` of the server process, all its threads, sampled
 * over IPC at the start and end of the round). CPU time is the figure to quote: on a shared machine
 * req/s moves with whatever else runs, CPU time per request hardly does.
 */
import { fork, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpus } from 'node:os';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type RequestListener, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { IpRange } from '../packages/moat/src/ip/range.js';
import { writeFullRules, writeThreatData } from './lib/full-load.js';
import { median, rng } from './lib/measure.js';
import { alternatingFigures, blockIsOn, type AlternatingBlock, type AlternatingFigures, type PairFigure } from './lib/alternating-blocks.js';
import { pairedChange, pairedDifference, type PairedFigure } from './lib/paired-rounds.js';
import { syntheticRanges } from './lib/synthetic.js';
import { normalizeAttackSettings } from '../packages/moat/src/rules/attack-settings.js';

export type ServerKind = 'node:http' | 'express' | 'fastify';
const SERVERS: readonly ServerKind[] = ['node:http', 'express', 'fastify'];

/**
 * bare: no firewall. control: no firewall either, in processes of its own, measured as a variant against
 * bare: what two identical servers differ by in this run (its noise floor; a change within its quartiles
 * is not told apart from nothing). moat: Moat standalone, judging every request. reporting: Moat in managed mode,
 * reporting every decision to a hub stand-in. attacks: the same with attack detection on (every category
 * blocking). zen: Zen by Aikido in blocking mode, without a token.
 * Express only: layer, a pass-through `app.use((req, res, next) => next())` in Moat's place (what any
 * middleware costs on Express before it does anything); listener, Moat judging in the node:http
 * listener before Express (`http.createServer(withMoat(app))`), standalone (on Fastify too, through its
 * `serverFactory`: `createServer(withMoat(handler))`); prototypes, the same on a server
 * whose requests are built on the app's prototypes (`createServer(expressServerOptions(app), withMoat(app))`);
 * prototypesBare, bare Express on such a server (no firewall), the baseline that tells Moat's part from Express's gain.
 */
export type ServerVariant = 'bare' | 'control' | 'moat' | 'reporting' | 'attacks' | 'zen' | 'layer' | 'listener' | 'prototypes' | 'prototypesBare';
export const SERVER_VARIANTS: readonly ServerVariant[] = ['bare', 'control', 'moat', 'reporting', 'attacks', 'zen', 'layer', 'listener', 'prototypes', 'prototypesBare'];

/** The variants that only mean something on Express (see ServerVariant), and on Fastify the listener too. */
const EXPRESS_ONLY: readonly ServerVariant[] = ['layer', 'listener', 'prototypes', 'prototypesBare'];

function variantsFor(kind: ServerKind, variants: readonly ServerVariant[]): ServerVariant[] {
  return variants.filter((v) => kind === 'express' || !EXPRESS_ONLY.includes(v) || (kind === 'fastify' && v === 'listener'));
}

export interface ServerBenchOptions {
  /** A few seconds, tiny lists: proves the bench works, figures mean little. */
  quick?: boolean;
  /** Ranges in the data file (default 2,000,000; quick 20,000). */
  ranges?: number;
  /** Path and user-agent patterns each (default 10,000; quick 500). */
  patterns?: number;
  /** User-agent patterns, when they should differ from `patterns` (0 isolates the cost of UA matching). */
  userAgentPatterns?: number;
  /** Measured rounds per server and variant (default 15; quick 1). */
  rounds?: number;
  /**
   * Server processes per variant (default 5; quick 1), taken in turn by the rounds. A process's own luck
   * (where its heap and code landed, what shares its caches) moved one variant's CPU per request by a few
   * µs for the whole of a run (two managed Fastify servers, reporting on and off, swapped places by 5 µs
   * between two runs); rounds spread over several processes average that out.
   */
  processes?: number;
  /** Seconds per measurement (default 2; quick 0.5). */
  seconds?: number;
  /**
   * Seconds of unmeasured load on a round's server right before it is measured (default 0.5; quick 0.1).
   * A process idles for most of a minute between its rounds, and its first few hundred ms back under load
   * cost every server more (caches, branch predictors and the heap's sizing cold), a firewall's process
   * more than a bare one: without this the rounds measured that recovery, not serving.
   */
  warmSeconds?: number;
  /** Concurrent connections (default 50). */
  connections?: number;
  /**
   * Seconds of the same-process comparison per process, server and Moat variant (default 16; quick 1.5; 0
   * leaves it out): one process switching between the app with and without Moat under one load
   * (lib/alternating-blocks.ts).
   */
  alternatingSeconds?: number;
  /** Processes of the same-process comparison per server and variant, their pairs pooled (default 3; quick 1). */
  alternatingProcesses?: number;
  /** Length of one block of that comparison, ms (default 200; quick 100). */
  blockMs?: number;
  servers?: readonly ServerKind[];
  /** Variants to run (default all four; bare always runs, it is the baseline). */
  variants?: readonly ServerVariant[];
  log?: (line: string) => void;
}

/** One variant of one server over the rounds. */
export interface VariantFigures {
  /** Median requests/s. */
  reqPerSecond: number;
  reqRounds: number[];
  /** Median over the rounds of autocannon's p99 latency, ms. */
  p99: number;
  /** Median server CPU time per request (user + system, every thread of the server process), µs. */
  cpuUs: number;
  cpuRounds: number[];
  /**
   * Median CPU time per request of the serving (main) thread alone, µs (Linux schedstat; null elsewhere):
   * what the request path costs, without GC helpers or a report worker, which may run on other cores.
   */
  mainCpuUs: number | null;
  /** Against the bare server of the same round; absent for bare itself. */
  vsBare?: {
    /** req/s: variant / bare − 1 per round (−0.05: 5 % fewer requests per second). */
    change: PairedFigure;
    /** CPU µs per request: variant − bare per round. */
    cpuAddedUs: PairedFigure;
    /** CPU per request: variant / bare − 1 per round (+0.16: 16 % more CPU per request). */
    cpuChange: PairedFigure;
    /** Serving thread's CPU µs per request: variant − bare per round (null off Linux). */
    mainCpuAddedUs: PairedFigure | null;
  };
}

export interface ServerBenchRow {
  server: ServerKind;
  /** Every variant that ran, bare included. */
  variants: Partial<Record<ServerVariant, VariantFigures>>;
  /** Zen's request context was seen inside the handler, i.e. its hooks really wrapped this server. */
  zenProtecting?: boolean;
  // The figures below repeat variants.{bare,moat,reporting} for the README table and older reports.
  /** Median requests/s without Moat. */
  bare: number;
  /** Median requests/s with Moat. */
  moat: number;
  /** Median requests/s with Moat in managed mode, reporting every decision. */
  reporting: number;
  /** Median over the rounds of moat / bare − 1 (see VariantFigures.vsBare). */
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
  /** The same-process comparison of each variant that ran it (Moat's variants and the control). */
  alternating?: Partial<Record<ServerVariant, AlternatingFigures>>;
}

export interface ServerBenchResult {
  setup: {
    ranges: number; patterns: number; userAgentPatterns: number; rounds: number; seconds: number; connections: number; quick: boolean;
    processes?: number;
    warmSeconds?: number;
    alternatingSeconds?: number;
    alternatingProcesses?: number;
    blockMs?: number;
    variants?: ServerVariant[];
  };
  rows: ServerBenchRow[];
  /** A markdown section for the report. */
  markdown: string[];
}

// A browser-like request that passes every rule but makes each of them work: IP lookup, user agent
// and path matching against the big lists, query decoding for the parameter rule.
const REQUEST_PATH = '/products/42?page=2&sort=price';
const USER_AGENT = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36';
const LOOPBACK = 0x7f000001n;
const HELLO = 'hello world';

interface AutocannonResult {
  requests: { average: number; total: number };
  latency: { p99: number };
  duration: number;
  non2xx: number;
  errors: number;
}
type Autocannon = (options: Record<string, unknown>) => Promise<AutocannonResult>;

/** Writes the rules and data files Moat loads in the bench. */
function buildFiles(dir: string, ranges: number, patterns: number, uaPatterns: number): BenchFiles {
  // The load comes from 127.0.0.1: keep it out of the blocked ranges so every request is Passed.
  const list: IpRange[] = syntheticRanges(ranges, 42).filter((r) => !(r.family === 4 && r.start <= LOOPBACK && LOOPBACK <= r.end));
  const data = join(dir, 'data.moat');
  writeThreatData(list, data);
  const rulesPath = join(dir, 'rules.moat');
  const attacksRules = join(dir, 'rules-attacks.moat');
  const rules = { pathPatterns: patterns, userAgentPatterns: uaPatterns, loginLimit: 10, extra: [{ action: 'block', kind: 'ip', value: '198.51.100.0/24' }] } as const;
  writeFullRules(rules, rulesPath);
  writeFullRules({ ...rules, attacks: normalizeAttackSettings('block')! }, attacksRules);
  return { rules: rulesPath, attacksRules, data };
}

/** The files the servers load: the rules, the same with attack detection on, and the data. */
interface BenchFiles {
  rules: string;
  attacksRules: string;
  data: string;
}

/**
 * With two or more cores, servers run on core 0 and the load generator on core 1 (taskset), as if on
 * separate machines: unpinned, the server's helper threads (GC, zlib) and autocannon fought over the
 * same cores and the same comparison moved by ±10 % between runs; pinned it repeats within a few %.
 */
const PIN = cpus().length >= 2 && spawnSync('taskset', ['-c', '0', 'true']).status === 0;
const SERVER_CPU = '0';
const LOAD_CPU = '1';

const requireHere = createRequire(import.meta.url);

/** Zen is a devDependency of the bench only: without it, its rows are left out. */
function zenInstalled(): boolean {
  try {
    requireHere.resolve('@aikidosec/firewall');
    return true;
  } catch {
    return false;
  }
}

interface ChildSetup {
  env?: NodeJS.ProcessEnv;
  /** Run this plain JavaScript file with plain node instead of this file through tsx. */
  script?: string;
}

/** This file (or `setup.script`) in a child process with IPC, on one core when pinning is possible. */
function forkPinned(args: string[], cpu: string, setup: ChildSetup = {}): ChildProcess {
  const script = setup.script ?? fileURLToPath(import.meta.url);
  const execArgv = setup.script === undefined ? ['--import', 'tsx'] : [];
  const env = setup.env ?? process.env;
  if (!PIN) return fork(script, args, { execArgv, env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return spawn('taskset', ['-c', cpu, process.execPath, ...execArgv, script, ...args], { env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
}

/** The Zen variant's server: plain CommonJS (Zen will not protect an app run through tsx). */
const ZEN_SERVER = fileURLToPath(new URL('./lib/zen-server.cjs', import.meta.url));

/**
 * Zen in blocking mode (AIKIDO_BLOCK) and without a token: then it starts no heartbeat, fetches no
 * lists and reports nothing, so it opens no connection (checked with strace: only the load's
 * 127.0.0.1 sockets). Zen is required before the framework, as its docs ask.
 */
function zenSetup(): ChildSetup {
  const env: NodeJS.ProcessEnv = { ...process.env, AIKIDO_BLOCK: 'true' };
  for (const name of ['AIKIDO_TOKEN', 'AIKIDO_DEBUG', 'AIKIDO_DISABLE', 'AIKIDO_ENDPOINT', 'AIKIDO_REALTIME_ENDPOINT']) delete env[name];
  return { env, script: ZEN_SERVER };
}

interface CpuSample { cpuMicros: number; mainMicros: number | null }

/** One server in a child process: its port, and its CPU time on request. */
class ServerChild {
  private constructor(readonly child: ChildProcess, readonly port: number, readonly zenProtecting: boolean) {}

  static start(kind: ServerKind, variant: ServerVariant, files: BenchFiles, sink: string, alternating = false): Promise<ServerChild> {
    const args = variant === 'zen' ? [kind] : ['--serve', kind, variant, variant === 'attacks' ? files.attacksRules : files.rules, files.data, sink];
    if (alternating) args.push('alternating');
    // NODE_ENV as in a deployed app (Express caches views then; nothing else here reads it).
    const base: ChildSetup = variant === 'zen' ? zenSetup() : { env: { ...process.env } };
    base.env = { ...base.env, NODE_ENV: process.env.NODE_ENV ?? 'production' };
    const child = forkPinned(args, SERVER_CPU, base);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { child.kill(); reject(new Error(`${kind} ${variant} server did not start`)); }, 120_000);
      child.once('message', (message) => {
        clearTimeout(timer);
        const m = message as { port: number; zenProtecting: boolean };
        resolve(new ServerChild(child, m.port, m.zenProtecting));
      });
      child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`${kind} ${variant} server exited (${code})`)); });
    });
  }

  /** CPU time the server process has used so far (user + system, all threads), and its main thread's (null off Linux), µs. */
  cpuMicros(): Promise<CpuSample> {
    return new Promise((resolve) => {
      this.child.once('message', (message) => resolve(message as CpuSample));
      this.child.send('cpu');
    });
  }

  /** A command to an alternating server (see Alternation), and its answer. */
  alternation(command: AlternationCommand): Promise<{ ok: true } | { blocks: AlternatingBlock[] }> {
    return new Promise((resolve) => {
      this.child.once('message', (message) => resolve(message as { ok: true } | { blocks: AlternatingBlock[] }));
      this.child.send(command);
    });
  }
}

/**
 * The load generator: autocannon in a child process of its own, so it neither shares a heap with the
 * bench's big synthetic inputs nor a thread with anything else. One request at a time over IPC.
 */
class LoadGenerator {
  /** `sinkUrl`: the report sink the load's process serves (see startReportSink). */
  private constructor(readonly child: ChildProcess, readonly sinkUrl: string) {}

  static async start(): Promise<LoadGenerator> {
    const child = forkPinned(['--load'], LOAD_CPU);
    const sinkUrl = await new Promise<string>((resolve, reject) => {
      child.once('message', (m) => resolve((m as { sink: string }).sink));
      child.once('exit', (code) => reject(new Error(`load generator exited (${code})`)));
    });
    return new LoadGenerator(child, sinkUrl);
  }

  /** What the report sink beside the load has received so far. */
  sinkTotals(): Promise<{ bytes: number; batches: number }> {
    return new Promise((resolve) => {
      this.child.once('message', (totals) => resolve(totals as { bytes: number; batches: number }));
      this.child.send('sink');
    });
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
const us = (x: number) => `${x.toFixed(1)} µs`;
const signedUs = (x: number) => `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(1)} µs`;
const usRange = ([lo, hi]: [number, number]) => `${signedUs(lo)} … ${signedUs(hi)}`;

/**
 * A hub stand-in for reports: 304 to downsync polls, 200 to upsync batches (counted, not stored). It runs
 * in the load generator's process, on the load's core: a hub is another machine, and its work must not
 * take the servers' core (in the bench's own, unpinned process it could).
 */
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

/** One measurement: requests/s, p99 and the server's CPU µs per request. */
interface RoundFigures {
  reqPerSecond: number;
  p99: number;
  cpuUs: number;
  mainCpuUs: number | null;
  failed: number;
}

// Work a round leaves behind (a report batch being compressed and sent) is still the round's: the CPU
// sample at the end waits this long after the load stops. An idle server uses no CPU meanwhile.
const SETTLE_MS = 150;

async function measureRound(server: ServerChild, load: (port: number) => Promise<AutocannonResult>,
  warm: ((port: number) => Promise<AutocannonResult>) | null): Promise<RoundFigures> {
  if (warm !== null) await warm(server.port);
  const before = await server.cpuMicros();
  const result = await load(server.port);
  await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
  const after = await server.cpuMicros();
  const requests = Math.max(1, result.requests.total);
  return {
    reqPerSecond: result.requests.total / result.duration,
    p99: result.latency.p99,
    cpuUs: (after.cpuMicros - before.cpuMicros) / requests,
    mainCpuUs: after.mainMicros === null || before.mainMicros === null ? null : (after.mainMicros - before.mainMicros) / requests,
    failed: result.non2xx + result.errors,
  };
}

/** Two bare measurements averaged: the baseline of the variant measured between them. */
function meanOfRounds(a: RoundFigures, b: RoundFigures): RoundFigures {
  return {
    reqPerSecond: (a.reqPerSecond + b.reqPerSecond) / 2,
    p99: (a.p99 + b.p99) / 2,
    cpuUs: (a.cpuUs + b.cpuUs) / 2,
    mainCpuUs: a.mainCpuUs === null || b.mainCpuUs === null ? null : (a.mainCpuUs + b.mainCpuUs) / 2,
    failed: a.failed + b.failed,
  };
}

/** The serving thread's CPU per request of each round, or null when a round could not read it. */
function mainThreadRounds(rounds: RoundFigures[]): number[] | null {
  const out: number[] = [];
  for (const r of rounds) {
    if (r.mainCpuUs === null) return null;
    out.push(r.mainCpuUs);
  }
  return out;
}

function variantFigures(rounds: RoundFigures[], bare: RoundFigures[] | null): VariantFigures {
  const reqRounds = rounds.map((r) => r.reqPerSecond);
  const cpuRounds = rounds.map((r) => r.cpuUs);
  const mainRounds = mainThreadRounds(rounds);
  const figures: VariantFigures = {
    reqPerSecond: median(reqRounds), reqRounds, p99: median(rounds.map((r) => r.p99)), cpuUs: median(cpuRounds), cpuRounds,
    mainCpuUs: mainRounds === null ? null : median(mainRounds),
  };
  if (bare !== null) {
    const bareReq = bare.map((r) => r.reqPerSecond);
    const bareCpu = bare.map((r) => r.cpuUs);
    const bareMain = mainThreadRounds(bare);
    figures.vsBare = {
      change: pairedChange(reqRounds, bareReq),
      cpuAddedUs: pairedDifference(cpuRounds, bareCpu),
      cpuChange: pairedChange(cpuRounds, bareCpu),
      mainCpuAddedUs: mainRounds === null || bareMain === null ? null : pairedDifference(mainRounds, bareMain),
    };
  }
  return figures;
}

const VARIANT_NAMES: Record<ServerVariant, string> = {
  bare: 'without a firewall', control: 'without a firewall again (noise floor)', moat: 'Moat', reporting: 'Moat, reporting on', attacks: 'Moat, reporting on, attack detection on',
  zen: 'Zen (blocking, no token)',
  layer: 'a pass-through app.use in Moat\'s place', listener: 'Moat in the node:http listener, before the framework',
  prototypes: 'the same, requests built on Express\'s prototypes',
  prototypesBare: 'no firewall, requests built on Express\'s prototypes',
};

/** The order of one round: 0 … n − 1 shuffled (Fisher–Yates). */
function shuffled(n: number, random: () => number): number[] {
  const order = Array.from({ length: n }, (_, k) => k);
  for (let k = n - 1; k > 0; k--) {
    const j = Math.floor(random() * (k + 1));
    [order[k], order[j]] = [order[j]!, order[k]!];
  }
  return order;
}

/** One seed per server kind: every run shuffles its rounds the same way. */
function round0Seed(kind: ServerKind): number {
  return 1 + SERVERS.indexOf(kind);
}

/**
 * The variants the same-process comparison runs: Moat's, the control (two bare apps) for its noise floor,
 * on Express a pass-through layer (the floor of any middleware), and Moat in the listener before Express or Fastify.
 */
const ALTERNATING: readonly ServerVariant[] = ['control', 'moat', 'reporting', 'attacks', 'layer', 'listener'];

/**
 * One alternating server under one continuous load: both apps warmed up first, then blocks recorded
 * from shortly after the load starts until shortly before it ends (connections opening and closing are
 * no block's).
 */
async function alternate(server: ServerChild, loader: LoadGenerator, setup: ServerBenchResult['setup']): Promise<AlternatingBlock[]> {
  const warm = setup.quick ? 0.3 : 2;
  for (const mode of ['on', 'off'] as const) {
    await server.alternation(mode);
    await loader.run(server.port, warm, setup.connections);
  }
  const seconds = setup.alternatingSeconds!;
  const edgeMs = Math.min(500, seconds * 100);
  const load = loader.run(server.port, seconds, setup.connections);
  await new Promise((resolve) => setTimeout(resolve, edgeMs));
  await server.alternation({ alternate: setup.blockMs! });
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000 - 2 * edgeMs));
  const answer = await server.alternation('stop');
  await load;
  return 'blocks' in answer ? answer.blocks : [];
}

/** Runs the server bench; see ServerBenchOptions. */
export async function runServerBench(options: ServerBenchOptions = {}): Promise<ServerBenchResult> {
  const quick = options.quick === true;
  const patterns = options.patterns ?? (quick ? 500 : 10_000);
  const zen = zenInstalled();
  const wanted = options.variants ?? SERVER_VARIANTS;
  const variants = SERVER_VARIANTS.filter((v) => v === 'bare' || (wanted.includes(v) && (v !== 'zen' || zen)));
  const setup = {
    ranges: options.ranges ?? (quick ? 20_000 : 2_000_000),
    patterns,
    userAgentPatterns: options.userAgentPatterns ?? patterns,
    // Many short rotating rounds: a burst of load from elsewhere on the machine moves one round, not the median.
    rounds: options.rounds ?? (quick ? 1 : 15),
    processes: Math.max(1, options.processes ?? (quick ? 1 : 5)),
    seconds: options.seconds ?? (quick ? 0.5 : 2),
    warmSeconds: options.warmSeconds ?? (quick ? 0.1 : 0.5),
    connections: options.connections ?? 50,
    alternatingSeconds: options.alternatingSeconds ?? (quick ? 1.5 : 16),
    alternatingProcesses: Math.max(1, options.alternatingProcesses ?? (quick ? 1 : 3)),
    blockMs: options.blockMs ?? (quick ? 100 : 200),
    quick,
    variants: [...variants],
  };
  const log = options.log ?? (() => {});
  if (wanted.includes('zen') && !zen) log('  Zen (@aikidosec/firewall) is not installed: its rows are left out');
  const servers = options.servers ?? SERVERS;
  const dir = mkdtempSync(join(tmpdir(), 'moat-server-bench-'));
  const children: ChildProcess[] = [];
  let sinkTotals = { bytes: 0, batches: 0 };
  try {
    const t0 = Date.now();
    const files = buildFiles(dir, setup.ranges, setup.patterns, setup.userAgentPatterns);
    log(`  built ${setup.ranges.toLocaleString('en-US')} ranges, ${setup.patterns.toLocaleString('en-US')} path and ${setup.userAgentPatterns.toLocaleString('en-US')} user-agent patterns in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    // Moat runs standalone and in managed mode with reporting on, as in production, upsyncing every
    // decision to a sink beside the load (a hub stand-in on 127.0.0.1: 304 to rule polls, 200 to report batches).
    const loader = await LoadGenerator.start();
    children.push(loader.child);
    const load = (seconds: number) => (port: number) => loader.run(port, seconds, setup.connections);
    const rows: ServerBenchRow[] = [];
    for (const kind of servers) {
      const variants = variantsFor(kind, setup.variants);
      // One server kind's processes at a time, all started at once (only the Moat variants load the
      // files); idle ones cost no CPU. running[v][p]: process p of variant v.
      const running = await Promise.all(variants.map((v) =>
        Promise.all(Array.from({ length: setup.processes }, () => ServerChild.start(kind, v, files, loader.sinkUrl)))));
      for (const list of running) for (const server of list) children.push(server.child);
      // Warm-up: let the JIT settle (briefly in a quick run, whose first requests would otherwise be all compile time).
      for (const list of running) for (const server of list) await load(quick ? 0.3 : 2)(server.port);
      // rounds[v]: variant v's measurement in each round; bracket[v]: the bare server's around it (bare's own
      // entry holds every bare measurement).
      const rounds: RoundFigures[][] = variants.map(() => []);
      const bracket: RoundFigures[][] = variants.map(() => []);
      let errors = 0;
      const random = rng(round0Seed(kind));
      const warm = setup.warmSeconds > 0 ? load(setup.warmSeconds) : null;
      let bareTurn = 0;
      const measureBare = async () => {
        // Bare's processes in turn too, so each idles between its measurements as long as a variant's does.
        const figures = await measureRound(running[0]![bareTurn++ % setup.processes]!, load(setup.seconds), warm);
        errors += figures.failed;
        rounds[0]!.push(figures);
        return figures;
      };
      for (let round = 0; round < setup.rounds; round++) {
        // A fresh order each round, so no variant always runs first or last, or always after the same one
        // (with a fixed rotation, whatever a server leaves behind, its connections' teardown and the caches
        // it filled, always lands on the same neighbour); each variant's processes in turn. The bare server
        // runs before the first variant and after each one, and a variant is compared with the mean of the
        // two bare measurements around it, so the machine's drift over those seconds cancels (against one bare
        // measurement per round, up to 15 s away, the control's quartiles spanned 20 to 37 points).
        let before = await measureBare();
        for (const v of shuffled(variants.length - 1, random).map((k) => k + 1)) {
          const figures = await measureRound(running[v]![round % setup.processes]!, load(setup.seconds), warm);
          errors += figures.failed;
          rounds[v]!.push(figures);
          const after = await measureBare();
          bracket[v]!.push(meanOfRounds(before, after));
          before = after;
        }
      }
      const byVariant: Partial<Record<ServerVariant, VariantFigures>> = {};
      variants.forEach((v, k) => { byVariant[v] = variantFigures(rounds[k]!, v === 'bare' ? null : bracket[k]!); });
      const bare = byVariant.bare!;
      // Rows without a variant (a run with `variants` narrowed) repeat the baseline, so they read as "no change".
      const moat = byVariant.moat ?? bare;
      const reporting = byVariant.reporting ?? bare;
      const none = { median: 0, spread: [0, 0] as [number, number] };
      const row: ServerBenchRow = {
        server: kind, variants: byVariant,
        zenProtecting: variants.includes('zen') ? running[variants.indexOf('zen')]!.every((server) => server.zenProtecting) : undefined,
        bare: bare.reqPerSecond, moat: moat.reqPerSecond, reporting: reporting.reqPerSecond,
        change: (moat.vsBare?.change ?? none).median, changeSpread: (moat.vsBare?.change ?? none).spread,
        reportingChange: (reporting.vsBare?.change ?? none).median, reportingChangeSpread: (reporting.vsBare?.change ?? none).spread,
        bareRounds: bare.reqRounds, moatRounds: moat.reqRounds, reportingRounds: reporting.reqRounds, errors,
        bareP99: bare.p99, moatP99: moat.p99, reportingP99: reporting.p99,
      };
      rows.push(row);
      log(`  ${kind}: ` + variants.map((v) => {
        const f = byVariant[v]!;
        const vs = f.vsBare ? ` (${pct(f.vsBare.change.median)}, CPU ${signedUs(f.vsBare.cpuAddedUs.median)})` : '';
        return `${VARIANT_NAMES[v]} ${fmt(f.reqPerSecond)} req/s, ${us(f.cpuUs)} CPU${vs}`;
      }).join('; ') + `${errors ? `; ${errors} errors` : ''}`);
      for (const list of running) for (const server of list) server.child.kill();
      if (setup.alternatingSeconds > 0) {
        row.alternating = {};
        const alternating = variants.filter((variant) => ALTERNATING.includes(variant));
        // The variants take turns, one process each, so a slow spell of the machine is spread over all of them.
        const blocks = alternating.map((): AlternatingBlock[][] => []);
        for (let p = 0; p < setup.alternatingProcesses; p++) {
          for (const [k, v] of alternating.entries()) {
            const server = await ServerChild.start(kind, v, files, loader.sinkUrl, true);
            children.push(server.child);
            blocks[k]!.push(await alternate(server, loader, setup));
            server.child.kill();
          }
        }
        for (const [k, v] of alternating.entries()) {
          let figures = alternatingFigures(blocks[k]!);
          // A quick run's 100 ms blocks can each serve fewer than 50 requests on a loaded machine (Express
          // under other work): there, any pair counts, and the log says so. A full run never relaxes it.
          if (figures === null && setup.quick) {
            figures = alternatingFigures(blocks[k]!, 1);
            if (figures !== null) log(`  ${kind}, ${VARIANT_NAMES[v]}: no pair of blocks served 50 requests each; pairs of any size counted (quick run)`);
          }
          if (figures === null) throw new Error(`${kind} ${v}: the same-process comparison recorded no pair of blocks`);
          row.alternating[v] = figures;
          log(`  ${kind}, ${VARIANT_NAMES[v]}, same process: CPU ${signedUs(figures.cpuAddedUs.median)} per request ` +
            `(mean ${signedUs(figures.cpuAddedUs.mean)} ± ${figures.cpuAddedUs.standardError.toFixed(2)}; by process ` +
            `${figures.processMedians.map(signedUs).join(', ')}), ${pct(figures.change.median)} req/s, ${figures.pairs} pairs`);
        }
      }
    }
    sinkTotals = await loader.sinkTotals();
    return { setup, rows, markdown: serverMarkdown(setup, rows, sinkTotals) };
  } finally {
    for (const child of children) if (child.exitCode === null) child.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The report's section: the notes say what each row measures, the tables the figures. */
function serverMarkdown(setup: ServerBenchResult['setup'], rows: ServerBenchRow[], sink: { bytes: number; batches: number }): string[] {
  const all = setup.variants ?? ['bare', 'moat', 'reporting'];
  // The main tables hold what every server ran; the Express-only variants get a table of their own.
  const variants = all.filter((v) => !EXPRESS_ONLY.includes(v));
  const expressOnly = all.filter((v) => EXPRESS_ONLY.includes(v));
  const others = variants.filter((v) => v !== 'bare');
  const cell = (f: VariantFigures | undefined, what: 'req' | 'cpu' | 'main') => {
    if (f === undefined) return '';
    if (what === 'main') {
      if (f.mainCpuUs === null) return 'n/a';
      const added = f.vsBare?.mainCpuAddedUs;
      return added ? `${us(f.mainCpuUs)}, ${signedUs(added.median)} (${usRange(added.spread)})` : us(f.mainCpuUs);
    }
    if (what === 'req') return f.vsBare ? `${fmt(f.reqPerSecond)}, ${pct(f.vsBare.change.median)} (${pctRange(f.vsBare.change.spread)})` : fmt(f.reqPerSecond);
    return f.vsBare
      ? `${us(f.cpuUs)}, ${signedUs(f.vsBare.cpuAddedUs.median)} (${usRange(f.vsBare.cpuAddedUs.spread)}), ${pct(f.vsBare.cpuChange.median)}`
      : us(f.cpuUs);
  };
  const zenRows = rows.filter((r) => r.zenProtecting !== undefined);
  return [
    '## Server throughput and CPU per request, with and without a firewall',
    '',
    `Hello world, \`GET ${REQUEST_PATH}\` with a browser user agent, autocannon ${setup.connections} connections, ` +
      `${setup.rounds} rounds of ${setup.seconds} s per variant (the order shuffled each round)` +
      `${(setup.warmSeconds ?? 0) > 0 ? `, each right after ${setup.warmSeconds} s of unmeasured load on the same server (a process idles between its rounds, and its first few hundred ms back under load measure its recovery, not its serving)` : ''}` +
      '; each server in its own process, ' +
      `${setup.processes ?? 1} process${(setup.processes ?? 1) > 1 ? 'es' : ''} per variant taken in turn by the rounds (a process's own luck in memory placement averages out)` +
      `${PIN ? ', servers pinned to core 0 and the load generator to core 1' : ', sharing the cores with the load generator'}. ` +
      'Figures are medians over the rounds. In each round the bare server is measured before the first variant and after each one ' +
      '(its processes in turn too), and a variant\'s change is against the mean of the two bare measurements right before and after it: ' +
      'the machine\'s drift over those seconds cancels. Each change is the median of the per-round changes, with its quartiles. **CPU per request** is the server process\'s user + system ' +
      'time (`process.cpuUsage()`, every thread, so GC and a reporting worker count) over the round, divided by the requests served: ' +
      'steadier than req/s on a shared machine, and the figure to quote. ' +
      `Moat loaded ${setup.ranges.toLocaleString('en-US')} blocked ranges and ${setup.patterns.toLocaleString('en-US')} path + ` +
      `${setup.userAgentPatterns.toLocaleString('en-US')} user-agent patterns; every request is judged and passes. The load comes ` +
      'from one address (127.0.0.1), so after its first request Moat\'s memo of quiet client IPs answers the IP stages; traffic ' +
      'from many addresses also pays the range seeks (about 0.5 µs per request, docs/performance.md). "Reporting on" is ' +
      `managed mode sending every decision (no sampling) in gzip batches to a local sink in the load generator's process, on its core ` +
      `(${fmt(sink.batches)} batches, ${(sink.bytes / 2 ** 20).toFixed(1)} MiB received). "Attack detection on" is the same with a ` +
      'rules file that blocks every attack category: the request\'s path, query and headers are examined (clean, so the prefilter answers). ' +
      '"Without a firewall again" is the bare server once more, in processes of its own, measured like a variant against bare: ' +
      'the change two identical servers show in this run, its noise floor. A firewall\'s change within that row\'s quartiles ' +
      'is not told apart from nothing by this run. ' +
      'The third table is the serving (main) thread\'s ' +
      'CPU alone (Linux schedstat): the request path without GC helpers or the report worker, which on a server with more cores run beside it.' +
      `${setup.quick ? ' Quick run: figures are indicative only.' : ''}`,
    '',
    `| server | ${variants.map((v) => `${VARIANT_NAMES[v]} (req/s${v === 'bare' ? '' : ', change, quartiles'})`).join(' | ')} | p99 ms (${variants.join(' / ')}) |`,
    `|---|${variants.map(() => '---:').join('|')}|---:|`,
    ...rows.map((r) => `| ${r.server} | ${variants.map((v) => cell(r.variants[v], 'req')).join(' | ')} | ${variants.map((v) => r.variants[v]?.p99 ?? '').join(' / ')} |`),
    '',
    `| server | ${variants.map((v) => `${VARIANT_NAMES[v]} (CPU µs/request${v === 'bare' ? '' : ', added, quartiles, change'})`).join(' | ')} |`,
    `|---|${variants.map(() => '---:').join('|')}|`,
    ...rows.map((r) => `| ${r.server} | ${variants.map((v) => cell(r.variants[v], 'cpu')).join(' | ')} |`),
    '',
    `| server | ${variants.map((v) => `${VARIANT_NAMES[v]} (serving thread CPU µs/request${v === 'bare' ? '' : ', added, quartiles'})`).join(' | ')} |`,
    `|---|${variants.map(() => '---:').join('|')}|`,
    ...rows.map((r) => `| ${r.server} | ${variants.map((v) => cell(r.variants[v], 'main')).join(' | ')} |`),
    '',
    'Rounds, req/s min–max: ' + rows.map((r) => `${r.server} ${variants.map((v) => spread(r.variants[v]?.reqRounds ?? [0])).join(' / ')}`).join('; ') + '.',
    '',
    ...(others.includes('zen') ? [
      `**Zen** (\`@aikidosec/firewall\`) runs in blocking mode (\`AIKIDO_BLOCK=true\`) without a token, required first in a plain ` +
        'CommonJS server run by node (it will not protect an app run through tsx; bench/lib/zen-server.cjs, the same hello world), with `addExpressMiddleware` / `addFastifyHook` where it has them. Without a token it has no IP or ' +
        'user-agent lists to judge (those come from Aikido\'s cloud) and opens no connection; what each request costs is its request ' +
        'context (AsyncLocalStorage, URL, query, headers and cookies parsed), its IP and bot check against empty lists, its rate-limit ' +
        'middleware and its route hooks. Its attack detection runs in sinks (SQL, shell, file system, outgoing requests), which a hello ' +
        'world never calls. On node:http Zen wraps `http.createServer` itself, so that row measures the same request context and checks, ' +
        'not only load-time hooks. Moat in the same rows judges every request against the lists above. ' +
        (zenRows.every((r) => r.zenProtecting)
          ? 'Zen\'s request context was seen inside each server\'s handler, so its hooks were active in every row.'
          : `Zen's request context was NOT seen in: ${zenRows.filter((r) => !r.zenProtecting).map((r) => r.server).join(', ')} (its hooks did not wrap that server, so the row measures only its load-time cost).`),
      '',
    ] : []),
    ...(rows.some((r) => r.server === 'express') ? [
      '**The Express row.** Its server is the same hello world as the others (one `app.get(\'/products/:id\')` route answering ' +
        'with `res.send`, no body parser, `NODE_ENV=production`, and the bare variant loads no rules or data), and the low figure is ' +
        'Express itself: for every request it swaps the prototypes of `req` and `res` (`Object.setPrototypeOf`), walks its router\'s ' +
        'layer stack with `next()` callbacks, matches the route\'s regular expression and builds `req.params`, and attaches finish ' +
        'listeners. The swap is the expensive part: V8 records no hidden-class transitions from an object whose prototype changed ' +
        'after it had properties, so every property the router adds next gives that request\'s `req` and `res` hidden classes of ' +
        'their own, and each property read of them in Node\'s and Express\'s code misses its inline cache (84 misses per request ' +
        'in this hello world by V8\'s `--log-ic`, none when the requests are built on Express\'s prototypes from the start; ' +
        'docs/performance.md). Measured while preparing this bench (server CPU per request, interleaved ' +
        'rounds, a busy shared machine): bare Express took 3–5× the CPU of bare node:http, more when other processes crowd the ' +
        'caches (its footprint per request is larger), and still over 3× with a single `app.use` answering `res.end()` (no ' +
        'routing, no `res.send`); turning off `etag` and `x-powered-by` changed nothing measurable. ' +
        `${expressRatio(rows)}Each change in the Express row is relative to that slower baseline, so the same absolute cost of a ` +
        'firewall is a smaller share of it, and two variants whose costs differ by less than the round-to-round spread (Moat with and ' +
        'without reporting: a µs or two on a base several times node:http\'s) can come out in either order in req/s: compare their quartiles, ' +
        'and their CPU per request, which tells them apart.',
      '',
      ...expressLayerSection(rows.find((r) => r.server === 'express'), expressOnly, cell),
    ] : []),
    ...fastifyListenerSection(rows.find((r) => r.server === 'fastify'), cell),
    ...alternatingSection(setup, rows),
  ];
}

/** The same-process comparison's table (see lib/alternating-blocks.ts); empty when it did not run. */
function alternatingSection(setup: ServerBenchResult['setup'], rows: ServerBenchRow[]): string[] {
  const ran = rows.filter((r) => r.alternating !== undefined && Object.keys(r.alternating).length > 0);
  if (ran.length === 0) return [];
  const added = (f: PairFigure) => `${signedUs(f.median)} (${usRange(f.spread)}); mean ${signedUs(f.mean)} ± ${f.standardError.toFixed(2)}`;
  return [
    '### The same firewall in the same process, on and off',
    '',
    `A server process holds the app twice, with the variant's firewall and without it, and switches between them every ` +
      `${setup.blockMs} ms under one continuous load of ${setup.alternatingSeconds} s (after both were warmed up): off, on, on, off, and again. ` +
      `Each row pools the pairs of ${setup.alternatingProcesses ?? 1} such process${(setup.alternatingProcesses ?? 1) === 1 ? '' : 'es'}, the variants taking turns; ` +
      '"by process" gives each one\'s own median, which its luck (where its heap and code landed) moves alike in both modes. ' +
      'Each pair of adjacent blocks shares the process (where its heap and code landed) and the moment (what else the machine ' +
      'did), which move the separate-process figures above by a few µs per request; what differs within a pair is the firewall. ' +
      'Figures are the median of the per-pair differences with their quartiles, and the mean with its standard error (the mean ' +
      'counts the rare costly block, a report batch sent or a garbage collection, that the median passes over). "Without a ' +
      'firewall again" switches between two bare copies of the app: the comparison\'s own noise floor. Off blocks still hold ' +
      'Moat\'s files in memory, so this is the cost of judging requests, not of having Moat loaded (the separate-process rows above include that).',
    '',
    '| server | variant | pairs | off: CPU µs/request | CPU added per request (quartiles); mean ± s.e. | by process | serving thread added | req/s change (quartiles) |',
    '|---|---|---:|---:|---:|---:|---:|---:|',
    ...ran.flatMap((r) => ALTERNATING.filter((v) => r.alternating![v] !== undefined).map((v) => {
      const f = r.alternating![v]!;
      return `| ${r.server} | ${VARIANT_NAMES[v]} | ${f.pairs} | ${us(f.offCpuUs)} | ${added(f.cpuAddedUs)} | ${(f.processMedians ?? []).map(signedUs).join(', ')} | ${f.mainCpuAddedUs === null ? 'n/a' : added(f.mainCpuAddedUs)} | ${pct(f.change.median)} (${pctRange(f.change.spread)}) |`;
    })),
    '',
  ];
}

/**
 * The Express-only variants beside bare Express and Moat's middleware: what any `app.use` layer costs
 * on Express, and Moat judging in the node:http listener before Express. Empty when they did not run.
 */
function expressLayerSection(row: ServerBenchRow | undefined, expressOnly: readonly ServerVariant[],
  cell: (f: VariantFigures | undefined, what: 'req' | 'cpu') => string): string[] {
  if (row === undefined || expressOnly.length === 0) return [];
  const shown: ServerVariant[] = ['bare', 'moat', ...expressOnly];
  const layer = row.variants.layer?.vsBare;
  const moat = row.variants.moat?.vsBare;
  const listener = row.variants.listener?.vsBare;
  const figures: string[] = [];
  if (layer && moat) {
    figures.push(`Here a pass-through \`app.use\` added ${signedUs(layer.cpuAddedUs.median)} of CPU per request (${pct(layer.change.median)} req/s), ` +
      `Moat's middleware ${signedUs(moat.cpuAddedUs.median)}, so Moat's own part is about ` +
      `${signedUs(moat.cpuAddedUs.median - layer.cpuAddedUs.median)} beyond any layer.`);
  }
  if (listener) {
    figures.push(`Judging in the listener instead added ${signedUs(listener.cpuAddedUs.median)} (${pct(listener.change.median)} req/s).`);
  }
  const prototypes = row.variants.prototypes?.vsBare;
  const prototypesBare = row.variants.prototypesBare?.vsBare;
  if (prototypes) {
    figures.push(`On a server whose requests are built on Express's prototypes (\`expressServerOptions(app)\`), the app with Moat in the ` +
      `listener used ${signedUs(prototypes.cpuAddedUs.median)} of CPU per request against bare Express (${pct(prototypes.change.median)} req/s): ` +
      'Express\'s per-request prototype swap then changes nothing, and neither Express\'s reads of `req` and `res` nor Moat\'s miss V8\'s caches.');
  }
  if (prototypes && prototypesBare) {
    // Part of that gain is Express's own, which any app gets from the option without Moat: shown apart.
    figures.push(`Bare Express on such a server used ${signedUs(prototypesBare.cpuAddedUs.median)} against plain bare Express ` +
      `(${pct(prototypesBare.change.median)} req/s), so Moat's own part there is about ` +
      `${signedUs(prototypes.cpuAddedUs.median - prototypesBare.cpuAddedUs.median)} of CPU per request ` +
      `(${pct((1 + prototypes.change.median) / (1 + prototypesBare.change.median) - 1)} req/s, from the two paired medians).`);
  }
  return [
    '**Express: what a middleware layer costs, and Moat before Express.** Beside bare Express (the baseline of every change ' +
      'here, as above): "a pass-through app.use in Moat\'s place" is bare Express with `app.use((req, res, next) => next())` ' +
      'first, the price Express asks of any middleware before it does anything; "Moat in the node:http listener" is Moat ' +
      'judging the request before Express sees it, `http.createServer(withMoat(app, options))` (the same decisions: the ' +
      'adapter conformance and request-interpretation tests run against it), which skips that layer and reads the request ' +
      'before Express swaps its prototype. ' + figures.join(' '),
    '',
    ...oneServerTables(row, shown, cell),
  ];
}

/** One server's req/s and CPU tables for the `shown` variants. */
function oneServerTables(row: ServerBenchRow, shown: readonly ServerVariant[], cell: (f: VariantFigures | undefined, what: 'req' | 'cpu') => string): string[] {
  const table = (what: 'req' | 'cpu', heading: string, changeHeading: string) => [
    `| server | ${shown.map((v) => `${VARIANT_NAMES[v]} (${heading}${v === 'bare' ? '' : changeHeading})`).join(' | ')} |`,
    `|---|${shown.map(() => '---:').join('|')}|`,
    `| ${row.server} | ${shown.map((v) => cell(row.variants[v], what)).join(' | ')} |`,
    '',
  ];
  return [...table('req', 'req/s', ', change, quartiles'), ...table('cpu', 'CPU µs/request', ', added, quartiles, change')];
}

/** Fastify's plugin against Moat in the listener Fastify's serverFactory builds. Empty when the listener did not run. */
function fastifyListenerSection(row: ServerBenchRow | undefined, cell: (f: VariantFigures | undefined, what: 'req' | 'cpu') => string): string[] {
  const listener = row?.variants.listener?.vsBare;
  if (row === undefined || listener === undefined) return [];
  const shown: ServerVariant[] = ['bare', 'moat', 'listener'];
  const moat = row.variants.moat?.vsBare;
  return [
    '**Fastify: Moat before Fastify.** "Moat in the node:http listener" is Moat judging the request in the server that ' +
      'Fastify\'s `serverFactory` builds, `Fastify({ serverFactory: (h) => createServer(withMoat(h, options)) })`, instead of ' +
      'its plugin\'s `onRequest` hook (the same decisions: test/adversarial/fastify-listener.test.ts sends both the same attacks). ' +
      (moat ? `Here the plugin added ${signedUs(moat.cpuAddedUs.median)} of CPU per request (${pct(moat.change.median)} req/s), ` : '') +
      `the listener ${signedUs(listener.cpuAddedUs.median)} (${pct(listener.change.median)} req/s).`,
    '',
    ...oneServerTables(row, shown, cell),
  ];
}

/** "In this run, bare Express used N× the CPU per request of bare node:http. " when both ran. */
function expressRatio(rows: ServerBenchRow[]): string {
  const express = rows.find((r) => r.server === 'express')?.variants.bare;
  const node = rows.find((r) => r.server === 'node:http')?.variants.bare;
  if (express === undefined || node === undefined || !(node.cpuUs > 0)) return '';
  return `In this run, bare Express used ${(express.cpuUs / node.cpuUs).toFixed(1)}× the CPU per request of bare node:http ` +
    `(${(node.reqPerSecond / Math.max(1, express.reqPerSecond)).toFixed(1)}× in req/s). `;
}

// ---------------------------------------------------------------------------------------------------
// Child process: `--serve <kind> <variant> <rules> <data> <sink> [alternating]` starts one hello-world
// server and reports its port; then answers each 'cpu' message with the process's CPU time so far. With
// `alternating` it holds the app twice, with the variant's firewall and without (two bare apps for the
// control), and answers 'on' and 'off' (which app serves), `{ alternate: ms }` (switch every ms,
// recording each block) and 'stop' (the blocks).

type ServeOptions = import('../packages/moat/src/firewall/firewall.js').Firewall | import('../packages/moat/src/firewall/options.js').MoatOptions;

/** The variant's firewall: standalone, or managed with reporting on; null for the servers without Moat. */
async function variantOptions(variant: ServerVariant, rules: string, data: string, sink: string): Promise<ServeOptions | null> {
  if (variant === 'moat' || variant === 'listener' || variant === 'prototypes') return { rules, data, trustedProxies: [], logger: false };
  if (variant !== 'reporting' && variant !== 'attacks') return null;
  const { createManagedFirewall } = await import('../packages/moat/src/managed/managed-firewall.js');
  return createManagedFirewall({
    rules, data, hubUrl: sink, apiKey: 'bench', dir: mkdtempSync(join(tmpdir(), 'moat-server-bench-client-')),
    customRulesIntervalMs: 3_600_000, dataIntervalMs: 3_600_000, trustedProxies: [], logger: false,
  });
}

/** The hello-world Fastify app, with Moat's plugin when `options` is given; `serverFactory` as Fastify takes it. */
async function fastifyApp(options: ServeOptions | null, serverFactory?: (handler: RequestListener) => import('node:http').Server) {
  const Fastify = requireHere('fastify') as typeof import('fastify').default;
  const app = serverFactory === undefined ? Fastify() : Fastify({ serverFactory });
  if (options !== null) {
    const { moat } = await import('../packages/moat/src/adapters/fastify.js');
    const { Firewall } = await import('../packages/moat/src/firewall/firewall.js');
    await app.register(moat, options instanceof Firewall ? { firewall: options } : options);
  }
  app.get('/products/:id', async () => HELLO);
  return app;
}

/** The hello world of `kind` as a node:http listener, behind Moat when `options` is given (the standard variants). */
async function helloListener(kind: ServerKind, options: ServeOptions | null): Promise<RequestListener> {
  if (kind === 'node:http') {
    const hello = (_req: IncomingMessage, res: ServerResponse) => {
      res.setHeader('content-type', 'text/plain');
      res.end(HELLO);
    };
    if (options === null) return hello;
    const { withMoat } = await import('../packages/moat/src/adapters/node.js');
    return withMoat(hello, options);
  }
  if (kind === 'express') {
    return expressApp(options === null ? null : (await import('../packages/moat/src/adapters/express.js')).moat(options));
  }
  // Fastify's own request handler, taken from its server factory: the app is used without listening.
  let listener: RequestListener | null = null;
  const app = await fastifyApp(options, (handler) => {
    listener = handler;
    return createServer(handler);
  });
  await app.ready();
  return listener!;
}

/** What an alternating server switches on: the variant's app (helloListener), or an Express-only one. */
async function alternatingListener(kind: ServerKind, variant: ServerVariant, options: ServeOptions | null): Promise<RequestListener> {
  if (kind === 'express' && variant === 'listener') {
    const { withMoat } = await import('../packages/moat/src/adapters/node.js');
    return withMoat(expressApp(null), options!);
  }
  if (kind === 'express' && variant === 'layer') return expressApp(passThrough);
  if (kind === 'fastify' && variant === 'listener') {
    const { withMoat } = await import('../packages/moat/src/adapters/node.js');
    return withMoat(await helloListener(kind, null), options!);
  }
  return helloListener(kind, options);
}

const passThrough = (_req: unknown, _res: unknown, next: () => void) => { next(); };

/** The hello-world Express app, with `middleware` in front of its route when given. */
function expressApp(middleware: ((req: IncomingMessage, res: ServerResponse, next: () => void) => void) | null): import('express').Express {
  const express = requireHere('express') as typeof import('express');
  const app = express();
  if (middleware !== null) app.use(middleware);
  app.get('/products/:id', (_req, res) => { res.send(HELLO); });
  return app;
}

async function serve(kind: ServerKind, variant: ServerVariant, rules: string, data: string, sink: string, alternating: boolean): Promise<void> {
  // Frameworks are loaded with require, as the Zen variant's server (lib/zen-server.cjs) must load them.
  const options = await variantOptions(variant, rules, data, sink);
  const http = requireHere('node:http') as typeof import('node:http');
  let server: import('node:http').Server;
  let alternation: Alternation | null = null;
  if (alternating) {
    const off = await helloListener(kind, null);
    const on = await alternatingListener(kind, variant, options);
    alternation = new Alternation();
    const state = alternation;
    server = http.createServer((req, res) => {
      state.requests++;
      if (state.on) on(req, res);
      else off(req, res);
    });
  } else if (kind === 'node:http' || (kind === 'express' && !EXPRESS_ONLY.includes(variant))) {
    server = http.createServer(await helloListener(kind, options));
  } else if (kind === 'express') {
    const app = expressApp(variant === 'layer' ? passThrough : null);
    const { withMoat } = await import('../packages/moat/src/adapters/node.js');
    const { expressServerOptions } = await import('../packages/moat/src/adapters/express.js');
    if (variant === 'listener' && options !== null) server = http.createServer(withMoat(app, options));
    else if (variant === 'prototypes' && options !== null) server = http.createServer(expressServerOptions(app), withMoat(app, options));
    else if (variant === 'prototypesBare') server = http.createServer(expressServerOptions(app), app);
    else server = http.createServer(app);
  } else {
    // The listener variant: Moat in the server Fastify's factory builds, before Fastify (docs/frameworks.md).
    const { withMoat } = await import('../packages/moat/src/adapters/node.js');
    const app = variant === 'listener' && options !== null
      ? await fastifyApp(null, (handler) => http.createServer(withMoat(handler, options)))
      : await fastifyApp(options);
    await app.listen({ port: 0, host: '127.0.0.1' });
    server = app.server;
  }
  if (!server.listening) await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  process.on('message', (message) => {
    if (message === 'cpu') {
      const usage = process.cpuUsage();
      process.send!({ cpuMicros: usage.user + usage.system, mainMicros: mainThreadMicros() } satisfies CpuSample);
    } else if (alternation !== null) {
      process.send!(alternation.command(message as AlternationCommand));
    }
  });
  process.send!({ port, zenProtecting: false });
  // Bounded life: ends with the parent.
  process.on('disconnect', () => process.exit(0));
}

type AlternationCommand = 'on' | 'off' | 'stop' | { alternate: number };

/** Which app serves, and the blocks recorded while switching (see lib/alternating-blocks.ts). */
class Alternation {
  on = false;
  requests = 0;
  private readonly blocks: AlternatingBlock[] = [];
  private timer: NodeJS.Timeout | null = null;
  private last = { ms: 0, cpu: 0, main: null as number | null, requests: 0 };

  command(command: AlternationCommand): { ok: true } | { blocks: AlternatingBlock[] } {
    if (command === 'on' || command === 'off') {
      this.on = command === 'on';
    } else if (command === 'stop') {
      if (this.timer !== null) clearInterval(this.timer);
      this.timer = null;
      return { blocks: this.blocks.splice(0) };
    } else {
      this.blocks.length = 0;
      this.on = blockIsOn(0);
      this.last = this.sample();
      this.timer = setInterval(() => this.endBlock(), command.alternate);
    }
    return { ok: true };
  }

  private sample() {
    const usage = process.cpuUsage();
    return { ms: performance.now(), cpu: usage.user + usage.system, main: mainThreadMicros(), requests: this.requests };
  }

  private endBlock(): void {
    const now = this.sample();
    const last = this.last;
    this.blocks.push({
      on: this.on, requests: now.requests - last.requests, ms: now.ms - last.ms, cpuUs: now.cpu - last.cpu,
      mainUs: now.main === null || last.main === null ? null : now.main - last.main,
    });
    this.last = now;
    this.on = blockIsOn(this.blocks.length);
  }
}

/** CPU time of this process's main thread so far, µs, from the kernel's scheduler statistics (ns); null off Linux. */
function mainThreadMicros(): number | null {
  try {
    return Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[0]) / 1000;
  } catch {
    return null;
  }
}

/**
 * Child process `--load`: runs autocannon for each `{ port, seconds, connections }` it is sent, and
 * serves the report sink (its URL in the first message; its totals on 'sink').
 */
async function generateLoad(): Promise<void> {
  const autocannon = (await import('autocannon' as string)).default as Autocannon;
  const sink = await startReportSink();
  process.on('message', async (message) => {
    if (message === 'sink') return void process.send!({ ...sink.totals });
    const { port, seconds, connections } = message as { port: number; seconds: number; connections: number };
    const result = await autocannon(autocannonOptions(port, seconds, connections));
    process.send!({ requests: result.requests, latency: { p99: result.latency.p99 }, duration: result.duration, non2xx: result.non2xx, errors: result.errors });
  });
  process.on('disconnect', () => process.exit(0));
  process.send!({ sink: sink.url });
}

if (process.argv[2] === '--serve' && process.send !== undefined) {
  const [kind, variant, rules, data, sink, alternating] = process.argv.slice(3);
  await serve(kind as ServerKind, variant as ServerVariant, rules ?? '', data ?? '', sink ?? '', alternating === 'alternating');
} else if (process.argv[2] === '--load' && process.send !== undefined) {
  await generateLoad();
}
