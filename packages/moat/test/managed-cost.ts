// Measures what managed mode costs a server, as the bench's servers part does but with the variants
// that tell the causes apart: the same node:http hello world as separate processes, bare / standalone
// (createFirewall) / managed with reporting off / managed with reporting on, driven by autocannon in
// this process, in rotating rounds. Figures: server CPU µs per request (all threads, process.cpuUsage()),
// split into the serving thread and the others (/proc, Linux), and req/s. Run this process on the other
// core than the servers: `taskset -c 1 npx tsx packages/moat/test/managed-cost.ts` (servers go on core 0).
// Env: ROUNDS (6), SECONDS (2), RANGES (20000), PATTERNS (500), VARIANTS (comma list), PROF=<variant>
// (that server runs with --cpu-prof into PROF_DIR, default $TMPDIR/moat-prof), KIND=node:http|fastify|express.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const VARIANTS = ['bare', 'standalone', 'managed-off', 'managed-on'] as const;
type Variant = (typeof VARIANTS)[number];
const REQUEST_PATH = '/products/42?page=2&sort=price';
const USER_AGENT = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36';
const self = fileURLToPath(import.meta.url);
const requireHere = createRequire(import.meta.url);
/** MOAT_BUILD=<dir>: load Moat from compiled JavaScript there (profiles then name real lines), else the sources. */
const moatRoot = process.env.MOAT_BUILD ? pathToFileURL(process.env.MOAT_BUILD).href : new URL('../src', import.meta.url).href;
const moatModule = <T>(path: string): Promise<T> => import(`${moatRoot}/${path}`) as Promise<T>;

/** CPU µs of this process: the main thread, and the others by thread name (/proc, Linux). */
function threadCpu(): { main: number; others: Record<string, number> } {
  const tick = 10_000; // USER_HZ 100: one tick is 10 ms
  let main = 0;
  const others: Record<string, number> = {};
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const name = readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim();
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const us = (Number(fields[11]) + Number(fields[12])) * tick;
      if (Number(tid) === process.pid) main += us;
      else others[name] = (others[name] ?? 0) + us;
    } catch {
      // a thread that ended meanwhile
    }
  }
  return { main, others };
}

