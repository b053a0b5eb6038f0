// Attack: a signed-in dashboard user (a viewer is enough) pages the request log with a crafted cursor
// or time bound far from the data — `before=99999999999999:0`, `to=999999999999`, `from=0`. The log
// walks back one hour window at a time; before the fix every empty hour cost a query, so such a request
// spent its whole time budget on empty hours and answered an empty "partial" page whose cursor led only
// to more empty hours (about 10^10 requests to reach the data): database time for nothing, and the log
// looked empty. Now an empty window seeks the next older report directly.
// Real parts: a real hub on 127.0.0.1, reports sent through /v2/upsync, on SQLite and on PostgreSQL.
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createHub, type Hub } from '../../src/index.js';
import type { HubStore } from '../../src/store/store.js';
import { ADMIN_EMAIL, ADMIN_PASSWORD, Client, createSiteWithKey, record, upsyncBody } from '../support/hub-fixture.js';
import { freshDatabase, type TestDatabase } from '../support/postgres.js';

interface Page { rows: Array<{ ts: number; requestId: string }>; next: string | null; partial?: boolean }

/** Follows `next` from `query` for at most `maxRequests` pages; returns every row seen and whether the log ended. */
async function walk(client: Client, siteId: number, query: string, maxRequests: number): Promise<{ rows: Page['rows']; ended: boolean; requests: number }> {
  const rows: Page['rows'] = [];
  let params = new URLSearchParams(query);
  for (let requests = 1; requests <= maxRequests; requests++) {
    const response = await client.request(`/api/sites/${siteId}/requests?${params}`);
    assert.equal(response.status, 200);
    const page = (await response.json()) as Page;
    rows.push(...page.rows);
    if (!page.next) return { rows, ended: true, requests };
    params = new URLSearchParams(query);
    params.set('before', page.next);
  }
  return { rows, ended: false, requests: maxRequests };
}

for (const storeName of ['SQLite', 'PostgreSQL'] as const) {
  describe(`request log on ${storeName}: crafted cursors and bounds far from the data`, () => {
    const scratch = mkdtempSync(join(tmpdir(), 'moat-log-walk-'));
    let db: TestDatabase | undefined;
    let hub: Hub<HubStore>;
    let client: Client;
    let siteId: number;
    const now = Math.floor(Date.now() / 1000);
    // 60 reports over the last two hours and one from ten days ago: a quiet stretch of days in between.
    const sent = [...Array.from({ length: 60 }, (_, i) => ({ ts: now - 120 * i, id: `recent-${i}` })), { ts: now - 10 * 86_400, id: 'old' }];

    before(async () => {
      if (storeName === 'PostgreSQL') db = await freshDatabase('moat_logwalk');
      hub = await createHub({
        dataDir: scratch, databaseUrl: db?.url, host: '127.0.0.1', port: 0, adminEmail: ADMIN_EMAIL, adminPassword: ADMIN_PASSWORD,
        rollupIntervalMs: 60_000, print: () => undefined, databasePoolSize: 4,
      });
      client = new Client(hub.url);
      await client.login();
      const site = await createSiteWithKey(client, 'shop');
      siteId = site.siteId;
      const batch = sent.map((r) => record({ timestamp: r.ts, request_id: r.id }));
      const upsync = await fetch(`${hub.url}/v2/upsync/${site.apiKey}`, {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(upsyncBody(batch)),
      });
      assert.equal(upsync.status, 200);
      await hub.rollUpNow();
    });
    after(async () => {
      await hub?.close();
      await db?.drop();
      rmSync(scratch, { recursive: true, force: true });
    });

    const newestFirst = [...sent].sort((a, b) => b.ts - a.ts).map((r) => r.id);

    it(`GET /requests?before=99999999999999:0 reaches the newest reports at once instead of walking empty hours (${storeName})`, async () => {
      const result = await walk(client, siteId, 'limit=50&before=99999999999999:0', 3);
      assert.deepEqual(result.rows.slice(0, 50).map((r) => r.requestId), newestFirst.slice(0, 50));
    });

    it(`GET /requests?to=999999999999 shows the newest reports, not an empty partial page (${storeName})`, async () => {
      const result = await walk(client, siteId, 'limit=50&to=999999999999', 3);
      assert.deepEqual(result.rows.slice(0, 50).map((r) => r.requestId), newestFirst.slice(0, 50));
    });

    it(`GET /requests?from=0 pages over a ten-day gap to the oldest report and ends, in a few requests (${storeName})`, async () => {
      const result = await walk(client, siteId, 'limit=25&from=0', 8);
      assert.ok(result.ended, `the log did not end within ${result.requests} requests`);
      assert.deepEqual(result.rows.map((r) => r.requestId), newestFirst);
    });
  });
}
