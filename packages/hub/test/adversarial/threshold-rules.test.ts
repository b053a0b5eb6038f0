// Attacks on auto-ban: rule inputs out of bounds, forged reports meant to get an innocent IP banned on
// another site, reported "IPs" that are really ranges, and a flood of distinct addresses meant to grow
// the hub's memory without end. Real hub, real HTTP, SQLite files.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { createSiteWithKey, record, startHubWithSite, upsyncBody } from '../support/hub-fixture.js';
import { createThreshold, listBans, report, thresholdInput, wafrisBlocks } from '../support/thresholds-kit.js';

const OUT_OF_BOUNDS: [string, Record<string, unknown>][] = [
  ['a window of 0 s', { windowSeconds: 0 }],
  ['a window over a day', { windowSeconds: 86_401 }],
  ['a huge window', { windowSeconds: 1e15 }],
  ['a negative threshold', { threshold: -1 }],
  ['a threshold of 0', { threshold: 0 }],
  ['a fractional threshold', { threshold: 2.5 }],
  ['an unknown key kind', { key: 'asn' }],
  ['a ban of 0 s', { banSeconds: 0 }],
  ['a ban over 30 days', { banSeconds: 31 * 86_400 }],
  ['an unknown mode', { mode: 'ban-everyone' }],
  ['an unlimited ban rate', { maxBansPerMinute: 1e9 }],
  ['an unknown field', { extra: 1 }],
  ['a status of 700', { condition: { requests: 'any', status: 700 } }],
  ['a path without a leading slash', { condition: { requests: 'any', path: 'login' } }],
  ['a method with a space', { condition: { requests: 'any', method: 'GET /' } }],
  ['an unknown condition', { condition: { requests: 'everything' } }],
  ['a name of 101 characters', { name: 'x'.repeat(101) }],
  ['a threshold as text', { threshold: '5' }],
];

