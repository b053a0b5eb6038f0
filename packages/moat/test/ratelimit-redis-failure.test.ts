// When Redis is down or slow, rate-limited requests are still answered within the store's budget,
// limited by this process instead (fail open to local limiting), each fallback counted and the log
// bounded to one line per interval. Real node:http server, real redis-server, a real TCP proxy that
// holds Redis's replies back to play a slow Redis, and a closed port to play a dead one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { createFirewall, type Engine, type MoatErrorEvent, type MoatOptions } from '../src/index.js';
import { withMoat } from '../src/adapters/node.js';
import { createManagedFirewall } from '../src/managed/managed-firewall.js';
import { RATE_LIMIT_REDIS_OPTIONS, RedisRateLimitStore, RateLimitStoreError, type RedisRateLimitStoreOptions } from '../src/ratelimit/redis.js';
import { makeTmpDir, removeDir } from './helpers/engine-kit.js';
import { HoldingProxy, closedPort, connect, loginLimitFixture, redisTarget, uniquePrefix } from './helpers/ratelimit-kit.js';

const fixture = loginLimitFixture(3);

interface Harness {
  get(urlPath: string): Promise<number>;
  lines: { object: object; message?: string }[];
  events: MoatErrorEvent[];
  firewall: ReturnType<typeof createFirewall>;
  close(): Promise<void>;
}

async function app(store: RedisRateLimitStore, extra: Partial<MoatOptions> = {}): Promise<Harness> {
  const lines: Harness['lines'] = [];
  const events: MoatErrorEvent[] = [];
  const firewall = createFirewall({
    rules: fixture.rules, rateLimitStore: store, trustedProxies: [], onError: (e) => events.push(e),
    logger: { error: (object, message) => lines.push({ object, message }), warn: () => {} }, ...extra,
  });
  const srv = http.createServer(withMoat((_req, res) => { res.end('ok'); }, firewall));
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as AddressInfo).port;
  return {
    lines, events, firewall,
    get: async (urlPath) => {
      const res = await fetch(`http://127.0.0.1:${port}${urlPath}`);
      await res.text();
      return res.status;
    },
    close: async () => {
      srv.closeAllConnections();
      await new Promise<void>((resolve) => srv.close(() => resolve()));
      firewall.close();
    },
  };
}

function store(redis: Redis, options: Partial<RedisRateLimitStoreOptions> = {}): RedisRateLimitStore {
  return new RedisRateLimitStore({ redis, prefix: uniquePrefix(), budgetMs: 50, ...options });
}

test('Redis down: requests are answered, limited locally, every fallback counted, one log line', async () => {
  const redis = new Redis(`redis://127.0.0.1:${await closedPort()}`, { ...RATE_LIMIT_REDIS_OPTIONS, retryStrategy: () => 50 });
  redis.on('error', () => {}); // reconnect attempts; the store reports what matters
  const s = store(redis, { cooldownMs: 600_000 });
  const h = await app(s);
  try {
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push(await h.get('/login'));
    assert.deepEqual(statuses, [200, 200, 200, 429, 429, 429], 'the local limiter held the limit of 3');
    assert.equal(await h.get('/home'), 200);
    const stats = h.firewall.stats();
    assert.deepEqual([stats.rateLimitFallbacks, stats.rateLimited, stats.passed, stats.failedOpen], [6, 3, 4, 0]);
    assert.deepEqual(s.stats(), { calls: 6, answered: 0, timeouts: 0, errors: 1, skipped: 5, scriptLoads: 0 },
      'one failed attempt, then the cool-down spares Redis');
    assert.equal(h.events.length, 6);
    assert.ok(h.events.every((e) => e.kind === 'rateLimitStore' && e.error instanceof RateLimitStoreError));
    assert.deepEqual(h.events.map((e) => (e.error as RateLimitStoreError).reason), ['error', 'cooldown', 'cooldown', 'cooldown', 'cooldown', 'cooldown']);
    assert.equal(h.lines.length, 1, 'one log line for the whole outage (logIntervalMs 60 s)');
    assert.match(h.lines[0].message ?? '', /shared rate-limit store/);
  } finally {
    await h.close();
    redis.disconnect();
  }
});

test('Redis down without a cool-down: every request tries, fails at once (no offline queue), and is limited locally', async () => {
  const redis = new Redis(`redis://127.0.0.1:${await closedPort()}`, { ...RATE_LIMIT_REDIS_OPTIONS, retryStrategy: () => 50 });
  redis.on('error', () => {});
  const s = store(redis, { cooldownMs: 0 });
  const h = await app(s, { logIntervalMs: 600_000 });
  try {
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push(await h.get('/login'));
    assert.deepEqual(statuses, [200, 200, 200, 429, 429]);
    assert.deepEqual([s.stats().errors, s.stats().timeouts, h.firewall.stats().rateLimitFallbacks], [5, 0, 5]);
    assert.equal(h.lines.length, 1);
  } finally {
    await h.close();
    redis.disconnect();
  }
});

test('Redis slow: the request is answered while Redis still holds the reply, counted as a timeout', async () => {
  const proxy = new HoldingProxy(redisTarget(fixture.server.url));
  const port = await proxy.listen();
  const redis = await connect(`redis://127.0.0.1:${port}`);
  // A budget no loaded machine misses while replies flow; held replies make it run out regardless.
  const s = store(redis, { cooldownMs: 0, budgetMs: 250 });
  const h = await app(s);
  try {
    assert.equal(await h.get('/login'), 200);
    assert.equal(s.stats().answered, 1, 'Redis answered while the proxy passed replies on');
    proxy.hold = true;
    assert.equal(await h.get('/login'), 200);
    assert.equal(await h.get('/login'), 200);
    // Redis's replies never reached the client while held, so these answers did not wait for them.
    assert.equal(proxy.hold, true);
    assert.deepEqual([s.stats().timeouts, s.stats().answered], [2, 1]);
    assert.equal(h.firewall.stats().rateLimitFallbacks, 2);
    assert.deepEqual(h.events.map((e) => (e.error as RateLimitStoreError).reason), ['timeout', 'timeout']);
    assert.equal(h.lines.length, 1);
    // Replies arriving late are dropped quietly; Redis (which counted them) answers the next request.
    proxy.release();
    assert.equal(await h.get('/login'), 429, 'Redis counted the two late ones too: 4th request over 3');
    assert.deepEqual([s.stats().timeouts, s.stats().answered], [2, 2]);
  } finally {
    await h.close();
    redis.disconnect();
    await proxy.close();
  }
});

test('a managed firewall hands the store to every engine it builds', async () => {
  const redis = await connect(fixture.server.url);
  const s = store(redis, { budgetMs: 5_000 });
  const syncDir = makeTmpDir();
  const managed = createManagedFirewall({ rules: fixture.rules, dir: syncDir, rateLimitStore: s, logger: false, trustedProxies: [] });
  try {
    const engine = managed.currentEngine as Engine;
    assert.equal(engine.sharedRateLimits, s);
    const srv = http.createServer(withMoat((_req, res) => { res.end('ok'); }, managed));
    await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(srv.address() as AddressInfo).port}/login`;
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await fetch(url).then(async (r) => { await r.text(); return r; })).status);
    srv.closeAllConnections();
    await new Promise<void>((resolve) => srv.close(() => resolve()));
    assert.deepEqual(statuses, [200, 200, 200, 429]);
    assert.equal(s.stats().answered, 4);
  } finally {
    await managed.close();
    removeDir(syncDir);
    redis.disconnect();
  }
});
