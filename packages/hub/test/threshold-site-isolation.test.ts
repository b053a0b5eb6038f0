// Auto-ban against reports that name someone else's address, and between sites: the Wafris gem reads the
// client address from headers any visitor sends (X-Real-IP, True-Client-IP, CF-Connecting-IP), so its
// reports count only where a rule opts in; each site's counters have their own share, so a flood on one
// site cannot evict another's; a viewer sees the figures of their own site only.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { SlidingCounters } from '../src/thresholds/sliding-counters.js';
import { ThresholdEvaluator, type ThresholdRecord } from '../src/thresholds/threshold-evaluator.js';
import type { ThresholdRule } from '../src/thresholds/threshold-types.js';
import { createSiteWithKey, startHubWithSite } from './support/hub-fixture.js';
import { inviteAndSignIn } from './support/invited-user.js';
import { createThreshold, listBans, report, wafrisBlocks } from './support/thresholds-kit.js';

const VICTIM = '192.0.2.44';

describe('threshold rules and the Wafris gem\'s reported addresses', () => {
  it('gem reports (no ip_source) ban nobody by default; a rule with clients "all" counts them; Moat reports always count', async () => {
    const { hub, client, siteId, apiKey } = await startHubWithSite('gem site');
    try {
      const byDefault = await createThreshold(client, siteId, { name: 'default', threshold: 5, windowSeconds: 60 });
      // What the gem uploads when a visitor trips a rule five times with `X-Real-IP: <victim>`.
      assert.equal((await report(hub.url, apiKey, VICTIM, 5, { ip_source: null })).status, 200);
      await hub.context.thresholds.idle();
      assert.deepEqual(await listBans(client, siteId), [], 'the victim is not banned');
      assert.equal(hub.context.thresholds.siteStats(siteId).crossings, 0);
      assert.ok(!(await wafrisBlocks(hub, siteId)).ips.includes(VICTIM));

      // The same reports from a Moat client, which says where it read the address: counted.
      assert.equal((await report(hub.url, apiKey, '198.51.100.9', 5)).status, 200);
      await hub.context.thresholds.idle();
      assert.deepEqual((await listBans(client, siteId)).map((b) => b.key), ['198.51.100.9']);

      // A site whose gem apps sit behind a proxy that overwrites the headers opts in per rule.
      await client.api('DELETE', `/api/sites/${siteId}/thresholds/${byDefault.id}`);
      const optedIn = await createThreshold(client, siteId, { name: 'gem too', threshold: 5, windowSeconds: 60, condition: { requests: 'blocked', clients: 'all' } });
      assert.equal(optedIn.condition.clients, 'all');
      assert.equal((await report(hub.url, apiKey, VICTIM, 5, { ip_source: null })).status, 200);
      await hub.context.thresholds.idle();
      assert.ok((await listBans(client, siteId)).some((b) => b.key === VICTIM));
      // Only the two values are taken.
      const bad = await client.api('POST', `/api/sites/${siteId}/thresholds`, {
        name: 'x', condition: { requests: 'any', clients: 'gem' }, windowSeconds: 60, threshold: 5, key: 'ip', banSeconds: 60,
      });
      assert.equal(bad.status, 400);
    } finally {
      await hub.stop();
    }
  });
});

let nextId = 1;
function rule(siteId: number, threshold: number): ThresholdRule {
  return {
    id: nextId++, siteId, name: `site ${siteId}`, windowSeconds: 600, threshold, key: 'ip', banSeconds: 3600, mode: 'enforce',
    maxBansPerMinute: 60, createdAt: 0, updatedAt: 0,
    condition: { requests: 'any', method: null, path: null, pathMatch: 'exact', status: null },
  };
}

const at = (ip: string): ThresholdRecord => ({ ts: 1_000_000, ip, method: 'GET', path: '/', treatment: 'Passed', ipSource: 'socket' });
const addresses = (prefix: string, count: number) => Array.from({ length: count }, (_, i) => `${prefix}.${(i >> 8) & 255}.${i & 255}`);

