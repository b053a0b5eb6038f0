/**
 * Interleaved A/B timing of ways to judge a request inside a Hono app on @hono/node-server (issue 17):
 * handle() given only the address (the Web path), handle() given platformClientInfo() (the IncomingMessage
 * of a bodiless request, judged by the Node path), the Hono adapter, check() alone, and any candidate
 * added to VARIANTS. Times are relative to the first. One server process, pinned to core 0 by the caller
 * (`taskset -c 0 node --import tsx bench/lib/web-path-ab.ts`); every request runs one variant, chosen in
 * blocks of 512 that alternate in a fixed rotation, each call timed with hrtime; the figure is the
 * median over blocks of the mean time per call. The load comes from autocannon in a child process (on
 * core 1 when taskset allows). A tool for choosing between implementations, not a report part; the
 * argument is the number of requests (default 300000, ~30 s).
 */
import { fork, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { judgeFetchRequest, platformClientIp } from '../../packages/moat/src/adapters/fetch-request.js';
import { platformClientInfo } from '../../packages/moat/src/adapters/web.js';
import { createFirewall, type Firewall, type Verdict } from '../../packages/moat/src/firewall/firewall.js';
import { writeFullRules, writeThreatData } from './full-load.js';
import { median } from './measure.js';
import { syntheticRanges } from './synthetic.js';

const REQUEST_PATH = '/products/42?page=2&sort=price';
const USER_AGENT = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36';
const BLOCK = 512;

type Judge = (firewall: Firewall, request: Request, env: { incoming: IncomingMessage }) => Verdict | Promise<Verdict>;

/** Each variant has a firewall of its own, so no variant's memos answer for another. */
const VARIANTS: Record<string, Judge> = {
  // handle(c.req.raw, { ip }): the Web path, what platformClientInfo() gave handle() before it passed the IncomingMessage on.
  'handle(c.req.raw, { ip })': (f, request, env) => verdictOf(f.handle(request, { ip: platformClientIp(request, env) })),
  'handle(c.req.raw, platformClientInfo(...))': (f, request, env) => verdictOf(f.handle(request, platformClientInfo(request, env))),
  'judgeFetchRequest (the Hono adapter)': (f, request, env) => judgeFetchRequest(f, request, env),
  'check(c.env.incoming)': (f, _request, env) => f.check(env.incoming),
};

const BLOCKED = { status: 403, headers: {}, body: '' };

function verdictOf(answer: Response | null | Promise<Response | null>): Verdict {
  if (answer instanceof Promise) throw new Error('a GET is judged synchronously');
  return answer === null ? null : BLOCKED;
}

const PIN = cpus().length >= 2 && spawnSync('taskset', ['-c', '0', 'true']).status === 0;

async function main(): Promise<void> {
  const total = Number(process.argv[2] ?? 300_000);
  const dir = mkdtempSync(join(tmpdir(), 'moat-web-ab-'));
  let loader: ChildProcess | undefined;
  try {
    const data = join(dir, 'data.moat');
    writeThreatData(syntheticRanges(20_000, 42).filter((r) => !(r.family === 4 && r.start <= 0x7f000001n && 0x7f000001n <= r.end)), data);
    const rules = join(dir, 'rules.moat');
    writeFullRules({ pathPatterns: 10_000, userAgentPatterns: 10_000, loginLimit: 10, extra: [{ action: 'block', kind: 'ip', value: '198.51.100.0/24' }] }, rules);
    const names = Object.keys(VARIANTS);
    const judges = names.map((name) => ({ judge: VARIANTS[name]!, firewall: createFirewall({ rules, data, trustedProxies: [], logger: false }) }));
    const perBlock = names.map(() => [] as number[]);
    let n = 0;
    let sum = 0n;
    let blockOf = 0;
    const { Hono } = await import('hono');
    const { createAdaptorServer } = await import('@hono/node-server');
    const app = new Hono<{ Bindings: { incoming: IncomingMessage } }>();
    app.use((c, next) => {
      const v = blockOf;
      const { judge, firewall } = judges[v]!;
      const t0 = process.hrtime.bigint();
      const verdict = judge(firewall, c.req.raw, c.env);
      sum += process.hrtime.bigint() - t0;
      if (verdict !== null) throw new Error(`${names[v]} did not pass the request`);
      if (++n % BLOCK === 0) {
        perBlock[v]!.push(Number(sum) / BLOCK);
        sum = 0n;
        blockOf = (blockOf + 1) % names.length;
      }
      return next();
    });
    app.get('/products/:id', (c) => c.text('hello world'));
    const server = createAdaptorServer({ fetch: app.fetch });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    const self = fileURLToPath(import.meta.url);
    loader = PIN
      ? spawn('taskset', ['-c', '1', process.execPath, '--import', 'tsx', self, '--load', String(port), String(total)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
      : fork(self, ['--load', String(port), String(total)], { execArgv: ['--import', 'tsx'] });
    await new Promise<void>((resolve) => loader!.once('message', () => resolve()));
    server.close();
    // The first blocks of each variant are warm-up (JIT, memos): left out.
    const warm = 4;
    for (let v = 0; v < names.length; v++) {
      const blocks = perBlock[v]!.slice(warm);
      console.log(`${names[v]!.padEnd(40)} ${median(blocks).toFixed(0).padStart(6)} ns per call (median of ${blocks.length} blocks of ${BLOCK})`);
    }
    const base = median(perBlock[0]!.slice(warm));
    for (let v = 1; v < names.length; v++) console.log(`${names[v]} / ${names[0]}: ${(median(perBlock[v]!.slice(warm)) / base).toFixed(3)}`);
  } finally {
    if (loader !== undefined && loader.exitCode === null) loader.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function load(port: number, total: number): Promise<void> {
  const autocannon = (await import('autocannon' as string)).default as (o: Record<string, unknown>) => Promise<unknown>;
  await autocannon({ url: `http://127.0.0.1:${port}${REQUEST_PATH}`, connections: 20, amount: total, headers: { 'user-agent': USER_AGENT, host: 'www.example.com' } });
  process.send!('done');
}

if (process.argv[2] === '--load') await load(Number(process.argv[3]), Number(process.argv[4]));
else await main();
