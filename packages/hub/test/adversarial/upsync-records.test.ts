// Attack: with one valid API key (every deployed client holds one), freeze the hub, wipe out other
// clients' reports, or hide the request log. Bodies built to be slow to inflate or parse must be refused
// from their bytes; one bad record must not cost the good ones around it (the Wafris gem never resends a
// batch); a record dated far ahead must not sit on top of the request log forever. These tests post to
// `/v2/upsync/{key}` of a real hub with its default limits (8 MiB, 10 000 records) on a real socket.
import { strict as assert } from 'node:assert';
import { gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { Client, createSiteWithKey, record, startTestHub, upsyncBody, type TestHub } from '../support/hub-fixture.js';
import { sendHeadOnly } from './raw-request.js';

interface UpsyncAnswer { ok: boolean; accepted: number; rejected: number; clamped: number; errors: { index: number; reason: string }[] }
interface LoggedRequest { ts: number; ip: string; rule: string; category: string; requestId: string }

describe('upsync records: a valid key cannot freeze the hub or lose other records', () => {
  let hub: TestHub;
  let client: Client;
  let siteId: number;
  let apiKey: string;
  const now = () => Math.floor(Date.now() / 1000);
  const post = (body: string | Buffer, headers: Record<string, string> = {}) => fetch(`${hub.url}/v2/upsync/${apiKey}`, {
    method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : new Uint8Array(body),
  });
  const errorOf = async (response: Response) => ((await response.json()) as { error: string; message: string });
  const requestLog = async (query = '') => {
    const response = await client.request(`/api/sites/${siteId}/requests?limit=20${query}`);
    assert.equal(response.status, 200);
    return ((await response.json()) as { rows: LoggedRequest[] }).rows;
  };

  before(async () => {
    hub = await startTestHub();
    client = new Client(hub.url);
    await client.login();
    ({ siteId, apiKey } = await createSiteWithKey(client));
  });
  after(() => hub.stop());

  it('a gzip bomb inflating to 32 MB is refused 413', async () => {
    const response = await post(gzipSync(Buffer.alloc(32 * 1024 * 1024, 0x20)), { 'content-encoding': 'gzip' });
    assert.equal(response.status, 413);
    assert.equal((await errorOf(response)).error, 'body_too_large');
  });

  it('gzip with 8 MB of nesting inside is refused 400 json_too_deep', async () => {
    const bomb = gzipSync(`{"batch":${'['.repeat(4_000_000)}${']'.repeat(4_000_000)}}`);
    const response = await post(bomb, { 'content-encoding': 'gzip' });
    assert.equal(response.status, 400);
    assert.equal((await errorOf(response)).error, 'json_too_deep');
  });

  it('an array of 3 million zeros beside the batch is refused 400 json_too_complex', async () => {
    const response = await post(gzipSync(`{"batch":[],"x":[${'0,'.repeat(3_000_000)}0]}`), { 'content-encoding': 'gzip' });
    assert.equal(response.status, 400);
    assert.equal((await errorOf(response)).error, 'json_too_complex');
  });

  it('a record with 200 000 keys is refused 400 json_too_complex', async () => {
    const keys = Array.from({ length: 200_000 }, (_, i) => `"k${i}":0`).join(',');
    const response = await post(gzipSync(`{"batch":[{${keys}}]}`), { 'content-encoding': 'gzip' });
    assert.equal(response.status, 400);
    assert.equal((await errorOf(response)).error, 'json_too_complex');
  });

  it('a body announced over 8 MiB is refused 413 before it is sent', async () => {
    const answer = await sendHeadOnly(hub.url, 'POST', `/v2/upsync/${apiKey}`, { 'content-type': 'application/json', 'content-length': String(9 * 1024 * 1024) });
    assert.equal(answer.status, 413);
  });

  it('wrong content types are refused 415 and store nothing', async () => {
    const batch = JSON.stringify(upsyncBody([record({ request_id: 'wrong-type' })]));
    for (const contentType of ['text/plain', 'application/x-www-form-urlencoded', 'application/xml']) {
      const response = await fetch(`${hub.url}/v2/upsync/${apiKey}`, { method: 'POST', headers: { 'content-type': contentType }, body: batch });
      assert.equal(response.status, 415, contentType);
    }
    const none = await fetch(`${hub.url}/v2/upsync/${apiKey}`, { method: 'POST', body: new TextEncoder().encode(batch) });
    assert.equal(none.status, 415, 'no content type');
    assert.equal(hub.store.db.prepare("SELECT count(*) FROM reports WHERE request_id = 'wrong-type'").pluck().get(), 0);
  });

  it('a batch mixing good records with an empty IP, a bad treatment and a non-object stores the good ones and counts the rest', async () => {
    const batch = [
      record({ request_id: 'mixed-0' }), record({ ip: '', request_id: 'mixed-1' }), record({ request_id: 'mixed-2' }),
      record({ treatment: 'Exploded', request_id: 'mixed-3' }), 42, record({ request_id: 'mixed-5' }),
    ] as Record<string, unknown>[];
    const response = await post(JSON.stringify(upsyncBody(batch)));
    assert.equal(response.status, 200);
    const answer = (await response.json()) as UpsyncAnswer;
    assert.equal(answer.accepted, 3);
    assert.equal(answer.rejected, 3);
    assert.deepEqual(answer.errors.map((e) => e.index), [1, 3, 4]);
    assert.ok(answer.errors.every((e) => e.reason.length > 0));
    const stored = hub.store.db.prepare("SELECT request_id FROM reports WHERE request_id LIKE 'mixed-%' ORDER BY request_id").pluck().all();
    assert.deepEqual(stored, ['mixed-0', 'mixed-2', 'mixed-5']);
  });

  it('a batch of 250 with one bad record loses only that record, with a bounded error list', async () => {
    const batch = Array.from({ length: 250 }, (_, i) => record({ request_id: `full-${i}`, ip: i % 50 === 7 ? '' : `198.51.100.${i % 250}` }));
    const response = await post(JSON.stringify(upsyncBody(batch)));
    const answer = (await response.json()) as UpsyncAnswer;
    assert.equal(response.status, 200);
    assert.equal(answer.accepted, 245);
    assert.equal(answer.rejected, 5);
    assert.deepEqual(answer.errors.map((e) => e.index), [7, 57, 107, 157, 207]);
    const bad = Array.from({ length: 300 }, () => record({ ip: '' }));
    const flood = (await (await post(JSON.stringify(upsyncBody(bad)))).json()) as UpsyncAnswer;
    assert.equal(flood.rejected, 300);
    assert.ok(flood.errors.length <= 20, 'the answer lists a bounded number of refusals');
  });

  it('the Wafris gem\'s numeric rate-limit rule id is stored, as text', async () => {
    const gem = {
      meta: { version: '2.0.1', client: 'wafris', framework: 'rails' },
      batch: [{ ip: '203.0.113.50', user_agent: 'ua', path: '/login', parameter: '', host: 'example.test', method: 'POST', request_id: 'gem-brl', timestamp: now(), treatment: 'Blocked', category: 'brl', rule: 17 }],
    };
    const response = await post(JSON.stringify(gem));
    assert.equal(response.status, 200);
    assert.equal(((await response.json()) as UpsyncAnswer).accepted, 1);
    const [row] = await requestLog('&ip=203.0.113.50');
    assert.equal(row?.category, 'brl');
    assert.equal(row?.rule, '17');
  });

  it('a record dated in the year 5138 is re-dated to its arrival and does not hide the request log', async () => {
    const other = await createSiteWithKey(client, 'clock skew');
    const recent = record({ request_id: 'recent', timestamp: now() - 30 });
    const future = record({ request_id: 'from-5138', timestamp: 1e11 - 1 });
    const response = await fetch(`${hub.url}/v2/upsync/${other.apiKey}`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(upsyncBody([future, recent])),
    });
    const answer = (await response.json()) as UpsyncAnswer;
    assert.equal(answer.accepted, 2);
    assert.equal(answer.clamped, 1);
    const ts = hub.store.db.prepare("SELECT ts FROM reports WHERE request_id = 'from-5138'").pluck().get() as number;
    assert.ok(ts <= now() + 1, `stored at ${ts}, not in the future`);
    // The log's default view (newest first) shows both, neither dated ahead of now.
    const log = ((await (await client.request(`/api/sites/${other.siteId}/requests?limit=1`)).json()) as { rows: LoggedRequest[]; next: string | null });
    assert.ok(log.rows[0]!.ts <= now() + 1);
    const second = ((await (await client.request(`/api/sites/${other.siteId}/requests?limit=1&before=${encodeURIComponent(log.next!)}`)).json()) as { rows: LoggedRequest[] });
    assert.deepEqual([...log.rows, ...second.rows].map((r) => r.requestId).sort(), ['from-5138', 'recent']);
  });

  it('a record older than retention keeps is refused and counted; the rest of its batch is stored', async () => {
    const response = await post(JSON.stringify(upsyncBody([record({ request_id: 'ancient', timestamp: 1000 }), record({ request_id: 'beside-ancient' })])));
    const answer = (await response.json()) as UpsyncAnswer;
    assert.equal(answer.accepted, 1);
    assert.equal(answer.rejected, 1);
    assert.match(answer.errors[0]!.reason, /older than the hub keeps/);
    assert.equal(hub.store.db.prepare("SELECT count(*) FROM reports WHERE request_id = 'ancient'").pluck().get(), 0);
    assert.equal(hub.store.db.prepare("SELECT count(*) FROM reports WHERE request_id = 'beside-ancient'").pluck().get(), 1);
  });
});
