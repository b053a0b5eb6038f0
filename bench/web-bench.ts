/**
 * Web-standard path benchmark (issue 17): the cost of judging a request through Firewall.handle()
 * (a `Request` in, `Response | null` out) next to the Node path (Firewall.check on an IncomingMessage),
 * on the same hello world. Six servers, each bare and with Moat:
 * - node:http: `withMoat(handler)`, the Node path, as the baseline the overhead budget is set on;
 * - fetch: a fetch handler on node:http through @hono/node-server's Request wrapper, `withMoatFetch(handler)`
 *   (which judges the IncomingMessage node-server hands it, i.e. the Node path behind a Web front door);
 * - handle: the same fetch handler calling `firewall.handle(request, { ip })` itself: the Web path proper
 *   (Headers.get() per name, the URL split), as on Bun and Deno, behind the same wrapper;
 * - hono: Hono on @hono/node-server, judging `c.req.raw` with handle() and platformClientInfo(), the
 *   recipe for Hono on any runtime (here it hands handle() the IncomingMessage of a bodiless request);
 * - hono-adapter: Hono with Moat's adapter, `app.use(moat())`;
 * - h3: h3 2 on node:http (srvx's Request around the IncomingMessage) with Moat's h3 adapter.
 * Same method as server-bench.ts: every server in its own child process, pinned to core 0 (autocannon to
 * core 1) where taskset allows, warmed right before its rounds. One group per Web row: the Node path's
 * pair and the row's pair are the only servers running, and each round measures the four back to back
 * (rotating order), so a row and the Node figures it is held to are taken seconds apart under the same
 * machine load. Each change is the median of per-round changes against the bare server of the same
 * round, and CPU µs per request comes from the server process's `process.cpuUsage()` (the figure to
 * quote). The budget verdict compares, round by round, each row's added CPU with the Node path's added
 * CPU of the same round. Moat loads the same rules and data as in server-bench.ts.
 * A reduced run: `MOAT_BENCH_WEB_KINDS=hono,hono-adapter MOAT_BENCH_WEB_ROUNDS=5 npm run bench -- --only web`
 * (MOAT_BENCH_WEB_SECONDS sets the round length).
 */
import { fork, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus } from 'node:os';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { IpRange } from '../packages/moat/src/ip/range.js';
import { writeFullRules, writeThreatData } from './lib/full-load.js';
import { median } from './lib/measure.js';
import { pairedChange, pairedDifference, type PairedFigure } from './lib/paired-rounds.js';
import { syntheticRanges } from './lib/synthetic.js';

export type WebServerKind = 'node:http' | 'fetch' | 'handle' | 'hono' | 'hono-adapter' | 'h3';
const KINDS: readonly WebServerKind[] = ['node:http', 'fetch', 'handle', 'hono', 'hono-adapter', 'h3'];
const KIND_NAMES: Record<WebServerKind, string> = {
  'node:http': 'node:http, Node path (withMoat)',
  fetch: 'fetch handler via a Request wrapper (withMoatFetch)',
  handle: 'fetch handler via a Request wrapper, Web path (handle(request, { ip }))',
  hono: 'Hono, handle(c.req.raw, platformClientInfo(c.req.raw, c.env))',
  'hono-adapter': 'Hono, Moat\'s adapter (app.use(moat()))',
  h3: 'h3 2 on node:http, Moat\'s adapter (app.use(moat()))',
};

export interface WebBenchOptions {
  quick?: boolean;
  rounds?: number;
  seconds?: number;
  connections?: number;
  /** The servers to measure (default all six; the Node path always runs, it is every row's baseline). */
  kinds?: readonly WebServerKind[];
  log?: (line: string) => void;
}

export interface WebBenchRow {
  server: WebServerKind;
  bareReqPerSecond: number;
  moatReqPerSecond: number;
  bareCpuUs: number;
  moatCpuUs: number;
  change: PairedFigure;
  cpuAddedUs: PairedFigure;
  /** This row's added CPU minus the Node path's added CPU, per round (zero for the Node path's own row). */
  cpuAddedOverNodeUs: PairedFigure;
  /** Within the overhead budget: req/s change ≥ REQ_PER_SECOND_BUDGET and (Web rows) added CPU ≤ the Node path's + CPU_TOLERANCE_US. */
  withinBudget: boolean;
  errors: number;
}

