// A Redis that stops answering without closing the connection (frozen: SIGSTOP, a stuck network) must
// not collect commands in the client, and a Redis not connected yet must not send requests to local
// counting for a whole cool-down. Real redis-server behind a TCP proxy that holds its replies back;
// everything is counted (commands sent, requests skipped), nothing timed.
import { once } from 'node:events';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import type { RateLimitHit } from '../src/engine/shared-rate-limit-store.js';
import { Problems } from '../src/firewall/problems.js';
import { RATE_LIMIT_REDIS_OPTIONS, RedisRateLimitStore, type RedisScriptClient } from '../src/ratelimit/redis.js';
import { HoldingProxy, connect, loginLimitFixture, redisTarget, uniquePrefix } from './helpers/ratelimit-kit.js';

const fixture = loginLimitFixture(3);
const HIT: RateLimitHit = { rule: 'login', client: '203.0.113.9', by: 'ip', limit: 1_000, windowMs: 60_000, stop: true };

/** The client, counting the script calls sent through it. */
function counting(client: Redis): RedisScriptClient & { sent: number } {
  const counted = {
    sent: 0,
    get status() { return client.status; },
    evalsha: (sha: string, n: number, ...args: (string | number)[]) => { counted.sent++; return client.evalsha(sha, n, ...args); },
    eval: (script: string, n: number, ...args: (string | number)[]) => { counted.sent++; return client.eval(script, n, ...args); },
  };
  return counted;
}

async function frozen(): Promise<{ proxy: HoldingProxy; redis: Redis }> {
  const proxy = new HoldingProxy(redisTarget(fixture.server.url));
  const redis = await connect(`redis://127.0.0.1:${await proxy.listen()}`);
  redis.on('error', () => {});
  await redis.script('LOAD', 'return 1'); // connected and answering before the freeze
  proxy.hold = true;
  return { proxy, redis };
}

test('after a cool-down one request probes a frozen Redis; the others stay local until it has its answer', async () => {
  const { proxy, redis } = await frozen();
  let clock = 0;
  const client = counting(redis);
  const store = new RedisRateLimitStore({ redis: client, prefix: uniquePrefix(), budgetMs: 20, cooldownMs: 1_000, now: () => clock, logger: false });
  try {
    assert.equal((await store.hitAll([HIT], 0)).fallback?.name, 'RateLimitStoreError');
    assert.equal(client.sent, 1);
    clock += 1_001; // the cool-down is over
    const outcomes = await Promise.all(Array.from({ length: 50 }, () => store.hitAll([HIT], 0)));
    assert.equal(client.sent, 2, 'one probe, not one command per request');
    assert.ok(outcomes.every((o) => o.fallback !== null));
    assert.deepEqual([store.stats().timeouts, store.stats().skipped], [2, 49]);
    await Promise.all(Array.from({ length: 10 }, () => store.hitAll([HIT], 0)));
    assert.equal(client.sent, 2, 'the probe found it frozen: a new cool-down');
  } finally {
    redis.disconnect();
    await proxy.close();
  }
});

test('without a cool-down, no more than 1000 script calls wait for a frozen Redis at once', async () => {
  const { proxy, redis } = await frozen();
  const client = counting(redis);
  const store = new RedisRateLimitStore({ redis: client, prefix: uniquePrefix(), budgetMs: 20, cooldownMs: 0, logger: false });
  try {
    const outcomes = await Promise.all(Array.from({ length: 1_200 }, () => store.hitAll([HIT], 0)));
    assert.ok(outcomes.every((o) => o.fallback !== null), 'every request answered locally');
    assert.equal(client.sent, 1_000);
    assert.deepEqual([store.stats().timeouts, store.stats().skipped], [1_000, 200]);
  } finally {
    redis.disconnect();
    await proxy.close();
  }
});

test('RATE_LIMIT_REDIS_OPTIONS: a command a frozen Redis never answers is given up (commandTimeout), not held', async () => {
  assert.equal(RATE_LIMIT_REDIS_OPTIONS.commandTimeout, 1_000);
  const { proxy, redis } = await frozen();
  try {
    const guard = new Promise<string>((resolve) => setTimeout(resolve, 10_000, 'still pending').unref());
    const settled = await Promise.race([redis.ping().then(() => 'answered', (e: Error) => e.message), guard]);
    assert.equal(settled, 'Command timed out');
  } finally {
    redis.disconnect();
    await proxy.close();
  }
});

test('not connected yet: the request counts locally, says so, and starts no cool-down', async () => {
  const redis = new Redis(fixture.server.url, RATE_LIMIT_REDIS_OPTIONS); // connecting, not ready
  redis.on('error', () => {});
  const store = new RedisRateLimitStore({ redis, prefix: uniquePrefix(), budgetMs: 5_000, now: () => 0, logger: false });
  try {
    const first = await store.hitAll([HIT], 0);
    assert.equal(first.fallback?.name, 'RateLimitStoreError');
    assert.match(first.fallback?.message ?? '', /not connected \(connecting\); counted in this process, no cool-down/);
    if (redis.status !== 'ready') await once(redis, 'ready');
    const second = await store.hitAll([HIT], 0);
    assert.equal(second.fallback, null, 'asked Redis at once (the injected clock never moves, so a cool-down would never end)');
    assert.deepEqual([store.stats().answered, store.stats().errors, store.stats().skipped], [1, 1, 0]);
    // The firewall's line says what happened, not "did not answer in time".
    const lines: string[] = [];
    const problems = new Problems({} as never, false, { error: (_o, message) => lines.push(message ?? ''), warn: () => {} }, 60_000, () => 0);
    problems.emit('rateLimitStore', first.fallback!);
    assert.equal(lines.length, 1);
    assert.match(lines[0]!, /^the shared rate-limit store did not count the request \(Redis is not connected \(connecting\)/);
  } finally {
    redis.disconnect();
  }
});
