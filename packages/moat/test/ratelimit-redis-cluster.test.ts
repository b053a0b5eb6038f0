// The Redis rate-limit store on a real Redis Cluster: three redis-server masters on 127.0.0.1 joined by
// `redis-cli --cluster create` (scripts/ensure-redis-cluster.sh), two ioredis `Cluster` clients with the
// options docs/deploy.md gives (two app processes), and a plain connection to each master to look at what
// every node holds. Every key of one client lives in one slot (`{client}`), a request's hits are split by
// slot, and nothing here (but the frozen node at the end) may end in CROSSSLOT, a lost count or a fallback
// to local counting: two firewalls share one limit (429 and Retry-After as on one Redis), many clients
// spread over all three nodes are each counted exactly, a request whose counters live on three nodes is
// counted (and taken back) on each, the cap on keyed counters per IP holds cluster-wide, a node without
// the script gets it (NOSCRIPT → EVAL on that node), a slot moved to another node is followed (MOVED),
// and a frozen node's command is given up after the commandTimeout the options hand each node. Windows
// run on an injected clock (`clock: 'client'`); nothing asserts a speed.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { Redis, type Cluster } from 'ioredis';
import { createFirewall, normalizeRule, writeRulesFile, type Rule } from '../src/index.js';
import { withMoat } from '../src/adapters/node.js';
import type { RateLimitHit } from '../src/engine/shared-rate-limit-store.js';
import { RedisRateLimitStore, type RateLimitStoreError, type RedisRateLimitStoreOptions, type RedisScriptClient } from '../src/ratelimit/redis.js';
import { rateLimit, withTmpDir } from './helpers/engine-kit.js';
import { connectCluster, startTestRedisCluster, uniquePrefix, type TestRedisCluster } from './helpers/ratelimit-kit.js';

const W = 60_000;
const T0 = 1_000 * W;

let server: TestRedisCluster | undefined;
/** Two clients of the cluster, as two app processes would each have. */
let a: Cluster;
let b: Cluster;
/** One plain connection per master (not through the cluster client): what each node itself holds. */
let direct: Redis[] = [];
/** Slot → index of its master in `direct`, as CLUSTER SLOTS says (read again after a slot moves). */
let owner: number[] = [];

async function readSlots(): Promise<void> {
  const ports = server!.nodes.map((n) => n.port);
  const slots = await direct[0]!.cluster('SLOTS') as unknown as [number, number, [string, number, string]][];
  owner = new Array<number>(16_384).fill(-1);
  for (const [first, last, [host, port]] of slots) {
    assert.equal(host, '127.0.0.1', 'the cluster announces loopback addresses only');
    for (let s = first; s <= last; s++) owner[s] = ports.indexOf(port);
  }
  assert.ok(owner.every((n) => n >= 0), 'every slot is served by one of the three masters');
}

before(async () => {
  server = startTestRedisCluster();
  direct = server.nodes.map((n) => new Redis(n.port, n.host, { lazyConnect: true, maxRetriesPerRequest: 1 }));
  await Promise.all(direct.map((r) => r.connect()));
  a = await connectCluster(server.nodes);
  b = await connectCluster(server.nodes);
  await readSlots();
});

after(() => {
  a?.disconnect();
  b?.disconnect();
  for (const r of direct) r.disconnect();
  server?.stop();
});

function store(redis: RedisScriptClient, prefix: string, extra: Partial<RedisRateLimitStoreOptions> = {}): RedisRateLimitStore {
  return new RedisRateLimitStore({ redis, prefix, clock: 'client', budgetMs: 5_000, cooldownMs: 0, logger: false, ...extra });
}

const slotOf = async (key: string): Promise<number> => direct[0]!.cluster('KEYSLOT', key);
const nodeOf = async (key: string): Promise<number> => owner[await slotOf(key)]!;

/** The keys under `prefix` each master holds (SCAN on its own connection). */
async function keysByNode(prefix: string): Promise<string[][]> {
  return Promise.all(direct.map(async (r) => {
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await r.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      keys.push(...batch);
      cursor = next;
    } while (cursor !== '0');
    return keys.sort();
  }));
}

