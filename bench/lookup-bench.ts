/**
 * Lookup-store benchmark (issue 7 §2): one IP-range question ("is this address in the list?") over the
 * same ranges (2.5 M: 2.0 M IPv4 + 0.5 M IPv6, every 50th IPv4 range a single address) answered by
 * Moat in memory, Moat light (one SQLite seek per lookup, no result cache: the 20,000 queries are spread over
 * the whole range set, so a cache could not flatter it anyway), the Wafris v2 SQLite encoding (the baseline), the Wafris v1
 * Redis design (sorted set with lexical ranges, a Lua script per lookup over EVALSHA, local redis-server)
 * and Node's net.BlockList (at a smaller size: it scans linearly). Each approach also answers a set of
 * queries of known answer (range starts, ends, singles, middles, and the addresses just outside), and
 * the missed true hits and false hits are counted per kind.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { BlockList } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadDataFile } from '../packages/moat/src/format/load-files.js';
import { tryParseIp } from '../packages/moat/src/ip/address.js';
import { parseIpInto } from '../packages/moat/src/ip/parse-into.js';
import { formatIp } from '../packages/moat/src/ip/address.js';
import type { IpRange } from '../packages/moat/src/ip/range.js';
import { measure, measureAsync, type Measurement } from './lib/measure.js';
import { buildSyntheticHere, specRanges } from './lib/synthetic-data-file.js';
import type { ClassifiedQuery, QueryKind } from './lib/synthetic.js';
import { WafrisRangeLookup, buildWafrisRangeDb } from './lib/wafris-baseline.js';

export interface LookupBenchOptions {
  quick?: boolean;
  /** Ranges for every store but net.BlockList (default 2,500,000; quick 10,000). */
  ranges?: number;
  /** Ranges for net.BlockList (default 100,000; quick 1,000). */
  blockListRanges?: number;
  /** Lookups per round for the in-process stores (default 200,000; quick 10,000). */
  ops?: number;
  rounds?: number;
  /** Skip Redis (e.g. when no redis-server can be had); the reason is reported. */
  redis?: boolean;
  log?: (s: string) => void;
}

export interface MissCount {
  /** Queries that should hit, and how many of them this approach missed. */
  expectedHits: number;
  missed: number;
  /** Queries that should not hit but did. */
  falseHits: number;
  missedByKind: Partial<Record<QueryKind, number>>;
}

export interface LookupRow {
  approach: string;
  ranges: number;
  m: Measurement;
  /** Wafris v2 ns / this ns at the same size (higher is better); for net.BlockList, Moat memory at its size / BlockList. */
  speedupVsWafrisV2?: number;
  /** For net.BlockList: its ns / Moat memory's ns at the same size. */
  slowerThanMoat?: number;
  misses?: MissCount;
  note?: string;
}

export interface LookupBenchResult {
  ranges: { total: number; ipv4: number; ipv6: number; singles: number; blockList: number };
  queries: { total: number; byKind: Partial<Record<QueryKind, number>> };
  files: { moatBytes: number; wafrisBytes: number; moatBuildS: number; wafrisBuildS: number; redisLoadS?: number; redisMemoryBytes?: number };
  rows: LookupRow[];
  /** Why the Redis row is missing, when it is. */
  redisSkipped?: string;
}

function countMisses(queries: ClassifiedQuery[], hit: (ip: string) => boolean): MissCount {
  const c: MissCount = { expectedHits: 0, missed: 0, falseHits: 0, missedByKind: {} };
  for (const q of queries) {
    const h = hit(q.ip);
    if (q.expected) {
      c.expectedHits++;
      if (!h) { c.missed++; c.missedByKind[q.kind] = (c.missedByKind[q.kind] ?? 0) + 1; }
    } else if (h) c.falseHits++;
  }
  return c;
}

async function countMissesAsync(queries: ClassifiedQuery[], hit: (ip: string) => Promise<boolean>): Promise<MissCount> {
  const answers = new Map<string, boolean>();
  for (const q of queries) answers.set(q.ip, await hit(q.ip));
  return countMisses(queries, (ip) => answers.get(ip)!);
}

const pad39 = (v: bigint) => v.toString().padStart(39, '0');

// The Wafris v1 shape, written from its description: the nearest member at or above the address and the
// nearest below it, by lexical range on a sorted set of equal scores; a hit when their suffixes agree.
const LUA_RANGE_LOOKUP = `
local up = redis.call('ZRANGEBYLEX', KEYS[1], '[' .. ARGV[1], '+', 'LIMIT', 0, 1)
if #up == 0 then return 0 end
local down = redis.call('ZREVRANGEBYLEX', KEYS[1], '(' .. ARGV[1], '-', 'LIMIT', 0, 1)
if #down == 0 then return 0 end
if string.match(up[1], '-(%d+)$') == string.match(down[1], '-(%d+)$') then return 1 end
return 0`;

const ENSURE_REDIS = fileURLToPath(new URL('../scripts/ensure-redis.sh', import.meta.url));

