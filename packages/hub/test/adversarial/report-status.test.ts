// Attack: the response status a client reports is stored with its report (the `status` column) and a
// status-based threshold rule, and its preview, count by it. A client holding an API key sends statuses
// that are not statuses (out of range, negative, text, fractions, objects) in both upsync forms, hoping
// to store them or to make them count for a status rule. Each must be stored as NULL (read from the
// database itself), never match a status condition, and leave the rest of the batch intact.
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { COMPACT_TYPE, toCompactUpsync } from '../support/compact-upsync-batch.js';
import { Client, createSiteWithKey, record, startTestHub, upsyncBody, type TestHub } from '../support/hub-fixture.js';
import { runThresholdPreview, type DraftRule } from '../support/threshold-preview-traffic.js';

const FORGED: unknown[] = [99999, -1, '200abc', '401', 401.5, 0, 99, 600, 1e300, true, null, {}, [401], { valueOf: 401 }];

describe('forged response statuses in upsync', () => {
  let hub: TestHub;
  let client: Client;

  before(async () => {
    hub = await startTestHub();
    client = new Client(hub.url);
    await client.login();
  });
  after(() => hub.stop());

  const storedStatuses = (siteId: number) => new Map((hub.store.db.prepare('SELECT request_id, status FROM reports WHERE site_id = ?')
    .all(siteId) as { request_id: string; status: number | null }[]).map((r) => [r.request_id, r.status]));

  it('statuses 99999, -1, "200abc", 401.5 and other non-statuses in a Wafris JSON batch are stored as NULL beside a real 401', async () => {
    const { siteId, apiKey } = await createSiteWithKey(client, 'json statuses');
    const now = Math.floor(Date.now() / 1000);
    const batch = [...FORGED.map((status, i) => record({ request_id: `forged-${i}`, timestamp: now, status })),
      record({ request_id: 'real', timestamp: now, status: 401 })];
    const response = await fetch(`${hub.url}/v2/upsync/${apiKey}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(upsyncBody(batch)) });
    assert.equal(response.status, 200, await response.clone().text());
    assert.equal(((await response.json()) as { accepted: number }).accepted, batch.length, 'a bad status is read as unknown; the record is kept');
    const stored = storedStatuses(siteId);
    assert.equal(stored.size, batch.length);
    for (let i = 0; i < FORGED.length; i++) assert.equal(stored.get(`forged-${i}`), null, `status ${JSON.stringify(FORGED[i])} stored as NULL`);
    assert.equal(stored.get('real'), 401);
  });

  it('statuses 99999, -2, "200abc" and 401.5 in a compact batch\'s status column are stored as NULL; a status rule preview does not count them', async () => {
    const { siteId, apiKey } = await createSiteWithKey(client, 'compact statuses');
    const now = Math.floor(Date.now() / 1000);
    const forged: unknown[] = [99999, -2, '200abc', '401', 401.5, 1e300, {}, [401]];
    // A Moat client's records (the compact form is Moat's alone), which say where the address came from.
    const login = (id: string) => record({ ip: '192.0.2.77', method: 'POST', path: '/login', request_id: id, timestamp: now, ip_source: 'socket' });
    const records = [...forged.map((_, i) => login(`forged-${i}`)), login('real-1'), login('real-2'), login('unknown')];
    const body = toCompactUpsync({ version: '0.1.0', client: 'moat', framework: 'test' }, records);
    body.columns.status = [...forged, 401, 401, -1];
    const response = await fetch(`${hub.url}/v2/upsync/${apiKey}`, { method: 'POST', headers: { 'content-type': COMPACT_TYPE }, body: JSON.stringify(body) });
    assert.equal(response.status, 200, await response.clone().text());
    const stored = storedStatuses(siteId);
    assert.equal(stored.size, records.length);
    for (let i = 0; i < forged.length; i++) assert.equal(stored.get(`forged-${i}`), null, `status ${JSON.stringify(forged[i])} stored as NULL`);
    assert.deepEqual([stored.get('real-1'), stored.get('real-2'), stored.get('unknown')], [401, 401, null]);

    // Eleven logins from one address, two of them answered 401: a "3 × 401" rule must not ban it.
    const rule: DraftRule = {
      name: '401s', condition: { requests: 'any', method: 'POST', path: '/login', pathMatch: 'exact', status: 401 },
      windowSeconds: 600, threshold: 3, key: 'ip', banSeconds: 600, mode: 'enforce', maxBansPerMinute: 60,
    };
    const job = await runThresholdPreview(client, siteId, rule);
    assert.equal(job.state, 'done', job.error);
    assert.equal(job.result!.requests, records.length);
    assert.equal(job.result!.matched, 2, 'only the two real 401s match');
    assert.equal(job.result!.bans, 0);
  });
});