/** A count of INFO errorstats on one master (`MOVED`, `NOSCRIPT`, `CROSSSLOT`). */
async function errorCount(node: number, kind: string): Promise<number> {
  const info = await direct[node]!.info('errorstats');
  return Number(new RegExp(`^errorstat_${kind}:count=(\\d+)`, 'm').exec(info)?.[1] ?? 0);
}

/** The CROSSSLOT errors all three masters ever answered. */
async function crossSlotErrors(): Promise<number> {
  let sum = 0;
  for (let i = 0; i < direct.length; i++) sum += await errorCount(i, 'CROSSSLOT');
  return sum;
}

/** The first `{tag}` of the form `${stem}${n}` whose slot is on `node`. */
async function tagOn(node: number, stem: string): Promise<string> {
  for (let n = 0; n < 1_000; n++) if (await nodeOf(`{${stem}${n}}`) === node) return `${stem}${n}`;
  throw new Error(`no ${stem}… on node ${node}`);
}

const perIp = (rule: string, ip: string, limit: number): RateLimitHit => ({ rule, client: ip, by: 'ip', ip, limit, windowMs: W, stop: true });
const keyed = (rule: string, client: string, ip: string, limit: number, by: 'header' | 'cookie' = 'header'): RateLimitHit =>
  ({ rule, client, by, ip, limit, windowMs: W, stop: true });

/** An app server behind a firewall counting in the cluster through `redis`, on the shared clock `now`. */
async function app(redis: Cluster, rules: string, prefix: string, now: () => number) {
  const shared = store(redis, prefix);
  const firewall = createFirewall({ rules, rateLimitStore: shared, trustedProxies: [], logger: false, now });
  const srv = http.createServer(withMoat((_req, res) => { res.end('ok'); }, firewall));
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as AddressInfo).port;
  return {
    store: shared, firewall,
    get: async (urlPath: string, headers: Record<string, string> = {}) => {
      const res = await fetch(`http://127.0.0.1:${port}${urlPath}`, { headers });
      await res.text();
      return { status: res.status, retryAfter: res.headers.get('retry-after') };
    },
    close: async () => {
      srv.closeAllConnections();
      await new Promise<void>((resolve) => srv.close(() => resolve()));
      firewall.close();
    },
  };
}

