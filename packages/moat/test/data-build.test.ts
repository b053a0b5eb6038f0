// The data build: overlaps resolved once, one lookup answers country, ASN and lists, in memory and in
// the memory-light SQLite mode, checked against a brute-force oracle over every range boundary.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { loadDataFile, MoatFileError } from '../src/index.js';
import { formatIp, parseIpInto, parseRange } from '../src/ip/index.js';
import type { DataSet } from '../src/index.js';
import type { IpRange } from '../src/ip/index.js';
import { buildDataFile, compileData } from '../src/data/build-data.js';
import type { DataInputs } from '../src/data/build-data.js';
import { readSources } from '../src/data/read-sources.js';
import { boundaryAddrs, withTmpDir } from './helpers/engine-kit.js';
import type { Addr } from './helpers/engine-kit.js';

const FIX = path.join(import.meta.dirname, 'fixtures', 'data');
const fx = (name: string) => path.join(FIX, name);

function fixtureInputs(): DataInputs {
  return readSources({
    countries: [fx('country.csv'), fx('country-overlap-b.csv')],
    asns: [fx('asn.csv')],
    lists: [{ name: 'firehol', file: fx('firehol_level1.netset') }, { name: 'drop', file: fx('drop.txt') }, { name: 'tor', file: fx('tor-bulk.txt') }],
    clouds: [{ name: 'aws', file: fx('aws-ip-ranges.json') }],
  });
}

const words = new Uint32Array(4);
function labelAt(ds: DataSet, ip: string) {
  const family = parseIpInto(ip, words);
  assert.notEqual(family, 0, ip);
  const id = ds.table.lookupParsed(family as 4 | 6, words);
  return id < 0 ? null : ds.labels[id];
}

const covers = (r: IpRange, a: Addr) => r.family === a.family && r.start <= a.value && a.value <= r.end;

/** The documented resolution, by brute force over the input rows. */
function oracle(inputs: DataInputs, a: Addr) {
  const pick = <T extends { range: IpRange }>(rows: T[], value: (r: T) => string | null) => {
    const cover = rows.filter((r) => covers(r.range, a));
    if (cover.length === 0) return undefined;
    cover.sort((x, y) => {
      const sx = x.range.end - x.range.start;
      const sy = y.range.end - y.range.start;
      if (sx !== sy) return sx < sy ? -1 : 1;
      const vx = value(x);
      const vy = value(y);
      if ((vx === null) !== (vy === null)) return vx === null ? 1 : -1;
      return (vx ?? '') < (vy ?? '') ? -1 : (vx ?? '') > (vy ?? '') ? 1 : 0;
    });
    return value(cover[0]);
  };
  const country = pick(inputs.countries?.rows ?? [], (r) => r.country);
  const asn = pick(inputs.asns?.rows ?? [], (r) => r.asn);
  const lists = (inputs.lists ?? []).filter((l) => l.ranges.some((r) => covers(r, a))).map((l) => l.name).sort();
  if (country === undefined && asn === undefined && lists.length === 0) return null;
  return { country: country ?? null, asn: asn ?? null, lists };
}

function allBoundaries(inputs: DataInputs): Addr[] {
  const ranges = [
    ...(inputs.countries?.rows ?? []).map((r) => r.range), ...(inputs.asns?.rows ?? []).map((r) => r.range),
    ...(inputs.lists ?? []).flatMap((l) => l.ranges),
  ];
  return ranges.flatMap(boundaryAddrs);
}

