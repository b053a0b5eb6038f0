// Response statuses in managed mode's reports: each record carries the status its response finished
// with (node:http's `http.server.response.finish` channel), for every Node framework at once, in both
// wire formats; a response that never finishes still sends its record, once, without a status.
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { test } from 'node:test';
import { FakeHub, rulesBytes, waitFor } from './helpers/fake-hub.js';
import { startStatusApp } from './helpers/status-app.js';
import { COUNTER } from '../src/report/ring-layout.js';
import { MAX_AWAITING, StatusJoin } from '../src/report/status-join.js';
import type { QueuedRecord } from '../src/sync/report-record.js';

const RULES = { block: { paths: ['/wp-admin'] } };

async function hubWithRules(): Promise<FakeHub> {
  const hub = await new FakeHub().start();
  hub.serve('custom_rules', rulesBytes(RULES).body);
  hub.fault('data_subscriptions', { kind: 'status', status: 404 });
  return hub;
}

async function get(url: string): Promise<number> {
  const response = await fetch(url);
  await response.arrayBuffer();
  return response.status;
}

for (const format of ['compact', 'wafris'] as const) {
  test(`the app's 401 and 404, Moat's 403 and a 200 reach the hub with their status on node:http, Express and Fastify (${format})`, async () => {
    for (const framework of ['node:http', 'express', 'fastify'] as const) {
      const hub = await hubWithRules();
      const app = await startStatusApp(framework, hub, { format, flushIntervalMs: 600_000 });
      try {
        const expected: [string, number][] = [['/login', 401], ['/missing', 404], ['/wp-admin', 403], ['/ok', 200]];
        for (const [path, status] of expected) assert.equal(await get(app.url + path), status, `${framework} ${path}`);
        await app.fw.flushReports();
        const records = hub.records();
        for (const [path, status] of expected) {
          const found = records.filter((r) => r.path === path);
          assert.equal(found.length, 1, `${framework}: one record of ${path}`);
          assert.equal(found[0]!.status, status, `${framework}: ${path} reported with status ${status}`);
        }
        const upsync = app.fw.status().upsync;
        assert.equal(upsync.statusMissing, 0);
        assert.equal(upsync.awaitingStatus, 0);
      } finally {
        await app.stop();
        await hub.stop();
      }
    }
  });
}

/** A GET over cleartext HTTP/2 on a connection of its own; resolves with the status. */
function h2get(url: string, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const client = http2.connect(url);
    client.on('error', reject);
    const stream = client.request({ ':path': path });
    let status = 0;
    stream.on('response', (headers) => { status = Number(headers[':status']); });
    stream.resume();
    stream.on('end', () => {
      client.close();
      resolve(status);
    });
    stream.on('error', reject);
  });
}

for (const framework of ['fastify-http2', 'http2-core'] as const) test(`HTTP/2 (${framework === 'fastify-http2' ? 'Fastify, http2: true' : 'node:http2\'s core API, withMoatStream'}): each record reaches the hub with the status its stream sent`, async () => {
  const hub = await hubWithRules();
  const app = await startStatusApp(framework, hub, { flushIntervalMs: 600_000 });
  try {
    const expected: [string, number][] = [['/login', 401], ['/missing', 404], ['/wp-admin', 403], ['/ok', 200]];
    for (const [path, status] of expected) assert.equal(await h2get(app.url, path), status, path);
    await waitFor(() => app.fw.status().upsync.awaitingStatus === 0, 'every status to arrive');
    await app.fw.flushReports();
    for (const [path, status] of expected) {
      const found = hub.records().filter((r) => r.path === path);
      assert.equal(found.length, 1, `one record of ${path}`);
      assert.equal(found[0]!.status, status, `${path} reported with status ${status}`);
    }
    assert.equal(app.fw.status().upsync.statusMissing, 0);
  } finally {
    await app.stop();
    await hub.stop();
  }
});

test('a response that never finishes (the client gave up) sends its record once, without a status, after the bounded wait', async () => {
  const hub = await hubWithRules();
  const app = await startStatusApp('node:http', hub, { flushIntervalMs: 200, flushBlockedMs: 100 });
  try {
    const controller = new AbortController();
    const pending = fetch(`${app.url}/hang`, { signal: controller.signal }).catch(() => 'aborted');
    await waitFor(() => app.hanging.length === 1, 'the app to receive /hang');
    controller.abort();
    assert.equal(await pending, 'aborted');
    assert.equal(await get(`${app.url}/missing`), 404);
    await waitFor(() => hub.records().some((r) => r.path === '/hang'), 'the record of /hang to reach the hub');
    // Later statuses, flushes and ticks must not send it again.
    assert.equal(await get(`${app.url}/missing`), 404);
    app.hanging[0]!.destroy();
    await app.fw.flushReports();
    await new Promise((resolve) => setTimeout(resolve, 300));
    await app.fw.flushReports();
    const hang = hub.records().filter((r) => r.path === '/hang');
    assert.equal(hang.length, 1, 'exactly once');
    assert.equal(hang[0]!.status, undefined, 'no status: its response never finished');
    assert.deepEqual(hub.records().filter((r) => r.path === '/missing').map((r) => r.status), [404, 404]);
    const upsync = app.fw.status().upsync;
    assert.equal(upsync.statusMissing, 1);
    assert.equal(upsync.sent, upsync.recorded, 'nothing lost');
  } finally {
    await app.stop();
    await hub.stop();
  }
});

test('records waiting for their status are bounded: past MAX_AWAITING the oldest go on without one, each record handed on once', () => {
  const counters = new Float64Array(32);
  const join = new StatusJoin(1000, counters);
  const out: QueuedRecord[] = [];
  const emit = (r: QueuedRecord) => out.push(r);
  const record = (i: number) => ({ path: `/${i}` }) as QueuedRecord;
  for (let i = 1; i <= MAX_AWAITING + 10; i++) join.hold(i, record(i), 0, emit);
  assert.equal(join.size, MAX_AWAITING);
  assert.deepEqual(out.map((r) => r.path), Array.from({ length: 10 }, (_, i) => `/${i + 1}`), 'the ten oldest, in order');
  assert.ok(out.every((r) => r.status === undefined));
  join.note(5, 404, emit); // too late: already gone without it
  join.note(11, 404, emit);
  assert.equal(out.length, 11);
  assert.equal(out[10]!.path, '/11');
  assert.equal(out[10]!.status, 404);
  join.expire(999, emit);
  assert.equal(out.length, 11, 'not yet due');
  join.expire(1000, emit);
  assert.equal(out.length, MAX_AWAITING + 10, 'every record handed on once');
  assert.equal(new Set(out.map((r) => r.path)).size, MAX_AWAITING + 10);
  assert.equal(counters[COUNTER.statusMissing], MAX_AWAITING + 9);
  assert.equal(counters[COUNTER.awaitingStatus], 0);
});
