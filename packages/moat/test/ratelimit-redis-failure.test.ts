// When Redis is down or slow, rate-limited requests are still answered within the store's budget,
// limited by this process instead (fail open to local limiting), each fallback counted and the log
// bounded to one line per interval. Real node:http server, real redis-server, a real TCP proxy that
// holds Redis's replies back to play a slow Redis, a closed port to play a dead one, and a redis-server
// killed under load and started again on its port for an outage and its recovery.
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { createFirewall, type Engine, type MoatErrorEvent, type MoatOptions } from '../src/index.js';
import { withMoat } from '../src/adapters/node.js';
import { createManagedFirewall } from '../src/managed/managed-firewall.js';
import {
  RATE_LIMIT_REDIS_OPTIONS, RedisRateLimitStore, RateLimitStoreError, createRedisClient, type RedisRateLimitStoreOptions,
} from '../src/ratelimit/redis.js';
import { makeTmpDir, removeDir } from './helpers/engine-kit.js';
import { HoldingProxy, closedPort, connect, loginLimitFixture, redisServer, redisTarget, uniquePrefix } from './helpers/ratelimit-kit.js';

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
  return new RedisRateLimitStore({ redis, prefix: uniquePrefix(), budgetMs: 50, logger: false, ...options });
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
    assert.deepEqual(s.stats(), { calls: 6, answered: 0, timeouts: 0, errors: 6, skipped: 0, scriptLoads: 0, recoveries: 0 },
      'never connected: each request sees that at once, without sending anything, so no cool-down is needed');
    assert.equal(h.events.length, 6);
    assert.ok(h.events.every((e) => e.kind === 'rateLimitStore' && e.error instanceof RateLimitStoreError));
    assert.deepEqual(h.events.map((e) => (e.error as RateLimitStoreError).reason), ['error', 'error', 'error', 'error', 'error', 'error']);
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

test('a client made with lazyConnect is connected by the store: the first request counts locally, the next ones in Redis', async () => {
  const port = await closedPort();
  const server = await redisServer(port);
  const redis = new Redis(`redis://127.0.0.1:${port}`, { ...RATE_LIMIT_REDIS_OPTIONS, lazyConnect: true });
  redis.on('error', () => {});
  const s = store(redis, { cooldownMs: 0 });
  const h = await app(s);
  try {
    assert.equal(redis.status, 'wait', 'ioredis connects a lazy client on its first command only');
    assert.equal(await h.get('/login'), 200);
    assert.deepEqual([s.stats().errors, s.stats().answered], [1, 0], 'not connected yet: counted in this process');
    // Bounded, so a store that never connects fails here instead of hanging the suite (local Redis answers in ms).
    const gaveUp = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('the store never connected the lazy client')), 30_000).unref());
    if ((redis.status as string) !== 'ready') await Promise.race([once(redis, 'ready'), gaveUp]);
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push(await h.get('/login'));
    assert.deepEqual(statuses, [200, 200, 200, 429], 'the limit of 3 counted in Redis (the local hit is not replayed there)');
    assert.deepEqual([s.stats().answered, s.stats().errors], [4, 1]);
  } finally {
    await h.close();
    redis.disconnect();
    server.kill();
    await once(server, 'exit');
  }
});

