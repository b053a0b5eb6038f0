/**
 * Shared rate limits (issue 8 §1): what counting a rate-limited request in Redis adds, against the
 * in-process store, measured in the same run. Two levels, each a median over rounds of sequential
 * requests from one client under a limit it never reaches (so every request is counted and passes):
 *   - engine: evaluate() (+ settleRateLimits() on the shared store), no HTTP;
 *   - http:   a real node:http server behind the firewall, keep-alive requests from one socket.
 * Also measured: a request matching no rate-limit rule (stays synchronous whatever the store) and a
 * rate-limited request while Redis is down (the local fallback after a failure: cool-down path).
 * Redis is a throw-away redis-server on 127.0.0.1 (scripts/ensure-redis.sh) or MOAT_BENCH_REDIS_URL.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { withMoat } from '../packages/moat/src/adapters/node.js';
import { Engine } from '../packages/moat/src/engine/engine.js';
import { MemoryRateLimitStore } from '../packages/moat/src/engine/rate-limiter.js';
import type { SharedRateLimitStore } from '../packages/moat/src/engine/shared-rate-limit-store.js';
import { createFirewall } from '../packages/moat/src/firewall/firewall.js';
import { loadRulesFile } from '../packages/moat/src/format/load-files.js';
import { writeRulesFile } from '../packages/moat/src/format/write-rules.js';
import { RATE_LIMIT_REDIS_OPTIONS, RedisRateLimitStore } from '../packages/moat/src/ratelimit/redis.js';
import { normalizeRule } from '../packages/moat/src/rules/normalize-rule.js';
import { fmtNs, median, type Measurement } from './lib/measure.js';

export interface RateLimitBenchOptions {
  quick?: boolean;
  ops?: number;
  rounds?: number;
  log?: (s: string) => void;
}

export interface RateLimitRow {
  level: 'engine' | 'http';
  case: string;
  m: Measurement;
  /** Median ns above the same level's in-process rate-limited request. */
  addedNs: number | null;
  /** Ratio to the same level's in-process rate-limited request. */
  vsMemory: number | null;
}

export interface RateLimitBenchResult {
  rows: RateLimitRow[];
  redisSkipped: string | null;
  markdown: string;
}

const ENSURE_REDIS = fileURLToPath(new URL('../scripts/ensure-redis.sh', import.meta.url));

function startRedis(): { url: string; stop(): void } | { skipped: string } {
  const fromEnv = process.env.MOAT_BENCH_REDIS_URL;
  if (fromEnv) return { url: fromEnv, stop: () => {} };
  try {
    const out = execFileSync('bash', [ENSURE_REDIS], { encoding: 'utf8', timeout: 5 * 60_000, stdio: ['ignore', 'pipe', 'pipe'] });
    const port = out.trim().split('\n').pop() ?? '';
    if (!/^\d+$/.test(port)) return { skipped: `ensure-redis.sh printed no port: ${JSON.stringify(out)}` };
    return {
      url: `redis://127.0.0.1:${port}`,
      stop: () => { try { execFileSync('bash', [ENSURE_REDIS, 'stop', port], { timeout: 10_000, stdio: 'ignore' }); } catch { /* gone */ } },
    };
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    return { skipped: `no redis-server: ${(err.stderr || err.message).trim().split('\n').slice(-3).join(' ')}` };
  }
}

/** A free port, closed again: a Redis that is down. */
async function deadPort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

interface HttpApp {
  get(): Promise<number>;
  close(): Promise<void>;
}

async function httpApp(rulesPath: string, store: SharedRateLimitStore | undefined, urlPath: string): Promise<HttpApp> {
  const firewall = createFirewall({ rules: rulesPath, rateLimitStore: store, logger: false, trustedProxies: [] });
  const server = http.createServer(withMoat((_req, res) => { res.end('ok'); }, firewall));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  return {
    get: () => new Promise<number>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port, path: urlPath, agent }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      }).on('error', reject);
    }),
    close: async () => {
      agent.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      firewall.close();
    },
  };
}

/**
 * Measures several cases round by round, interleaved (case A round 1, case B round 1, …), after one
 * warm-up round each, so drift in the machine's state during the run hits every case alike.
 */
async function interleaved(cases: { name: string; op: () => unknown }[], ops: number, rounds: number): Promise<Map<string, Measurement>> {
  const per = new Map<string, number[]>(cases.map((c) => [c.name, []]));
  for (let r = -1; r < rounds; r++) {
    for (const c of cases) {
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < ops; i++) {
        const v = c.op();
        if (v instanceof Promise) await v;
      }
      if (r >= 0) per.get(c.name)!.push(Number(process.hrtime.bigint() - t0) / ops);
    }
  }
  const out = new Map<string, Measurement>();
  for (const [name, xs] of per) out.set(name, { ns: median(xs), min: Math.min(...xs), max: Math.max(...xs), rounds, opsPerRound: ops });
  return out;
}

