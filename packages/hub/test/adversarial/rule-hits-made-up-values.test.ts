// Attack: a holder of a site's API key (every app deployment has one) reports blocked requests with
// made-up rule entries, each one distinct. The hub rolls every distinct entry into its hourly counts, and
// the rule hit counts (Rules page, GET /api/sites/:id/rules) read every one of the last 7 days on the
// event loop: a million such entries held the hub 3 s per page view. Now the counts seek the keys of the
// rules shown, through an index of the rule dimensions alone. Real hub on 127.0.0.1, real upsync and
// rollups; the query plan is read from SQLite, nothing is timed.
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { RULE_HITS_SQL } from '../../src/store/sqlite/report-stats.js';
import { record, startHubWithSite, upsyncBody, type Client, type TestHub } from '../support/hub-fixture.js';

describe('rule hit counts with made-up reported entries', () => {
  let hub: TestHub;
  let client: Client;
  let siteId: number;
  let apiKey: string;

  before(async () => {
    ({ hub, client, siteId, apiKey } = await startHubWithSite('reported'));
  });
  after(() => hub.stop());

  const upsync = async (batch: Record<string, unknown>[]) => {
    const response = await fetch(`${hub.url}/v2/upsync/${apiKey}`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(upsyncBody(batch)),
    });
    assert.equal(response.status, 200, await response.text());
  };

  it('counts the real rules\' hits among 20,000 made-up entries, by index seeks', async () => {
    const created = await client.api('POST', `/api/sites/${siteId}/rules`, { kind: 'path', value: '/wp-admin' });
    assert.equal(created.status, 201);
    const ruleId = ((await created.json()) as { rule: { id: string } }).rule.id;

    for (let part = 0; part < 2; part++) {
      await upsync(Array.from({ length: 10_000 }, (_, i) => record({
        request_id: `junk-${part}-${i}`, treatment: 'Blocked', category: 'bp', rule: `/made-up-${part}-${i}`,
      })));
    }
    // Three as a Wafris client reports them (category and entry, no id; one in another case), two with the id.
    await upsync([
      record({ request_id: 'w1', treatment: 'Blocked', category: 'bp', rule: '/wp-admin' }),
      record({ request_id: 'w2', treatment: 'Blocked', category: 'bp', rule: '/wp-admin' }),
      record({ request_id: 'w3', treatment: 'Blocked', category: 'bp', rule: '/WP-ADMIN' }),
      record({ request_id: 'm1', treatment: 'Blocked', category: 'bp', rule: '/wp-admin', rule_id: ruleId }),
      record({ request_id: 'm2', treatment: 'Blocked', category: 'bp', rule: '/wp-admin', rule_id: ruleId }),
    ]);
    while ((await hub.rollUpNow()) > 0);

    const db = new Database(hub.config.databaseFile, { readonly: true });
    try {
      const stored = db.prepare("SELECT count(*) FROM hour_top WHERE site_id = ? AND dim = 'match'").pluck().get(siteId) as number;
      assert.ok(stored >= 20_001, `the made-up entries are in the hourly counts (${stored})`);
      const plan = (db.prepare(`EXPLAIN QUERY PLAN ${RULE_HITS_SQL}`).all(siteId, 'match', '[]', 0, 1) as { detail: string }[]).map((r) => r.detail);
      assert.ok(plan.some((d) => /^SEARCH hour_top USING INDEX hour_top_rule_values \(site_id=\? AND dim=\? AND value=\?/.test(d)), plan.join('; '));
      assert.ok(!plan.some((d) => /hour_top_by_total|^SCAN hour_top/.test(d)), plan.join('; '));
    } finally {
      db.close();
    }

    const listed = (await (await client.request(`/api/sites/${siteId}/rules`)).json()) as { rules: { id: string; hits: { hits: number } }[] };
    assert.equal(listed.rules.find((r) => r.id === ruleId)?.hits.hits, 5, 'two by id, three by entry (case-insensitive)');
    const page = await (await client.request(`/sites/${siteId}/rules`)).text();
    assert.match(page, new RegExp(`id="rule-${ruleId}"[\\s\\S]*?<td class="num">5</td>`));
  });
});
