// Measures what managed mode costs a server, as the bench's servers part does but with the variants
// that tell the causes apart: the same node:http hello world as separate processes, bare / standalone
// (createFirewall) / managed with reporting off / managed with reporting on, driven by autocannon in
// this process, in rotating rounds. Figures: server CPU µs per request (all threads, process.cpuUsage()),
// split into the serving thread, the report worker and V8's helpers (/proc, Linux), and req/s; and, per
// 1000 requests, counts that tell waiting from working and move little with the machine's load: context
// switches of the serving thread (waits; preemptions, which do move) and of the others, garbage collections and their pauses, requests the sink received
// (report POSTs, downsync polls). Run this process on the other
// core than the servers: `taskset -c 1 npx tsx packages/moat/test/managed-cost.ts` (servers go on core 0).
// Env: ROUNDS (6), SECONDS (2), RANGES (20000), PATTERNS (500), VARIANTS (comma list), PROF=<variant>, PROF_INTERVAL (sampling µs, default 1000)
// (that server runs with --cpu-prof into PROF_DIR, default $TMPDIR/moat-prof), KIND=node:http|fastify|express.
// A/B of two trees in one run: a variant ending in `@b` (`managed-on@b`) loads Moat from MOAT_BUILD_B (a
// directory holding a `src` beside `data` and `package.json`, as packages/moat does).
// Thread CPU comes from /proc/<pid>/task/<tid>/schedstat (nanoseconds), not `stat` (10 ms ticks).
// INPROC=1 (node:http, or Express with Moat in the listener before the app): every variant lives in ONE server process (one listener switching between them per round), so
// rounds compare code, not processes: same heap, caches and moment of a loaded machine. A report worker
// then runs in every round (idle when its firewall is not the one judging); variants may mix trees (`@b`).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const VARIANTS = ['bare', 'standalone', 'managed-off', 'managed-on', 'managed-attacks'] as const;
type Variant = (typeof VARIANTS)[number];
const REQUEST_PATH = '/products/42?page=2&sort=price';
const USER_AGENT = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36';
const self = fileURLToPath(import.meta.url);
const requireHere = createRequire(import.meta.url);
/** MOAT_BUILD=<dir>: load Moat from compiled JavaScript there (profiles then name real lines), else the sources. */
let moatRoot = process.env.MOAT_BUILD ? pathToFileURL(process.env.MOAT_BUILD).href : new URL('../src', import.meta.url).href;
const moatModule = <T>(path: string): Promise<T> => import(`${moatRoot}/${path}`) as Promise<T>;

interface ThreadSample {
  main: number;
  others: Record<string, number>;
  /** Context switches (voluntary: the thread waited; involuntary: it was preempted), main thread and the others. */
  switches: { mainWaits: number; mainPreempted: number; othersWaits: number; othersPreempted: number };
}

/**
 * Threads that were there before the firewall was made (V8's helpers, libuv's); any later one is counted
 * as 'moat worker' (the report worker, which may start after the firewall's constructor returned).
 */
let threadsBeforeFirewall: Set<string> | null = null;

/** CPU µs of this process: the main thread, and the others by thread name; context switches (/proc, Linux). */
function threadCpu(): ThreadSample {
  const tick = 10_000; // USER_HZ 100: one tick is 10 ms
  let main = 0;
  const others: Record<string, number> = {};
  const switches = { mainWaits: 0, mainPreempted: 0, othersWaits: 0, othersPreempted: 0 };
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const name = readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim();
      const status = readFileSync(`/proc/self/task/${tid}/status`, 'utf8');
      const waits = Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(status)?.[1] ?? 0);
      const preempted = Number(/nonvoluntary_ctxt_switches:\s+(\d+)/.exec(status)?.[1] ?? 0);
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // schedstat's first field is the thread's CPU time in ns; `stat` counts 10 ms ticks (too coarse per round).
      let us = (Number(fields[11]) + Number(fields[12])) * tick;
      try {
        us = Number(readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8').split(' ')[0]) / 1000;
      } catch {
        // a kernel without schedstat: the ticks
      }
      if (Number(tid) === process.pid) {
        main += us;
        switches.mainWaits += waits;
        switches.mainPreempted += preempted;
      } else {
        const label = threadsBeforeFirewall !== null && !threadsBeforeFirewall.has(tid) ? 'moat worker' : name;
        others[label] = (others[label] ?? 0) + us;
        switches.othersWaits += waits;
        switches.othersPreempted += preempted;
      }
    } catch {
      // a thread that ended meanwhile
    }
  }
  return { main, others, switches };
}

