// The threshold store contract (migration 7) on both stores: rules round-trip with their JSON condition,
// bans stand until they expire or are lifted, a lift is once only and per site, events list newest first;
// a standing ban is stored once however many hubs insert it, and ended bans and old events are pruned.
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

        const ban = (await t.insertBan({ siteId: site.id, key: '2001:db8::/64', reason: 'r: 10', ruleId: rule.id, source: 'auto', mode: 'enforce', createdAt: 1000, expiresAt: 5000 }))!;
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

    it('stores a ban of a key once while one stands (however many insert it at once), again after it ended', async () => {
      const { store, dispose } = await open();
      try {
        const site = await store.createSite('a');
        const t = store.thresholds;
        const ban = (at: number, mode: 'enforce' | 'monitor' = 'enforce') => ({
          siteId: site.id, key: '192.0.2.7', reason: 'r: 5', ruleId: null, source: 'auto' as const, mode, createdAt: at, expiresAt: at + 100,
        });
        const stored = await Promise.all(Array.from({ length: 8 }, () => t.insertBan(ban(1000))));
        assert.equal(stored.filter((b) => b !== undefined).length, 1, 'one of eight concurrent inserts stores it');
        assert.ok(await t.insertBan(ban(1000, 'monitor')), 'a would-be ban is another mode');
        assert.equal(await t.insertBan(ban(1099)), undefined, 'still standing');
        assert.ok(await t.insertBan(ban(1100)), 'it expired at 1100: a new ban');
        assert.equal((await t.listBans(site.id, { mode: 'enforce', limit: 10 })).length, 2);
      } finally {
        await dispose();
      }
    });

    it('prunes bans that ended before a time (expired or lifted) and events from before it, never a standing ban', async () => {
      const { store, dispose } = await open();
      try {
        const site = await store.createSite('a');
        const t = store.thresholds;
        const ban = (key: string, createdAt: number, expiresAt: number) =>
          t.insertBan({ siteId: site.id, key, reason: 'r', ruleId: null, source: 'auto', mode: 'enforce', createdAt, expiresAt });
        await ban('192.0.2.1', 100, 200); // expired at 200
        const lifted = (await ban('192.0.2.2', 100, 9000))!;
        await t.liftBan(site.id, lifted.id, 300); // lifted at 300
        await ban('192.0.2.3', 100, 900); // expired at 900, after the cutoff
        await ban('192.0.2.4', 100, 9000); // standing
        await t.appendThresholdEvent({ siteId: site.id, ruleId: null, at: 400, kind: 'ban_cap', detail: 'old' });
        await t.appendThresholdEvent({ siteId: site.id, ruleId: null, at: 600, kind: 'ban_cap', detail: 'new' });
        assert.equal(await t.pruneBans(500), 2);
        assert.equal(await t.pruneThresholdEvents(500), 1);
        assert.deepEqual((await t.listBans(site.id, { mode: 'enforce', limit: 10 })).map((b) => b.key).sort(), ['192.0.2.3', '192.0.2.4']);
        assert.deepEqual((await t.listThresholdEvents(site.id, 10)).map((e) => e.detail), ['new']);
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
