// Rules by data, end to end: a rules document compiled with the compile API, a data file built from the
// fixtures, both opened by Engine.open — block by country, continent, ASN, named list and cloud list;
// allow rules still win; both data modes answer alike.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { Engine, parseRulesDocument, writeRulesFile } from '../src/index.js';
import { parseRange } from '../src/ip/index.js';
import { buildDataFile } from '../src/data/build-data.js';
import { readSources } from '../src/data/read-sources.js';
import { withTmpDir } from './helpers/engine-kit.js';

const FIX = path.join(import.meta.dirname, 'fixtures', 'data');
const fx = (name: string) => path.join(FIX, name);

function buildFiles(dir: string, rulesDoc: unknown): { rules: string; data: string } {
  const rules = path.join(dir, 'rules.db');
  writeRulesFile(parseRulesDocument(JSON.stringify(rulesDoc), 'rules.json'), rules);
  const data = path.join(dir, 'data.db');
  buildDataFile(readSources({
    countries: [fx('country.csv')], asns: [fx('asn.csv')],
    lists: [{ name: 'tor', file: fx('tor-exit-addresses.txt') }, { name: 'drop', file: fx('drop.txt') }],
    clouds: [{ name: 'aws', file: fx('aws-ip-ranges.json') }],
  }), data);
  return { rules, data };
}

const RULES = {
  allow: { ips: ['2.16.9.5', '203.0.113.51'] },
  block: {
    countries: ['BE', 'continent:OC', { value: 'GB', mode: 'monitor' }],
    asns: ['AS19281', '16625'],
    lists: ['tor', 'drop', 'aws'],
    paths: ['/wp-admin'],
  },
};

describe('rules by data through the Engine', () => {
  for (const dataMode of ['memory', 'light'] as const) {
    test(`country, continent, ASN, list and cloud rules (${dataMode})`, () =>
      withTmpDir((dir) => {
        const files = buildFiles(dir, RULES);
        const e = Engine.open({ ...files, dataMode });
        try {
          const d = (ip: string, extra = {}) => {
            const r = e.evaluate({ ip, method: 'GET', path: '/', ...extra });
            return [r.treatment, r.category, r.rule];
          };
          assert.deepEqual(d('2.16.5.7'), ['Blocked', 'bctry', 'BE']); // BE nested in DE
          assert.deepEqual(d('2.16.5.8'), ['Passed', 'passed', '-']); // DE around it
          assert.deepEqual(d('1.0.0.1'), ['Blocked', 'bctry', 'continent:OC']); // AU is Oceania
          assert.deepEqual(d('::ffff:1.0.0.255'), ['Blocked', 'bctry', 'continent:OC']);
          assert.deepEqual(d('1.0.1.1'), ['Passed', 'passed', '-']); // CN, Asia: not blocked
          assert.deepEqual(d('9.9.9.9'), ['Blocked', 'brep', 'AS19281']);
          assert.deepEqual(d('2.16.64.200'), ['Blocked', 'brep', 'AS16625']);
          assert.deepEqual(d('203.0.113.50'), ['Blocked', 'brep', 'tor']);
          assert.deepEqual(d('192.0.2.99'), ['Blocked', 'brep', 'drop']);
          assert.deepEqual(d('2600:1f14:1::1'), ['Blocked', 'brep', 'aws']);
          assert.deepEqual(d('8.8.8.8'), ['Passed', 'passed', '-']);
          // Allow rules win over every data rule.
          assert.deepEqual(d('203.0.113.51'), ['Allowed', 'ai', '203.0.113.51']);
          assert.deepEqual(d('2.16.9.5'), ['Allowed', 'ai', '2.16.9.5']);
          // A monitor-mode country rule reports, never blocks; later checks still run.
          const gb = e.evaluate({ ip: '81.2.69.1', path: '/wp-admin' });
          assert.deepEqual([gb.treatment, gb.category], ['Blocked', 'bp']);
          assert.deepEqual(gb.monitored.map((m) => [m.category, m.rule]), [['bctry', 'GB']]);
        } finally {
          e.close();
        }
      }));
  }

  test('each continent group of the Wafris hub blocks its countries and no other', () =>
    withTmpDir((dir) => {
      const byContinent: Record<string, string> = { AF: 'ZA', AS: 'JP', OC: 'AU', EU: 'DE', NA: 'US', SA: 'BR' };
      const rows = Object.values(byContinent).map((cc, i) => ({ range: parseRange(`10.0.${i}.0/24`), country: cc }));
      const data = path.join(dir, 'data.db');
      buildDataFile({ countries: { rows, summary: { name: 'country', kind: 'country', ranges: rows.length, invalidLines: 0 } } }, data);
      Object.keys(byContinent).forEach((continent, k) => {
        const rules = path.join(dir, `rules-${continent}.db`);
        writeRulesFile(parseRulesDocument(JSON.stringify({ block: { countries: [`continent:${continent}`] } })), rules);
        const e = Engine.open({ rules, data });
        Object.values(byContinent).forEach((_cc, i) => {
          const d = e.evaluate({ ip: `10.0.${i}.9` });
          assert.deepEqual([d.treatment, d.rule], i === k ? ['Blocked', `continent:${continent}`] : ['Passed', '-'], `${continent} ${i}`);
        });
        e.close();
      });
    }));
});
