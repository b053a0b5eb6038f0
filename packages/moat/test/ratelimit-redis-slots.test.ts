// The Redis store splits a request's hits by hash slot (a Redis Cluster refuses one script over keys of
// two slots: CROSSSLOT) and bounds what one client IP can make Redis hold: per-IP hits are counted
// before keyed ones, so an IP already refused makes no keyed counters, and each IP uses at most
// `maxKeysPerClient` keyed counters per rule (past them its new keys are refused; nothing is deleted). Real redis-server (standalone; the store on a
// real cluster is ratelimit-redis-cluster.test.ts), every script call's keys checked against the slot Redis Cluster would compute (CRC16).
import { createRequire } from 'node:module';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Redis } from 'ioredis';
import type { RateLimitHit } from '../src/engine/shared-rate-limit-store.js';
import { RedisRateLimitStore, type RedisScriptClient } from '../src/ratelimit/redis.js';
import { SLIDING_WINDOW_SHA1 } from '../src/ratelimit/sliding-window-script.js';
import { closedPort, connect, redisServer, uniquePrefix, withTestRedis } from './helpers/ratelimit-kit.js';

const keySlot = createRequire(import.meta.url)('cluster-key-slot') as (key: string) => number;

let redis: Redis;
withTestRedis((client) => { redis = client; });

const W = 60_000;
const T0 = 1_000 * W;
const IP = '203.0.113.9';

/** The store's client, recording the keys of every script call and optionally failing the next ones. */
function recording(client: Redis): RedisScriptClient & { calls: string[][]; failNext: string[] } {
  const calls: string[][] = [];
  const failNext: string[] = [];
  const record = (numKeys: number, args: (string | number)[]) => {
    calls.push(args.slice(0, numKeys).map(String));
    const fail = failNext.shift();
    return fail === undefined ? null : Promise.reject(new Error(fail));
  };
  return {
    calls, failNext,
    get status() { return client.status; },
    evalsha: (sha, numKeys, ...args) => record(numKeys, args) ?? client.evalsha(sha, numKeys, ...args),
    eval: (script, numKeys, ...args) => record(numKeys, args) ?? client.eval(script, numKeys, ...args),
  };
}

const perIp = (rule: string, limit: number): RateLimitHit => ({ rule, client: IP, by: 'ip', ip: IP, limit, windowMs: W, stop: true });
const keyed = (rule: string, key: string, limit: number, by: 'header' | 'cookie' = 'header'): RateLimitHit =>
  ({ rule, client: `k:${key}`, by, ip: IP, limit, windowMs: W, stop: true });

async function keysUnder(prefix: string): Promise<string[]> {
  return (await redis.keys(`${prefix}*`)).sort();
}

test('a request with per-IP and keyed hits: one script call per hash slot, each call in one slot, all counted', async () => {
  const client = recording(redis);
  const store = new RedisRateLimitStore({ redis: client, prefix: uniquePrefix(), clock: 'client', budgetMs: 5_000, logger: false });
  const hits = [perIp('login', 10), keyed('api', 'aaa', 10), keyed('session', 'bbb', 10, 'cookie'), perIp('burst', 10)];
  for (let i = 0; i < 3; i++) {
    assert.deepEqual(await store.hitAll(hits, T0 + i), { waits: [0, 0, 0, 0], fallback: null });
  }
  for (const keys of client.calls) {
    assert.equal(new Set(keys.map(keySlot)).size, 1, `one slot per call: ${keys.join(' ')}`);
  }
  assert.equal(client.calls.length - store.stats().scriptLoads, 9, 'three calls a request: the IP (with its keyed-counter index), key aaa, key bbb');
  for (const hit of hits) assert.equal(await redis.zcard(store.keyOf(hit)), 3, `${hit.rule} counted every request`);
  assert.deepEqual(store.stats(), { calls: 3, answered: 3, timeouts: 0, errors: 0, skipped: 0, scriptLoads: 1, recoveries: 0 });
});

