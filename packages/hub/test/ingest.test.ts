import { strict as assert } from 'node:assert';
import { gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { wafrisRuleNumber } from 'moat-waf/wafris';
import { Client, createSiteWithKey, record, startTestHub, upsyncBody, type TestHub, startHubWithSite } from './support/hub-fixture.js';

describe('upsync ingestion', () => {
  let hub: TestHub;
  let client: Client;
  let siteId: number;
  let apiKey: string;
  const post = (body: string | Uint8Array, headers: Record<string, string> = {}, key = apiKey) =>
    fetch(`${hub.url}/v2/upsync/${key}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : new Uint8Array(body) });
  const stored = () => (hub.store.db.prepare('SELECT count(*) FROM reports WHERE site_id = ?').pluck().get(siteId) as number);

  before(async () => {
    ({ hub, client, siteId, apiKey } = await startHubWithSite('test site', { upsyncMaxRecords: 100, upsyncMaxBytes: 64 * 1024 }));
  });
  after(() => hub.stop());

  it('stores a JSON batch and a gzip batch', async () => {
    const response = await post(JSON.stringify(upsyncBody([record({ request_id: 'a' }), record({ request_id: 'b', treatment: 'Blocked', category: 'bi', rule: '203.0.113.9' })])));
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { ok: true, accepted: 2, rejected: 0, clamped: 0, errors: [] });
    const gz = await post(gzipSync(JSON.stringify(upsyncBody([record({ request_id: 'c' })]))), { 'content-encoding': 'gzip' });
    assert.equal(gz.status, 200);
    assert.equal(stored(), 3);
    // Wafris clients send timestamps and treatments in their own shapes; both are accepted.
    const wafris = await post(JSON.stringify({ meta: { version: '2.0.1', client: 'wafris-ruby', framework: 'rails' }, batch: [record({ timestamp: String(Math.floor(Date.now() / 1000)), treatment: 'passed' })] }));
    assert.equal(wafris.status, 200);
    assert.equal(stored(), 4);
  });

  it('refuses unusable bodies with a clear 4xx and stores nothing of them', async () => {
    const before = stored();
    const cases: { name: string; response: Promise<Response>; status: number; error?: string }[] = [
      { name: 'malformed JSON', response: post('{"batch": [ {"ip": '), status: 400, error: 'malformed_body' },
      { name: 'empty body', response: post(''), status: 400 },
      { name: 'not gzip', response: post('plain text', { 'content-encoding': 'gzip' }), status: 400, error: 'malformed_body' },
      { name: 'unknown encoding', response: post('{}', { 'content-encoding': 'br' }), status: 415 },
      { name: 'oversized body', response: post(JSON.stringify(upsyncBody([record({ path: '/'.repeat(70 * 1024) })]))), status: 413, error: 'body_too_large' },
      { name: 'gzip bomb', response: post(gzipSync(Buffer.alloc(1024 * 1024, 32)), { 'content-encoding': 'gzip' }), status: 413 },
      { name: 'too many records', response: post(JSON.stringify(upsyncBody(Array.from({ length: 101 }, (_, i) => record({ request_id: `m${i}` }))))), status: 400, error: 'invalid_request' },
      { name: 'batch not an array', response: post(JSON.stringify({ batch: 'x' })), status: 400 },
      { name: 'nested too deep', response: post(`{"batch":[{"ip":${'['.repeat(20)}${']'.repeat(20)}}]}`), status: 400, error: 'json_too_deep' },
      { name: 'wrong content type', response: fetch(`${hub.url}/v2/upsync/${apiKey}`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '{}' }), status: 415 },
      { name: 'bad key', response: post(JSON.stringify(upsyncBody([record()])), {}, 'moat_wrong'), status: 401 },
    ];
    for (const c of cases) {
      const response = await c.response;
      assert.equal(response.status, c.status, `${c.name}: ${await response.clone().text()}`);
      const body = (await response.json()) as { error: string; message: string };
      assert.ok(body.message.length > 0, `${c.name} explains itself`);
      if (c.error) assert.equal(body.error, c.error, c.name);
    }
    assert.equal(stored(), before, 'nothing stored from unusable bodies');
    // The hub is still fine, and the next valid batch is stored completely.
    const batch = Array.from({ length: 100 }, (_, i) => record({ request_id: `ok-${i}`, ip: `198.51.100.${i}` }));
    const ok = await post(JSON.stringify(upsyncBody(batch)));
    assert.equal(ok.status, 200);
    assert.equal(stored(), before + 100);
    const ids = hub.store.db.prepare("SELECT request_id FROM reports WHERE request_id LIKE 'ok-%'").pluck().all();
    assert.equal(new Set(ids).size, 100);
  });

  it('stores the valid records of a batch and reports the refused ones by index', async () => {
    const before = stored();
    const response = await post(JSON.stringify(upsyncBody([
      record({ request_id: 'mix-0' }), record({ timestamp: 'yesterday' }), record({ ip: undefined }),
      record({ request_id: 'mix-3' }), record({ treatment: 'Exploded' }),
    ])));
    assert.equal(response.status, 200);
    const body = (await response.json()) as { accepted: number; rejected: number; errors: { index: number; reason: string }[] };
    assert.equal(body.accepted, 2);
    assert.equal(body.rejected, 3);
    assert.deepEqual(body.errors.map((e) => e.index), [1, 2, 4]);
    assert.match(body.errors[0]!.reason, /^timestamp: /);
    assert.equal(stored(), before + 2);
  });

  it('rolls reports up per minute and keeps top lists, unique IPs and rule hits', async () => {
    const other = await createSiteWithKey(client, 'rollups');
    const now = Math.floor(Date.now() / 1000);
    const minuteA = now - (now % 60) - 120;
    const batch = [
      record({ timestamp: minuteA, ip: '192.0.2.1', treatment: 'Blocked', category: 'bi', rule: '192.0.2.1', rule_id: 'b-1', path: '/a' }),
      record({ timestamp: minuteA + 5, ip: '192.0.2.1', treatment: 'Blocked', category: 'bi', rule: '192.0.2.1', rule_id: 'b-1', path: '/a' }),
      record({ timestamp: minuteA + 30, ip: '192.0.2.2', treatment: 'Allowed', category: 'ai', rule: '192.0.2.2', path: '/b' }),
      record({ timestamp: minuteA + 60, ip: '192.0.2.3', path: '/b', monitored: [{ category: 'bp', rule: '/b', rule_id: 'mon-1' }] }),
    ];
    const response = await fetch(`${hub.url}/v2/upsync/${other.apiKey}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(upsyncBody(batch)) });
    assert.equal(response.status, 200);
    assert.equal(await hub.rollUpNow() >= 4, true);

    const overview = (await (await client.request(`/api/sites/${other.siteId}/stats/overview?range=1h`)).json()) as {
      totals: { total: number; blocked: number; allowed: number; passed: number; monitored: number }; uniqueIps: number;
      series: { t: number[]; total: number[]; blocked: number[] };
    };
    assert.deepEqual(overview.totals, { total: 4, blocked: 2, allowed: 1, passed: 1, monitored: 1 });
    assert.equal(overview.uniqueIps, 3);
    const at = overview.series.t.indexOf(minuteA);
    assert.ok(at >= 0);
    assert.deepEqual([overview.series.total[at], overview.series.blocked[at], overview.series.total[at + 1]], [3, 2, 1]);

    const top = (await (await client.request(`/api/sites/${other.siteId}/stats/top?range=1h`)).json()) as Record<string, { value: string; total: number; blocked: number }[]>;
    assert.deepEqual(top.ip![0], { value: '192.0.2.1', total: 2, blocked: 2 });
    assert.deepEqual(top.path!.map((p) => [p.value, p.total]), [['/a', 2], ['/b', 2]]);
    assert.ok(top.rule!.some((r) => r.value === 'bi\t192.0.2.1' && r.total === 2));
    // Rolling up again folds nothing twice.
    assert.equal(await hub.rollUpNow(), 0);
    const again = (await (await client.request(`/api/sites/${other.siteId}/stats/overview?range=1h`)).json()) as { totals: { total: number } };
    assert.equal(again.totals.total, 4);

    // The request log filters by treatment, IP, path and rule, and pages.
    const log = async (query: string) => ((await (await client.request(`/api/sites/${other.siteId}/requests?${query}`)).json()) as { rows: { ip: string }[]; next: string | null });
    assert.equal((await log('treatment=Blocked')).rows.length, 2);
    assert.deepEqual((await log('ip=192.0.2.2')).rows.map((r) => r.ip), ['192.0.2.2']);
    assert.equal((await log('path=/b')).rows.length, 2);
    assert.equal((await log('rule=b-1')).rows.length, 2);
    const first = await log('limit=3');
    assert.equal(first.rows.length, 3);
    assert.ok(first.next);
    const second = await log(`limit=3&before=${encodeURIComponent(first.next)}`);
    assert.equal(second.rows.length, 1);
    assert.equal((await log(`from=${minuteA + 50}&to=${minuteA + 61}`)).rows.length, 1);
  });

  it('a Wafris gem country block (G_gb) is stored as GB and counted for the GB rule; a gem rate-limit block for its rule', async () => {
    const gem = await createSiteWithKey(client, 'wafris gem');
    assert.equal((await client.api('POST', `/api/sites/${gem.siteId}/rules`, { kind: 'country', value: 'GB' })).status, 201);
    assert.equal((await client.api('POST', `/api/sites/${gem.siteId}/rules`, { kind: 'rateLimit', value: '/login', rateLimit: { path: '/login', limit: 5, window: '60s' } })).status, 201);
    const rules = (await (await client.request(`/api/sites/${gem.siteId}/rules`)).json()) as { rules: { id: string; kind: string }[] };
    const limit = rules.rules.find((r) => r.kind === 'rateLimit')!;
    const now = Math.floor(Date.now() / 1000);
    // What the unmodified gem sends: the country token as it reads it, the rate limit's number as a JSON number.
    const batch = [
      { ...record({ timestamp: now, ip: '5.10.0.1', treatment: 'Blocked', category: 'bctry', rule: 'G_gb', request_id: 'g1' }) },
      { ...record({ timestamp: now, ip: '5.10.0.2', treatment: 'Blocked', category: 'bctry', rule: 'G_gb', request_id: 'g2' }) },
      { ...record({ timestamp: now, ip: '5.10.0.3', treatment: 'Blocked', category: 'brl', request_id: 'g3' }), rule: wafrisRuleNumber(limit.id) },
    ];
    const response = await fetch(`${hub.url}/v2/upsync/${gem.apiKey}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ meta: { client: 'wafris-ruby', version: '2.3.0' }, batch }) });
    assert.deepEqual(await response.json(), { ok: true, accepted: 3, rejected: 0, clamped: 0, errors: [] });
    const countries = hub.store.db.prepare('SELECT country FROM reports WHERE site_id = ? AND category = ?').pluck().all(gem.siteId, 'bctry');
    assert.deepEqual(countries, ['GB', 'GB']);
    await hub.rollUpNow();
    const listed = (await (await client.request(`/api/sites/${gem.siteId}/rules?range=1h`)).json()) as { rules: { kind: string; hits: { hits: number } }[] };
    assert.equal(listed.rules.find((r) => r.kind === 'country')!.hits.hits, 2, 'G_gb counts for GB, once each');
    assert.equal(listed.rules.find((r) => r.kind === 'rateLimit')!.hits.hits, 1);
  });

  it('prunes raw reports and rollups past their retention', async () => {
    const pruned = await startTestHub({ retention: { rawDays: 1, rollupDays: 2 } });
    try {
      const c = new Client(pruned.url);
      await c.login();
      const site = await createSiteWithKey(c);
      const now = Math.floor(Date.now() / 1000);
      const day = 86_400;
      const batch = [record({ timestamp: now - 3 * day }), record({ timestamp: now - 1.5 * day }), record({ timestamp: now - 60 })];
      assert.equal((await fetch(`${pruned.url}/v2/upsync/${site.apiKey}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(upsyncBody(batch)) })).status, 200);
      await pruned.rollUpNow();
      assert.ok(await pruned.pruneNow() > 0);
      const rawLeft = pruned.store.db.prepare('SELECT ts FROM reports ORDER BY ts').pluck().all() as number[];
      assert.deepEqual(rawLeft, [now - 60]);
      const minutes = pruned.store.db.prepare('SELECT minute FROM minute_stats ORDER BY minute').pluck().all() as number[];
      assert.equal(minutes.length, 2, 'the 1.5-day-old minute stays in the rollups, the 3-day-old one goes');
      const totals = await pruned.store.totals(site.siteId, now - 7 * day, now + 60);
      assert.equal(totals.total, 2);
    } finally {
      await pruned.stop();
    }
  });
});
