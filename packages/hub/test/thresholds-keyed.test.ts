// Threshold rules keyed by a header, a cookie or the user id, on the hub's side: counting by the reported
// hash across addresses (a request without the key by its IP), the form and API taking the new keys, the
// site's Moat rules file listing the keys its rules count by (and dropping them with the rule), and a
// keyed ban compiled as a Moat keyed ban (format version 3) that the Wafris file leaves out.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { banKeyLabel, isReportedBanKey } from '../src/thresholds/ban-key.js';
import { SlidingCounters } from '../src/thresholds/sliding-counters.js';
import { ThresholdEvaluator, type ThresholdRecord } from '../src/thresholds/threshold-evaluator.js';
import type { ThresholdRule } from '../src/thresholds/threshold-types.js';
import { startHubWithSite } from './support/hub-fixture.js';
import { createThreshold, listBans, report, wafrisBlocks } from './support/thresholds-kit.js';

const K1 = '11111111111111111111111111111111';
const K2 = '22222222222222222222222222222222';

function keyedRule(key: ThresholdRule['key'], threshold = 3): ThresholdRule {
  return {
    id: 1, siteId: 1, name: 'key flood', windowSeconds: 60, threshold, key, banSeconds: 3600, mode: 'enforce', maxBansPerMinute: 60,
    createdAt: 0, updatedAt: 0, condition: { requests: 'any', method: null, path: null, pathMatch: 'exact', status: null },
  };
}

function rec(ip: string, keys: ThresholdRecord['keys'] = null): ThresholdRecord {
  return { ts: 1_000_000, ip, method: 'GET', path: '/api', treatment: 'Passed', keys };
}

/** The meta rows of the site's current Moat rules file. */
async function moatMeta(hub: Awaited<ReturnType<typeof startHubWithSite>>['hub'], siteId: number): Promise<Map<string, string>> {
  const build = await hub.context.builder.current(siteId, 'moat');
  const db = new Database(build.path, { readonly: true });
  try {
    return new Map(db.prepare<[], { key: string; value: string }>('SELECT key, value FROM meta').all().map((r) => [r.key, r.value]));
  } finally {
    db.close();
  }
}

describe('keyed threshold rules on the hub', () => {
  it('counts one header key across addresses, other keys apart, and a request without the key by its IP', () => {
    const e = new ThresholdEvaluator(new SlidingCounters(100));
    e.setRules(1, [keyedRule('header:x-api-key')]);
    const k1 = [{ kind: 'header:x-api-key', hash: K1 }];
    assert.deepEqual(e.evaluate(1, [rec('203.0.113.1', k1), rec('203.0.113.2', k1), rec('203.0.113.3', [{ kind: 'header:x-api-key', hash: K2 }])]), []);
    // Another kind's hash is not this rule's key: that request counts by its address.
    assert.deepEqual(e.evaluate(1, [rec('203.0.113.9', [{ kind: 'cookie:session', hash: K1 }])]), []);
    const crossed = e.evaluate(1, [rec('198.51.100.4', k1)]);
    assert.deepEqual(crossed.map((c) => [c.key, c.count]), [[`header:x-api-key=${K1}`, 3]]);
    assert.deepEqual(e.evaluate(1, [rec('203.0.113.9'), rec('203.0.113.9')]).map((c) => c.key), ['203.0.113.9'], 'no key: by IP');
    assert.equal(isReportedBanKey(`header:x-api-key=${K1}`), true);
    assert.equal(isReportedBanKey('2001:db8::/64'), false);
    assert.equal(banKeyLabel(`user=${K2}`), 'user #22222222…');
    assert.equal(banKeyLabel('203.0.113.9'), '203.0.113.9');
  });

  it('the form takes a header key; the Moat file then lists it for clients to report, and drops it with the rule', async () => {
    const { hub, client, siteId } = await startHubWithSite();
    try {
      assert.equal((await moatMeta(hub, siteId)).get('report_keys'), undefined);
      const form = await client.request(`/sites/${siteId}/thresholds`, {
        method: 'POST', form: {
          _csrf: client.csrf, name: 'api keys', requests: 'any', threshold: '1000', windowSeconds: '60', key: 'header', keyName: 'X-Api-Key',
          banSeconds: '3600', mode: 'enforce',
        },
      });
      assert.equal(form.status, 303, await form.text());
      const [rule] = await hub.store.thresholds.listThresholdRules(siteId);
      assert.equal(rule!.key, 'header:x-api-key');
      await createThreshold(client, siteId, { name: 'users', key: 'user' });
      assert.equal((await moatMeta(hub, siteId)).get('report_keys'), '["header:x-api-key","user"]');
      const page = await (await client.request(`/sites/${siteId}/thresholds?edit=${rule!.id}`)).text();
      assert.match(page, /<option value="header" selected>/);
      assert.match(page, /name="keyName" type="text" value="x-api-key"/);
      assert.equal((await client.api('DELETE', `/api/sites/${siteId}/thresholds/${rule!.id}`)).status, 204);
      assert.equal((await moatMeta(hub, siteId)).get('report_keys'), '["user"]');
    } finally {
      await hub.stop();
    }
  });

  it('a keyed ban is compiled into the Moat file as a keyed ban (format 3); the Wafris file leaves it out', async () => {
    const { hub, client, siteId, apiKey } = await startHubWithSite();
    try {
      await createThreshold(client, siteId, { name: 'key flood', condition: { requests: 'any' }, threshold: 2, key: 'header:x-api-key' });
      const answer = await report(hub.url, apiKey, '203.0.113.50', 2, { keys: `header:x-api-key=${K1}`, treatment: 'Passed', category: 'passed', rule: '-' });
      assert.equal(answer.status, 200);
      await hub.context.thresholds.idle();
      assert.deepEqual((await listBans(client, siteId)).map((b) => b.key), [`header:x-api-key=${K1}`]);
      const build = await hub.context.builder.current(siteId, 'moat');
      const db = new Database(build.path, { readonly: true });
      try {
        assert.equal(db.prepare("SELECT value FROM meta WHERE key = 'format_version'").pluck().get(), '3');
        assert.deepEqual(db.prepare("SELECT kind, value FROM rules WHERE id LIKE 'auto-ban-%'").all(), [{ kind: 'key', value: `header:x-api-key=${K1}` }]);
      } finally {
        db.close();
      }
      const wafris = await wafrisBlocks(hub, siteId);
      assert.deepEqual([wafris.ips, wafris.ranges], [[], 0]);
    } finally {
      await hub.stop();
    }
  });
});