export async function runRateLimitBench(o: RateLimitBenchOptions = {}): Promise<RateLimitBenchResult> {
  const quick = o.quick === true;
  const log = o.log ?? (() => {});
  const rounds = o.rounds ?? (quick ? 3 : 7);
  const httpOps = o.ops ?? (quick ? 300 : 3_000);
  const engineOps = quick ? 2_000 : 20_000;
  const dir = mkdtempSync(join(tmpdir(), 'moat-rl-bench-'));
  const rows: RateLimitRow[] = [];
  const redis = startRedis();
  const clients: import('ioredis').Redis[] = [];
  try {
    const rulesPath = join(dir, 'rules.db');
    // A limit no benchmark reaches: every request is counted and passes, as a normal client's would.
    writeRulesFile([normalizeRule({ action: 'block', kind: 'rateLimit', value: '/login', rateLimit: { path: '/login', limit: 1_000_000_000, window: '1m' } })], rulesPath);
    const rules = loadRulesFile(rulesPath);
    const req = { ip: '198.51.100.7', method: 'GET', path: '/login' };
    const add = (level: RateLimitRow['level'], name: string, m: Measurement, base: Measurement | null) => {
      rows.push({ level, case: name, m, addedNs: base === null ? null : m.ns - base.ns, vsMemory: base === null ? null : m.ns / base.ns });
      log(`ratelimit ${level} ${name}: ${fmtNs(m.ns)}${base === null ? '' : ` (${(m.ns / base.ns).toFixed(2)}× in-process)`}`);
    };

    const memEngine = new Engine({ rules, rateLimits: new MemoryRateLimitStore() });
    const engineCases: { name: string; op: () => unknown }[] = [{ name: 'in-process store', op: () => memEngine.evaluate(req) }];
    const httpApps: { name: string; app: HttpApp }[] = [{ name: 'in-process store', app: await httpApp(rulesPath, undefined, '/login') }];
    let live: RedisRateLimitStore | null = null;
    if (!('skipped' in redis)) {
      const { Redis } = await import('ioredis');
      const liveClient = new Redis(redis.url, { ...RATE_LIMIT_REDIS_OPTIONS, lazyConnect: true });
      clients.push(liveClient);
      await liveClient.connect();
      const downClient = new Redis(`redis://127.0.0.1:${await deadPort()}`, { ...RATE_LIMIT_REDIS_OPTIONS, lazyConnect: true, retryStrategy: () => 1_000 });
      downClient.on('error', () => {});
      clients.push(downClient);
      // A generous budget for the live store: the bench measures Redis, not fallbacks (checked below).
      live = new RedisRateLimitStore({ redis: liveClient, budgetMs: 1_000, prefix: `moat-bench:${process.pid}:` });
      const dead = new RedisRateLimitStore({ redis: downClient });
      const sharedEngine = new Engine({ rules, sharedRateLimits: live });
      const deadEngine = new Engine({ rules, sharedRateLimits: dead });
      const judge = (e: Engine) => {
        const d = e.evaluate(req);
        return d.pendingRateLimits === undefined ? d : e.settleRateLimits(d);
      };
      engineCases.push(
        { name: 'Redis store', op: () => judge(sharedEngine) },
        { name: 'Redis store, Redis down (local fallback)', op: () => judge(deadEngine) },
        { name: 'Redis store, path without a rate limit', op: () => sharedEngine.evaluate({ ...req, path: '/home' }) },
      );
      httpApps.push(
        { name: 'Redis store', app: await httpApp(rulesPath, live, '/login') },
        { name: 'Redis store, Redis down (local fallback)', app: await httpApp(rulesPath, dead, '/login') },
        { name: 'Redis store, path without a rate limit', app: await httpApp(rulesPath, live, '/home') },
      );
    }
    try {
      const engineM = await interleaved(engineCases, engineOps, rounds);
      const engineBase = engineM.get('in-process store')!;
      for (const [name, m] of engineM) add('engine', name, m, name === 'in-process store' ? null : engineBase);
      const httpM = await interleaved(httpApps.map(({ name, app }) => ({
        name,
        op: async () => {
          const status = await app.get();
          if (status !== 200) throw new Error(`expected 200 (${name}), got ${status}`);
        },
      })), httpOps, rounds);
      const httpBase = httpM.get('in-process store')!;
      for (const [name, m] of httpM) add('http', name, m, name === 'in-process store' ? null : httpBase);
    } finally {
      for (const { app } of httpApps) await app.close();
    }
    if (live !== null && live.stats().timeouts + live.stats().errors > 0) {
      throw new Error(`the live Redis store fell back during the bench: ${JSON.stringify(live.stats())}`);
    }
    return { rows, redisSkipped: 'skipped' in redis ? redis.skipped : null, markdown: toMarkdown(rows, 'skipped' in redis ? redis.skipped : null) };
  } finally {
    for (const c of clients) c.disconnect();
    if (!('skipped' in redis)) redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

function toMarkdown(rows: RateLimitRow[], skipped: string | null): string {
  const lines = [
    '### Shared rate limits (Redis) vs in-process',
    '',
    'Median per request, sequential, one client under its limit; baseline: the in-process store at the same level, same run.',
    '',
    '| level | case | median | added | × in-process |',
    '|---|---|---:|---:|---:|',
  ];
  for (const r of rows) {
    lines.push(`| ${r.level} | ${r.case} | ${fmtNs(r.m.ns)} | ${r.addedNs === null ? '—' : signed(r.addedNs)} | ${r.vsMemory === null ? '1.00' : r.vsMemory.toFixed(2)} |`);
  }
  if (skipped !== null) lines.push('', `Redis rows skipped: ${skipped}`);
  return lines.join('\n');
}

function signed(ns: number): string {
  return (ns < 0 ? '−' : '+') + fmtNs(Math.abs(ns));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const r = await runRateLimitBench({ quick: process.argv.includes('--quick'), log: console.log });
  console.log(r.markdown);
}