type Options = import('../src/firewall/firewall.js').Firewall | import('../src/firewall/options.js').MoatOptions;

/** The firewall (or options) of one variant; `@b` loads it from MOAT_BUILD_B. */
async function optionsOf(variantArg: string, rules: string, data: string, sink: string): Promise<Options | null> {
  const root = variantArg.endsWith('@b') ? pathToFileURL(join(process.env.MOAT_BUILD_B ?? '', 'src')).href : moatRoot;
  const variant = variantArg.replace(/@b$/, '') as Variant;
  if (variant === 'standalone') return { rules, data, trustedProxies: [], logger: false };
  if (variant !== 'managed-off' && variant !== 'managed-on' && variant !== 'managed-attacks') return null;
  threadsBeforeFirewall ??= new Set(readdirSync('/proc/self/task'));
  const { createManagedFirewall } = await (import(`${root}/managed/managed-firewall.js`) as Promise<typeof import('../src/managed/managed-firewall.js')>);
  return createManagedFirewall({
    // managed-attacks: reporting on, with a rules file that blocks every attack category (the bench's "attack detection on").
    rules: variant === 'managed-attacks' ? attacksRulesOf(rules) : rules, data, hubUrl: sink, apiKey: 'bench', dir: mkdtempSync(join(tmpdir(), 'moat-managed-cost-')),
    customRulesIntervalMs: 3_600_000, dataIntervalMs: 3_600_000, trustedProxies: [], logger: false,
    upsync: variant === 'managed-off' ? false : undefined,
  });
}

/** The rules file beside `rules` that also blocks every attack category (written by main). */
const attacksRulesOf = (rules: string) => rules.replace(/\.moat$/, '-attacks.moat');

/** The Express hello world without a firewall, as a node:http listener. */
function expressHello(): (req: IncomingMessage, res: ServerResponse) => void {
  const express = requireHere('express') as typeof import('express');
  const app = express();
  app.get('/products/:id', (_req, res) => { res.send('hello world'); });
  return app;
}

