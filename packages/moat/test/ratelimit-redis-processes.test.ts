// Three app processes (child_process.fork, each a real node:http server behind the firewall) sharing one
// limit through one real Redis: 30 requests spread over them, limit 10 a minute, exactly 10 pass in all.
// The contrast: with the in-process store each process counts alone and all 30 pass.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import type { FirewallStats } from '../src/index.js';
import type { RedisRateLimitStats } from '../src/ratelimit/redis.js';
import { loginLimitFixture, uniquePrefix } from './helpers/ratelimit-kit.js';

const CHILD = new URL('./helpers/ratelimit-app-process.ts', import.meta.url).pathname;

interface App {
  port: number;
  stats(): Promise<{ firewall: FirewallStats; store: RedisRateLimitStats | null }>;
  close(): Promise<void>;
}

async function startApp(options: { rules: string; redisUrl: string | null; prefix: string; budgetMs: number }): Promise<App> {
  const child = fork(CHILD, [JSON.stringify(options)], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const statsWaiters: ((s: never) => void)[] = [];
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('app process did not start within 15 s')), 15_000);
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`app process exited with ${code}`)); });
    child.on('message', (m: { type: string; port: number }) => {
      if (m.type === 'ready') { clearTimeout(timer); resolve(m.port); }
      if (m.type === 'stats') statsWaiters.shift()?.(m as never);
    });
  });
  return {
    port,
    stats: () => new Promise((resolve) => { statsWaiters.push(resolve); child.send({ type: 'stats' }); }),
    close: async () => {
      if (child.exitCode === null && child.signalCode === null) child.send({ type: 'close' });
      const killer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(killer);
    },
  };
}

const fixture = loginLimitFixture(10);

/** Sends `n` GET requests to `path`, round-robin over the apps, one at a time; returns the statuses. */
async function spread(apps: App[], n: number, urlPath: string): Promise<{ statuses: number[]; retryAfter: (string | null)[] }> {
  const statuses: number[] = [];
  const retryAfter: (string | null)[] = [];
  for (let i = 0; i < n; i++) {
    const res = await fetch(`http://127.0.0.1:${apps[i % apps.length].port}${urlPath}`);
    await res.text();
    statuses.push(res.status);
    retryAfter.push(res.headers.get('retry-after'));
  }
  return { statuses, retryAfter };
}

async function withApps<T>(redisUrl: string | null, fn: (apps: App[]) => Promise<T>): Promise<T> {
  const options = { rules: fixture.rules, redisUrl, prefix: uniquePrefix(), budgetMs: 1_000 };
  const apps = await Promise.all([startApp(options), startApp(options), startApp(options)]);
  try {
    return await fn(apps);
  } finally {
    await Promise.all(apps.map((a) => a.close()));
  }
}

test('three processes on one Redis share the limit: 10 of 30 requests pass; in-process counting lets all 30 through', async () => {
  await withApps(fixture.server.url, async (apps) => {
    const { statuses, retryAfter } = await spread(apps, 30, '/login');
    assert.equal(statuses.filter((s) => s === 200).length, 10, `statuses: ${statuses.join(' ')}`);
    assert.equal(statuses.filter((s) => s === 429).length, 20);
    assert.deepEqual(statuses.slice(0, 10), Array(10).fill(200), 'the first ten pass, whichever process they reach');
    for (let i = 10; i < 30; i++) assert.match(retryAfter[i] ?? '', /^[1-9]\d*$/, `429 #${i} carries Retry-After`);
    // A path without a rate-limit rule never reaches Redis.
    const other = await spread(apps, 3, '/home');
    assert.deepEqual(other.statuses, [200, 200, 200]);
    const stats = await Promise.all(apps.map((a) => a.stats()));
    const sum = (f: (s: (typeof stats)[number]) => number) => stats.reduce((n, s) => n + f(s), 0);
    assert.equal(sum((s) => s.firewall.passed), 13);
    assert.equal(sum((s) => s.firewall.rateLimited), 20);
    assert.equal(sum((s) => s.firewall.rateLimitFallbacks), 0, 'Redis answered every time');
    assert.equal(sum((s) => s.store!.answered), 30, 'one Redis call per rate-limited request, none for /home');
    for (const s of stats) assert.equal(s.store!.calls, 10, 'each process counted its share in Redis');
  });

  await withApps(null, async (apps) => {
    const { statuses } = await spread(apps, 30, '/login');
    assert.deepEqual(statuses, Array(30).fill(200), 'each process allows 10 of its own: 3 × 10');
  });
});
