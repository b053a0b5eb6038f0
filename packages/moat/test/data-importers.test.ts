// Importers of the data build, on small fixtures made in the repository (test/fixtures/data).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { formatRange } from '../src/ip/index.js';
import type { IpRange } from '../src/ip/index.js';
import { importCountryCsv, importAsnCsv, csvFields } from '../src/data/importers/range-csv.js';
import { importIpList } from '../src/data/importers/ip-list.js';
import { importCloudRanges, detectCloudFormat, CloudFormatError } from '../src/data/importers/cloud-ranges.js';
import { assertMostlyValid, SourceRejectedError } from '../src/data/importers/import-result.js';
import { resolveSourceFiles, SourceNotFoundError } from '../src/data/sources.js';

const FIX = path.join(import.meta.dirname, 'fixtures', 'data');
const fixture = (name: string) => fs.readFileSync(path.join(FIX, name), 'utf8');
const texts = (ranges: IpRange[]) => ranges.map(formatRange);

describe('country CSV (start,end,country)', () => {
  test('reads address rows, keeps unknown as null, reports bad lines with their numbers', () => {
    const r = importCountryCsv(fixture('country.csv'));
    assert.equal(r.lines, 11);
    assert.deepEqual(r.rows.map((x) => [formatRange(x.range), x.country]), [
      ['1.0.0.0/24', 'AU'], ['1.0.1.0-1.0.3.255', 'CN'], ['2.16.0.0/16', 'DE'], ['2.16.5.7', 'BE'], ['2.16.9.0/25', 'FR'],
      ['5.0.0.0/24', null], ['81.2.69.0/24', 'GB'], ['2001:db8::/32', 'NL'], ['2001:db8:1::/120', 'SE'],
    ]);
    assert.deepEqual(r.invalid.map((b) => b.line), [8, 9]);
    assert.match(r.invalid[0].reason, /invalid range/);
    assert.match(r.invalid[1].reason, /invalid country code "USA"/);
    assertMostlyValid('country.csv', r); // 2 of 11 bad: accepted
  });

  test('reads the integer (-num.csv) form, a header line, CRLF and quoted fields', () => {
    const r = importCountryCsv('ip_range_start,ip_range_end,country_code\r\n16777216,16777471,AU\r\n"42540766411282592856903984951653826560","42540766490510755371168322545197776895","nl"\r\n');
    assert.equal(r.invalid.length, 0);
    assert.deepEqual(r.rows.map((x) => [formatRange(x.range), x.country]), [['1.0.0.0/24', 'AU'], ['2001:db8::/32', 'NL']]);
  });
});

describe('ASN CSV (start,end,asn,organisation)', () => {
  test('normalises ASNs to AS<n>, keeps quoted organisations with commas, reports bad ASNs', () => {
    const r = importAsnCsv(fixture('asn.csv'));
    assert.deepEqual(r.rows.map((x) => [formatRange(x.range), x.asn, x.org]), [
      ['1.0.0.0/24', 'AS13335', 'Cloudflare, Inc.'],
      ['2.16.0.0/17', 'AS20940', 'Akamai International B.V.'],
      ['2.16.64.0/24', 'AS16625', 'Akamai Technologies, Inc.'],
      ['9.9.9.0/24', 'AS19281', 'Quad9'],
      ['2001:db8::/112', 'AS64496', 'Documentation AS'],
    ]);
    assert.deepEqual(r.invalid.map((b) => [b.line, b.reason]), [[6, 'invalid ASN "notanasn"']]);
  });

  test('csvFields handles quotes, doubled quotes and empty fields', () => {
    assert.deepEqual(csvFields('a,"b, c","d ""e""",,f'), ['a', 'b, c', 'd "e"', '', 'f']);
  });
});