test('Redis slow: the request is answered while Redis still holds the reply, counted as a timeout', async () => {
  const proxy = new HoldingProxy(redisTarget(fixture.server.url));
  const port = await proxy.listen();
  const redis = await connect(`redis://127.0.0.1:${port}`);
  // A budget no loaded machine misses while replies flow; held replies make it run out regardless.
  const s = store(redis, { cooldownMs: 0, budgetMs: 2_000 });
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
    assert.equal(s.stats().recoveries, 1, 'the answer after the fallbacks is counted as a recovery');
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


async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited;
}

test('Redis killed under load and started again: no error flood, one recovery line per app, shared counting resumes', async () => {
  const port = await closedPort();
  let server = await redisServer(port);
  // The store's clock: cool-downs end when the test says so, not when the machine gets round to it.
  let t = 1_000_000;
  const now = () => t;
  const apps: { h: Harness; store: RedisRateLimitStore; client: ReturnType<typeof createRedisClient>; clientLines: string[]; storeLines: string[]; clientErrors: number }[] = [];
  // Anything printed outside the injected loggers (an ioredis "Unhandled error event", a stack trace) counts.
  let printed = 0;
  const original = { error: console.error, warn: console.warn };
  console.error = (...args: unknown[]) => { printed++; original.error.apply(console, args); };
  console.warn = (...args: unknown[]) => { printed++; original.warn.apply(console, args); };
  try {
    const prefix = uniquePrefix();
    for (let i = 0; i < 2; i++) {
      const clientLines: string[] = [];
      const storeLines: string[] = [];
      const client = createRedisClient(`redis://127.0.0.1:${port}`, {
        logger: { error: (_o, m) => clientLines.push(m ?? ''), warn: (_o, m) => clientLines.push(m ?? '') }, logIntervalMs: 600_000,
      });
      await once(client, 'ready');
      const store = new RedisRateLimitStore({
        redis: client, prefix, budgetMs: 5_000, cooldownMs: 1_000, now, logIntervalMs: 600_000,
        logger: { error: (_o, m) => storeLines.push(m ?? ''), warn: (_o, m) => storeLines.push(m ?? ''), info: (_o, m) => storeLines.push(m ?? '') },
      });
      const h = await app(store, { logIntervalMs: 600_000 });
      const entry = { h, store, client, clientLines, storeLines, clientErrors: 0 };
      client.on('error', () => { entry.clientErrors++; });
      apps.push(entry);
    }

    // Load on both apps; Redis is killed while it runs and the load goes on through the outage.
    const statuses: number[] = [];
    let redisRefused = false;
    let killed = false;
    for (let round = 0; ; round++) {
      const answers = await Promise.all(apps.flatMap(({ h }) => Array.from({ length: 10 }, () => h.get('/login'))));
      statuses.push(...answers);
      if (!killed && answers.includes(429)) redisRefused = true; // Redis's count is at the limit
      if (!killed && redisRefused) {
        await kill(server);
        killed = true;
      }
      t += 2_000; // past the cool-down: every round asks Redis again
      if (killed && apps.every((a) => a.clientErrors >= 5)) break;
      assert.ok(round < 2_000, 'the clients kept reconnecting');
    }
    assert.ok(statuses.every((s) => s === 200 || s === 429), `every request answered by the app or the limiter: ${[...new Set(statuses)]}`);
    // 3 passed on the shared count; in the outage each app's local limiter started empty: 3 more each.
    assert.equal(statuses.filter((s) => s === 200).length, 3 + 2 * 3, 'a limit of 3 lets 3 × (number of apps) through during the outage');
    for (const a of apps) {
      assert.equal(a.clientLines.length, 1, `one connection-error line for ${a.clientErrors} failed reconnects`);
      assert.equal(a.h.lines.length, 1, 'one fallback line from the firewall');
      assert.equal(a.storeLines.length, 0, 'no recovery yet');
      assert.ok(a.store.stats().errors + a.store.stats().timeouts >= 1);
    }
    assert.equal(printed, 0, 'nothing printed outside the loggers');

    // Redis is back on its port (empty: no persistence). Once each client is connected and the cool-down
    // is over, the next request is counted in Redis again: the local limiters are full, so a 200 proves it.
    server = await redisServer(port);
    await Promise.all(apps.map((a) => (a.client.status === 'ready' ? undefined : once(a.client, 'ready'))));
    t += 2_000;
    const [a, b] = apps;
    assert.deepEqual([await a.h.get('/login'), await b.h.get('/login'), await a.h.get('/login'), await b.h.get('/login')], [200, 200, 200, 429],
      'one shared limit of 3 across both apps again');
    assert.equal(await a.h.get('/login'), 429);
    for (const x of apps) {
      assert.equal(x.store.stats().recoveries, 1);
      assert.equal(x.storeLines.length, 1, 'one recovery line');
      assert.match(x.storeLines[0], /answers again.*shared counting resumed/);
      assert.equal(x.clientLines.length, 1, 'no more connection-error lines');
    }
    assert.equal(printed, 0);
  } finally {
    console.error = original.error;
    console.warn = original.warn;
    for (const x of apps) {
      await x.h.close();
      x.client.disconnect();
    }
    await kill(server);
  }
});

test('createRedisClient: rate-limit settings by default, options override them, capped reconnect backoff', () => {
  const client = createRedisClient('redis://127.0.0.1:1', { lazyConnect: true, connectTimeout: 500, logger: false });
  try {
    assert.equal(client.options.enableOfflineQueue, false, 'a command fails at once while disconnected');
    assert.equal(client.options.maxRetriesPerRequest, 1);
    assert.equal(client.options.connectTimeout, 500);
    assert.equal(client.listenerCount('error'), 1, 'an error listener is attached');
    const delays = [1, 2, 3, 6, 7, 50].map((n) => client.options.retryStrategy!(n));
    assert.deepEqual(delays, [100, 200, 400, 2_000, 2_000, 2_000]);
  } finally {
    client.disconnect();
  }
});
