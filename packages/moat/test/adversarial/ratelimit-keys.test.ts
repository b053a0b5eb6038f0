// Attacks on rate limits keyed by a header, a cookie or the app's user id, on real apps on real sockets
// (Express, Fastify, a Web front door), in process and with the counters shared in a real redis-server:
// leaving the key out, re-encoding it, rotating it, and reading the counters for raw values. What keyed
// limits promise: each key gets its own budget (so users behind one NAT do not share one), a request
// without the key counts by IP (so omitting it never escapes), and only hashes are stored.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import express from 'express';
import Fastify from 'fastify';
import type { Redis } from 'ioredis';
import { moat as moatExpress } from '../../src/adapters/express.js';
import { moat as moatFastify } from '../../src/adapters/fastify.js';
import { Firewall } from '../../src/firewall/firewall.js';
import type { MoatOptions } from '../../src/firewall/options.js';
import { RedisRateLimitStore } from '../../src/ratelimit/redis.js';
import { close, listen, rulesFile } from '../adapters-helpers.js';
import { uniquePrefix, withTestRedis } from '../helpers/ratelimit-kit.js';

const T0 = 1_000 * 60_000;

/** The answers to `n` sequential GETs of `path` with `headers`. */
async function statuses(port: number, path: string, n: number, headers: (i: number) => Record<string, string> = () => ({})): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const res = await fetch(`http://127.0.0.1:${port}${path}`, { headers: headers(i) });
    await res.arrayBuffer();
    out.push(res.status);
  }
  return out;
}

const ok = (list: number[]) => list.filter((s) => s === 200).length;

async function expressApp(rateLimits: object[], extra: Partial<MoatOptions> = {}): Promise<{ port: number; firewall: Firewall }> {
  const rules = rulesFile({ rateLimits });
  const middleware = moatExpress({ rules: rules.path, logger: false, now: () => T0, ...extra });
  const app = express();
  app.use(middleware);
  app.get('/*splat', (_req, res) => { res.send('ok'); });
  const server = createServer(app);
  const port = await listen(server);
  after(async () => {
    await close(server);
    middleware.firewall.close();
    rules.cleanup();
  });
  return { port, firewall: middleware.firewall };
}

describe('header-keyed limits on Express', () => {
  const API = [{ id: 'api', path: '/api/*', limit: 3, window: '1m', key: 'header:x-api-key' }];

  test('two API keys behind one IP each get their own budget of 3 (3 per minute per X-Api-Key on /api/*)', async () => {
    const { port } = await expressApp(API);
    const alice = await statuses(port, '/api/items', 5, () => ({ 'x-api-key': 'alice-key' }));
    const bob = await statuses(port, '/api/items', 5, () => ({ 'x-api-key': 'bob-key' }));
    assert.deepEqual(alice, [200, 200, 200, 429, 429]);
    assert.deepEqual(bob, [200, 200, 200, 429, 429], 'bob is not limited by alice\'s requests from the same address');
  });

  test('leaving X-Api-Key out does not escape the limit: keyless requests share one budget per IP', async () => {
    const { port } = await expressApp(API);
    assert.deepEqual(await statuses(port, '/api/items', 5), [200, 200, 200, 429, 429]);
    assert.deepEqual(await statuses(port, '/api/items', 2, () => ({ 'x-api-key': '' })), [429, 429], 'an empty header is no header');
  });

  test('rotating the API key on every request is stopped by a per-IP limit stacked on the same path', async () => {
    const { port } = await expressApp([...API, { id: 'api-ip', path: '/api/*', limit: 10, window: '1m' }]);
    const rotating = await statuses(port, '/api/items', 30, (i) => ({ 'x-api-key': `stolen-${i}` }));
    assert.equal(ok(rotating), 10, 'the per-IP rule lets 10 through, whatever the keys');
    assert.deepEqual(rotating.slice(10), Array(20).fill(429));
  });

  test('the 429 decision names the key kind, never the key value', async () => {
    const seen: { key: string | undefined; text: string }[] = [];
    const { port } = await expressApp(API, { onDecision: (d) => { if (d.category === 'brl') seen.push({ key: d.rateLimitKey, text: JSON.stringify(d) }); } });
    await statuses(port, '/api/items', 4, () => ({ 'x-api-key': 'very-secret-key' }));
    await statuses(port, '/api/items', 4);
    assert.deepEqual(seen.map((s) => s.key), ['header', 'ip']);
    for (const s of seen) assert.doesNotMatch(s.text, /very-secret-key/);
  });
});