test('CROSSSLOT is a bug, not an outage: that request counts locally, the next one asks Redis again', async () => {
  const client = recording(redis);
  const store = new RedisRateLimitStore({ redis: client, prefix: uniquePrefix(), clock: 'client', budgetMs: 5_000, now: () => 0, logger: false });
  client.failNext.push("CROSSSLOT Keys in request don't hash to the same slot");
  const first = await store.hitAll([perIp('login', 10)], T0);
  assert.match(first.fallback?.message ?? '', /CROSSSLOT/);
  assert.doesNotMatch(first.fallback?.message ?? '', /cool-down/);
  const second = await store.hitAll([perIp('login', 10)], T0 + 1);
  assert.equal(second.fallback, null, 'no cool-down (the injected clock never moves, so one would never end)');
  assert.equal(store.stats().skipped, 0);
});

test('stop at the first refusal in rule order across calls: a later rule that another call counted is taken back', async () => {
  const store = new RedisRateLimitStore({ redis, prefix: uniquePrefix(), clock: 'client', budgetMs: 5_000, logger: false });
  // The keyed rule comes first and allows 1; the per-IP rule after it (counted in the first round) allows 10.
  const hits = [keyed('api', 'aaa', 1), perIp('login', 10)];
  assert.deepEqual((await store.hitAll(hits, T0)).waits, [0, 0]);
  const refused = await store.hitAll(hits, T0 + 1);
  assert.equal(refused.waits.length, 1, 'the outcome ends at the refusing rule');
  assert.equal(refused.waits[0], W - 1);
  // Same connection, so Redis has run the take-back before this read.
  assert.equal(await redis.zcard(store.keyOf(hits[1]!)), 1, 'the refused request is not counted by the rule after the refusing one');
  // A per-IP refusal decides before any keyed counter is touched.
  const ipFirst = [keyed('api2', 'ccc', 10), perIp('login2', 1)];
  assert.deepEqual((await store.hitAll(ipFirst, T0)).waits, [0, 0]);
  assert.deepEqual((await store.hitAll(ipFirst, T0 + 1)).waits, [0, W - 1]);
  assert.equal(await redis.zcard(store.keyOf(ipFirst[0]!)), 1, 'the keyed rule did not count the request the per-IP rule refused');
});

test('an IP refused by a per-IP rule makes no keyed counters, however many keys it rotates', async () => {
  const prefix = uniquePrefix();
  const store = new RedisRateLimitStore({ redis, prefix, clock: 'client', budgetMs: 5_000, logger: false });
  // Rule order as a rules file would have it: the keyed limit, then the per-IP limit stacked on it.
  for (let i = 0; i < 50; i++) await store.hitAll([keyed('api', `key${i}`, 100), perIp('api-ip', 3)], T0 + i);
  const counters = (await keysUnder(prefix)).filter((k) => k.includes('{k:'));
  assert.equal(counters.length, 3, 'only the three requests the per-IP rule let through made a keyed counter');
});

test('keyed counters are capped per client IP and rule (maxKeysPerClient): past the cap its new keys are refused, none deleted', async () => {
  const prefix = uniquePrefix();
  const store = new RedisRateLimitStore({ redis, prefix, clock: 'client', budgetMs: 5_000, logger: false, maxKeysPerClient: 5 });
  const waits: number[] = [];
  for (let i = 0; i < 40; i++) waits.push((await store.hitAll([keyed('api', `key${i}`, 100)], T0 + i)).waits[0]!);
  assert.deepEqual(waits.slice(0, 5), [0, 0, 0, 0, 0]);
  // Refused until the IP's oldest key (used at T0) leaves the window.
  assert.deepEqual(waits.slice(5, 7), [W - 5, W - 6]);
  // Another IP's keyed counter is not touched by the rotator's cap.
  await store.hitAll([{ ...keyed('api', 'other', 100), ip: '198.51.100.1' }], T0 + 100);
  const counters = (await keysUnder(prefix)).filter((k) => k.includes('{k:'));
  assert.deepEqual(counters, [...[0, 1, 2, 3, 4].map((i) => `${prefix}{k:key${i}}:api`), `${prefix}{k:other}:api`].sort());
  assert.equal(await redis.zcard(store.indexKeyOf('api', IP)), 5);
  // A key already in use is still counted at the cap; a window later the IP's old keys are forgotten.
  assert.equal((await store.hitAll([keyed('api', 'key2', 100)], T0 + 200)).waits[0], 0);
  assert.equal((await store.hitAll([keyed('api', 'late', 100)], T0 + W + 10)).waits[0], 0);
  assert.throws(() => new RedisRateLimitStore({ redis, maxKeysPerClient: 0 }), /maxKeysPerClient/);
});

