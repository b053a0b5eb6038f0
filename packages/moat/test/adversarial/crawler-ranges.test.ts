// A crawler list proves bot claims: every address in it may pass as Googlebot. So a `crawlers` copy that a
// broken or hostile publisher widened (0.0.0.0/0, ::/0, a /1, an IPv4-mapped /96, an IPv6 range over the
// mapped block, a wide dash range) must never put those ranges in the data file: the importer skips each
// as an invalid entry with its line, the build reports them (and refuses a copy that holds nothing else),
// and a Googlebot user agent from a cloud address stays spoofed. Narrow ranges that add up past the same
// bound refuse the whole copy. Real published ranges, and the widest ones our tests and benches use, still import.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine } from '../../src/engine/engine.js';
import { parseRulesSource } from '../../src/rules/document.js';
import { writeRulesFile } from '../../src/format/write-rules.js';
import { buildDataFile } from '../../src/data/build-data.js';
import { readSources } from '../../src/data/read-sources.js';
import { CloudFormatError, crawlerListProblem, importCloudRanges } from '../../src/data/importers/cloud-ranges.js';
import { SourceRejectedError } from '../../src/data/importers/import-result.js';
import { formatRange, tryParseRange } from '../../src/ip/range.js';

const dir = mkdtempSync(join(tmpdir(), 'moat-crawler-ranges-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const GOOGLEBOT = 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)';
const AWS_ADDRESS = '3.1.2.3';
const GOOGLE_ADDRESS = '66.249.66.1';

/** A copy in the shape Google publishes (googlebot.json), one prefix per line as Google writes it. */
function crawlerJson(prefixes: string[]): string {
  const entries = prefixes.map((p) => `    { "${p.includes(':') ? 'ipv6Prefix' : 'ipv4Prefix'}": "${p}" }`);
  return `{\n  "creationTime": "2026-11-30T00:00:00.000000",\n  "prefixes": [\n${entries.join(',\n')}\n  ]\n}\n`;
}

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

test('a crawlers copy of only 0.0.0.0/0 and ::/0 is refused: the build fails instead of verifying every address', () => {
  const path = file('everyone.json', crawlerJson(['0.0.0.0/0', '::/0']));
  const imported = importCloudRanges(crawlerJson(['0.0.0.0/0', '::/0']), 'crawlers');
  assert.equal(imported.rows.length, 0);
  assert.deepEqual(imported.invalid.map((bad) => bad.line), [4, 5], 'each skipped entry names its line');
  assert.match(imported.invalid[0]!.reason, /^0\.0\.0\.0\/0 is wider than \/16/);
  assert.match(imported.invalid[1]!.reason, /^::\/0 is wider than \/32/);
  assert.throws(() => readSources({ clouds: [{ name: 'googlebot', file: path, format: 'crawlers' }] }), SourceRejectedError);
});

test('one widened prefix among real ones is skipped with a warning and counted; Googlebot from AWS stays spoofed', () => {
  const real = ['66.249.64.0/27', '66.249.66.0/27', '66.249.66.32/27', '192.178.5.0/27', '34.22.85.0/27', '2001:4860:4801:10::/64'];
  const path = file('googlebot.json', crawlerJson([...real.slice(0, 3), '0.0.0.0/0', ...real.slice(3)]));
  const warnings: string[] = [];
  const inputs = readSources({ clouds: [{ name: 'googlebot', file: path, format: 'crawlers' }] }, (line) => warnings.push(line));
  const list = inputs.lists![0]!;
  assert.deepEqual(list.ranges.map(formatRange), real);
  assert.equal(list.summary.invalidLines, 1);
  assert.deepEqual(warnings, [`${path}:7: skipped: 0.0.0.0/0 is wider than /16: no crawler publishes IPv4 ranges that wide`]);

  const data = join(dir, 'data.moat');
  buildDataFile(inputs, data);
  const { rules, attacks, bots } = parseRulesSource('bots:\n  search-engine: allow\n  spoofed: block\n');
  const rulesPath = join(dir, 'rules.moat');
  writeRulesFile(rules, rulesPath, { attacks, bots });
  const engine = Engine.open({ rules: rulesPath, data });
  try {
    const fromAws = engine.evaluate({ ip: AWS_ADDRESS, userAgent: GOOGLEBOT, method: 'GET', path: '/' });
    assert.equal(fromAws.treatment, 'Blocked');
    assert.equal(fromAws.category, 'bot-spoofed');
    const fromGoogle = engine.evaluate({ ip: GOOGLE_ADDRESS, userAgent: GOOGLEBOT, method: 'GET', path: '/' });
    assert.equal(fromGoogle.treatment, 'Allowed');
    assert.equal(fromGoogle.category, 'bot-search-engine');
  } finally {
    engine.close();
  }
});

test('every spelling of a too-wide range is caught; /16 and IPv6 /32 and the widest real ranges we use still import', () => {
  // IPv6 ranges reaching into ::ffff:0:0/96 are stored as IPv4 there: `::/80` is every IPv4 address.
  const wide = ['1.0.0.0/1', '0.0.0.0/15', '::ffff:0:0/96', '2001::/31', '10.0.0.0-10.1.0.0', '::/0', '::/80', '::ffff:0:0/95', '::fffe:0:0-::ffff:ffff:ffff'];
  const imported = importCloudRanges(crawlerJson([...wide, '10.9.0.0-10.9.255.255', '2001:db8::/32']), 'crawlers');
  assert.deepEqual(imported.invalid.map((bad) => bad.reason.split(' is ')[0]), wide);
  assert.match(imported.invalid[6]!.reason, /^::\/80 is wider than \/16 \(its IPv4-mapped part\)/);
  assert.deepEqual(imported.rows.map(formatRange), ['10.9.0.0/16', '2001:db8::/32']);
  // An IPv6 range just below the mapped block is an IPv6 range like any other.
  assert.deepEqual(importCloudRanges(crawlerJson(['::fffe:0:0/96']), 'crawlers').rows.map(formatRange), ['::fffe:0:0/96']);
  const real = ['66.249.64.0/19', '2001:4860:4801::/48', '157.55.39.0/24'];
  assert.deepEqual(importCloudRanges(crawlerJson(real), 'crawlers').rows.map(formatRange), real);
});

test('narrow ranges adding up to more than one /16 (IPv6: /32) refuse the whole copy: 256 adjacent /16s are a /8', () => {
  assert.throws(() => importCloudRanges(crawlerJson(Array.from({ length: 256 }, (_, i) => `3.${i}.0.0/16`)), 'crawlers'),
    (error: Error) => error instanceof CloudFormatError && /its IPv4 ranges add up to more addresses than one \/16/.test(error.message));
  assert.throws(() => importCloudRanges(crawlerJson(['2001:db8::/33', '2001:db8:8000::/33', '2001:db9::/64']), 'crawlers'),
    /its IPv6 ranges add up to more addresses than one \/32/);
  // At the bound exactly, and the same ranges counted per family.
  assert.equal(crawlerListProblem(['10.0.0.0/17', '10.1.0.0/17'].map((r) => tryParseRange(r)!)), null);
  assert.match(crawlerListProblem(['10.0.0.0/17', '10.1.0.0/17', '10.2.0.0/32'].map((r) => tryParseRange(r)!)) ?? '', /IPv4/);
  const path = file('adjacent.json', crawlerJson(Array.from({ length: 4 }, (_, i) => `3.${i}.0.0/16`)));
  assert.throws(() => readSources({ clouds: [{ name: 'googlebot', file: path, format: 'crawlers' }] }), /add up to more addresses than one \/16/);
});

test('the limit is for crawler lists only: a cloud provider\'s published ranges keep their wide prefixes', () => {
  const gcp = JSON.stringify({ syncToken: '1', prefixes: [{ ipv4Prefix: '34.64.0.0/10' }, { ipv6Prefix: '2600:1900::/28' }] });
  assert.deepEqual(importCloudRanges(gcp, 'gcp').rows.map(formatRange), ['34.64.0.0/10', '2600:1900::/28']);
  assert.deepEqual(importCloudRanges(gcp, 'crawlers').rows.map(formatRange), []);
});