describe('threshold rules under attack', () => {
  it('POST /api/sites/:id/thresholds with out-of-bounds inputs is refused 400 and stores nothing', async () => {
    const { hub, client, siteId } = await startHubWithSite();
    try {
      for (const [what, overrides] of OUT_OF_BOUNDS) {
        const response = await client.api('POST', `/api/sites/${siteId}/thresholds`, thresholdInput(overrides));
        assert.equal(response.status, 400, `${what}: ${await response.text()}`);
      }
      const proto = await client.request(`/api/sites/${siteId}/thresholds`, {
        method: 'POST', headers: { 'x-csrf-token': client.csrf, 'content-type': 'application/json' },
        body: `{"__proto__":{"threshold":1},${JSON.stringify(thresholdInput()).slice(1)}`,
      });
      assert.equal(proto.status, 400, 'a prototype key is refused');
      // The form path runs the same checks.
      const form = await client.request(`/sites/${siteId}/thresholds`, {
        method: 'POST', form: { _csrf: client.csrf, name: 'x', requests: 'any', threshold: '-5', windowSeconds: '0', key: 'ip', banSeconds: '60', mode: 'enforce' },
      });
      assert.equal(form.status, 400);
      assert.deepEqual(await hub.store.thresholds.listThresholdRules(siteId), []);
      // Without a session, or without the CSRF header, the body is never taken.
      const anonymous = await fetch(`${hub.url}/api/sites/${siteId}/thresholds`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(thresholdInput()) });
      assert.equal(anonymous.status, 401);
      const noCsrf = await client.request(`/api/sites/${siteId}/thresholds`, { method: 'POST', json: thresholdInput() });
      assert.equal(noCsrf.status, 403);
      const lift = await fetch(`${hub.url}/api/sites/${siteId}/bans/1/lift`, { method: 'POST' });
      assert.equal(lift.status, 401);
    } finally {
      await hub.stop();
    }
  });

  it('forged reports sent with site B\'s key cannot get an innocent IP banned on site A', async () => {
    const { hub, client, siteId: siteA, apiKey: keyA } = await startHubWithSite('shop');
    try {
      const { siteId: siteB, apiKey: keyB } = await createSiteWithKey(client, 'attacker-controlled');
      await createThreshold(client, siteA, { threshold: 3, condition: { requests: 'any' } });
      const innocent = '192.0.2.200';
      // The attacker holds B's key and reports A's customer as a scanner, many times over.
      for (let i = 0; i < 5; i++) assert.equal((await report(hub.url, keyB, innocent, 50)).status, 200);
      // A key of site A in the URL but B's… there is no such mixing: the key decides the site. A bad key is a 401.
      assert.equal((await report(hub.url, 'not-a-key', innocent, 50)).status, 401);
      await hub.context.thresholds.idle();
      assert.deepEqual(await listBans(client, siteA), [], 'records only count for their key\'s own site');
      assert.deepEqual(await listBans(client, siteB), [], 'site B has no rules: nothing to ban');
      assert.deepEqual((await wafrisBlocks(hub, siteA)).ips, []);
      // The same records through A's own key do count (the rule works).
      await report(hub.url, keyA, innocent, 3);
      await hub.context.thresholds.idle();
      assert.equal((await listBans(client, siteA)).length, 1);
    } finally {
      await hub.stop();
    }
  });

  it('a reported "IP" that is a range, a wildcard or text is never counted or banned', async () => {
    const { hub, client, siteId, apiKey } = await startHubWithSite();
    try {
      await createThreshold(client, siteId, { threshold: 1, condition: { requests: 'any' }, key: 'ip64' });
      for (const ip of ['0.0.0.0/0', '::/0', '*', '10.0.0.0-10.255.255.255', 'localhost', '::ffff:0.0.0.0/96']) {
        assert.equal((await report(hub.url, apiKey, ip, 3)).status, 200);
      }
      await hub.context.thresholds.idle();
      assert.deepEqual(await listBans(client, siteId), []);
      assert.equal(hub.context.thresholds.stats().counters.keys, 0);
      assert.equal((await wafrisBlocks(hub, siteId)).ranges, 0);
    } finally {
      await hub.stop();
    }
  });

  it('1 M distinct IPs: counters stay at the cap and every eviction is counted (through ingest and in bulk)', async () => {
    const cap = 5_000;
    const { hub, client, siteId, apiKey } = await startHubWithSite('flood', { thresholds: { maxCounterKeys: cap } });
    try {
      await createThreshold(client, siteId, { threshold: 1000, condition: { requests: 'any' } });
      // Through the real upsync route: 8 000 distinct addresses in batches of 2 000.
      const now = Math.floor(Date.now() / 1000);
      let sent = 0;
      for (let b = 0; b < 4; b++) {
        const batch = Array.from({ length: 2000 }, (_, i) => {
          const n = b * 2000 + i;
          return record({ ip: `10.${n >> 16}.${(n >> 8) & 255}.${n & 255}`, request_id: `r${n}`, timestamp: now, ip_source: 'socket' });
        });
        const response = await fetch(`${hub.url}/v2/upsync/${apiKey}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(upsyncBody(batch)) });
        assert.equal(response.status, 200);
        sent += batch.length;
      }
      let counters = hub.context.thresholds.stats().counters;
      assert.equal(counters.keys, cap);
      assert.equal(counters.evictions, sent - cap);
      // Then the rest of a million, straight into the service (what ingest calls after storing).
      const batchSize = 10_000;
      const records = new Array(batchSize);
      // 8 000 + 99.2 × 10 000: exactly one million distinct addresses in all.
      for (let n = sent; n < 1_000_000; n += batchSize) {
        records.length = Math.min(batchSize, 1_000_000 - n);
        for (let i = 0; i < records.length; i++) {
          const v = n + i;
          records[i] = { ts: now, ip: `11.${v >> 16}.${(v >> 8) & 255}.${v & 255}`, method: 'GET', path: '/', treatment: 'Passed' };
        }
        hub.context.thresholds.observe(siteId, records);
      }
      counters = hub.context.thresholds.stats().counters;
      assert.equal(counters.keys, cap, 'never more keys than the cap');
      assert.equal(counters.evictions, 1_000_000 - cap, 'each eviction counted');
      assert.equal(counters.bytes < 5_000 * 200 + 1024, true, `bounded bytes: ${counters.bytes}`);
      const api = await (await client.api('GET', `/api/sites/${siteId}/thresholds`)).json() as { stats: { counters: { keys: number; evictions: number } } };
      assert.equal(api.stats.counters.evictions, 1_000_000 - cap, 'visible in the API');
      assert.deepEqual(await listBans(client, siteId), []);
    } finally {
      await hub.stop();
    }
  });
});
