// Memory-light mode answers exactly as memory mode: random range sets written by the real builder, looked
// up at every range edge (start, end, one before, one past), at the ends of both address spaces and at
// random addresses, in both modes and against a brute-force oracle over the input lists.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import fc from 'fast-check';
import Database from 'better-sqlite3';
import { buildDataFile } from '../src/data/build-data.js';
import { loadDataFile } from '../src/index.js';
import { PAGE_CACHE_KIB } from '../src/format/open-sqlite.js';
import { SqliteRangeLookup } from '../src/data/sqlite-range-lookup.js';
import { parseIpInto } from '../src/ip/index.js';
import type { IpRange } from '../src/ip/index.js';
import type { DataLabel } from '../src/data/data-set.js';
import { addrText, boundaryAddrs, rangeCovers, withTmpDir } from './helpers/engine-kit.js';
import type { Addr } from './helpers/engine-kit.js';

const V4_MAX = 0xffff_ffffn;
const V6_MAX = (1n << 128n) - 1n;
const MAPPED_FIRST = 0xffffn << 32n;

/** Values that crowd near the interesting places, so ranges touch, nest and sit on the space's edges. */
const v4Value = fc.oneof(fc.bigInt({ min: 0n, max: 300n }), fc.bigInt({ min: V4_MAX - 300n, max: V4_MAX }), fc.bigInt({ min: 0n, max: V4_MAX }));
const v6Value = fc.oneof(
  fc.bigInt({ min: 0n, max: 300n }),
  fc.bigInt({ min: V6_MAX - 300n, max: V6_MAX }),
  fc.bigInt({ min: MAPPED_FIRST - 300n, max: MAPPED_FIRST + 300n }), // across the IPv4-mapped block's start
  fc.bigInt({ min: 0n, max: V6_MAX }),
);
const range = (family: 4 | 6) => fc.tuple(family === 4 ? v4Value : v6Value, fc.oneof(fc.constant(0n), fc.bigInt({ min: 0n, max: 40n }), fc.bigInt({ min: 0n, max: 1n << 64n })))
  .map(([start, len]): IpRange => {
    const max = family === 4 ? V4_MAX : V6_MAX;
    return { family, start, end: start + len > max ? max : start + len };
  });
const lists = fc.array(fc.array(fc.oneof(range(4), range(6)), { maxLength: 12 }), { minLength: 1, maxLength: 3 });

const FIXED: Addr[] = [
  { family: 4, value: 0n }, { family: 4, value: V4_MAX }, { family: 6, value: 0n }, { family: 6, value: V6_MAX },
  { family: 6, value: MAPPED_FIRST - 1n }, { family: 6, value: (1n << 112n) * 0x2001n },
];

const words = new Uint32Array(4);

test('property: light mode and memory mode give the same label for every edge and random address, and the oracle agrees', async () => {
  await withTmpDir(async (dir) => {
    let run = 0;
    await fc.assert(fc.asyncProperty(lists, fc.array(fc.oneof(v4Value.map((value): Addr => ({ family: 4, value })), v6Value.map((value): Addr => ({ family: 6, value }))), { maxLength: 20 }),
      async (rangeLists, randomAddrs) => {
        const file = path.join(dir, `data-${run++}.db`);
        buildDataFile({ lists: rangeLists.map((ranges, i) => ({ name: `l${i}`, ranges, summary: { name: `l${i}`, kind: 'list' as const, ranges: ranges.length, invalidLines: 0 } })) }, file);
        const memory = loadDataFile(file, 'memory');
        const light = loadDataFile(file, 'light');
        try {
          assert.equal(light.table.size, memory.table.size);
          const addrs = [...FIXED, ...randomAddrs, ...rangeLists.flat().flatMap(boundaryAddrs)];
          for (const a of addrs) {
            const text = addrText(a);
            const family = parseIpInto(text, words);
            assert.notEqual(family, 0, text);
            const inMemory = memory.table.lookupParsed(family as 4 | 6, words);
            const inLight = light.table.lookupParsed(family as 4 | 6, words);
            assert.equal(inLight, inMemory, `${text}: light ${inLight}, memory ${inMemory}`);
            const asV4 = a.family === 6 && a.value >= MAPPED_FIRST && a.value <= MAPPED_FIRST + V4_MAX; // ::ffff:a.b.c.d is a.b.c.d
            const seen: Addr = asV4 ? { family: 4, value: a.value - MAPPED_FIRST } : a;
            const expected = rangeLists.flatMap((ranges, i) => (ranges.some((r) => rangeCovers(r, seen)) ? [`l${i}`] : []));
            assert.deepEqual(inLight < 0 ? [] : [...light.labels[inLight].lists].sort(), expected, text);
          }
        } finally {
          light.close();
          memory.close();
        }
      }), { numRuns: 60 });
  });
});