describe('data build', () => {
  test('every boundary address answers as the oracle says, in memory and memory-light mode', () =>
    withTmpDir((dir) => {
      const inputs = fixtureInputs();
      const file = path.join(dir, 'data.db');
      const built = buildDataFile(inputs, file);
      assert.ok(built.overlapsResolved >= 3, `overlaps ${built.overlapsResolved}`); // BE in DE, AS16625 in AS20940, FR/DE tie
      const addrs = allBoundaries(inputs);
      assert.ok(addrs.length > 80);
      for (const mode of ['memory', 'light'] as const) {
        const ds = loadDataFile(file, mode);
        try {
          for (const a of addrs) {
            const ip = formatIp(a);
            assert.deepEqual(labelAt(ds, ip), oracle(inputs, a), `${mode} ${ip}`);
          }
        } finally {
          ds.close();
        }
      }
    }));

  test('resolution: nested most specific wins; equal ranges pick the known, then first code; lists add up', () =>
    withTmpDir((dir) => {
      const file = path.join(dir, 'data.db');
      buildDataFile(fixtureInputs(), file);
      const ds = loadDataFile(file);
      assert.deepEqual(labelAt(ds, '2.16.5.7'), { country: 'BE', asn: 'AS20940', lists: [] });
      assert.deepEqual(labelAt(ds, '2.16.5.8'), { country: 'DE', asn: 'AS20940', lists: [] });
      assert.deepEqual(labelAt(ds, '2.16.64.9'), { country: 'DE', asn: 'AS16625', lists: [] });
      assert.equal(labelAt(ds, '10.0.0.7')?.country, 'DE'); // FR and DE rows cover exactly 10.0.0.0/24
      assert.deepEqual(labelAt(ds, '198.51.100.200'), { country: null, asn: null, lists: ['drop', 'firehol'] });
      assert.deepEqual(labelAt(ds, '198.51.100.1'), { country: null, asn: null, lists: ['firehol'] });
      assert.deepEqual(labelAt(ds, '::ffff:203.0.113.50'), { country: null, asn: null, lists: ['tor'] });
      assert.deepEqual(labelAt(ds, '3.5.141.1'), { country: null, asn: null, lists: ['aws'] });
      assert.deepEqual(labelAt(ds, '2001:db8:1::80'), { country: 'SE', asn: null, lists: [] });
      assert.deepEqual(labelAt(ds, '2001:db8::1'), { country: 'NL', asn: 'AS64496', lists: [] });
      assert.equal(labelAt(ds, '5.0.0.1')?.country, null); // ZZ is unknown
      assert.equal(labelAt(ds, '8.8.8.8'), null);
      assert.deepEqual(ds.listNames, ['aws', 'drop', 'firehol', 'tor']);
    }));

  test('same rows in any order give the same content hash; neighbours that resolve alike are merged', () => {
    const inputs = fixtureInputs();
    const a = compileData(inputs);
    const reversed: DataInputs = {
      countries: { ...inputs.countries!, rows: [...inputs.countries!.rows].reverse() },
      asns: { ...inputs.asns!, rows: [...inputs.asns!.rows].reverse() },
      lists: [...inputs.lists!].reverse().map((l) => ({ ...l, ranges: [...l.ranges].reverse() })),
    };
    const b = compileData(reversed);
    assert.deepEqual(b.labels, a.labels);
    assert.deepEqual(b.table.arrays, a.table.arrays);
    const row = (text: string, country: string) => ({ range: parseRange(text), country });
    const adj = compileData({ countries: { rows: [row('10.0.0.0/25', 'DE'), row('10.0.0.128/25', 'DE'), row('10.0.1.0/24', 'FR')], summary: { name: 'c', kind: 'country', ranges: 3, invalidLines: 0 } } });
    assert.deepEqual([...adj.table.arrays.v4Starts], [0x0a000000, 0x0a000100]);
    assert.equal(adj.labels.length, 2);
  });

  test('versioned and hashed: meta holds format, version and hash; an edited file is refused in memory mode', () =>
    withTmpDir((dir) => {
      const file = path.join(dir, 'data.db');
      const built = buildDataFile(fixtureInputs(), file, { builtAt: new Date('2024-01-01T00:00:00Z') });
      const db = new Database(file);
      const meta = Object.fromEntries((db.prepare('SELECT key, value FROM meta').all() as { key: string; value: string }[]).map((r) => [r.key, r.value]));
      assert.deepEqual(meta, { format: 'moat-data', format_version: '1', built_at: '2024-01-01T00:00:00.000Z', content_hash: built.hash });
      const sources = db.prepare('SELECT name, kind, ranges, invalid_lines FROM sources ORDER BY name').all();
      assert.deepEqual(sources, [
        { name: 'asn', kind: 'asn', ranges: 5, invalid_lines: 1 }, { name: 'aws', kind: 'cloud', ranges: 4, invalid_lines: 1 },
        { name: 'country', kind: 'country', ranges: 12, invalid_lines: 2 }, { name: 'drop', kind: 'list', ranges: 2, invalid_lines: 0 },
        { name: 'firehol', kind: 'list', ranges: 3, invalid_lines: 0 }, { name: 'tor', kind: 'list', ranges: 3, invalid_lines: 0 },
      ]);
      assert.equal(loadDataFile(file).info.hash, built.hash);
      db.prepare("UPDATE data_labels SET country = 'KP' WHERE country = 'DE'").run();
      db.close();
      assert.throws(() => loadDataFile(file), (e: Error) => e instanceof MoatFileError && /content hash does not match/.test(e.message));
      fs.writeFileSync(path.join(dir, 'junk.db'), Buffer.alloc(4096, 7));
      assert.throws(() => loadDataFile(path.join(dir, 'junk.db')), MoatFileError);
    }));
});
