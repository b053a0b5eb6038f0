// The overview and the IP page read only the rules that may cover what they show (HubStore.rulesFor),
// never the site's whole list (up to 10,000 rules: 30–40 ms a page before). What they show must not
// change: each value's state (blocked, monitored, allowed; the rule; its undo) is the one ruleCoverage
// and rulesForIp give with every rule of the site. Real hub, real SQLite file, HTTP on 127.0.0.1.
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import type { Rule } from 'moat-waf';
import { quickBlockValue } from '../src/rules/quick-block.js';
import type { StoredRule } from '../src/store/store.js';
import { ruleCoverage, rulesForIp, type CoveredKind } from '../src/ui/rule-coverage.js';
import { record, startHubWithSite, upsyncBody, type Client, type TestHub } from './support/hub-fixture.js';

const block = (id: string, kind: Rule['kind'], value: string, extra: Partial<Rule> = {}) =>
  ({ id, action: 'block', kind, value, mode: 'block', ...extra }) as Rule;

const RULES: Rule[] = [
  block('ip-exact', 'ip', '203.0.113.7'),
  block('ip-net', 'ip', '203.0.113.0/24', { mode: 'monitor' }),
  { ...block('ip-range', 'ip', '198.51.100.10-198.51.100.20'), action: 'allow' } as Rule,
  block('ip-expired', 'ip', '192.0.2.0/24', { expires: Date.now() - 60_000 }),
  block('country', 'country', 'DE'),
  block('path', 'path', '/wp-admin'),
  block('ua', 'userAgent', 'nikto'),
  block('ua-kelvin', 'userAgent', '\u212Aelvin'),
  block('rl', 'rateLimit', 'POST /login', { rateLimit: { method: 'POST', path: '/login', match: 'exact', limit: 5, windowMs: 60_000 } }),
  ...Array.from({ length: 3_000 }, (_, i) => block(`filler-${i}`, i % 2 === 0 ? 'ip' : 'path', i % 2 === 0 ? `10.9.${i >> 8}.${i & 255}` : `/filler/${i}`)),
];

/** The action cell of the row of `value` in a top list (or the IP page's actions). */
function stateOf(html: string, value: string): { state: string | null; ruleId: string | null } {
  const cell = html.split('<tr>').find((row) => row.includes(`>${value}<`)) ?? '';
  return { state: /data-state="(\w+)"/.exec(cell)?.[1] ?? null, ruleId: /data-rule-link="([^"]+)"/.exec(cell)?.[1] ?? null };
}

describe('overview and IP page read only the rules they show', () => {
  let hub: TestHub;
  let client: Client;
  let siteId: number;
  let apiKey: string;
  let all: StoredRule[];

  before(async () => {
    ({ hub, client, siteId, apiKey } = await startHubWithSite('lookups'));
    await hub.store.saveRules(siteId, RULES, { replace: false, now: 1 });
    all = await hub.store.listRules(siteId);
    const batch = [
      ...['203.0.113.7', '203.0.113.99', '198.51.100.15', '192.0.2.9', '8.8.8.8'].map((ip, i) => record({ request_id: `i${i}`, ip })),
      record({ request_id: 'p', path: '/wp-admin/setup.php' }), record({ request_id: 'u1', user_agent: 'Nikto/2.5.0' }),
      record({ request_id: 'u2', user_agent: 'kelvin-bot' }),
      record({ request_id: 'rl', method: 'POST', path: '/login', treatment: 'Blocked', category: 'brl', rule: 'rl' }),
    ];
    const up = await fetch(`${hub.url}/v2/upsync/${apiKey}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(upsyncBody(batch)) });
    assert.equal(up.status, 200);
    await hub.rollUpNow();
    // Reading the whole list is what the pages no longer do.
    hub.store.listRules = async () => { throw new Error('the page read every rule of the site'); };
  });
  after(() => hub.stop());

  const page = async (path: string) => {
    const response = await client.request(path);
    const text = await response.text();
    assert.equal(response.status, 200, `${path}: ${text.slice(0, 300)}`);
    return text;
  };

  it('overview: every top-list value shows the state every rule gives it', async () => {
    const html = await page(`/sites/${siteId}?range=1h`);
    const coverage = ruleCoverage(all, Date.now());
    const shown: Array<[CoveredKind, string, string | null]> = [
      ['ip', '203.0.113.7', 'ip-exact'], ['ip', '203.0.113.99', 'ip-net'], ['ip', '198.51.100.15', 'ip-range'], ['ip', '192.0.2.9', null],
      ['ip', '8.8.8.8', null], ['path', '/wp-admin/setup.php', 'path'], ['userAgent', 'Nikto/2.5.0', 'ua'], ['userAgent', 'kelvin-bot', 'ua-kelvin'],
    ];
    for (const [kind, value, ruleId] of shown) {
      const section = html.split(`data-top="${kind}"`)[1]!.split('</section>')[0]!;
      const quick = quickBlockValue(kind, value);
      const expected = coverage.of(kind, quick.ok ? quick.value : value);
      assert.equal(expected?.rule.id ?? null, ruleId, `every rule: ${kind} ${value}`);
      assert.deepEqual(stateOf(section, value), { state: expected?.state ?? null, ruleId: expected?.rule.id ?? null }, `${kind} ${value}`);
    }
    // The rules list names the rate limit by what it limits.
    assert.match(html.split('data-top="rule"')[1]!.split('</section>')[0]!, /POST \/login 5 per 60s/);
  });

  it('IP page: the rules that apply now, and the address\'s own state, as every rule gives them', async () => {
    for (const ip of ['203.0.113.7', '198.51.100.15', '192.0.2.9', '8.8.8.8']) {
      const html = await page(`/sites/${siteId}/ips/${ip}`);
      // The country the page shows (this hub has no data file: none, as the test's clients report none).
      const country = /data-fact="country">([A-Z]{2})/.exec(html)?.[1] ?? null;
      const now = rulesForIp(all, ip, { country, asn: null, lists: [] }, Date.now());
      const listed = [...(html.split('data-rules-now')[1]!.split('</section>')[0]!).matchAll(/<code>([^<]*)<\/code>/g)].map((m) => m[1]);
      assert.deepEqual(listed, now.map((r) => r.value), ip);
      const own = ruleCoverage(all, Date.now()).of('ip', ip);
      const actions = html.split('data-ip-actions')[1]!.split('</div>')[0]!;
      assert.equal(/data-state="(\w+)"/.exec(actions)?.[1] ?? null, own?.state ?? null, ip);
    }
  });
});