export interface WebBenchResult {
  setup: { ranges: number; patterns: number; rounds: number; seconds: number; connections: number; quick: boolean };
  budget: { reqPerSecondChange: number; cpuToleranceUs: number };
  rows: WebBenchRow[];
  markdown: string[];
}

const REQUEST_PATH = '/products/42?page=2&sort=price';
const USER_AGENT = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36';
const LOOPBACK = 0x7f000001n;
const HELLO = 'hello world';

/**
 * Issue 15's budget with reporting off: at most 5 % fewer requests per second than the bare server. A
 * Web row is also held to the Node path's added CPU plus a tolerance. The rows that judge the
 * IncomingMessage behind the wrapper (fetch, hono, hono-adapter, h3) should match the Node path; the
 * Web path proper (handle) also asks the wrapper's Headers for three names (host, user agent, the
 * client-IP header) and reads its url, method and headers: 0.7 µs more than check() in a loop, 1.0–1.3 µs
 * timed inside a node-server app on a loaded machine (docs/performance.md). 1.5 µs covers that and a
 * little noise, no more.
 */
const REQ_PER_SECOND_BUDGET = -0.05;
const CPU_TOLERANCE_US = 1.5;

interface LoadResult { requests: { total: number }; duration: number; non2xx: number; errors: number }

// As in server-bench.ts: servers on core 0, the load generator on core 1, so that neither's helper
// threads (GC, autocannon's parsing) take the other's core; unpinned, comparisons drifted by ±10 %.
const PIN = cpus().length >= 2 && spawnSync('taskset', ['-c', '0', 'true']).status === 0;

function child(args: string[], cpu: '0' | '1'): ChildProcess {
  const script = fileURLToPath(import.meta.url);
  const stdio: ['ignore', 'inherit', 'inherit', 'ipc'] = ['ignore', 'inherit', 'inherit', 'ipc'];
  if (!PIN) return fork(script, args, { execArgv: ['--import', 'tsx'], stdio });
  return spawn('taskset', ['-c', cpu, process.execPath, '--import', 'tsx', script, ...args], { stdio });
}

function firstMessage<T>(proc: ChildProcess, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    proc.once('message', (m) => resolve(m as T));
    proc.once('exit', (code) => reject(new Error(`${what} exited (${code})`)));
  });
}

function cpuMicros(proc: ChildProcess): Promise<number> {
  const answer = new Promise<number>((resolve) => proc.once('message', (m) => resolve((m as { cpuMicros: number }).cpuMicros)));
  proc.send('cpu');
  return answer;
}

function runLoad(loader: ChildProcess, port: number, seconds: number, connections: number): Promise<LoadResult> {
  const answer = new Promise<LoadResult>((resolve) => loader.once('message', (m) => resolve(m as LoadResult)));
  loader.send({ port, seconds, connections });
  return answer;
}

/** A positive number from the environment, for a reduced run (`MOAT_BENCH_WEB_ROUNDS=5`); undefined when unset. */
function envNumber(name: string): number | undefined {
  const value = Number(process.env[name]);
  return value > 0 ? value : undefined;
}

