// The Wafris v2 data_subscriptions layout written from a data build, checked with the Wafris neighbour
// lookup as documented (helpers/engine-kit.ts: nearest member above and below, hit when the suffixes
// after the last `-` agree), at every range boundary and at the IPv4-mapped copy of each.
// wafris-gem-replay.test.ts replays the gem's whole request path on the same files.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { Database as Db } from 'better-sqlite3';
import { loadDataFile } from '../src/index.js';
import { parseIpInto, parseRange } from '../src/ip/index.js';
import type { DataSet } from '../src/index.js';
import { buildDataFile } from '../src/data/build-data.js';
import type { DataInputs } from '../src/data/build-data.js';
import { readSources } from '../src/data/read-sources.js';
import { MAPPED_FIRST, wafrisLookup, withTmpDir } from './helpers/engine-kit.js';

const FIX = path.join(import.meta.dirname, 'fixtures', 'data');
const fx = (name: string) => path.join(FIX, name);

function inputs(): DataInputs {
  const base = readSources({
    countries: [fx('country.csv')], asns: [fx('asn.csv')],
    lists: [{ name: 'tor', file: fx('tor-bulk.txt') }, { name: 'drop', file: fx('drop.txt') }],
    clouds: [{ name: 'aws', file: fx('aws-ip-ranges.json') }],
  });
  // Touching ranges whose codes sort against address order (DE then BE), single addresses, and IPv6.
  const extra = [
    ['10.0.0.0-10.0.0.255', 'DE'], ['10.0.1.0-10.0.1.255', 'BE'], ['10.0.2.0', 'FR'], ['10.0.2.1', 'AT'], ['10.0.2.2-10.0.2.9', 'GB'],
    ['10.0.2.10', 'AT'], ['10.0.3.0/24', 'US'], ['2001:db9::/48', 'JP'], ['2001:db9:0:1::/64', 'CN'], ['2001:db9:1::/48', 'AU'],
  ].map(([r, cc]) => ({ range: parseRange(r), country: cc }));
  base.countries!.rows.push(...extra);
  return base;
}

const words = new Uint32Array(4);
/** Moat's own answer: the country of the data file at a value of the Wafris number space. */
function moatCountry(ds: DataSet, value: bigint): string | null {
  const ip = value < 1n << 32n ? `::ffff:${value >> 24n}.${(value >> 16n) & 255n}.${(value >> 8n) & 255n}.${value & 255n}` : bigintV6(value);
  const family = parseIpInto(ip, words) as 4 | 6;
  const id = ds.table.lookupParsed(family, words);
  return id < 0 ? null : ds.labels[id].country;
}
function moatListed(ds: DataSet, value: bigint, lists: string[]): boolean {
  const ip = value < 1n << 32n ? `::ffff:${value >> 24n}.${(value >> 16n) & 255n}.${(value >> 8n) & 255n}.${value & 255n}` : bigintV6(value);
  const family = parseIpInto(ip, words) as 4 | 6;
  const id = ds.table.lookupParsed(family, words);
  return id >= 0 && ds.labels[id].lists.some((l) => lists.includes(l));
}
function bigintV6(v: bigint): string {
  const g: string[] = [];
  for (let s = 112n; s >= 0n; s -= 16n) g.push(((v >> s) & 0xffffn).toString(16));
  return g.join(':');
}
/**
 * Country the gem reads from a suffix: the part before the first `_`, after its last `G`; Moat writes
 * codes that hold a `G` in lower case, so upper-casing gives the code back.
 */
function wafrisCountry(suffix: string): string {
  const head = suffix.split('_')[0];
  return head.slice(head.lastIndexOf('G') + 1).toUpperCase();
}

/**
 * Every member's number, ±1 and ±2: all the places a neighbour lookup can change its answer; for IPv4
 * numbers also the IPv4-mapped value a dual-stack client arrives with.
 */
function probeValues(db: Db, table: string): bigint[] {
  const values = new Set<bigint>();
  for (const m of db.prepare(`SELECT member FROM ${table}`).pluck().all() as string[]) {
    const v = BigInt(m.slice(0, 39));
    for (const d of [-2n, -1n, 0n, 1n, 2n]) {
      if (v + d < 0n) continue;
      values.add(v + d);
      if (v + d < 1n << 32n) values.add(MAPPED_FIRST + v + d);
    }
  }
  return [...values];
}

