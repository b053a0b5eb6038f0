// The Redis rate-limit store against a real redis-server: the Lua script is an exact sliding log (never
// more than N in any window, never a refusal while fewer than N were counted, Retry-After exact: property
// on an injected clock) and answers exactly as the in-process store, Redis's own clock and key expiry,
// counters of earlier versions replaced, the EVALSHA → EVAL fallback, and an engine on the
// shared store deciding exactly as one on the in-process store (IPv6 /64 grouping, monitor rules, order).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { Redis } from 'ioredis';
import { MemoryRateLimitStore, type Decision, type Engine } from '../src/index.js';
import { RedisRateLimitStore } from '../src/ratelimit/redis.js';
import { engineFor, rateLimit, withTmpDir } from './helpers/engine-kit.js';
import { uniquePrefix, withTestRedis } from './helpers/ratelimit-kit.js';
import { arrivals, SlidingLogOracle } from './helpers/sliding-log-oracle.js';

const W = 60_000;
const T0 = 1_000 * W; // a window boundary

let redis: Redis;
withTestRedis((client) => { redis = client; });

/** A store on the injected clock, with a budget no loaded test machine will exceed. */
function clientClockStore(): RedisRateLimitStore {
  return new RedisRateLimitStore({ redis, clock: 'client', budgetMs: 5_000, cooldownMs: 0, prefix: uniquePrefix() });
}

async function hit(store: RedisRateLimitStore, limit: number, now: number, client = 'c'): Promise<number> {
  const outcome = await store.hitAll([{ rule: 'r', client, limit, windowMs: W, stop: true }], now);
  assert.equal(outcome.fallback, null, 'Redis answered');
  return outcome.waits[0];
}

describe('sliding log in Redis', () => {
  test('N in one window length, never 2N-1 across a fixed-window edge; Retry-After is exactly the time until a slot frees', async () => {
    const s = clientClockStore();
    for (let i = 0; i < 5; i++) assert.equal(await hit(s, 5, T0 + W - 10 + i), 0, `request ${i}`);
    assert.equal(await hit(s, 5, T0 + W - 1), W - 9, 'the sixth waits until the first leaves the window');
    for (let t = T0 + W; t < T0 + 2 * W - 10; t += 4_999) assert.ok((await hit(s, 5, t)) > 0, `refused at +${t - T0 - W}`);
    assert.equal(await hit(s, 5, T0 + 2 * W - 11), 1, 'one millisecond early is still refused');
    assert.equal(await hit(s, 5, T0 + 2 * W - 10), 0, 'waiting the returned time is enough');
    assert.equal(await hit(s, 5, T0 + 2 * W - 10), 1, 'the next slot frees one millisecond later');
  });

  test('never more than N in any window, counted whenever fewer than N before it, same answers as in process (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 6 }), arrivals(3, 40, W / 3), async (limit, steps) => {
        const memory = new MemoryRateLimitStore();
        const shared = clientClockStore();
        const oracle = new SlidingLogOracle(limit, W);
        for (const { client, t } of steps) {
          const wait = await hit(shared, limit, t, String(client));
          oracle.record(client, t, wait);
          assert.equal(wait, memory.hit(`r|${client}`, limit, W, t), `t=${t} client=${client}: Redis and in-process agree`);
        }
        oracle.assertNeverOver();
      }),
      { numRuns: 40 },
    );
  });

  test('a client clock that steps back is counted at the newest time; a key of another type is replaced', async () => {
    const s = clientClockStore();
    assert.equal(await hit(s, 2, T0 + 5_000), 0);
    assert.equal(await hit(s, 2, T0 + 1_000), 0);
    assert.equal(await hit(s, 2, T0 + 2_000), W, 'both members leave at +65000');
    assert.equal(await hit(s, 2, T0 + 65_000), 0);
    // An earlier Moat kept a hash under the same key: the first request replaces it instead of failing.
    const old = clientClockStore();
    await redis.hset(old.keyOf({ rule: 'r', client: 'c' }), 's', 0, 'c', 9, 'p', 9);
    assert.equal(await hit(old, 1, T0), 0);
    assert.ok((await hit(old, 1, T0 + 1)) > 0);
  });

  test('on the server clock (default) windows follow Redis TIME, whatever the caller passes; keys expire', async () => {
    const prefix = uniquePrefix();
    const store = new RedisRateLimitStore({ redis, prefix, budgetMs: 5_000 });
    const serverMs = async () => { const [s, us] = await redis.time(); return Number(s) * 1000 + Math.floor(Number(us) / 1000); };
    const before = await serverMs();
    const outcome = await store.hitAll([{ rule: 'r', client: 'c', limit: 3, windowMs: 10_000, stop: true }], 0);
    const after = await serverMs();
    assert.deepEqual(outcome, { waits: [0], fallback: null });
    const key = store.keyOf({ rule: 'r', client: 'c' });
    assert.equal(key, `${prefix}{c}:r`);
    const [member, score] = await redis.zrange(key, 0, -1, 'WITHSCORES');
    assert.ok(Number(score) >= before && Number(score) <= after, `counted at ${score}, on Redis's clock`);
    assert.match(member, /^[\w-]+:1$/, 'a member named by the call (so a count can be taken back), not by its time');
    const ttl = await redis.pttl(key);
    assert.ok(ttl > 0 && ttl <= 10_000, `expires one window after the newest request (pttl ${ttl})`);
  });

  test('after SCRIPT FLUSH the script is sent again once (EVALSHA, then EVAL on NOSCRIPT)', async () => {
    const s = clientClockStore();
    await redis.script('FLUSH');
    assert.equal(await hit(s, 2, T0), 0);
    assert.equal(s.stats().scriptLoads, 1);
    assert.equal(await hit(s, 2, T0 + 1), 0);
    assert.ok((await hit(s, 2, T0 + 2)) > 0);
    assert.deepEqual(s.stats(), { calls: 3, answered: 3, timeouts: 0, errors: 0, skipped: 0, scriptLoads: 1, recoveries: 0 });
  });

  test('rejects bad options with a clear error', () => {
    assert.throws(() => new RedisRateLimitStore({} as never), /needs \{ redis \}/);
    assert.throws(() => new RedisRateLimitStore({ redis, budgetMs: 0 }), /budgetMs must be a positive/);
    assert.throws(() => new RedisRateLimitStore({ redis, clock: 'local' as never }), /clock must be/);
  });
});