describe('plain lists', () => {
  test('FireHOL netset: comments skipped, IPs and CIDRs read', () => {
    const r = importIpList(fixture('firehol_level1.netset'));
    assert.deepEqual(texts(r.rows), ['0.0.0.0/8', '198.51.100.0/24', '203.0.113.7']);
    assert.equal(r.invalid.length, 0);
  });

  test('Spamhaus DROP text (`cidr ; SBL`) and NDJSON (metadata line skipped)', () => {
    assert.deepEqual(texts(importIpList(fixture('drop.txt')).rows), ['198.51.100.128/25', '192.0.2.0/24']);
    const j = importIpList(fixture('drop_v4.json'));
    assert.deepEqual(texts(j.rows), ['192.0.2.0/25', '100.64.0.0/24']);
    assert.equal(j.lines, 2);
  });

  test('Tor exit-addresses records and bulk exit lists', () => {
    const r = importIpList(fixture('tor-exit-addresses.txt'));
    assert.deepEqual(texts(r.rows), ['203.0.113.50', '203.0.113.51']);
    assert.equal(r.invalid.length, 0);
    assert.equal(r.lines, 2); // ExitNode, Published and LastStatus lines are not entries
    assert.deepEqual(texts(importIpList(fixture('tor-bulk.txt')).rows), ['203.0.113.50', '203.0.113.52', '2001:db8:dead::1']);
  });

  test('ranges with spaces, trailing columns and inline comments', () => {
    const r = importIpList('10.0.0.1 - 10.0.0.9\n10.1.0.0/16\t1234 hits\n10.2.0.1 # note\nnope\n');
    assert.deepEqual(texts(r.rows), ['10.0.0.1-10.0.0.9', '10.1.0.0/16', '10.2.0.1']);
    assert.deepEqual(r.invalid.map((b) => b.line), [4]);
  });

  test('a mostly-garbage source is refused with the first bad lines named; an empty one too', () => {
    const r = importIpList(fixture('garbage.txt'));
    assert.equal(r.rows.length, 1);
    assert.deepEqual(r.invalid.map((b) => b.line), [2, 3, 5]);
    assert.throws(() => assertMostlyValid('garbage.txt', r), (e: Error) =>
      e instanceof SourceRejectedError && /garbage\.txt: 3 of 4 entries are invalid \(line 2: .*line 3: .*line 5: /.test(e.message));
    assert.throws(() => assertMostlyValid('empty.txt', importIpList('# nothing\n\n')), /empty\.txt: no entries/);
    assert.throws(() => assertMostlyValid('one-bad.txt', importIpList('x\n')), /1 of 1 entries are invalid/);
  });
});

describe('cloud ranges', () => {
  test('AWS ip-ranges.json: prefixes and ipv6_prefixes, detected, bad entry with its line number', () => {
    const text = fixture('aws-ip-ranges.json');
    const r = importCloudRanges(text);
    assert.equal(r.format, 'aws');
    assert.deepEqual(texts(r.rows), ['3.5.140.0/22', '3.5.140.0/22', '13.34.37.64/27', '2600:1f14::/35']);
    assert.equal(r.invalid.length, 1);
    const line = text.split('\n').findIndex((l) => l.includes('300.1.2.0/24')) + 1;
    assert.equal(r.invalid[0].line, line);
    assert.equal(r.lines, 5);
  });

  test('GCP cloud.json and the Cloudflare API shape are detected; Cloudflare text lists read as lists', () => {
    const g = importCloudRanges(fixture('gcp-cloud.json'));
    assert.equal(g.format, 'gcp');
    assert.deepEqual(texts(g.rows), ['34.1.208.0/20', '2600:1900:8000::/44']);
    const cfApi = JSON.stringify({ result: { ipv4_cidrs: ['173.245.48.0/20'], ipv6_cidrs: ['2400:cb00::/32'], etag: 'x' }, success: true });
    assert.equal(detectCloudFormat(JSON.parse(cfApi)), 'cloudflare');
    assert.deepEqual(texts(importCloudRanges(cfApi).rows), ['173.245.48.0/20', '2400:cb00::/32']);
    const cfText = importCloudRanges(fixture('cloudflare-ips-v4.txt'), 'cloudflare');
    assert.deepEqual(texts(cfText.rows), ['173.245.48.0/20', '103.21.244.0/22']);
    assert.equal(importCloudRanges(fixture('cloudflare-ips-v4.txt')).format, 'text');
  });

  test('Azure service tags and Oracle shapes; unknown JSON is a clear error', () => {
    const az = { changeNumber: 1, values: [{ name: 'AzureCloud', properties: { addressPrefixes: ['4.144.0.0/17', '2603:1000::/40'] } }] };
    assert.deepEqual(texts(importCloudRanges(JSON.stringify(az)).rows), ['4.144.0.0/17', '2603:1000::/40']);
    const oc = { regions: [{ region: 'x', cidrs: [{ cidr: '129.146.0.0/21', tags: ['OCI'] }] }] };
    assert.deepEqual(texts(importCloudRanges(JSON.stringify(oc)).rows), ['129.146.0.0/21']);
    assert.throws(() => importCloudRanges('{"hello": 1}'), (e: Error) => e instanceof CloudFormatError && /unknown cloud range format/.test(e.message));
    assert.throws(() => importCloudRanges('{"prefixes": [', 'aws'), CloudFormatError);
  });
});

describe('crawler ranges', () => {
  test("Google's googlebot.json and Bing's bingbot.json read as `crawlers`, one range per prefix, bad prefix counted", () => {
    const google = JSON.stringify({
      creationTime: '2024-05-01T00:00:00.000000', prefixes: [{ ipv6Prefix: '2001:4860:4801:10::/64' }, { ipv4Prefix: '66.249.64.0/27' }],
    }, null, 2);
    const g = importCloudRanges(google, 'crawlers');
    assert.equal(g.format, 'crawlers');
    assert.deepEqual(texts(g.rows), ['2001:4860:4801:10::/64', '66.249.64.0/27']);
    assert.equal(detectCloudFormat(JSON.parse(google)), 'gcp', 'the shape is GCP\'s; the name keeps crawlers apart');
    const bing = JSON.stringify({ creationTime: '2024-05-01T00:00:00', prefixes: [{ ipv4Prefix: '157.55.39.0/24' }, { ipv4Prefix: '207.46.13.0/33' }] }, null, 2);
    const b = importCloudRanges(bing, 'crawlers');
    assert.deepEqual(texts(b.rows), ['157.55.39.0/24']);
    assert.equal(b.invalid.length, 1);
    assert.equal(b.invalid[0].line, bing.split('\n').findIndex((l) => l.includes('/33')) + 1);
  });
});

describe('default sources', () => {
  test('"default" resolves to the installed @ip-location-db CSVs (address form, not -num)', () => {
    const country = resolveSourceFiles('default', 'country');
    assert.deepEqual(country.map((f) => path.basename(f)), ['geo-whois-asn-country-ipv4.csv', 'geo-whois-asn-country-ipv6.csv']);
    const asn = resolveSourceFiles('default', 'asn');
    assert.deepEqual(asn.map((f) => path.basename(f)), ['asn-ipv4.csv', 'asn-ipv6.csv']);
    assert.deepEqual(resolveSourceFiles('some/file.csv', 'asn'), ['some/file.csv']);
    assert.throws(() => resolveSourceFiles('@nobody/not-installed', 'country'), SourceNotFoundError);
  });
});