describe('the Redis rate-limit store on a three-node Redis Cluster', () => {
  test('the cluster: three masters, every slot served, the clients connected to it', async () => {
    assert.equal(direct.length, 3);
    assert.deepEqual(new Set(owner).size, 3, 'each master serves slots');
    for (const r of direct) assert.match(await r.cluster('INFO'), /^cluster_state:ok/m);
    assert.deepEqual([a.status, b.status], ['ready', 'ready']);
    assert.equal(a.nodes('master').length, 3, 'the client found all three masters');
  });

  test('two firewalls, each with its own Cluster client, share one limit: the 4th request of 3 a minute is refused, with Retry-After', () =>
    withTmpDir(async (dir) => {
      const rules = path.join(dir, 'rules.db');
      writeRulesFile([rateLimit('/login', 3, '1m', { id: 'login' })], rules);
      const prefix = uniquePrefix();
      let now = T0;
      const apps = [await app(a, rules, prefix, () => now), await app(b, rules, prefix, () => now)];
      try {
        const at = async (t: number, i: number, urlPath = '/login') => { now = t; return apps[i]!.get(urlPath); };
        assert.equal((await at(T0, 0)).status, 200);
        assert.equal((await at(T0 + 1_000, 1)).status, 200);
        assert.equal((await at(T0 + 2_000, 0)).status, 200);
        // 57.5 s until the first request leaves the window.
        assert.deepEqual(await at(T0 + 2_500, 1), { status: 429, retryAfter: '58' });
        assert.deepEqual(await at(T0 + 30_000, 0), { status: 429, retryAfter: '30' });
        assert.deepEqual(await at(T0 + 30_000, 1, '/home'), { status: 200, retryAfter: null }, 'no rate-limit rule: no Redis');
        assert.equal((await at(T0 + W, 1)).status, 200, 'a window after the first request a slot is free again');
        assert.deepEqual(await at(T0 + W + 1, 0), { status: 429, retryAfter: '1' }, '999 ms until the second leaves: Retry-After rounds up');
        const fw = apps.map((x) => x.firewall.stats());
        assert.deepEqual(fw.map((s) => s.rateLimitFallbacks), [0, 0], 'the cluster answered every time');
        assert.equal(fw[0]!.rateLimited + fw[1]!.rateLimited, 3);
        assert.deepEqual(apps.map((x) => [x.store.stats().answered, x.store.stats().errors]), [[4, 0], [3, 0]]);
        // One counter (the engine names 127.0.0.1 by its number), on the master that owns its slot, on no other.
        const held = await keysByNode(prefix);
        const [key] = held.flat();
        assert.match(key ?? '', /^moat-test:\w+:\{\w+\}:login$/);
        const home = await nodeOf(key!);
        held.forEach((keys, n) => assert.deepEqual(keys, n === home ? [key] : [], `node ${n}`));
        assert.equal(await direct[home]!.zcard(key!), 3);
      } finally {
        for (const x of apps) await x.close();
      }
    }));

  test('150 client addresses, spread over all three masters, through both clients at once: each counted exactly, no CROSSSLOT, no count lost', async () => {
    const prefix = uniquePrefix();
    const stores = [store(a, prefix), store(b, prefix)];
    const clients = [
      ...Array.from({ length: 120 }, (_, i) => `198.51.${i >> 6}.${i & 63}`),
      ...Array.from({ length: 30 }, (_, i) => `2001:db8:${i.toString(16)}::`),
    ];
    const crossSlotBefore = await crossSlotErrors();
    const failures: string[] = [];
    // Every client's four requests in order, alternating between the two clients; all clients at once.
    const waits = await Promise.all(clients.map(async (ip, c) => {
      const mine: number[] = [];
      for (let r = 0; r < 4; r++) {
        const outcome = await stores[(c + r) % 2]!.hitAll([perIp('api', ip, 3)], T0 + r * 1_000);
        if (outcome.fallback !== null) failures.push(`${ip} #${r}: ${outcome.fallback.message}`);
        mine.push(outcome.waits[0]!);
      }
      return mine;
    }));
    assert.deepEqual(failures, [], 'the cluster answered every request');
    waits.forEach((w, c) => assert.deepEqual(w, [0, 0, 0, W - 3_000], `client ${clients[c]}: three pass, the fourth waits until the first leaves`));
    const held = await keysByNode(prefix);
    const expected: string[][] = [[], [], []];
    for (const ip of clients) {
      const key = stores[0]!.keyOf({ rule: 'api', client: ip });
      expected[await nodeOf(key)]!.push(key);
    }
    assert.deepEqual(held, expected.map((keys) => keys.sort()), 'each counter is on the master of its slot, one per client');
    assert.ok(held.every((keys) => keys.length >= 10), `every master holds counters: ${held.map((k) => k.length).join(' / ')}`);
    for (const [n, keys] of held.entries()) {
      for (const key of keys) assert.equal(await direct[n]!.zcard(key), 3, `${key}: three counted, the refused one not`);
    }
    const stats = stores.map((s) => s.stats());
    assert.equal(stats[0]!.answered + stats[1]!.answered, 600);
    assert.deepEqual(stats.map((s) => s.errors + s.timeouts + s.skipped), [0, 0]);
    assert.equal(await crossSlotErrors(), crossSlotBefore, 'no master answered CROSSSLOT');
  });

  test('a request whose counters live on three masters (per-IP and keyed rules): one script call per slot, each counted on its own node, a refusal taken back across nodes', async () => {
    const prefix = uniquePrefix();
    const ip = await tagOn(0, '203.0.113.');
    const keyA = await tagOn(1, 'k:aaa');
    const keyB = await tagOn(2, 'k:bbb');
    const calls: { keys: string[] }[] = [];
    const recording: RedisScriptClient = {
      get status() { return a.status; },
      evalsha: (sha, numKeys, ...args) => { calls.push({ keys: args.slice(0, numKeys).map(String) }); return a.evalsha(sha, numKeys, ...args); },
      eval: (script, numKeys, ...args) => a.eval(script, numKeys, ...args),
    };
    const stores = [store(recording, prefix), store(b, prefix)];
    const hits = [perIp('login', ip, 10), keyed('api', keyA, ip, 10), keyed('session', keyB, ip, 10, 'cookie'), perIp('burst', ip, 10)];
    for (let i = 0; i < 4; i++) assert.deepEqual(await stores[i % 2]!.hitAll(hits, T0 + i), { waits: [0, 0, 0, 0], fallback: null });
    assert.equal(calls.length, 6, 'three calls a request through the recording client: the IP (with its keyed-counter index), key A, key B');
    const nodesOfCalls = new Set<number>();
    for (const call of calls) {
      const slots = new Set(await Promise.all(call.keys.map(slotOf)));
      assert.equal(slots.size, 1, `one slot per call: ${call.keys.join(' ')}`);
      nodesOfCalls.add(owner[[...slots][0]!]!);
    }
    assert.deepEqual([...nodesOfCalls].sort(), [0, 1, 2], 'the calls of one request went to all three masters');
    for (const [n, hit] of [[0, hits[0]!], [1, hits[1]!], [2, hits[2]!], [0, hits[3]!]] as const) {
      assert.equal(await direct[n]!.zcard(stores[0]!.keyOf(hit)), 4, `${hit.rule} counted every request on node ${n}`);
    }
    const index = stores[0]!.indexKeyOf('api', ip);
    assert.deepEqual(await direct[0]!.zrange(index, 0, -1), [stores[0]!.keyOf(hits[1]!)], 'the IP\'s index of keyed counters is on the IP\'s node');

    // A keyed rule first (key A, node 1) allowing 1, then a per-IP rule (node 0) allowing 10: the second
    // request is refused on node 1, and the count node 0 already made for it is taken back.
    const ordered = [keyed('api2', keyA, ip, 1), perIp('login2', ip, 10)];
    assert.deepEqual(await stores[0]!.hitAll(ordered, T0), { waits: [0, 0], fallback: null });
    assert.deepEqual(await stores[1]!.hitAll(ordered, T0 + 1), { waits: [W - 1], fallback: null });
    // Through client b, the one that sent the take-back: Redis runs it before this read.
    assert.equal(await b.zcard(stores[1]!.keyOf(ordered[1]!)), 1, 'the refused request is not counted by the rule after the refusing one');
  });

  test('firewalls with a keyed rule (x-api-key) stacked on a per-IP one: keys on several masters, each limited, Retry-After, refused requests taken back on the IP\'s node', () =>
    withTmpDir(async (dir) => {
      const rules = path.join(dir, 'rules.db');
      // The engine orders rules by id: `by-key` (the keyed rule) comes first, so a request it refuses is not
      // counted by `per-ip`, whose count (made first, on the IP's master) is taken back.
      const perKey: Rule = normalizeRule({ id: 'by-key', action: 'block', kind: 'rateLimit', value: '/api', rateLimit: { path: '/api', limit: 2, window: '1m', key: 'header:x-api-key' } });
      writeRulesFile([perKey, rateLimit('/api', 100, '1m', { id: 'per-ip' })], rules);
      const prefix = uniquePrefix();
      let now = T0;
      const apps = [await app(a, rules, prefix, () => now), await app(b, rules, prefix, () => now)];
      try {
        for (let k = 0; k < 8; k++) {
          const got = [];
          for (let r = 0; r < 3; r++) {
            now = T0 + k * 3_000 + r * 1_000;
            got.push(await apps[(k + r) % 2]!.get('/api', { 'x-api-key': `key-${k}` }));
          }
          assert.deepEqual(got.map((g) => g.status), [200, 200, 429], `key-${k}`);
          assert.equal(got[2]!.retryAfter, '58', 'until the key\'s first request leaves the window');
        }
        assert.deepEqual(apps.map((x) => x.firewall.stats().rateLimitFallbacks), [0, 0]);
        const held = (await keysByNode(prefix)).map((keys) => keys.filter((k) => k.includes('{k:')));
        assert.equal(held.flat().length, 8, 'one counter per API key');
        assert.ok(held.filter((keys) => keys.length > 0).length >= 2, `the keyed counters are on several masters: ${held.map((k) => k.length).join(' / ')}`);
        // Each client has sent its take-backs before its last answer; a read through each orders after them.
        const ipKey = (await keysByNode(prefix)).flat().find((k) => k.endsWith(':per-ip'))!;
        await Promise.all([a.zcard(ipKey), b.zcard(ipKey)]);
        assert.equal(await direct[await nodeOf(ipKey)]!.zcard(ipKey), 16, 'the per-IP rule counts the 16 requests that passed, not the 8 the keyed rule refused');
      } finally {
        for (const x of apps) await x.close();
      }
    }));

  test('keyed counters per client IP (maxKeysPerClient) are capped cluster-wide, with counters on every master and both clients rotating keys', async () => {
    const prefix = uniquePrefix();
    const ip = '192.0.2.77';
    const stores = [store(a, prefix, { maxKeysPerClient: 5 }), store(b, prefix, { maxKeysPerClient: 5 })];
    const waits: number[] = [];
    for (let i = 0; i < 40; i++) {
      const outcome = await stores[i % 2]!.hitAll([keyed('api', `k:key${i}`, ip, 100)], T0 + i);
      assert.equal(outcome.fallback, null);
      waits.push(outcome.waits[0]!);
    }
    assert.deepEqual(waits.slice(0, 5), [0, 0, 0, 0, 0]);
    // Refused until the IP's oldest key (used at T0) leaves the window, whichever client asks.
    assert.deepEqual(waits.slice(5, 8), [W - 5, W - 6, W - 7]);
    assert.ok(waits.slice(5).every((w) => w > 0), 'no new key past the cap');
    // Another IP is not held back by this one's cap.
    assert.deepEqual(await stores[1]!.hitAll([keyed('api', 'k:other', '198.51.100.1', 100)], T0 + 100), { waits: [0], fallback: null });
    const held = await keysByNode(prefix);
    const counters = held.flat().filter((k) => k.includes('{k:')).sort();
    assert.deepEqual(counters, [...[0, 1, 2, 3, 4].map((i) => `${prefix}{k:key${i}}:api`), `${prefix}{k:other}:api`].sort());
    assert.ok(held.filter((keys) => keys.some((k) => k.includes('{k:key'))).length >= 2, `the five counters are on several masters: ${held.map((k) => k.length).join(' / ')}`);
    const index = stores[0]!.indexKeyOf('api', ip);
    assert.equal(await direct[await nodeOf(index)]!.zcard(index), 5, 'the IP\'s index, on its own node, holds the five');
    // A key already in use is still counted at the cap; a window later the IP's old keys are forgotten.
    assert.equal((await stores[0]!.hitAll([keyed('api', 'k:key2', ip, 100)], T0 + 200)).waits[0], 0);
    assert.equal((await stores[1]!.hitAll([keyed('api', 'k:late', ip, 100)], T0 + W + 10)).waits[0], 0);
  });

  test('a master without the script (new, or SCRIPT FLUSH) answers NOSCRIPT: the store sends it there with EVAL, once per node', async () => {
    const prefix = uniquePrefix();
    await Promise.all(direct.map((r) => r.script('FLUSH')));
    const s = store(a, prefix);
    const ips = [await tagOn(0, '10.9.0.'), await tagOn(1, '10.9.0.'), await tagOn(2, '10.9.0.')];
    const noscript = await Promise.all([0, 1, 2].map((n) => errorCount(n, 'NOSCRIPT')));
    for (let round = 0; round < 2; round++) {
      for (const ip of ips) assert.deepEqual(await s.hitAll([perIp('r', ip, 5)], T0 + round), { waits: [0], fallback: null });
    }
    assert.equal(s.stats().scriptLoads, 3, 'loaded once on each master, then EVALSHA found it on each');
    assert.deepEqual(await Promise.all([0, 1, 2].map((n) => errorCount(n, 'NOSCRIPT'))), noscript.map((c) => c + 1), 'each master said NOSCRIPT once');
    await direct[1]!.script('FLUSH');
    for (const ip of ips) assert.deepEqual(await s.hitAll([perIp('r', ip, 5)], T0 + 2), { waits: [0], fallback: null });
    assert.equal(s.stats().scriptLoads, 4, 'only the flushed master needed it again');
    for (const [n, ip] of ips.entries()) assert.equal(await direct[n]!.zcard(s.keyOf({ rule: 'r', client: ip })), 3);
  });

  test('a slot moved to another master while the clients still map it to the old one: MOVED is followed, the counts move with it, the new master gets the script', async () => {
    const prefix = uniquePrefix();
    const ip = await tagOn(0, '10.8.0.');
    const hit = perIp('login', ip, 5);
    const stores = [store(a, prefix), store(b, prefix)];
    for (let i = 0; i < 3; i++) assert.deepEqual(await stores[i % 2]!.hitAll([hit], T0 + i * 1_000), { waits: [0], fallback: null });
    // Move the IP's slot from master 0 to master 2 (as redis-cli --cluster reshard does), keys and all;
    // master 2 holds no script. The two clients are not told: their slot maps still say master 0.
    const slot = await slotOf(`{${ip}}`);
    const ids = await Promise.all(direct.map((r) => r.cluster('MYID')));
    await direct[2]!.cluster('SETSLOT', slot, 'IMPORTING', ids[0]!);
    await direct[0]!.cluster('SETSLOT', slot, 'MIGRATING', ids[2]!);
    for (let keys = await direct[0]!.cluster('GETKEYSINSLOT', slot, 100); keys.length > 0; keys = await direct[0]!.cluster('GETKEYSINSLOT', slot, 100)) {
      await direct[0]!.migrate('127.0.0.1', server!.nodes[2]!.port, '', 0, 10_000, 'KEYS', ...keys);
    }
    for (const n of [2, 0, 1]) await direct[n]!.cluster('SETSLOT', slot, 'NODE', ids[2]!);
    await direct[2]!.script('FLUSH');
    await readSlots();
    assert.equal(owner[slot], 2);
    const moved = await errorCount(0, 'MOVED');
    const loads = stores.map((s) => s.stats().scriptLoads);

    assert.deepEqual(await stores[0]!.hitAll([hit], T0 + 3_000), { waits: [0], fallback: null }, 'client a: redirected, counted on master 2');
    assert.deepEqual(await stores[1]!.hitAll([hit], T0 + 4_000), { waits: [0], fallback: null }, 'client b: redirected too');
    assert.deepEqual(await stores[0]!.hitAll([hit], T0 + 5_000), { waits: [W - 5_000], fallback: null }, 'the sixth is refused: the three counted on master 0 moved with the slot');
    assert.equal(await errorCount(0, 'MOVED'), moved + 2, 'each client was told MOVED once, then went to master 2 by itself');
    assert.deepEqual(stores.map((s, i) => s.stats().scriptLoads - loads[i]!), [1, 0], 'master 2 had no script: loaded there once (the second client found it)');
    assert.equal(await direct[2]!.zcard(stores[0]!.keyOf(hit)), 5);
    assert.equal(await direct[0]!.cluster('COUNTKEYSINSLOT', slot), 0);
    assert.deepEqual(stores.map((s) => s.stats().errors + s.stats().timeouts), [0, 0]);
  });

  test('a frozen master (SIGSTOP): the command held there is given up after commandTimeout (it reaches the node through redisOptions), the request counts locally, and shared counting resumes after SIGCONT', async () => {
    const prefix = uniquePrefix();
    // A budget far above commandTimeout (1 s): the fallback below can only come from the node's own timeout.
    const s = store(a, prefix, { budgetMs: 10_000 });
    const ip = await tagOn(1, '10.7.0.');
    const hit = perIp('login', ip, 5);
    assert.deepEqual(await s.hitAll([hit], T0), { waits: [0], fallback: null });
    const pid = Number(/^process_id:(\d+)/m.exec(await direct[1]!.info('server'))?.[1]);
    assert.ok(pid > 0);
    process.kill(pid, 'SIGSTOP');
    let frozen;
    try {
      frozen = await s.hitAll([hit], T0 + 1);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    assert.equal((frozen.fallback as RateLimitStoreError | null)?.reason, 'timeout');
    assert.equal(((frozen.fallback as RateLimitStoreError).cause as Error | undefined)?.message, 'Command timed out');
    assert.deepEqual(frozen.waits, [0], 'counted by the local limiter');
    assert.deepEqual(await s.hitAll([hit], T0 + 2), { waits: [0], fallback: null }, 'answered by the cluster again');
    assert.deepEqual([s.stats().timeouts, s.stats().recoveries, s.stats().errors], [1, 1, 0]);
  });
});