describe('cookie-keyed limits', () => {
  const CART = [{ id: 'cart', path: '/cart', limit: 2, window: '1m', key: 'cookie:session' }];

  test('re-encoding the session cookie (%61bc, "abc", another cookie order) does not buy a fresh budget on Express', async () => {
    const { port } = await expressApp(CART);
    const forms = ['session=abc', 'session=%61bc', 'session="abc"', 'theme=dark; session=abc', 'session=abc; session=zzz'];
    const answers = await statuses(port, '/cart', forms.length, (i) => ({ cookie: forms[i] }));
    assert.deepEqual(answers, [200, 200, 429, 429, 429]);
    assert.deepEqual(await statuses(port, '/cart', 3, () => ({ cookie: 'session=other-user' })), [200, 200, 429], 'another session has its own budget');
  });

  test('a cookie-keyed limit on Fastify: two sessions behind one IP each get 2; no cookie counts by IP', async () => {
    const rules = rulesFile({ rateLimits: CART });
    const app = Fastify();
    await app.register(moatFastify, { rules: rules.path, logger: false, now: () => T0 });
    app.get('/cart', async () => 'ok');
    await app.listen({ port: 0, host: '127.0.0.1' });
    after(async () => { await app.close(); rules.cleanup(); });
    const address = app.server.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    const port = address.port;
    assert.deepEqual(await statuses(port, '/cart', 3, () => ({ cookie: 'session=one' })), [200, 200, 429]);
    assert.deepEqual(await statuses(port, '/cart', 3, () => ({ cookie: 'session=two' })), [200, 200, 429]);
    assert.deepEqual(await statuses(port, '/cart', 3, () => ({ cookie: 'theme=dark' })), [200, 200, 429]);
  });
});

describe('user-keyed limits through the user option', () => {
  const ME = [{ id: 'me', path: '/me', limit: 2, window: '1m', key: 'user' }];

  test('two signed-in users behind one IP each get their own budget on Express; anonymous requests count by IP', async () => {
    const { port } = await expressApp(ME, { user: (req) => (req as { headers: Record<string, string | undefined> }).headers['x-test-user'] });
    assert.deepEqual(await statuses(port, '/me', 3, () => ({ 'x-test-user': 'u1' })), [200, 200, 429]);
    assert.deepEqual(await statuses(port, '/me', 3, () => ({ 'x-test-user': 'u2' })), [200, 200, 429]);
    assert.deepEqual(await statuses(port, '/me', 3), [200, 200, 429]);
  });

  test('a user() that throws cannot be used to escape: the request counts by IP and the error is a hook error', async () => {
    const errors: string[] = [];
    let calls = 0;
    const { port, firewall } = await expressApp(ME, {
      user: () => { calls++; throw new Error('session store down'); },
      onError: (e) => errors.push(e.kind),
    });
    assert.deepEqual(await statuses(port, '/me', 3), [200, 200, 429]);
    assert.equal(calls, 3);
    assert.deepEqual(errors, ['hook', 'hook', 'hook']);
    assert.equal(firewall.stats().hookErrors, 3);
  });

  test('user() is not called at all while no rule counts by user', async () => {
    let calls = 0;
    const { port } = await expressApp([{ path: '/me', limit: 2, window: '1m' }], { user: () => { calls++; return 'u'; } });
    await statuses(port, '/me', 3);
    assert.equal(calls, 0);
  });

  test('on a Web front door (Firewall.handle) the user option gets the Request', async () => {
    const rules = rulesFile({ rateLimits: ME });
    after(() => rules.cleanup());
    const firewall = new Firewall({ rules: rules.path, logger: false, now: () => T0, user: (req) => (req as Request).headers.get('x-test-user') ?? undefined });
    after(() => firewall.close());
    const status = async (user: string) => (await firewall.handle(new Request('http://app.test/me', { headers: { 'x-test-user': user } }), { ip: '203.0.113.5' }))?.status ?? 200;
    assert.deepEqual([await status('a'), await status('a'), await status('a'), await status('b')], [200, 200, 429, 200]);
  });
});

describe('header-keyed limits with counters shared in Redis', () => {
  let redis: Redis;
  withTestRedis((client) => { redis = client; });

  test('one API key spread over two app instances gets one budget of 3; Redis holds hashes, not the key', async () => {
    const prefix = uniquePrefix();
    const store = () => new RedisRateLimitStore({ redis, prefix, clock: 'client', budgetMs: 10_000, cooldownMs: 0 });
    const rateLimits = [{ id: 'api', path: '/api/*', limit: 3, window: '1m', key: 'header:x-api-key' }];
    const a = await expressApp(rateLimits, { rateLimitStore: store() });
    const b = await expressApp(rateLimits, { rateLimitStore: store() });
    const key = { 'x-api-key': 'sk_live_SECRET123' };
    const answers = [
      ...(await statuses(a.port, '/api/x', 2, () => key)),
      ...(await statuses(b.port, '/api/x', 2, () => key)),
    ];
    assert.deepEqual(answers, [200, 200, 200, 429]);
    assert.deepEqual(await statuses(b.port, '/api/x', 1, () => ({ 'x-api-key': 'another' })), [200]);
    assert.deepEqual(await statuses(a.port, '/api/x', 4), [200, 200, 200, 429], 'no key: one per-IP budget across both');
    const keys = await redis.keys(`${prefix}*`);
    // Two keyed counters, the per-IP counter (requests without a key), and the IP's index of the keyed
    // counters it used (the cap on keyed counters per IP).
    assert.equal(keys.length, 4, keys.join(' '));
    for (const k of keys) assert.doesNotMatch(k, /SECRET|another/);
    assert.equal(keys.filter((k) => /\{k:[A-Za-z0-9_-]{22}\}:api$/.test(k)).length, 2, keys.join(' '));
    const index = keys.find((k) => k.endsWith('#keyed:api'));
    assert.ok(index !== undefined, keys.join(' '));
    const indexed = await redis.zrange(index, 0, -1);
    assert.equal(indexed.length, 2, 'both keyed counters indexed');
    for (const name of indexed) assert.doesNotMatch(name, /SECRET|another/, 'the index names hashes too');
  });
});