describe('an engine on the shared store', () => {
  /** Settles like the firewall does: evaluate synchronously, count in Redis only when something is pending. */
  async function judge(engine: Engine, ip: string, path: string, method = 'GET'): Promise<Decision> {
    const d = engine.evaluate({ ip, path, method });
    return d.pendingRateLimits === undefined ? d : engine.settleRateLimits(d);
  }

  test('decides exactly as the in-process engine: /64 grouping, exact and prefix rules, methods, monitor rules', () =>
    withTmpDir(async (dir) => {
      const rules = [
        rateLimit('/login', 2, '1m', { id: 'login', method: 'POST' }),
        rateLimit('/api/*', 3, '1m', { id: 'api' }),
        rateLimit('/api/search', 1, '1m', { id: 'search-mon', mode: 'monitor' }),
      ];
      let now = T0 + 5;
      const clock = () => now;
      const store = clientClockStore();
      const local = engineFor(dir, rules, { now: clock });
      const shared = engineFor(dir, rules, { now: clock, sharedRateLimits: store });
      const clients = ['2001:db8:1:2::1', '2001:db8:1:2:ffff::9', '2001:db8:1:3::1', '192.0.2.1', '192.0.2.2'];
      const requests: [string, string][] = [['POST', '/login'], ['GET', '/login'], ['GET', '/api/search'], ['GET', '/api/x'], ['GET', '/other']];
      const blockedBy = new Set<string>();
      for (let i = 0; i < 60; i++) {
        now += 700;
        const ip = clients[(i * 7) % clients.length];
        const [method, path] = requests[(i * 3 + (i >> 2)) % requests.length];
        const a = local.evaluate({ ip, path, method });
        const b = await judge(shared, ip, path, method);
        assert.deepEqual(b, a, `request ${i}: ${method} ${path} from ${ip}`);
        if (a.treatment === 'Blocked') blockedBy.add(a.ruleId!);
      }
      assert.deepEqual([...blockedBy].sort(), ['api', 'login'], 'the sequence exercised both block rules');
      // One counter per /64: the two addresses of 2001:db8:1:2::/64 share a key, 2001:db8:1:3:: has its own.
      const keys = await redis.keys(`${store.keyOf({ rule: 'api', client: '*' })}`);
      const v6 = keys.filter((k) => k.includes('::')).length;
      assert.equal(v6, 2, `IPv6 keys: ${keys.join(' ')}`);
      local.close();
      shared.close();
    }));

  test('a request that matches no rate-limit rule is decided synchronously, without Redis', () =>
    withTmpDir(async (dir) => {
      const store = clientClockStore();
      const engine = engineFor(dir, [rateLimit('/login', 1, '1m')], { sharedRateLimits: store });
      const d = engine.evaluate({ ip: '192.0.2.1', path: '/home', method: 'GET' });
      assert.equal(d.pendingRateLimits, undefined);
      assert.equal(d.treatment, 'Passed');
      assert.equal(store.stats().calls, 0);
      const pending = engine.evaluate({ ip: '192.0.2.1', path: '/login', method: 'GET' });
      assert.equal(pending.pendingRateLimits?.hits.length, 1);
      engine.close();
    }));
});