async function serve(variantArg: string, kind: string, rules: string, data: string, sink: string): Promise<void> {
  const inProc = variantArg.includes(',');
  if (!inProc && variantArg.endsWith('@b')) moatRoot = pathToFileURL(join(process.env.MOAT_BUILD_B ?? '', 'src')).href;
  const options = inProc ? null : await optionsOf(variantArg, rules, data, sink);
  const http = requireHere('node:http') as typeof import('node:http');
  let server: import('node:http').Server;
  /** INPROC: the listener of each variant, and the one judging now (switched by a 'use' message). */
  const listeners = new Map<string, (req: IncomingMessage, res: ServerResponse) => void>();
  let active: (req: IncomingMessage, res: ServerResponse) => void = () => {};
  if (kind === 'node:http' || (inProc && kind === 'express')) {
    // INPROC on Express: one app without Moat's middleware, and Moat judging in the listener before it.
    const hello = kind === 'express' ? expressHello() : (_req: IncomingMessage, res: ServerResponse) => {
      res.setHeader('content-type', 'text/plain');
      res.end('hello world');
    };
    if (inProc) {
      for (const v of variantArg.split(',')) {
        const root = v.endsWith('@b') ? pathToFileURL(join(process.env.MOAT_BUILD_B ?? '', 'src')).href : moatRoot;
        const { withMoat } = await (import(`${root}/adapters/node.js`) as Promise<typeof import('../src/adapters/node.js')>);
        const o = await optionsOf(v, rules, data, sink);
        listeners.set(v, o === null ? hello : withMoat(hello, o));
      }
      server = http.createServer((req, res) => active(req, res));
    } else {
      const { withMoat } = await moatModule<typeof import('../src/adapters/node.js')>('adapters/node.js');
      server = http.createServer(options === null ? hello : withMoat(hello, options));
    }
  } else if (kind === 'express') {
    const express = requireHere('express') as typeof import('express');
    const app = express();
    if (options !== null) app.use((await moatModule<typeof import('../src/adapters/express.js')>('adapters/express.js')).moat(options));
    app.get('/products/:id', (_req, res) => { res.send('hello world'); });
    server = http.createServer(app);
  } else {
    const Fastify = requireHere('fastify') as typeof import('fastify').default;
    const app = Fastify();
    if (options !== null) {
      const { moat } = await moatModule<typeof import('../src/adapters/fastify.js')>('adapters/fastify.js');
      const { Firewall } = await moatModule<typeof import('../src/firewall/firewall.js')>('firewall/firewall.js');
      await app.register(moat, options instanceof Firewall ? { firewall: options } : options);
    }
    app.get('/products/:id', async () => 'hello world');
    await app.listen({ port: 0, host: '127.0.0.1' });
    server = app.server;
  }
  if (!server.listening) await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  // Garbage collections of the main isolate by kind (minor: scavenge, major: mark-compact), and their pauses.
  const gc = { minor: 0, major: 0, pauseMs: 0 };
  const { PerformanceObserver, constants } = await import('node:perf_hooks');
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const kind = (entry as unknown as { detail?: { kind?: number } }).detail?.kind;
      if (kind === constants.NODE_PERFORMANCE_GC_MINOR) gc.minor++;
      else if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) gc.major++;
      gc.pauseMs += entry.duration;
    }
  }).observe({ entryTypes: ['gc'] });
  process.on('message', (message) => {
    if (typeof message === 'object' && message !== null && 'use' in message) {
      active = listeners.get((message as { use: string }).use)!;
      process.send!({ using: (message as { use: string }).use });
    } else if (message === 'cpu') {
      const usage = process.cpuUsage();
      process.send!({ cpu: usage.user + usage.system, threads: threadCpu(), gc: { ...gc } });
    } else if (message === 'exit') {
      process.exit(0); // --cpu-prof writes its profile on a normal exit
    }
  });
  process.send!({ port: (server.address() as AddressInfo).port });
  process.on('disconnect', () => process.exit(0));
}

interface Sample { cpu: number; threads: ThreadSample; gc: { minor: number; major: number; pauseMs: number } }

class Server {
  private constructor(readonly variant: Variant, readonly child: ChildProcess, readonly port: number, private readonly shared = false) {}

  /** INPROC: the same process, judging with `variant`'s listener once selected. */
  as(variant: Variant): Server {
    return new Server(variant, this.child, this.port, true);
  }

  /** Makes this variant the one judging (INPROC); a server of its own needs nothing. */
  select(): Promise<void> {
    if (!this.shared) return Promise.resolve();
    return new Promise((resolve) => {
      this.child.once('message', () => resolve());
      this.child.send({ use: this.variant });
    });
  }

  static start(variant: Variant, kind: string, files: { rules: string; data: string }, sink: string, profDir: string | null): Promise<Server> {
    const prof = profDir === null ? [] : ['--cpu-prof', `--cpu-prof-dir=${profDir}`, '--cpu-prof-interval', process.env.PROF_INTERVAL ?? '1000'];
    // SERVER_SCRIPT: a plain JavaScript server taking `<variant> <rules> <data> <sink>` (profiling compiled code without tsx).
    const args = process.env.SERVER_SCRIPT ? [...prof, process.env.SERVER_SCRIPT, variant, files.rules, files.data, sink]
      : ['--import', 'tsx', ...prof, self, '--serve', variant, kind, files.rules, files.data, sink];
    const child = spawn('taskset', ['-c', '0', process.execPath, ...args], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env: { ...process.env, NODE_ENV: 'production' } });
    return new Promise((resolve, reject) => {
      child.once('message', (m) => resolve(new Server(variant, child, (m as { port: number }).port)));
      child.once('exit', (code) => reject(new Error(`${variant} exited ${code}`)));
    });
  }

  sample(): Promise<Sample> {
    return new Promise((resolve) => {
      this.child.once('message', (m) => resolve(m as Sample));
      this.child.send('cpu');
    });
  }
}

