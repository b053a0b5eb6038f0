// The threshold preview (POST /api/sites/:id/thresholds/preview) on a real hub, SQLite and PostgreSQL:
// its bans, refusals and blocked requests equal a brute-force replay of the same stored reports.
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createHub, type Hub } from '../src/index.js';
import { splittableByKey } from '../src/thresholds/threshold-preview-split.js';
import type { HubStore, StoredReport } from '../src/store/store.js';
import { ADMIN_EMAIL, ADMIN_PASSWORD, Client } from './support/hub-fixture.js';
import { freshDatabase, type TestDatabase } from './support/postgres.js';
import { storedReports } from './support/preview-traffic.js';
import { ALLOWED_PREFIX, bruteBacktest, runThresholdPreview, thresholdTraffic, type DraftRule } from './support/threshold-preview-traffic.js';

const RECENT = 8000;

const CASES: { name: string; rule: DraftRule }[] = [
  {
    name: 'blocked requests in a window, enforce',
    rule: {
      name: 'scanners', condition: { requests: 'blocked', method: null, path: null, pathMatch: 'exact', status: null },
      windowSeconds: 600, threshold: 8, key: 'ip', banSeconds: 1800, mode: 'enforce', maxBansPerMinute: 60,
    },
  },
  {
    name: 'method + path + status, monitor mode',
    rule: {
      name: 'login failures', condition: { requests: 'any', method: 'POST', path: '/login', pathMatch: 'exact', status: 401 },
      windowSeconds: 900, threshold: 4, key: 'ip', banSeconds: 600, mode: 'monitor', maxBansPerMinute: 60,
    },
  },
  {
    name: 'any request by IPv6 /64, enforce',
    rule: {
      name: 'v6 flood', condition: { requests: 'any', method: null, path: null, pathMatch: 'exact', status: null },
      windowSeconds: 1200, threshold: 10, key: 'ip64', banSeconds: 900, mode: 'enforce', maxBansPerMinute: 60,
    },
  },
  {
    name: 'POST to /login by reported API key hash (else IP), enforce',
    rule: {
      name: 'api key flood', condition: { requests: 'any', method: 'POST', path: '/login', pathMatch: 'exact', status: null },
      windowSeconds: 1800, threshold: 12, key: 'header:x-api-key', banSeconds: 1200, mode: 'enforce', maxBansPerMinute: 60,
    },
  },
  {
    name: 'blocked requests, every client\'s reports (the Wafris gem\'s too), enforce',
    rule: {
      name: 'scanners, all clients', condition: { requests: 'blocked', method: null, path: null, pathMatch: 'exact', status: null, clients: 'all' },
      windowSeconds: 600, threshold: 8, key: 'ip', banSeconds: 1800, mode: 'enforce', maxBansPerMinute: 60,
    },
  },
  {
    name: 'a ban rate of one a minute refuses the rest',
    rule: {
      name: 'slow bans', condition: { requests: 'any', method: null, path: null, pathMatch: 'prefix', status: null },
      windowSeconds: 300, threshold: 3, key: 'ip', banSeconds: 60, mode: 'enforce', maxBansPerMinute: 1,
    },
  },
];

