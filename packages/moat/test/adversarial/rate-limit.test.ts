// Attacks on rate limits, on a real Express app on a real socket with the firewall's clock injected (so
// "a window edge" is a place in time the test chooses, not a race): bursts timed around window edges
// and rotation through one IPv6 /64, in process and on a shared real redis-server. The rule is the
// classic `5 per 60s on POST /login`; the guarantee is at most 5 in any 60 s, never 2N-1.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import express from 'express';
import type { Redis } from 'ioredis';
import { moat } from '../../src/adapters/express.js';
import type { MoatOptions } from '../../src/firewall/options.js';
import { RedisRateLimitStore } from '../../src/ratelimit/redis.js';
import { close, listen, rulesFile, type RawResponse } from '../adapters-helpers.js';
import { uniquePrefix, withTestRedis } from '../helpers/ratelimit-kit.js';

const W = 60_000;
const T0 = 1_000 * W; // a fixed-window boundary: where fixed or two-window counters reset

interface App {
  port: number;
  clock: { now: number };
  login(headers?: Record<string, string>): Promise<RawResponse>;
  burst(n: number, headers?: Record<string, string>): Promise<RawResponse[]>;
}

async function loginApp(extra: Partial<MoatOptions> = {}): Promise<App> {
  const rules = rulesFile({ rateLimits: [{ path: '/login', method: 'POST', limit: 5, window: '60s', id: 'login' }] });
  const clock = { now: T0 };
  const middleware = moat({ rules: rules.path, logger: false, now: () => clock.now, ...extra });
  const app = express();
  app.use(middleware);
  app.post('/login', (_req, res) => { res.send('welcome'); });
  const server = createServer(app);
  const port = await listen(server);
  after(async () => {
    await close(server);
    middleware.firewall.close();
    rules.cleanup();
  });
  // fetch, not a raw socket that half-closes: Node drops the answer to a half-closed request that is
  // answered asynchronously, as every request counted in Redis is.
  const login = async (headers: Record<string, string> = {}): Promise<RawResponse> => {
    const res = await fetch(`http://127.0.0.1:${port}/login`, { method: 'POST', headers });
    return { status: res.status, headers: Object.fromEntries(res.headers), body: await res.text() };
  };
  return { port, clock, login, burst: (n, headers) => Promise.all(Array.from({ length: n }, () => login(headers))) };
}

const passed = (responses: RawResponse[]) => responses.filter((r) => r.status === 200).length;

/**
 * The attack on a two-window estimate: a burst just before a fixed-window edge, one just after, one just
 * before the first is a window old, then one when it is. Exactly 5 get through in each 60 s.
 */
async function edgeBursts(app: App): Promise<void> {
  app.clock.now = T0 + W - 1;
  const first = await app.burst(20);
  assert.equal(passed(first), 5, 'the burst before the edge: exactly 5 of 20 through');
  for (const r of first.filter((x) => x.status !== 200)) assert.equal(r.status, 429);

  app.clock.now = T0 + W + 1;
  const afterEdge = await app.burst(20);
  assert.equal(passed(afterEdge), 0, 'just after the edge: none (a fixed window would let 5 more through)');
  const refused = afterEdge[0];
  assert.equal(refused.headers['retry-after'], '60', 'Retry-After: until the first of the 5 leaves the window (59.998 s)');

  app.clock.now = T0 + 2 * W - 2;
  assert.equal(passed(await app.burst(20)), 0, 'one millisecond before the first burst is a window old: none (an estimate lets 4 through)');

  app.clock.now = T0 + 2 * W - 1;
  assert.equal(passed(await app.burst(20)), 5, 'a window after the first burst: 5 again');
}

describe('rate-limit attacks on Express, in process', () => {
  test('bursts of 20 concurrent POST /login around a window edge get exactly 5 through per 60 s (5 per 60s rule)', async () => {
    await edgeBursts(await loginApp());
  });

  test('rotating through addresses of one IPv6 /64 shares one budget of 5 (5 per 60s on POST /login)', async () => {
    const app = await loginApp({ trustedProxies: ['127.0.0.1'] });
    const through = await Promise.all(Array.from({ length: 30 }, (_, i) => app.login({ 'x-forwarded-for': `2001:db8:7:7:${i.toString(16)}::${i + 1}` })));
    assert.equal(passed(through), 5);
    assert.equal((await app.login({ 'x-forwarded-for': '2001:db8:7:8::1' })).status, 200, 'the next /64 is another client');
  });

  test('a client that keeps knocking after being refused is not counted, and gets in when its oldest request is a window old', async () => {
    const app = await loginApp();
    app.clock.now = T0 + 10;
    assert.equal(passed(await app.burst(5)), 5);
    for (let t = T0 + 1_000; t < T0 + W + 10; t += 5_000) {
      app.clock.now = t;
      assert.equal((await app.login()).status, 429, `knock at +${t - T0}`);
    }
    app.clock.now = T0 + W + 10;
    assert.equal(passed(await app.burst(3)), 3, 'refused knocks did not extend the lock-out');
  });
});

describe('rate-limit attacks on Express, counters shared in Redis', () => {
  let redis: Redis;
  withTestRedis((client) => { redis = client; });

  test('bursts of 20 concurrent POST /login around a window edge get exactly 5 through per 60 s, on two app instances sharing Redis', async () => {
    const prefix = uniquePrefix();
    // The client clock, so the windows follow the injected time; budget high enough for a loaded machine.
    const store = () => new RedisRateLimitStore({ redis, prefix, clock: 'client', budgetMs: 10_000, cooldownMs: 0 });
    const a = await loginApp({ rateLimitStore: store() });
    const b = await loginApp({ rateLimitStore: store() });
    const both: App = {
      port: a.port,
      clock: { set now(t: number) { a.clock.now = t; b.clock.now = t; }, get now() { return a.clock.now; } },
      login: (headers) => a.login(headers),
      // Half the burst to each instance: one shared budget.
      burst: async (n, headers) => [...(await Promise.all([a.burst(n / 2, headers), b.burst(n / 2, headers)]))].flat(),
    };
    await edgeBursts(both);
  });
});
