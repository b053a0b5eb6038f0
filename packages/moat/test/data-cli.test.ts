// `moat-waf data build` as a spawned process: sources of every kind, the report, the Wafris layout, and
// clear one-line failures for garbage sources and bad options.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { assertNoStack, withTmpDir } from './helpers/engine-kit.js';

const ROOT = path.resolve(import.meta.dirname, '..', '..', '..');
const MAIN = path.join(ROOT, 'packages', 'moat', 'src', 'cli', 'main.ts');
const FIX = path.join(import.meta.dirname, 'fixtures', 'data');
const fx = (name: string) => path.join(FIX, name);

function moat(args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', MAIN, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('moat-waf data build (CLI)', () => {
  test('builds from country, ASN, lists and cloud ranges; --json reports counts, invalid lines, overlaps, size, hash', () =>
    withTmpDir((dir) => {
      const out = path.join(dir, 'data.db');
      const wafris = path.join(dir, 'wafris.db');
      const r = moat(['data', 'build', '--country', fx('country.csv'), '--country', fx('country-overlap-b.csv'), '--asn', fx('asn.csv'),
        '--list', `tor=${fx('tor-exit-addresses.txt')}`, '--list', `drop=${fx('drop.txt')}`,
        '--cloud', `aws=${fx('aws-ip-ranges.json')}`, '--cloud', `cf:cloudflare=${fx('cloudflare-ips-v4.txt')}`,
        '--wafris', wafris, '--json', '-o', out]);
      assert.equal(r.code, 0, r.err);
      const report = JSON.parse(r.out);
      assert.equal(report.formatVersion, 1);
      assert.match(report.hash, /^[0-9a-f]{64}$/);
      assert.ok(report.overlapsResolved >= 3);
      assert.equal(report.bytes, fs.statSync(out).size);
      const bySource = Object.fromEntries(report.sources.map((s: { name: string; kind: string; ranges: number; invalidLines: number }) => [s.name, [s.kind, s.ranges, s.invalidLines]]));
      assert.deepEqual(bySource, {
        country: ['country', 12, 2], asn: ['asn', 5, 1], tor: ['list', 2, 0], drop: ['list', 2, 0], aws: ['cloud', 4, 1], cf: ['cloud', 2, 0],
      });
      assert.equal(report.wafris.reputationRanges, 6); // tor and drop, not the clouds; each IPv4 range also IPv4-mapped
      assert.ok(fs.statSync(wafris).size > 0);
      // Invalid lines are named with file and line number on stderr.
      assert.match(r.err, /country\.csv:8: skipped: invalid range/);
      assert.match(r.err, /country\.csv:9: skipped: invalid country code "USA"/);
      assert.match(r.err, /asn\.csv:6: skipped: invalid ASN/);
      assert.match(r.err, /aws-ip-ranges\.json:\d+: skipped: not an IP range: "300\.1\.2\.0\/24"/);

      // The human report; and the same content gives the same hash.
      const again = moat(['data', 'build', '--country', fx('country-overlap-b.csv'), '--country', fx('country.csv'), '--asn', fx('asn.csv'),
        '--list', `drop=${fx('drop.txt')}`, '--list', `tor=${fx('tor-exit-addresses.txt')}`,
        '--cloud', `cf=${fx('cloudflare-ips-v4.txt')}`, '--cloud', `aws:aws=${fx('aws-ip-ranges.json')}`, '-o', path.join(dir, 'again.db')]);
      assert.equal(again.code, 0, again.err);
      assert.match(again.out, /overlaps resolved/);
      assert.match(again.out, /MiB/);
      assert.match(again.out, new RegExp(`hash ${report.hash.slice(0, 16)}`));

      // The file works with the rest of the CLI: a list rule blocks a Tor exit.
      fs.writeFileSync(path.join(dir, 'rules.json'), JSON.stringify({ block: { lists: ['tor'], countries: ['continent:EU'] } }));
      assert.equal(moat(['compile', path.join(dir, 'rules.json'), '-o', path.join(dir, 'rules.db')]).code, 0);
      const check = moat(['check', '--rules', path.join(dir, 'rules.db'), '--data', out, '--ip', '203.0.113.51', '--json']);
      assert.equal(check.code, 0, check.err);
      assert.match(check.out, /"category":\s*"brep"/);
    }));

  test('a mostly-garbage source fails the build with a one-line error and writes nothing', () =>
    withTmpDir((dir) => {
      const out = path.join(dir, 'data.db');
      const r = moat(['data', 'build', '--list', `bad=${fx('garbage.txt')}`, '-o', out]);
      assert.equal(r.code, 2, 'a source that is mostly garbage is an invalid value');
      assert.match(r.err, /moat-waf: .*garbage\.txt: 3 of 4 entries are invalid \(line 2: .*refusing to build from it/);
      assertNoStack(r.err);
      assert.equal(fs.existsSync(out), false);
      fs.writeFileSync(path.join(dir, 'empty.txt'), '# no entries today\n');
      const empty = moat(['data', 'build', '--list', `x=${path.join(dir, 'empty.txt')}`, '-o', out]);
      assert.equal(empty.code, 2);
      assert.match(empty.err, /no entries; refusing/);
      const missing = moat(['data', 'build', '--list', `x=${path.join(dir, 'nope.txt')}`, '-o', out]);
      assert.equal(missing.code, 1, 'a source that cannot be read is an I/O failure');
      assert.match(missing.err, /cannot read .*nope\.txt: ENOENT/);
    }));

  test('bad options are usage errors (exit 2)', () => {
    assert.equal(moat(['data', 'build', '--list', `tor=${fx('tor-bulk.txt')}`]).code, 2); // no -o
    const fmt = moat(['data', 'build', '--cloud', `x:nope=${fx('aws-ip-ranges.json')}`, '-o', '/tmp/never.db']);
    assert.equal(fmt.code, 2);
    assert.match(fmt.err, /unknown cloud format "nope"/);
    assert.equal(moat(['data', 'build', '--list', 'justaname', '-o', '/tmp/never.db']).code, 2);
    assert.equal(moat(['data', 'frobnicate']).code, 2);
    const lonely = moat(['data', 'build', '--list', `tor=${fx('tor-bulk.txt')}`, '--wafris-lists', 'tor', '-o', '/tmp/never.db']);
    assert.equal(lonely.code, 2);
    assert.match(lonely.err, /go with --wafris/);
  });
});