test('rotating keys past the cap cannot reset a counter others share: a victim account\'s budget survives', async () => {
  const prefix = uniquePrefix();
  const store = new RedisRateLimitStore({ redis, prefix, clock: 'client', budgetMs: 5_000, logger: false, maxKeysPerClient: 5 });
  const victim = keyed('login', 'victim', 5);
  // Three guesses at the victim's account from the attacker's own address, then 1,000 other usernames.
  for (let i = 0; i < 3; i++) assert.equal((await store.hitAll([victim], T0 + i)).waits[0], 0);
  for (let i = 0; i < 1000; i++) await store.hitAll([keyed('login', `user${i}`, 5)], T0 + 10 + i);
  assert.equal(await redis.zcard(store.keyOf(victim)), 3, 'the victim\'s counter still holds the three guesses');
  // And from another address the account has two guesses left, not five.
  const elsewhere = { ...victim, ip: '198.51.100.7' };
  const more = [];
  for (let i = 0; i < 3; i++) more.push((await store.hitAll([elsewhere], T0 + 2000 + i)).waits[0]! > 0);
  assert.deepEqual(more, [false, false, true]);
});

test('over maxmemory the script is refused before it writes anything (#!lua: Redis checks at start)', async () => {
  const port = await closedPort();
  const server = await redisServer(port);
  const own = await connect(`redis://127.0.0.1:${port}`);
  try {
    const prefix = uniquePrefix();
    const store = new RedisRateLimitStore({ redis: own, prefix, clock: 'client', budgetMs: 5_000, cooldownMs: 0, logger: false });
    const hit = perIp('login', 5);
    assert.equal((await store.hitAll([hit], T0)).fallback, null);
    await own.config('SET', 'maxmemory', '1');
    // W later the member counted at T0 has left the window: a script that ran would remove it first.
    const outcome = await store.hitAll([hit], T0 + W);
    assert.match(outcome.fallback?.message ?? '', /OOM/);
    await own.config('SET', 'maxmemory', '0');
    assert.equal(await own.zcard(store.keyOf(hit)), 1, 'nothing was written: the old member is still there');
  } finally {
    own.disconnect();
    server.kill();
  }
});

test('Redis before 7.0, which cannot compile the #!lua shebang: the store switches to the scripts without it and counts as before', async () => {
  // A real Redis 7 behind a client that answers as Redis 6 does to a shebang script (6 does not run here).
  const sent: string[] = [];
  const before7: RedisScriptClient = {
    get status() { return redis.status; },
    evalsha: (sha, numKeys, ...args) => (sha === SLIDING_WINDOW_SHA1 ? Promise.reject(new Error('NOSCRIPT No matching script.')) : redis.evalsha(sha, numKeys, ...args)),
    eval: (script, numKeys, ...args) => {
      sent.push(script.slice(0, 5));
      if (script.startsWith('#!')) return Promise.reject(new Error("ERR Error compiling script (new function): user_script:1: unexpected symbol near '#'"));
      return redis.eval(script, numKeys, ...args);
    },
  };
  const store = new RedisRateLimitStore({ redis: before7, prefix: uniquePrefix(), clock: 'client', budgetMs: 5_000, logger: false });
  const hits = [perIp('login', 2), keyed('api', 'aaa', 5)];
  const waits = [];
  for (let i = 0; i < 3; i++) {
    const outcome = await store.hitAll(hits, T0 + i);
    assert.equal(outcome.fallback, null, `request ${i}: answered by Redis`);
    waits.push(outcome.waits[0]! > 0);
  }
  assert.deepEqual(waits, [false, false, true], 'the third login is refused: shared counting works');
  assert.equal(sent.filter((s) => s.startsWith('#!')).length, 1, 'the shebang script was tried once, then never again');
  assert.equal(await redis.zcard(store.keyOf(hits[0]!)), 2);
});