test('the light tables are a partition: rows strictly ascending, no two neighbours with the same label, gaps labelled -1', async () => {
  await withTmpDir((dir) => {
    const file = path.join(dir, 'data.db');
    const r = (family: 4 | 6, start: bigint, end: bigint): IpRange => ({ family, start, end });
    buildDataFile({
      lists: [{ name: 'a', ranges: [r(4, 0n, 9n), r(4, 20n, 29n), r(4, V4_MAX - 1n, V4_MAX), r(6, 0n, 0n), r(6, 5n, 1000n), r(6, 1n << 120n, V6_MAX)], summary: { name: 'a', kind: 'list', ranges: 6, invalidLines: 0 } }],
    }, file);
    const db = new Database(file, { readonly: true });
    try {
      assert.deepEqual(db.prepare('SELECT start, label FROM ranges_v4 ORDER BY start').raw().all(), [[0, 0], [10, -1], [20, 0], [30, -1], [Number(V4_MAX - 1n), 0]]);
      const v6 = (db.prepare('SELECT start, label FROM ranges_v6 ORDER BY start').raw().all() as [Buffer, number][]).map(([s, l]) => [BigInt(`0x${s.toString('hex')}`), l]);
      assert.deepEqual(v6, [[0n, 0], [1n, -1], [5n, 0], [1001n, -1], [1n << 120n, 0]], 'no gap row after a range ending at the last address');
    } finally {
      db.close();
    }
  });
});

test('a light-mode connection maps the file, keeps its lock and holds at most 256 KiB of page cache of its own', async () => {
  await withTmpDir((dir) => {
    const file = path.join(dir, 'data.db');
    const ranges: IpRange[] = [{ family: 4, start: 10n, end: 20n }, { family: 6, start: 1n << 100n, end: (1n << 100n) + 5n }];
    buildDataFile({ lists: [{ name: 'a', ranges, summary: { name: 'a', kind: 'list', ranges: 2, invalidLines: 0 } }] }, file);
    const light = loadDataFile(file, 'light');
    try {
      assert.ok(light.table instanceof SqliteRangeLookup, 'a current file is read by the per-family seek');
      // The connection is the lookup's own (private to it); read its settings back from SQLite itself.
      const db = light.table['db'];
      assert.ok(PAGE_CACHE_KIB <= 256);
      assert.equal(db.pragma('cache_size', { simple: true }), -PAGE_CACHE_KIB, 'negative: a bound in KiB, not pages');
      assert.equal(db.pragma('mmap_size', { simple: true }), 1073741824);
      assert.equal(db.pragma('locking_mode', { simple: true }), 'exclusive');
      for (const [text, inside] of [['0.0.0.15', true], ['0.0.0.21', false], ['::1', false]] as const) {
        const family = parseIpInto(text, words);
        assert.equal(light.table.lookupParsed(family as 4 | 6, words) >= 0, inside, text);
      }
    } finally {
      light.close();
    }
  });
});

test('labels hold each country and list set once: labels that say the same share one frozen array, in both modes', async () => {
  await withTmpDir((dir) => {
    const file = path.join(dir, 'data.db');
    const r = (start: bigint, end: bigint): IpRange => ({ family: 4, start, end });
    // Four segments, four labels: (US, AS1, [tor]), (US, AS2, [tor]), (US, AS2, []), (DE, AS2, []).
    const countries = [{ range: r(0n, 99n), country: 'US' }, { range: r(100n, 199n), country: 'DE' }];
    const asns = [{ range: r(0n, 9n), asn: 'AS1' }, { range: r(10n, 199n), asn: 'AS2' }];
    const summary = (name: string, kind: 'country' | 'asn' | 'list', ranges: number) => ({ name, kind, ranges, invalidLines: 0 });
    buildDataFile({ countries: { rows: countries, summary: summary('c', 'country', 2) }, asns: { rows: asns, summary: summary('a', 'asn', 2) },
      lists: [{ name: 'tor', ranges: [r(0n, 49n)], summary: summary('tor', 'list', 1) }] }, file);
    for (const mode of ['light', 'memory'] as const) {
      const data = loadDataFile(file, mode);
      try {
        const at = (text: string) => data.labels[data.table.lookupParsed(parseIpInto(text, words) as 4, words)]!;
        const [a, b, c, d] = ['0.0.0.5', '0.0.0.20', '0.0.0.60', '0.0.0.150'].map(at) as [DataLabel, DataLabel, DataLabel, DataLabel];
        assert.deepEqual([a, b, c, d].map((l) => [l.country, l.asn, [...l.lists]]), [['US', 'AS1', ['tor']], ['US', 'AS2', ['tor']], ['US', 'AS2', []], ['DE', 'AS2', []]], mode);
        assert.equal(data.labels.length, 4, mode);
        assert.equal(a.lists, b.lists, `${mode}: the same list set is one array`);
        assert.equal(c.lists, d.lists, mode);
        assert.ok(Object.isFrozen(a.lists) && Object.isFrozen(c.lists), `${mode}: a shared array cannot be changed through one label`);
      } finally {
        data.close();
      }
    }
  });
});