function suite(storeName: string, open: () => Promise<{ hub: Hub<HubStore>; dispose: () => Promise<void> }>): void {
  describe(`threshold preview on ${storeName}: counts equal a brute-force replay of the stored reports`, () => {
    let hub: Hub<HubStore>;
    let dispose: () => Promise<void>;
    let client: Client;
    let siteId: number;
    let reports: StoredReport[];

    before(async () => {
      ({ hub, dispose } = await open());
      client = new Client(hub.url);
      await client.login(ADMIN_EMAIL, ADMIN_PASSWORD);
      const created = await client.api('POST', '/api/sites', { name: 'threshold preview' });
      siteId = ((await created.json()) as { site: { id: number } }).site.id;
      const allow = await client.api('POST', `/api/sites/${siteId}/rules`, { kind: 'ip', value: `${ALLOWED_PREFIX}0/24`, action: 'allow' });
      assert.equal(allow.status, 201, await allow.text());
      const now = Math.floor(Date.now() / 1000);
      await hub.store.insertReports(siteId, thresholdTraffic(now, RECENT));
      reports = await storedReports(hub.store, siteId, now - 86_400, now + 3600);
      assert.equal(reports.length, RECENT);
    });
    after(async () => { await dispose(); });

    for (const c of CASES) {
      it(`${c.name}: bans, banned keys, refusals, blocked requests and the top key`, async () => {
        const job = await runThresholdPreview(client, siteId, c.rule);
        assert.equal(job.state, 'done', job.error);
        // Split by key over two workers wherever that gives one pass's figures (threshold-preview-split.ts).
        assert.equal(job.parts, splittableByKey(c.rule) ? 2 : 1);
        const expected = bruteBacktest(c.rule, reports, (key) => key.startsWith(ALLOWED_PREFIX));
        const result = job.result!;
        assert.ok(expected.bans > 0, 'the case bans someone');
        assert.equal(job.scanned, RECENT);
        assert.equal(result.requests, expected.requests);
        assert.equal(result.matched, expected.matched);
        assert.equal(result.crossings, expected.crossings);
        assert.equal(result.bans, expected.bans);
        assert.equal(result.bannedKeys, expected.bannedKeys);
        assert.deepEqual(result.refused, expected.refused);
        assert.equal(result.blockedAfterBan, expected.blockedAfterBan);
        assert.equal(result.newlyBlocked, expected.newlyBlocked);
        if (c.rule.condition.status !== null) {
          // The status condition is applied, not left out: without it the same draft counts more.
          const statusless = bruteBacktest({ ...c.rule, condition: { ...c.rule.condition, status: null } }, reports, (key) => key.startsWith(ALLOWED_PREFIX));
          assert.ok(statusless.matched > result.matched, `${statusless.matched} > ${result.matched}`);
          assert.notEqual(statusless.bans, result.bans);
          assert.equal('statusIgnored' in result, false);
        }
        const top = result.topKeys[0]!;
        // The page shows a reported key by its kind and the first 8 digits of its hash.
        const labelled = new Map([...expected.perKey].map(([k, v]) => [k.includes('=') ? `${k.split('=')[0]} #${k.split('=')[1]!.slice(0, 8)}…` : k, v]));
        const brute = labelled.get(top.key)!;
        assert.ok(brute, `the top key ${top.key} was banned by the brute force too`);
        assert.equal(top.bans, Math.max(...[...expected.perKey.values()].map((k) => k.bans)));
        assert.deepEqual({ bans: top.bans, firstBanAt: top.firstBanAt }, brute);
        assert.ok(result.examples.length > 0 && result.examples.every((e) => !e.ip.startsWith(ALLOWED_PREFIX)));
        // Allow wins: no allow-listed address is ever among the banned.
        assert.ok(result.topKeys.every((k) => !k.key.startsWith(ALLOWED_PREFIX)));
        if (c.rule.mode === 'monitor') assert.equal(result.blockedAfterBan, null);
        else assert.ok(expected.blockedAfterBan! > 0 && expected.newlyBlocked! > 0, 'bans block later requests');
        if (c.rule.key === 'header:x-api-key') {
          assert.equal(result.keysStored, true);
          assert.ok(result.topKeys.some((k) => k.key.startsWith('header:x-api-key #')), 'some bans are of API keys');
        }
        if (c.rule.maxBansPerMinute === 1) assert.ok(expected.refused.rate > 0, 'the ban rate refuses some');
      });
    }

    it('allow-listed addresses reach the threshold but are counted as refused, never banned', async () => {
      const rule = { ...CASES[0]!.rule, name: 'allow wins' };
      const job = await runThresholdPreview(client, siteId, rule);
      const expected = bruteBacktest(rule, reports, (key) => key.startsWith(ALLOWED_PREFIX));
      assert.ok(expected.refused.allowListed > 0, 'the allow-listed subnet crosses the threshold');
      assert.equal(job.result!.refused.allowListed, expected.refused.allowListed);
      const banned = bruteBacktest(rule, reports, () => false);
      assert.ok([...banned.perKey.keys()].some((k) => k.startsWith(ALLOWED_PREFIX)), 'without the allow rule they would be banned');
    });
  });
}

suite('SQLite', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'moat-threshold-preview-'));
  const hub = await createHub({ dataDir, host: '127.0.0.1', port: 0, adminEmail: ADMIN_EMAIL, adminPassword: ADMIN_PASSWORD, rollupIntervalMs: 60_000, print: () => undefined });
  return { hub, dispose: async () => { await hub.close(); rmSync(dataDir, { recursive: true, force: true }); } };
});

suite('PostgreSQL', async () => {
  const db: TestDatabase = await freshDatabase('moat_tpreview');
  const dataDir = mkdtempSync(join(tmpdir(), 'moat-threshold-preview-'));
  const hub = await createHub({
    dataDir, databaseUrl: db.url, host: '127.0.0.1', port: 0, adminEmail: ADMIN_EMAIL, adminPassword: ADMIN_PASSWORD, rollupIntervalMs: 60_000, print: () => undefined,
  });
  return { hub, dispose: async () => { await hub.close(); await db.drop(); rmSync(dataDir, { recursive: true, force: true }); } };
});
