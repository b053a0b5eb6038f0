// GET /metrics: numbers that move with real traffic, a token nobody can guess around, and a scrape an
// attacker cannot blow up by varying paths, keys or methods. Real hub on 127.0.0.1, real HTTP.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { Counter } from '../../src/metrics/prometheus-text.js';
import { READY_REUSE_MS } from '../../src/server/readiness-probe.js';
import { Client, createSiteWithKey, record, startTestHub, upsyncBody } from '../support/hub-fixture.js';

const TOKEN = 'metrics-token-for-the-test-0123456789';

async function scrape(url: string, token = TOKEN): Promise<string> {
  const response = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  return response.text();
}

/** The value of one sample (`name{labels} value`), 0 when absent. */
function sample(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

describe('hub metrics endpoint', () => {
  it('GET /metrics without a configured token is 404; with one, a missing, wrong or almost-right token is 401', async () => {
    const plain = await startTestHub();
    try {
      const response = await fetch(`${plain.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
      assert.equal(response.status, 404);
    } finally {
      await plain.stop();
    }
    const hub = await startTestHub({ metricsToken: TOKEN });
    try {
      const tries: [string, Record<string, string>][] = [
        ['no header', {}],
        ['wrong token', { authorization: 'Bearer not-the-token-at-all-000000' }],
        ['a prefix of the token', { authorization: `Bearer ${TOKEN.slice(0, -1)}` }],
        ['the token and more', { authorization: `Bearer ${TOKEN}x` }],
        ['another scheme', { authorization: `Basic ${Buffer.from(`x:${TOKEN}`).toString('base64')}` }],
        ['the token as a cookie', { cookie: `token=${TOKEN}` }],
      ];
      for (const [what, headers] of tries) {
        const response = await fetch(`${hub.url}/metrics`, { headers });
        const body = await response.text();
        assert.equal(response.status, 401, what);
        assert.doesNotMatch(body, /moat_hub_/, `${what}: no metrics in the answer`);
      }
      assert.match(await scrape(hub.url), /# TYPE moat_hub_request_duration_seconds histogram/);
    } finally {
      await hub.stop();
    }
  });

  it('upsync, downsync (200 then 304), refused records, a duplicate batch and a reporter move the numbers', async () => {
    const hub = await startTestHub({ metricsToken: TOKEN });
    try {
      const admin = new Client(hub.url);
      await admin.login();
      const { apiKey } = await createSiteWithKey(admin);
      const before = await scrape(hub.url);
      assert.equal(sample(before, 'moat_hub_database_up'), 1);

      const post = (body: unknown, batchId: string) => fetch(`${hub.url}/v2/upsync/${apiKey}`, {
        method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json', 'x-moat-batch-id': batchId },
      }).then(async (r) => { await r.arrayBuffer(); return r.status; });
      const batch = upsyncBody([record({ request_id: 'a' }), record({ request_id: 'b' }), record({ ip: '' })]);
      assert.equal(await post(batch, 'one'), 200);
      assert.equal(await post(batch, 'one'), 200, 'the same batch again: a duplicate');
      const badKey = await fetch(`${hub.url}/v2/upsync/moat_not-a-key`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
      await badKey.arrayBuffer();

      const first = await fetch(`${hub.url}/v2/downsync/custom_rules/${apiKey}`);
      await first.arrayBuffer();
      const fileName = /filename=([^;\s]+)/.exec(first.headers.get('content-disposition') ?? '')?.[1];
      assert.ok(fileName);
      const again = await fetch(`${hub.url}/v2/downsync/custom_rules/${apiKey}?client_db=${fileName}`);
      await again.arrayBuffer();
      assert.equal(again.status, 304);

      const after = await scrape(hub.url);
      assert.equal(sample(after, 'moat_hub_upsync_requests_total{status="200"}'), 2);
      assert.equal(sample(after, 'moat_hub_upsync_requests_total{status="401"}'), 1);
      assert.equal(sample(after, 'moat_hub_ingest_batches_total{outcome="stored"}'), 1);
      assert.equal(sample(after, 'moat_hub_ingest_batches_total{outcome="duplicate"}'), 1);
      assert.equal(sample(after, 'moat_hub_ingest_records_total{outcome="accepted"}'), 2);
      assert.equal(sample(after, 'moat_hub_ingest_records_total{outcome="rejected"}'), 2, 'one refused record in each answer');
      assert.equal(sample(after, 'moat_hub_downsync_requests_total{status="200"}'), 1);
      assert.equal(sample(after, 'moat_hub_downsync_requests_total{status="304"}'), 1);
      assert.equal(sample(after, 'moat_hub_downsync_not_modified_ratio'), 0.5);
      assert.equal(sample(after, 'moat_hub_request_duration_seconds_count{method="POST",route="/v2/upsync/:apiKey"}'), 3);
      assert.match(after, /moat_hub_reporter_last_seen_seconds\{site="\d+",reporter="[^"]+"\} \d+/);
    } finally {
      await hub.stop();
    }
  });

  it('an attacker sending 3,000 requests to random paths, keys and methods adds no series: routes are patterns, unknown ones one "unmatched"', async () => {
    const hub = await startTestHub({ metricsToken: TOKEN });
    try {
      const seriesCount = (text: string) => text.split('\n').filter((l) => l !== '' && !l.startsWith('#')).length;
      // Warm up: one request of every kind the attack sends, so every label set that legitimately exists does.
      const kinds = [
        (i: number) => fetch(`${hub.url}/random/${i}/${'x'.repeat(i % 50)}`),
        (i: number) => fetch(`${hub.url}/v2/downsync/custom_rules/moat_${i}`),
        (i: number) => fetch(`${hub.url}/v2/upsync/moat_${i}`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } }),
        (i: number) => fetch(`${hub.url}/sites/${i}/rules`),
        (i: number) => fetch(`${hub.url}/%2e%2e/${i}?q=${i}`, { method: 'DELETE' }),
      ];
      for (const [k, send] of kinds.entries()) await (await send(k)).arrayBuffer();
      await scrape(hub.url); // the scrape itself is a route too: its series exists from the second scrape on
      const warm = seriesCount(await scrape(hub.url));
      for (let round = 0; round < 600; round += 20) {
        await Promise.all(Array.from({ length: 20 }, (_, j) => {
          const i = round + j + 10;
          return Promise.all(kinds.map(async (send) => { await (await send(i)).arrayBuffer(); }));
        }));
      }
      const attacked = await scrape(hub.url);
      assert.equal(seriesCount(attacked), warm, 'the same series as before the attack, only larger counts');
      assert.doesNotMatch(attacked, /random|moat_\d|%2e/, 'no requested path or key in a label');
      assert.ok(sample(attacked, 'moat_hub_request_duration_seconds_count{method="GET",route="unmatched"}') >= 600);
    } finally {
      await hub.stop();
    }
  });

  it('a database that stops answering shows as moat_hub_database_up 0, and the scrape still answers', async () => {
    const hub = await startTestHub({ metricsToken: TOKEN });
    try {
      assert.equal(sample(await scrape(hub.url), 'moat_hub_database_up'), 1);
      hub.store.db.close(); // the SQLite file can no longer be queried
      await new Promise((resolve) => setTimeout(resolve, READY_REUSE_MS)); // the last good answer expires
      const during = await scrape(hub.url);
      assert.equal(sample(during, 'moat_hub_database_up'), 0);
      assert.doesNotMatch(during, /moat_hub_reporter_last_seen_seconds/, 'nothing read from a store that is away');
    } finally {
      await hub.stop();
    }
  });

  it('a labelled family holds at most its cap of series; the rest count under _other', () => {
    const counter = new Counter('moat_test_total', 'test', ['path'], 4);
    for (let i = 0; i < 1_000; i++) counter.inc({ path: `/p/${i}` });
    const lines = counter.render().split('\n').filter((l) => !l.startsWith('#'));
    assert.equal(lines.length, 4);
    assert.ok(lines.includes('moat_test_total{path="_other"} 997'), lines.join('\n'));
    const escaped = new Counter('moat_escape_total', 'test', ['v'], 4);
    escaped.inc({ v: 'a"b\\c\nd' });
    assert.ok(escaped.render().includes('moat_escape_total{v="a\\"b\\\\c\\nd"} 1'), escaped.render());
  });
});