describe('Wafris data_subscriptions layout', () => {
  test('country ranges: Wafris finds the right country at every boundary, touching ranges and IPv4-mapped clients included', () =>
    withTmpDir((dir) => {
      const data = path.join(dir, 'data.db');
      const out = path.join(dir, 'wafris.db');
      const built = buildDataFile(inputs(), data, { wafris: { path: out, reputationLists: ['tor', 'drop'] } });
      const w = built.wafris!;
      const ds = loadDataFile(data);
      const db = new Database(out, { readonly: true });
      try {
        let hits = 0;
        let mappedHits = 0;
        for (const v of probeValues(db, 'country_ip_ranges')) {
          const expected = moatCountry(ds, v);
          const suffix = wafrisLookup(db, 'country_ip_ranges', v);
          assert.equal(suffix === null ? null : wafrisCountry(suffix), expected, `value ${v}`);
          if (suffix !== null) hits++;
          if (suffix !== null && v >= MAPPED_FIRST && v < MAPPED_FIRST + (1n << 32n)) mappedHits++;
        }
        assert.ok(hits > 80 && mappedHits > 40, `${hits} hits, ${mappedHits} of them mapped`);
        assert.equal(w.missedStarts, 0);
        // 11 from country.csv (DE split by BE and FR, NL by SE) + 11 above; 15 of the 22 are IPv4, each also mapped.
        assert.equal(w.countryRanges, 22 + 15);
        assert.equal(w.mappedRanges, 15 + 4); // + the 4 IPv4 reputation ranges
      } finally {
        db.close();
      }
    }));

  test('reputation ranges: every address of the chosen lists is found, nothing else', () =>
    withTmpDir((dir) => {
      const data = path.join(dir, 'data.db');
      const out = path.join(dir, 'wafris.db');
      const built = buildDataFile(inputs(), data, { wafris: { path: out, reputationLists: ['tor', 'drop'] } });
      const ds = loadDataFile(data);
      const db = new Database(out, { readonly: true });
      try {
        const values = probeValues(db, 'reputation_ip_ranges');
        assert.ok(values.length > 20);
        for (const v of values) {
          const inList = moatListed(ds, v, ['tor', 'drop']);
          assert.equal(wafrisLookup(db, 'reputation_ip_ranges', v) !== null, inList, `value ${v}`);
        }
        // aws is a cloud list, not reputation: 3.5.140.1 is not in the table.
        assert.equal(wafrisLookup(db, 'reputation_ip_ranges', (3n << 24n) + (5n << 16n) + (140n << 8n) + 1n), null);
        // 198.51.100.128/25, 192.0.2.0/24, 203.0.113.50, 203.0.113.52 (each also IPv4-mapped), 2001:db8:dead::1
        assert.equal(built.wafris!.reputationRanges, 9);
      } finally {
        db.close();
      }
    }));

  test('Moat reads the written file back as a Wafris data file: same country at every boundary', () =>
    withTmpDir((dir) => {
      const data = path.join(dir, 'data.db');
      const out = path.join(dir, 'wafris.db');
      buildDataFile(inputs(), data, { wafris: { path: out, reputationLists: ['tor'] } });
      const back = loadDataFile(out);
      assert.equal(back.info.format, 'wafris');
      const ds = loadDataFile(data);
      const boundaries = ['10.0.0.0', '10.0.0.255', '10.0.1.0', '10.0.1.255', '10.0.2.0', '10.0.2.1', '10.0.2.2', '10.0.2.9', '10.0.2.10', '10.0.2.11'];
      for (const ip of [...boundaries, '10.0.0.77', '10.0.1.77', '10.0.2.5', '2001:db9:0:1::5', '2001:db9:0:1::', '2001:db9::', '2.16.5.7', '81.2.69.200']) {
        const c = (set: DataSet) => {
          const f = parseIpInto(ip, words) as 4 | 6;
          const id = set.table.lookupParsed(f, words);
          return id < 0 ? null : set.labels[id].country;
        };
        assert.equal(c(back), c(ds), ip);
      }
    }));
});