async function main(): Promise<void> {
  const rounds = Number(process.env.ROUNDS ?? 6);
  const seconds = Number(process.env.SECONDS ?? 2);
  const kind = process.env.KIND ?? 'node:http';
  const variants = (process.env.VARIANTS?.split(',') ?? VARIANTS) as Variant[];
  const dir = mkdtempSync(join(tmpdir(), 'moat-managed-cost-files-'));
  const { writeFullRules, writeThreatData } = await import('../../../bench/lib/full-load.js');
  const { normalizeAttackSettings } = await import('../src/rules/attack-settings.js');
  const { syntheticRanges } = await import('../../../bench/lib/synthetic.js');
  const loopback = 0x7f000001;
  const files = { rules: join(dir, 'rules.moat'), data: join(dir, 'data.moat') };
  writeThreatData(syntheticRanges(Number(process.env.RANGES ?? 20_000), 42).filter((r) => !(r.family === 4 && r.start <= loopback && loopback <= r.end)), files.data);
  const ruleSet = { pathPatterns: Number(process.env.PATTERNS ?? 500), userAgentPatterns: Number(process.env.PATTERNS ?? 500), loginLimit: 10,
    extra: [{ action: 'block' as const, kind: 'ip' as const, value: '198.51.100.0/24' }] };
  writeFullRules(ruleSet, files.rules);
  writeFullRules({ ...ruleSet, attacks: normalizeAttackSettings('block')! }, attacksRulesOf(files.rules));
  const totals = { batches: 0, bytes: 0, polls: 0 };
  const sink = createServer((req, res) => {
    if (req.method !== 'POST') { totals.polls++; res.writeHead(304).end(); return; }
    req.on('data', (c: Buffer) => { totals.bytes += c.length; });
    req.on('end', () => { totals.batches++; res.writeHead(200, { 'content-type': 'application/json' }).end('{}'); });
  });
  await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
  const sinkUrl = `http://127.0.0.1:${(sink.address() as AddressInfo).port}`;
  const profDir = process.env.PROF ? process.env.PROF_DIR ?? join(tmpdir(), 'moat-prof') : null;
  if (profDir !== null) mkdirSync(profDir, { recursive: true });
  const servers = process.env.INPROC
    ? (await Server.start(variants.join(',') as Variant, kind, files, sinkUrl, process.env.PROF ? profDir : null).then((one) => variants.map((v) => one.as(v))))
    : await Promise.all(variants.map((v) => Server.start(v, kind, files, sinkUrl, process.env.PROF?.split(',').includes(v) ? profDir : null)));
  const autocannon = (await import('autocannon' as string)).default as (o: Record<string, unknown>) => Promise<{ requests: { total: number }; duration: number; non2xx: number }>;
  const load = (port: number, s: number) => autocannon({ url: `http://127.0.0.1:${port}${REQUEST_PATH}`, connections: 50, duration: s, headers: { 'user-agent': USER_AGENT, host: 'www.example.com' } });
  for (const s of servers) {
    await s.select();
    await load(s.port, 2);
  }
  type Row = { us: number[]; mainUs: number[]; othersUs: Record<string, number[]>; rps: number[]; switches: Record<keyof ThreadSample['switches'], number[]>; sinkRequests: number[]; gc: { minor: number[]; major: number[]; pauseUs: number[] } };
  const results = new Map<Variant, Row>();
  for (const v of variants) results.set(v, { us: [], mainUs: [], othersUs: {}, rps: [], switches: { mainWaits: [], mainPreempted: [], othersWaits: [], othersPreempted: [] }, sinkRequests: [], gc: { minor: [], major: [], pauseUs: [] } });
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < servers.length; k++) {
      const s = servers[(r + k) % servers.length]!;
      await s.select();
      const a = await s.sample();
      const sinkBefore = totals.batches + totals.polls;
      const res = await load(s.port, seconds);
      await new Promise((resolve) => setTimeout(resolve, 150));
      const b = await s.sample();
      const n = Math.max(1, res.requests.total);
      const row = results.get(s.variant)!;
      row.us.push((b.cpu - a.cpu) / n);
      row.mainUs.push((b.threads.main - a.threads.main) / n);
      for (const [name, us] of Object.entries(b.threads.others)) (row.othersUs[name] ??= []).push((us - (a.threads.others[name] ?? 0)) / n);
      row.rps.push(res.requests.total / res.duration);
      for (const key of Object.keys(row.switches) as (keyof ThreadSample['switches'])[]) row.switches[key].push(1000 * (b.threads.switches[key] - a.threads.switches[key]) / n);
      row.sinkRequests.push(totals.batches + totals.polls - sinkBefore);
      row.gc.minor.push(1000 * (b.gc.minor - a.gc.minor) / n);
      row.gc.major.push(1000 * (b.gc.major - a.gc.major) / n);
      row.gc.pauseUs.push(1000 * (b.gc.pauseMs - a.gc.pauseMs) / n);
      if (res.non2xx > 0) console.log(`  ${s.variant}: ${res.non2xx} non-2xx`);
    }
  }
  const med = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
  const bare = results.get('bare');
  const off = results.get('managed-off');
  console.log(`${kind}, ${rounds} rounds of ${seconds} s; sink got ${totals.batches} batches, ${totals.bytes} bytes, ${totals.polls} polls`);
  for (const [v, row] of results) {
    const twin = v.endsWith('@b') ? results.get(v.slice(0, -2) as Variant) : undefined;
    const added = (bare && v !== 'bare' ? ` (+${(med(row.us.map((u, i) => u - bare.us[i]))).toFixed(2)} µs vs bare, paired)` : '') +
      (twin ? ` (${(med(row.us.map((u, i) => u - twin.us[i]))).toFixed(2)} µs vs ${v.slice(0, -2)}, ratio ${(med(row.us.map((u, i) => u / twin.us[i]))).toFixed(3)}, paired)` : '') +
      // Reporting's own cost: against managed mode with reporting off, all threads and the serving thread alone.
      (off && v !== 'managed-off' && v.startsWith('managed') ? ` (vs managed-off, paired: +${med(row.us.map((u, i) => u - off.us[i]!)).toFixed(2)} µs, ` +
        `main +${med(row.mainUs.map((u, i) => u - off.mainUs[i]!)).toFixed(2)} µs)` : '');
    const others = Object.entries(row.othersUs).map(([name, xs]) => `${name} ${med(xs).toFixed(2)}`).filter((t) => !t.endsWith(' 0.00')).join(', ');
    console.log(`${v.padEnd(12)} ${med(row.us).toFixed(2)} µs/req${added}; main ${med(row.mainUs).toFixed(2)}; others: ${others}; ${Math.round(med(row.rps))} req/s`);
    const sw = row.switches;
    // Load-independent: how often each thread waited (voluntary) or was preempted, per 1000 requests.
    console.log(`${''.padEnd(12)} switches per 1000 req: main waits ${med(sw.mainWaits).toFixed(1)}, preempted ${med(sw.mainPreempted).toFixed(1)}; ` +
      `other threads waits ${med(sw.othersWaits).toFixed(1)}, preempted ${med(sw.othersPreempted).toFixed(1)}; sink requests per round ${med(row.sinkRequests)}`);
    console.log(`${''.padEnd(12)} GC per 1000 req: ${med(row.gc.minor).toFixed(2)} minor, ${med(row.gc.major).toFixed(3)} major; main-thread pause ${med(row.gc.pauseUs).toFixed(2)} µs/req`);
  }
  for (const child of new Set(servers.map((s) => s.child))) child.send('exit');
  await new Promise((resolve) => setTimeout(resolve, 1500));
  sink.close();
  rmSync(dir, { recursive: true, force: true });
}

if (process.argv[2] === '--serve') {
  const [variant, kind, rules, data, sink] = process.argv.slice(3);
  await serve(variant as Variant, kind, rules, data, sink);
} else {
  await main();
}