/** Starts a local redis-server through scripts/ensure-redis.sh; returns its port or why there is none. */
export function startRedis(): { port: number } | { skipped: string } {
  try {
    const out = execFileSync('bash', [ENSURE_REDIS], { encoding: 'utf8', timeout: 5 * 60_000, stdio: ['ignore', 'pipe', 'pipe'] });
    const port = Number(out.trim().split('\n').pop());
    if (!Number.isInteger(port) || port <= 0) return { skipped: `ensure-redis.sh printed no port: ${JSON.stringify(out)}` };
    return { port };
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    return { skipped: `no redis-server: ${(err.stderr || err.message).trim().split('\n').slice(-3).join(' ')}` };
  }
}

export function stopRedis(port: number): void {
  try { execFileSync('bash', [ENSURE_REDIS, 'stop', String(port)], { timeout: 10_000, stdio: 'ignore' }); } catch { /* already gone */ }
}

async function redisRow(ranges: IpRange[], queries: ClassifiedQuery[], ops: number, rounds: number, log: (s: string) => void):
  Promise<{ row: LookupRow; loadS: number; memoryBytes: number } | { skipped: string }> {
  const started = startRedis();
  if ('skipped' in started) return started;
  let client: import('ioredis').Redis | undefined;
  try {
    const { Redis } = await import('ioredis');
    client = new Redis({ host: '127.0.0.1', port: started.port, lazyConnect: true, maxRetriesPerRequest: 1, enableOfflineQueue: false });
    await client.connect();
    const key = 'blocked_cidr_ranges';
    const t0 = performance.now();
    const chunk = 5000;
    for (let i = 0; i < ranges.length; i += chunk * 10) {
      const pipe = client.pipeline();
      for (let j = i; j < Math.min(ranges.length, i + chunk * 10); j += chunk) {
        const args: (string | number)[] = [];
        for (let k = j; k < Math.min(ranges.length, j + chunk); k++) args.push(0, `${pad39(ranges[k].start)}-${k}`, 0, `${pad39(ranges[k].end)}-${k}`);
        pipe.zadd(key, ...args);
      }
      const res = await pipe.exec();
      const failed = res?.find(([err]) => err);
      if (failed) throw failed[0] as Error;
    }
    const loadS = (performance.now() - t0) / 1000;
    const memoryBytes = Number(/used_memory:(\d+)/.exec(await client.info('memory'))?.[1] ?? 0);
    log(`  redis: loaded ${(ranges.length * 2).toLocaleString('en-US')} members in ${loadS.toFixed(1)} s (${(memoryBytes / 2 ** 20).toFixed(0)} MiB)`);
    const sha = (await client.script('LOAD', LUA_RANGE_LOOKUP)) as string;
    const redis = client;
    const hit = async (ipText: string) => {
      const ip = tryParseIp(ipText);
      return ip !== null && (await redis.evalsha(sha, 1, key, pad39(ip.value))) === 1;
    };
    const misses = await countMissesAsync(queries, hit);
    const m = await measureAsync((i) => hit(queries[i % queries.length].ip), ops, rounds);
    return {
      row: { approach: 'wafris-v1 Redis (sorted set, lexical ranges, Lua via EVALSHA, loopback)', ranges: ranges.length, m, misses,
        note: 'one lookup only; Wafris v1 ran about fifty Redis commands per request' },
      loadS, memoryBytes,
    };
  } catch (e) {
    return { skipped: `redis failed: ${(e as Error).message}` };
  } finally {
    client?.disconnect();
    stopRedis(started.port);
  }
}