/** `MOAT_BENCH_WEB_KINDS=hono,hono-adapter`: measure only these servers (and the Node path). */
function envKinds(name: string): WebServerKind[] | undefined {
  const list = process.env[name]?.split(',').map((k) => k.trim()).filter((k) => k !== '');
  if (list === undefined || list.length === 0) return undefined;
  const unknown = list.filter((k) => !(KINDS as readonly string[]).includes(k));
  if (unknown.length > 0) throw new Error(`${name}: unknown server ${unknown.join(', ')} (known: ${KINDS.join(', ')})`);
  return list as WebServerKind[];
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const pct = (x: number) => `${x >= 0 ? '+' : '−'}${Math.abs(x * 100).toFixed(1)} %`;
const signedUs = (x: number) => `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(1)} µs`;

export async function runWebBench(options: WebBenchOptions = {}): Promise<WebBenchResult> {
  const quick = options.quick === true;
  const setup = {
    ranges: quick ? 20_000 : 2_000_000, patterns: quick ? 500 : 10_000,
    // Rounds per group (the Node path runs in every group, so its row has rounds × groups).
    rounds: options.rounds ?? envNumber('MOAT_BENCH_WEB_ROUNDS') ?? (quick ? 1 : 10),
    seconds: options.seconds ?? envNumber('MOAT_BENCH_WEB_SECONDS') ?? (quick ? 0.5 : 2),
    connections: options.connections ?? 50, quick,
  };
  const wanted = options.kinds ?? envKinds('MOAT_BENCH_WEB_KINDS') ?? KINDS;
  const kinds = KINDS.filter((k) => k === 'node:http' || wanted.includes(k));
  const log = options.log ?? (() => {});
  const dir = mkdtempSync(join(tmpdir(), 'moat-web-bench-'));
  const procs: ChildProcess[] = [];
  try {
    const list: IpRange[] = syntheticRanges(setup.ranges, 42).filter((r) => !(r.family === 4 && r.start <= LOOPBACK && LOOPBACK <= r.end));
    const data = join(dir, 'data.moat');
    writeThreatData(list, data);
    const rules = join(dir, 'rules.moat');
    writeFullRules({ pathPatterns: setup.patterns, userAgentPatterns: setup.patterns, loginLimit: 10,
      // The servers part's rules exactly (one IP block besides the lists), so both parts judge the same.
      extra: [{ action: 'block', kind: 'ip', value: '198.51.100.0/24' }] }, rules);
    const loader = child(['--load'], '1');
    procs.push(loader);
    await firstMessage(loader, 'load generator');
    const startPair = (kind: WebServerKind) => Promise.all((['bare', 'moat'] as const).map(async (variant) => {
      const proc = child(['--serve', kind, variant, rules, data], '0');
      procs.push(proc);
      return { proc, port: (await firstMessage<{ port: number }>(proc, `${kind} ${variant} server`)).port };
    }));
    type Pair = Awaited<ReturnType<typeof startPair>>;
    // Warmed right before its rounds, as in server-bench.ts (briefly in a quick run).
    const warm = async (pair: Pair) => { for (const s of pair) await runLoad(loader, s.port, quick ? 0.3 : 2, setup.connections); };
    // [kind][bare | moat][round]; the Node path's rounds are those of every group, in order.
    const req = kinds.map(() => [[] as number[], [] as number[]]);
    const cpu = kinds.map(() => [[] as number[], [] as number[]]);
    const errors = kinds.map(() => 0);
    const measure = async (at: number, pair: Pair, v: number) => {
      const s = pair[v]!;
      const before = await cpuMicros(s.proc);
      const result = await runLoad(loader, s.port, setup.seconds, setup.connections);
      await new Promise((resolve) => setTimeout(resolve, 150));
      const after = await cpuMicros(s.proc);
      errors[at]! += result.non2xx + result.errors;
      req[at]![v]!.push(result.requests.total / result.duration);
      cpu[at]![v]!.push((after - before) / Math.max(1, result.requests.total));
    };
    // One group per Web row: the Node path's pair and that row's pair, the only servers running, measured
    // back to back in every round (rotating order), as the servers part measures one kind's variants. With
    // all twelve in one rotation, a server was measured every ~25 s and the Node pair up to 20 s away from
    // the row held to it; the Node path's added CPU came out between −2.8 and +7.3 µs in five runs of
    // 2026-12-02 (the servers part: −0.0 to +5.4 µs in the same runs), so a row's verdict was mostly chance.
    const nodeAt = kinds.indexOf('node:http');
    const node = await startPair('node:http');
    await warm(node);
    const groups: (WebServerKind | null)[] = kinds.length > 1 ? kinds.filter((k) => k !== 'node:http') : [null];
    for (const kind of groups) {
      const at = kind === null ? -1 : kinds.indexOf(kind);
      const pair = kind === null ? null : await startPair(kind);
      if (pair !== null) await warm(pair);
      const slots = [...[0, 1].map((v) => () => measure(nodeAt, node, v)), ...(pair === null ? [] : [0, 1].map((v) => () => measure(at, pair, v)))];
      for (let round = 0; round < setup.rounds; round++) {
        for (let k = 0; k < slots.length; k++) await slots[(round + k) % slots.length]!(); // rotate the order
      }
      for (const s of pair ?? []) s.proc.kill();
      log(`  ${kind ?? 'node:http'}: ${setup.rounds} rounds done`);
    }
    const added = cpu.map(([bare, moat]) => moat!.map((m, r) => m - bare![r]!));
    // A Web row's rounds are its group's: each is compared with the Node path's figure of the same round.
    const nodeAddedFor = (i: number) => added[nodeAt]!.slice(groups.indexOf(kinds[i]!) * setup.rounds).slice(0, setup.rounds);
    const rows: WebBenchRow[] = kinds.map((kind, i) => {
      const [bareReq, moatReq] = req[i]! as [number[], number[]];
      const [bareCpu, moatCpu] = cpu[i]! as [number[], number[]];
      const change = pairedChange(moatReq, bareReq);
      const cpuAddedOverNodeUs = i === nodeAt ? { median: 0, spread: [0, 0] as [number, number] } : pairedDifference(added[i]!, nodeAddedFor(i));
      const row: WebBenchRow = {
        server: kind, bareReqPerSecond: median(bareReq), moatReqPerSecond: median(moatReq), bareCpuUs: median(bareCpu), moatCpuUs: median(moatCpu),
        change, cpuAddedUs: pairedDifference(moatCpu, bareCpu), cpuAddedOverNodeUs,
        withinBudget: change.median >= REQ_PER_SECOND_BUDGET && (i === nodeAt || cpuAddedOverNodeUs.median <= CPU_TOLERANCE_US),
        errors: errors[i]!,
      };
      log(`  ${kind}: bare ${fmt(row.bareReqPerSecond)} req/s, ${row.bareCpuUs.toFixed(1)} µs; Moat ${fmt(row.moatReqPerSecond)} req/s ` +
        `(${pct(row.change.median)}), ${row.moatCpuUs.toFixed(1)} µs (${signedUs(row.cpuAddedUs.median)}; ${signedUs(cpuAddedOverNodeUs.median)} over the Node path)` +
        `${row.errors ? `; ${row.errors} errors` : ''}; ${row.withinBudget ? 'within' : 'over'} budget`);
      return row;
    });
    return { setup, budget: { reqPerSecondChange: REQ_PER_SECOND_BUDGET, cpuToleranceUs: CPU_TOLERANCE_US }, rows, markdown: webMarkdown(setup, rows) };
  } finally {
    for (const proc of procs) if (proc.exitCode === null) proc.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}

function webMarkdown(setup: WebBenchResult['setup'], rows: WebBenchRow[]): string[] {
  const node = rows.find((r) => r.server === 'node:http');
  const web = rows.filter((r) => r.server !== 'node:http');
  const over = web.filter((r) => !r.withinBudget);
  // What a row misses the budget by: nothing, 'req/s', 'CPU' or both (the Node path's row only on req/s).
  const misses = (r: WebBenchRow): string[] => [
    ...(r.change.median >= REQ_PER_SECOND_BUDGET ? [] : ['req/s']),
    ...(r.server === 'node:http' || r.cpuAddedOverNodeUs.median <= CPU_TOLERANCE_US ? [] : ['CPU']),
  ];
  const verdict = (r: WebBenchRow): string => (misses(r).length === 0 ? 'yes' : `no (${misses(r).join(', ')})`);
  return [
    '## The Web-standard path (Request → Response | null) next to the Node path',
    '',
    `Hello world, \`GET ${REQUEST_PATH}\`, autocannon ${setup.connections} connections, ${setup.rounds} rounds of ${setup.seconds} s per ` +
      'group, each server in its own process and warmed right before its rounds. One group per Web row: the Node path\'s bare and ' +
      'Moat servers and the row\'s, the only servers running, measured back to back in every round (rotating order); the Node path\'s ' +
      'row pools its rounds of every group. Moat loaded ' +
      `${setup.ranges.toLocaleString('en-US')} blocked ranges and ${setup.patterns.toLocaleString('en-US')} path + user-agent patterns. ` +
      `${PIN ? 'Servers pinned to core 0, the load generator to core 1. ' : ''}` +
      'Changes are medians of per-round changes against the bare server of the same round. The fetch, handle and Hono rows pay for the ' +
      'Request wrapper in both variants. On @hono/node-server, withMoatFetch and Moat\'s Hono adapter judge the IncomingMessage ' +
      'the server hands them (the Node path) and return synchronously or next()\'s own promise; so does handle(c.req.raw, ' +
      'platformClientInfo(c.req.raw, c.env)) in an async Hono middleware (platformClientInfo hands over the IncomingMessage of a bodiless ' +
      'request). The handle(request, { ip }) row is the Web path itself (the few headers it needs read with `Headers.get()`, the URL split, ' +
      'the engine), as on Bun and Deno, in a plain fetch handler. Any Hono middleware takes Hono off its one-handler synchronous path, so the bare Hono apps have a ' +
      'pass-through middleware in Moat\'s place (sync for the adapter row, async for the handle() row): the change is Moat\'s own; so has the bare ' +
      'h3 app, whose Moat judges the IncomingMessage behind srvx\'s Request (the Node path) for a request without a body. The load comes from one address and repeats one ' +
      `target, so Moat's memos answer most stages, as in the servers section.${setup.quick ? ' Quick run: figures are indicative only.' : ''}`,
    '',
    `**Budget** (issue 15, reporting off): req/s change ≥ ${pct(REQ_PER_SECOND_BUDGET)} against the bare server, and for a Web row, CPU added ` +
      `per request at most the Node path's added CPU + ${CPU_TOLERANCE_US.toFixed(1)} µs, compared round by round with the Node path's figure of the ` +
      'same round (the Web path proper asks the wrapper\'s Headers for three names and reads its url: 0.7 µs more than check() in a loop, ' +
      '1.0–1.3 µs timed inside a node-server app on a loaded machine; the other Web rows judge the IncomingMessage and should match the Node path). ' +
      (node === undefined ? '' : `In this run the Node path added ${signedUs(node.cpuAddedUs.median)} (${pct(node.change.median)} req/s); `) +
      (over.length === 0 ? 'every Web row is within the budget.' : `over the budget: ${over.map((r) => `${KIND_NAMES[r.server]} (${misses(r).join(', ')})`).join('; ')}.`),
    '',
    '| server | bare req/s | Moat req/s (change, quartiles) | bare CPU µs/req | Moat CPU µs/req (added, quartiles) | added CPU over the Node path (quartiles) | within budget |',
    '|---|---:|---:|---:|---:|---:|:---:|',
    ...rows.map((r) => `| ${KIND_NAMES[r.server]} | ${fmt(r.bareReqPerSecond)} | ${fmt(r.moatReqPerSecond)} (${pct(r.change.median)}, ${pct(r.change.spread[0])} … ${pct(r.change.spread[1])}) | ` +
      `${r.bareCpuUs.toFixed(1)} | ${r.moatCpuUs.toFixed(1)} (${signedUs(r.cpuAddedUs.median)}, ${signedUs(r.cpuAddedUs.spread[0])} … ${signedUs(r.cpuAddedUs.spread[1])}) | ` +
      `${r.server === 'node:http' ? '(baseline)' : `${signedUs(r.cpuAddedOverNodeUs.median)} (${signedUs(r.cpuAddedOverNodeUs.spread[0])} … ${signedUs(r.cpuAddedOverNodeUs.spread[1])})`} | ` +
      `${verdict(r)}${r.errors ? `, ${r.errors} errors` : ''} |`),
    '',
  ];
}

// ---------------------------------------------------------------------------------------------------
// Child processes: `--serve <kind> <bare|moat> <rules> <data>` and `--load`.

async function serve(kind: WebServerKind, variant: string, rules: string, data: string): Promise<void> {
  const options = { rules, data, trustedProxies: [], logger: false as const };
  const moat = variant === 'moat';
  const http = await import('node:http');
  const { createAdaptorServer } = await import('@hono/node-server');
  let server: import('node:http').Server;
  if (kind === 'node:http') {
    const hello = (_req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => {
      res.setHeader('content-type', 'text/plain');
      res.end(HELLO);
    };
    const { withMoat } = await import('../packages/moat/src/adapters/node.js');
    server = http.createServer(moat ? withMoat(hello, options) : hello);
  } else if (kind === 'fetch') {
    const hello = () => new Response(HELLO, { headers: { 'content-type': 'text/plain' } });
    const { withMoatFetch } = await import('../packages/moat/src/adapters/web.js');
    server = createAdaptorServer({ fetch: moat ? withMoatFetch(hello, options) : hello }) as import('node:http').Server;
  } else if (kind === 'handle') {
    // The Web path proper in a plain fetch handler: what an app on Bun or Deno writes, here behind
    // node-server's Request wrapper. Only the socket's address is passed (platformClientInfo would hand
    // over the IncomingMessage too, and handle() would take the Node path).
    const hello = () => new Response(HELLO, { headers: { 'content-type': 'text/plain' } });
    let fetch: (request: Request, env: unknown) => Response | Promise<Response> = hello;
    if (moat) {
      const { createFirewall } = await import('../packages/moat/src/firewall/firewall.js');
      const { platformClientIp } = await import('../packages/moat/src/adapters/web.js');
      const firewall = createFirewall(options);
      fetch = (request, env) => {
        const answer = firewall.handle(request, { ip: platformClientIp(request, env) });
        if (answer === null) return hello();
        if (answer instanceof Promise) return answer.then((a) => a ?? hello());
        return answer;
      };
    }
    server = createAdaptorServer({ fetch }) as import('node:http').Server;
  } else if (kind === 'hono-adapter') {
    const { Hono } = await import('hono');
    const app = new Hono();
    // The bare app has a pass-through middleware in its place, so the change is Moat's own, not Hono's
    // price for any middleware (it leaves its one-handler synchronous path).
    if (moat) app.use((await import('../packages/moat/src/adapters/hono.js')).moat(options));
    else app.use((_c, next) => next());
    app.get('/products/:id', (c) => c.text(HELLO));
    server = createAdaptorServer({ fetch: app.fetch }) as import('node:http').Server;
  } else if (kind === 'h3') {
    const { H3, toNodeHandler } = await import('h3');
    const app = new H3();
    // As for Hono: a pass-through middleware in Moat's place in the bare app.
    if (moat) app.use((await import('../packages/moat/src/adapters/h3.js')).moat(options));
    else app.use(() => undefined);
    app.get('/products/:id', () => HELLO);
    server = http.createServer(toNodeHandler(app));
  } else {
    const { Hono } = await import('hono');
    const app = new Hono();
    if (moat) {
      const { createFirewall } = await import('../packages/moat/src/firewall/firewall.js');
      const { platformClientInfo } = await import('../packages/moat/src/adapters/web.js');
      const firewall = createFirewall(options);
      app.use(async (c, next) => {
        const answer = await firewall.handle(c.req.raw, platformClientInfo(c.req.raw, c.env));
        if (answer !== null) return answer;
        await next();
      });
    } else {
      app.use(async (_c, next) => { await next(); }); // the same async middleware, without Moat's judgement
    }
    app.get('/products/:id', (c) => c.text(HELLO));
    server = createAdaptorServer({ fetch: app.fetch }) as import('node:http').Server;
  }
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  process.on('message', (message) => {
    if (message !== 'cpu') return;
    const usage = process.cpuUsage();
    process.send!({ cpuMicros: usage.user + usage.system });
  });
  process.send!({ port: (server.address() as AddressInfo).port });
  process.on('disconnect', () => process.exit(0));
}

async function generateLoad(): Promise<void> {
  type Autocannon = (options: Record<string, unknown>) => Promise<LoadResult>;
  const autocannon = (await import('autocannon' as string)).default as Autocannon;
  process.on('message', async (message) => {
    const { port, seconds, connections } = message as { port: number; seconds: number; connections: number };
    const result = await autocannon({
      url: `http://127.0.0.1:${port}${REQUEST_PATH}`, connections, duration: seconds,
      headers: { 'user-agent': USER_AGENT, host: 'www.example.com' },
    });
    process.send!({ requests: { total: result.requests.total }, duration: result.duration, non2xx: result.non2xx, errors: result.errors });
  });
  process.on('disconnect', () => process.exit(0));
  process.send!('ready');
}

if (process.argv[2] === '--serve' && process.send !== undefined) {
  const [kind, variant, rules, data] = process.argv.slice(3);
  await serve(kind as WebServerKind, variant ?? 'bare', rules ?? '', data ?? '');
} else if (process.argv[2] === '--load' && process.send !== undefined) {
  await generateLoad();
}
