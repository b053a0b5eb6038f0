// The threshold store contract (migration 7) on both stores: rules round-trip with their JSON condition,
// bans stand until they expire or are lifted, a lift is once only and per site, events list newest first.
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { PostgresStore } from '../src/store/postgres/postgres-store.js';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import type { HubStore } from '../src/store/store.js';
import type { ThresholdRuleInput } from '../src/thresholds/threshold-types.js';
import { freshDatabase } from './support/postgres.js';

const INPUT: ThresholdRuleInput = {
  name: 'login failures', condition: { requests: 'any', method: 'POST', path: '/login', pathMatch: 'exact', status: 401 },
  windowSeconds: 600, threshold: 10, key: 'ip64', banSeconds: 86_400, mode: 'enforce', maxBansPerMinute: 30,
};

function contract(label: string, open: () => Promise<{ store: HubStore; dispose(): Promise<void> }>): void {
  describe(`threshold store: ${label}`, () => {
    it('stores rules, bans and events, and lifts a standing ban once, on its own site only', async () => {
      const { store, dispose } = await open();
      try {
        const site = await store.createSite('a');
        const other = await store.createSite('b');
        const t = store.thresholds;
        const rule = await t.createThresholdRule(site.id, INPUT, 1000);
        assert.deepEqual({ ...rule }, { ...INPUT, id: rule.id, siteId: site.id, createdAt: 1000, updatedAt: 1000 });
        assert.deepEqual(await t.listThresholdRules(other.id), []);
        assert.equal((await t.listThresholdRules()).length, 1);
        const updated = await t.updateThresholdRule(site.id, rule.id, { ...INPUT, mode: 'monitor' }, 2000);
        assert.equal(updated?.mode, 'monitor');
        assert.equal(await t.updateThresholdRule(other.id, rule.id, INPUT, 2000), undefined, 'not across sites');

        const ban = await t.insertBan({ siteId: site.id, key: '2001:db8::/64', reason: 'r: 10', ruleId: rule.id, source: 'auto', mode: 'enforce', createdAt: 1000, expiresAt: 5000 });
        await t.insertBan({ siteId: site.id, key: '192.0.2.1', reason: 'r: 10', ruleId: rule.id, source: 'auto', mode: 'enforce', createdAt: 1000, expiresAt: 1500 });
        await t.insertBan({ siteId: site.id, key: '192.0.2.2', reason: 'r: 10', ruleId: rule.id, source: 'auto', mode: 'monitor', createdAt: 1000, expiresAt: 5000 });
        assert.deepEqual((await t.listBans(site.id, { mode: 'enforce', activeAt: 2000, limit: 10 })).map((b) => b.key), ['2001:db8::/64']);
        assert.equal((await t.listBans(site.id, { mode: 'enforce', limit: 10 })).length, 2);
        assert.deepEqual(await t.activeBanSites(2000), [{ siteId: site.id, nextExpiry: 5000 }]);
        assert.equal(await t.liftBan(other.id, ban.id, 2000), undefined, 'another site cannot lift it');
        assert.equal((await t.liftBan(site.id, ban.id, 2000))?.liftedAt, 2000);
        assert.equal(await t.liftBan(site.id, ban.id, 2001), undefined, 'lifted once');
        assert.deepEqual(await t.activeBanSites(2000), []);

        await t.appendThresholdEvent({ siteId: site.id, ruleId: rule.id, at: 10, kind: 'ban_rate', detail: 'first' });
        await t.appendThresholdEvent({ siteId: site.id, ruleId: rule.id, at: 20, kind: 'ban_cap', detail: 'second' });
        assert.deepEqual((await t.listThresholdEvents(site.id, 10)).map((e) => e.detail), ['second', 'first']);
        assert.equal(await t.deleteThresholdRule(other.id, rule.id), false);
        assert.equal(await t.deleteThresholdRule(site.id, rule.id), true);
        assert.equal((await t.listBans(site.id, { mode: 'monitor', limit: 10 }))[0]?.ruleId, rule.id, 'a ban outlives its rule');
      } finally {
        await dispose();
      }
    });
  });
}

contract('SQLite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'moat-thresholds-store-'));
  const store = SqliteStore.open(join(dir, 'hub.db'));
  return { store, dispose: async () => { await store.close(); rmSync(dir, { recursive: true, force: true }); } };
});

contract('PostgreSQL', async () => {
  const db = await freshDatabase('moat_thresholds');
  const store = await PostgresStore.open(db.url, { max: 2 });
  return { store, dispose: async () => { await store.close(); await db.drop(); } };
});