export async function runLookupBench(o: LookupBenchOptions = {}): Promise<LookupBenchResult> {
  const quick = o.quick === true;
  const n = o.ranges ?? (quick ? 10_000 : 2_500_000);
  const nBlockList = o.blockListRanges ?? (quick ? 1_000 : 100_000);
  const ops = o.ops ?? (quick ? 10_000 : 200_000);
  const rounds = o.rounds ?? (quick ? 3 : 7);
  const log = o.log ?? (() => {});
  const dir = mkdtempSync(join(tmpdir(), 'moat-lookup-bench-'));
  const words = new Uint32Array(4);
  try {
    const spec = { n, seed: 25, singlesEvery: 50, queries: quick ? 3_000 : 20_000 };
    const ranges = specRanges(spec);
    const moatPath = join(dir, 'data.db');
    const built = buildSyntheticHere(moatPath, spec, ranges);
    const queries = built.queries;
    const t1 = performance.now();
    const wafrisPath = join(dir, 'wafris.db');
    buildWafrisRangeDb(wafrisPath, ranges);
    const wafrisBuildS = (performance.now() - t1) / 1000;
    log(`  built ${n.toLocaleString('en-US')} ranges: moat ${built.seconds.toFixed(1)} s, wafris-style ${wafrisBuildS.toFixed(1)} s`);
    const byKind: Partial<Record<QueryKind, number>> = {};
    for (const q of queries) byKind[q.kind] = (byKind[q.kind] ?? 0) + 1;
    const q = queries.length;
    const rows: LookupRow[] = [];

    const wafris = new WafrisRangeLookup(wafrisPath);
    const wafrisHit = (s: string) => wafris.lookup(s);
    const base = measure((i) => wafrisHit(queries[i % q].ip), Math.min(ops, quick ? 2_000 : 20_000), rounds);
    rows.push({ approach: 'wafris-v2 SQLite (39-digit text members, two neighbour queries)', ranges: n, m: base, speedupVsWafrisV2: 1, misses: countMisses(queries, wafrisHit) });
    wafris.close();
    log(`  wafris-v2: ${base.ns.toFixed(0)} ns`);

    rows.push({ approach: 'parse the IP string only (floor)', ranges: n, m: measure((i) => parseIpInto(queries[i % q].ip, words), ops, rounds) });
    let memNs = 0;
    for (const mode of ['memory', 'light'] as const) {
      const data = loadDataFile(moatPath, mode);
      const hit = (s: string) => { const f = parseIpInto(s, words); return f !== 0 && data.table.lookupParsed(f, words) >= 0; };
      const m = measure((i) => hit(queries[i % q].ip), ops, rounds);
      if (mode === 'memory') memNs = m.ns;
      rows.push({ approach: mode === 'memory' ? 'moat memory (typed arrays, binary search)' : 'moat light (one SQLite seek: per-family table keyed by start, mmap, exclusive lock)',
        ranges: n, m, speedupVsWafrisV2: base.ns / m.ns, misses: countMisses(queries, hit) });
      data.close();
      log(`  moat ${mode}: ${m.ns.toFixed(0)} ns`);
    }

    let redisSkipped: string | undefined;
    const files: LookupBenchResult['files'] = { moatBytes: built.bytes, wafrisBytes: statSync(wafrisPath).size, moatBuildS: built.seconds, wafrisBuildS };
    rmSync(wafrisPath, { force: true });
    if (o.redis === false) redisSkipped = 'disabled by option';
    else {
      const r = await redisRow(ranges, quick ? queries.slice(0, 600) : queries, quick ? 300 : 2_000, quick ? 3 : 5, log);
      if ('skipped' in r) { redisSkipped = r.skipped; log(`  redis row skipped: ${r.skipped}`); }
      else {
        r.row.speedupVsWafrisV2 = base.ns / r.row.m.ns;
        rows.push(r.row);
        files.redisLoadS = r.loadS;
        files.redisMemoryBytes = r.memoryBytes;
        log(`  wafris-v1 redis: ${r.row.m.ns.toFixed(0)} ns`);
      }
    }

    // net.BlockList scans its rules one by one: a smaller list, and Moat measured again at that size.
    {
      const small = specRanges({ n: nBlockList, seed: 26, singlesEvery: 50 });
      const smallSpec = { n: nBlockList, seed: 26, singlesEvery: 50, queries: quick ? 600 : 2_000 };
      const smallBuilt = buildSyntheticHere(join(dir, 'small.db'), smallSpec, small);
      const list = new BlockList();
      for (const r of small) {
        const type = r.family === 4 ? 'ipv4' : 'ipv6';
        if (r.start === r.end) list.addAddress(formatIp({ family: r.family, value: r.start }), type);
        else list.addRange(formatIp({ family: r.family, value: r.start }), formatIp({ family: r.family, value: r.end }), type);
      }
      const sq = smallBuilt.queries;
      const blHit = (s: string) => list.check(s, s.includes(':') ? 'ipv6' : 'ipv4');
      const data = loadDataFile(smallBuilt.path, 'memory');
      const memHit = (s: string) => { const f = parseIpInto(s, words); return f !== 0 && data.table.lookupParsed(f, words) >= 0; };
      const mm = measure((i) => memHit(sq[i % sq.length].ip), ops, rounds);
      const bl = measure((i) => blHit(sq[i % sq.length].ip), quick ? 200 : 100, quick ? 3 : 5);
      rows.push({ approach: 'moat memory (typed arrays, binary search)', ranges: nBlockList, m: mm, misses: countMisses(sq, memHit), note: 'same size as net.BlockList' });
      rows.push({ approach: 'node net.BlockList (linear scan)', ranges: nBlockList, m: bl, slowerThanMoat: bl.ns / mm.ns,
        speedupVsWafrisV2: base.ns / bl.ns, misses: countMisses(sq.slice(0, quick ? 600 : 2_000), blHit),
        note: `at ${nBlockList.toLocaleString('en-US')} ranges (it scans every rule per lookup); vs Wafris v2 at ${n.toLocaleString('en-US')}` });
      log(`  net.BlockList at ${nBlockList}: ${bl.ns.toFixed(0)} ns (moat memory ${mm.ns.toFixed(0)} ns)`);
    }
    void memNs;

    const ipv4 = ranges.filter((r) => r.family === 4).length;
    return {
      ranges: { total: n, ipv4, ipv6: n - ipv4, singles: ranges.filter((r) => r.start === r.end).length, blockList: nBlockList },
      queries: { total: q, byKind }, files, rows, redisSkipped,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const r = await runLookupBench({ quick: process.argv.includes('--quick'), log: console.log });
  console.log(JSON.stringify(r, null, 2));
}