describe('threshold counters: each site its own share', () => {
  it('a flood of 10 000 addresses on one site evicts none of another site\'s 40 counters', () => {
    const counters = new SlidingCounters(100);
    const e = new ThresholdEvaluator(counters);
    e.setRules(1, [rule(1, 5)]);
    e.setRules(2, [rule(2, 1_000_000)]);
    const watched = addresses('10.1', 40);
    for (let i = 0; i < 4; i++) assert.deepEqual(e.evaluate(1, watched.map(at)), []);
    e.evaluate(2, addresses('10.2', 10_000).map(at));
    // The fifth request of each watched address crosses: its four earlier ones are still counted.
    assert.equal(e.evaluate(1, watched.map(at)).length, 40);
    assert.equal(counters.groupStats(1).evictions, 0);
    assert.equal(counters.groupStats(2).evictions, 10_000 - 60, 'the flooding site churned through its own counters');
    assert.equal(counters.stats().keys, 100, 'the hub-wide cap holds');
  });

  it('a site above its share gives back down to the share, no further', () => {
    const counters = new SlidingCounters(100);
    const e = new ThresholdEvaluator(counters);
    e.setRules(1, [rule(1, 1_000_000)]);
    e.setRules(2, [rule(2, 1_000_000)]);
    e.evaluate(1, addresses('10.1', 80).map(at));
    e.evaluate(2, addresses('10.2', 10_000).map(at));
    assert.deepEqual([counters.groupStats(1).keys, counters.groupStats(2).keys], [50, 50]);
    assert.equal(counters.groupStats(1).maxKeys, 50);
  });
});

describe('threshold figures in the API', () => {
  it('a viewer of site A sees site A\'s figures only; an admin also gets the hub-wide ones', async () => {
    const { hub, client, siteId: siteA } = await startHubWithSite('site A');
    try {
      const { siteId: siteB, apiKey: keyB } = await createSiteWithKey(client, 'site B');
      await createThreshold(client, siteB, { threshold: 5, windowSeconds: 60 });
      assert.equal((await report(hub.url, keyB, '198.51.100.20', 5)).status, 200);
      await hub.context.thresholds.idle();
      assert.equal((await listBans(client, siteB)).length, 1);

      const { client: viewer } = await inviteAndSignIn(client, 'viewer-a@example.test', { role: 'viewer', siteIds: [siteA] });
      for (const path of [`/api/sites/${siteA}/thresholds`, `/api/sites/${siteA}/thresholds/events`]) {
        const seen = await (await viewer.api('GET', path)).json() as { stats: { crossings: number; bans: number; counters: { keys: number } }; hubStats?: unknown };
        assert.deepEqual({ crossings: seen.stats.crossings, bans: seen.stats.bans, keys: seen.stats.counters.keys }, { crossings: 0, bans: 0, keys: 0 }, path);
        assert.equal(seen.hubStats, undefined, path);
      }
      // The Thresholds page as well: site A's counters, not site B's.
      const page = await (await viewer.request(`/sites/${siteA}/thresholds`)).text();
      assert.match(page, /\b0 of [\d,]+ counters in use/);
      const admin = await (await client.api('GET', `/api/sites/${siteB}/thresholds`)).json() as { stats: { crossings: number; bans: number }; hubStats: { crossings: number } };
      assert.deepEqual({ crossings: admin.stats.crossings, bans: admin.stats.bans, hub: admin.hubStats.crossings }, { crossings: 1, bans: 1, hub: 1 });
    } finally {
      await hub.stop();
    }
  });
});

describe('threshold counting of a trusted proxy\'s own address', () => {
  it('reports judged by the proxy\'s address (ipSource proxy) never ban it by address; keyed rules still count their key', () => {
    const e = new ThresholdEvaluator(new SlidingCounters(100));
    const byIp = rule(1, 3);
    const byKey: ThresholdRule = { ...rule(1, 3), key: 'header:x-api-key' };
    e.setRules(1, [byIp, byKey]);
    const proxied: ThresholdRecord = { ...at('10.0.0.2'), ipSource: 'proxy', keys: [{ kind: 'header:x-api-key', hash: 'a'.repeat(32) }] };
    const crossings = e.evaluate(1, [proxied, proxied, proxied, proxied]);
    assert.deepEqual(crossings.map((c) => c.rule.id), [byKey.id], 'only the keyed rule crossed');
    // The same address said by a client's socket is counted as before.
    const said = e.evaluate(1, [at('10.0.0.2'), at('10.0.0.2'), at('10.0.0.2')]);
    assert.ok(said.some((c) => c.rule.id === byIp.id && c.key === '10.0.0.2'));
  });
});