async function serve(variant: Variant, kind: string, rules: string, data: string, sink: string): Promise<void> {
  type Options = import('../src/firewall/firewall.js').Firewall | import('../src/firewall/options.js').MoatOptions;
  let options: Options | null = null;
  if (variant === 'standalone') options = { rules, data, trustedProxies: [], logger: false };
  if (variant === 'managed-off' || variant === 'managed-on') {
    const { createManagedFirewall } = await moatModule<typeof import('../src/managed/managed-firewall.js')>('managed/managed-firewall.js');
    options = createManagedFirewall({
      rules, data, hubUrl: sink, apiKey: 'bench', dir: mkdtempSync(join(tmpdir(), 'moat-managed-cost-')),
      customRulesIntervalMs: 3_600_000, dataIntervalMs: 3_600_000, trustedProxies: [], logger: false,
      upsync: variant === 'managed-off' ? false : undefined,
    });
  }
  const http = requireHere('node:http') as typeof import('node:http');
  let server: import('node:http').Server;
  if (kind === 'node:http') {
    const hello = (_req: IncomingMessage, res: ServerResponse) => {
      res.setHeader('content-type', 'text/plain');
      res.end('hello world');
    };
    const { withMoat } = await moatModule<typeof import('../src/adapters/node.js')>('adapters/node.js');
    server = http.createServer(options === null ? hello : withMoat(hello, options));
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
  process.on('message', (message) => {
    if (message === 'cpu') {
      const usage = process.cpuUsage();
      process.send!({ cpu: usage.user + usage.system, threads: threadCpu() });
    } else if (message === 'exit') {
      process.exit(0); // --cpu-prof writes its profile on a normal exit
    }
  });
  process.send!({ port: (server.address() as AddressInfo).port });
  process.on('disconnect', () => process.exit(0));
}

interface Sample { cpu: number; threads: { main: number; others: Record<string, number> } }

class Server {
  private constructor(readonly variant: Variant, readonly child: ChildProcess, readonly port: number) {}

  static start(variant: Variant, kind: string, files: { rules: string; data: string }, sink: string, profDir: string | null): Promise<Server> {
    const prof = profDir === null ? [] : ['--cpu-prof', `--cpu-prof-dir=${profDir}`];
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
  const { syntheticRanges } = await import('../../../bench/lib/synthetic.js');
  const loopback = 0x7f000001;
  const files = { rules: join(dir, 'rules.moat'), data: join(dir, 'data.moat') };
  writeThreatData(syntheticRanges(Number(process.env.RANGES ?? 20_000), 42).filter((r) => !(r.family === 4 && r.start <= loopback && loopback <= r.end)), files.data);
  writeFullRules({ pathPatterns: Number(process.env.PATTERNS ?? 500), userAgentPatterns: Number(process.env.PATTERNS ?? 500), loginLimit: 10,
    extra: [{ action: 'block', kind: 'ip', value: '198.51.100.0/24' }] }, files.rules);
  const totals = { batches: 0, bytes: 0 };
  const sink = createServer((req, res) => {
    if (req.method !== 'POST') { res.writeHead(304).end(); return; }
    req.on('data', (c: Buffer) => { totals.bytes += c.length; });
    req.on('end', () => { totals.batches++; res.writeHead(200, { 'content-type': 'application/json' }).end('{}'); });
  });
  await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
  const sinkUrl = `http://127.0.0.1:${(sink.address() as AddressInfo).port}`;
  const profDir = process.env.PROF ? process.env.PROF_DIR ?? join(tmpdir(), 'moat-prof') : null;
  if (profDir !== null) mkdirSync(profDir, { recursive: true });
  const servers = await Promise.all(variants.map((v) => Server.start(v, kind, files, sinkUrl, process.env.PROF?.split(',').includes(v) ? profDir : null)));
  const autocannon = (await import('autocannon' as string)).default as (o: Record<string, unknown>) => Promise<{ requests: { total: number }; duration: number; non2xx: number }>;
  const load = (port: number, s: number) => autocannon({ url: `http://127.0.0.1:${port}${REQUEST_PATH}`, connections: 50, duration: s, headers: { 'user-agent': USER_AGENT, host: 'www.example.com' } });
  for (const s of servers) await load(s.port, 2);
  const results = new Map<Variant, { us: number[]; mainUs: number[]; othersUs: Record<string, number[]>; rps: number[] }>();
  for (const v of variants) results.set(v, { us: [], mainUs: [], othersUs: {}, rps: [] });
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < servers.length; k++) {
      const s = servers[(r + k) % servers.length];
      const a = await s.sample();
      const res = await load(s.port, seconds);
      await new Promise((resolve) => setTimeout(resolve, 150));
      const b = await s.sample();
      const n = Math.max(1, res.requests.total);
      const row = results.get(s.variant)!;
      row.us.push((b.cpu - a.cpu) / n);
      row.mainUs.push((b.threads.main - a.threads.main) / n);
      for (const [name, us] of Object.entries(b.threads.others)) (row.othersUs[name] ??= []).push((us - (a.threads.others[name] ?? 0)) / n);
      row.rps.push(res.requests.total / res.duration);
      if (res.non2xx > 0) console.log(`  ${s.variant}: ${res.non2xx} non-2xx`);
    }
  }
  const med = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
  const bare = results.get('bare');
  console.log(`${kind}, ${rounds} rounds of ${seconds} s; sink got ${totals.batches} batches, ${totals.bytes} bytes`);
  for (const [v, row] of results) {
    const added = bare && v !== 'bare' ? ` (+${(med(row.us.map((u, i) => u - bare.us[i]))).toFixed(2)} µs vs bare, paired)` : '';
    const others = Object.entries(row.othersUs).map(([name, xs]) => `${name} ${med(xs).toFixed(2)}`).filter((t) => !t.endsWith(' 0.00')).join(', ');
    console.log(`${v.padEnd(12)} ${med(row.us).toFixed(2)} µs/req${added}; main ${med(row.mainUs).toFixed(2)}; others: ${others}; ${Math.round(med(row.rps))} req/s`);
  }
  for (const s of servers) s.child.send('exit');
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
