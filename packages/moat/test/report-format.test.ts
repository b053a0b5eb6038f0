// The wire formats: the compact encoding expands to exactly the Wafris records of the same decisions;
// format 'wafris' sends the Wafris JSON body unchanged; and a hub that answers 415 to the compact type
// gets the same batch again (same id) as Wafris JSON, and Wafris JSON from then on.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { withMoat } from '../src/adapters/node.js';
import { createManagedFirewall, type ManagedFirewall, type ManagedFirewallOptions } from '../src/managed/managed-firewall.js';
import { resolveSyncOptions } from '../src/sync/managed-options.js';
import { COMPACT_TYPE, expandCompact } from './helpers/compact-upsync.js';
import { FakeHub, rulesBytes, tempDir, waitFor } from './helpers/fake-hub.js';
import { serveApp } from './helpers/served-app.js';

const RULES = { block: { paths: ['/wp-admin', { value: '/watched', mode: 'monitor' }], userAgents: ['sqlmap'] } };

async function app(hubUrl: string, apiKey: string, upsync: ManagedFirewallOptions['upsync']) {
  const { dir, cleanup } = tempDir();
  const fw: ManagedFirewall = createManagedFirewall({
    apiKey, hubUrl, dir, customRulesIntervalMs: 60_000, dataIntervalMs: 60_000, backoffBaseMs: 10, backoffMaxMs: 40, logger: false, env: {}, upsync,
  });
  await fw.ready();
  const server: Server = createServer(withMoat((_req, res) => { res.end('ok'); }, fw));
  return { fw, ...(await serveApp(server, fw, cleanup, 'format-test/1')) };
}

/** The same decisions for both apps: blocks, monitor matches, queries with secrets, odd text, repeats. */
const REQUESTS: [string, Record<string, string>][] = [
  ['/wp-admin/setup.php', {}],
  ['/watched?page=2', {}],
  ['/login?user=bob&password=hunter2', { 'x-request-id': 'fixed-id-1' }],
  ['/caf%C3%A9/%E2%9C%93?q=%22quoted%22%5C', {}],
  ['/', { 'user-agent': 'sqlmap/1.7' }],
  ['/', {}],
  ['/', {}],
];

test('a compact batch expands to exactly the Wafris records of the same decisions', async () => {
  const hub = await new FakeHub().start();
  hub.serve('custom_rules', rulesBytes(RULES).body);
  hub.fault('data_subscriptions', { kind: 'status', status: 404 });
  const compact = await app(hub.hubUrl, hub.apiKey, { batchSize: 1000, flushIntervalMs: 600_000 });
  const wafris = await app(hub.hubUrl, hub.apiKey, { batchSize: 1000, flushIntervalMs: 600_000, format: 'wafris' });
  try {
    for (const a of [compact, wafris]) {
      for (const [path, headers] of REQUESTS) await a.get(path, headers);
      await a.fw.flushReports();
    }
    const [c, w] = hub.upsyncs;
    assert.equal(c.contentType, COMPACT_TYPE);
    assert.equal(w.contentType, 'application/json', 'format wafris: the Wafris JSON body, unchanged');
    assert.equal(compact.fw.status().upsync.format, 'compact');
    assert.equal(wafris.fw.status().upsync.format, 'wafris');
    const normalise = (r: Record<string, unknown>) => ({ ...r, timestamp: 0, request_id: String(r.request_id).startsWith('fixed') ? r.request_id : 'generated' });
    assert.equal(c.body!.batch.length, REQUESTS.length);
    assert.deepEqual(c.body!.batch.map(normalise), w.body!.batch.map(normalise));
    assert.deepEqual(c.body!.meta, w.body!.meta);
    const login = c.body!.batch[2];
    assert.equal(login.parameter, 'user=bob&password=[redacted]', 'redacted in the worker, as before');
    assert.equal(c.body!.batch[1].monitored && (c.body!.batch[1].monitored as unknown[]).length, 1);
    assert.ok((c.bytes ?? 0) < (w.bytes ?? 0), `compact is smaller: ${c.bytes} vs ${w.bytes} bytes`);
  } finally {
    await compact.stop();
    await wafris.stop();
    await hub.stop();
  }
});

test('a hub that answers 415 to the compact type gets the same batch (same id) as Wafris JSON, and Wafris JSON from then on', async () => {
  // A hub that only knows Wafris JSON, seen at the byte level: content type and batch id of each POST.
  const posts: { type: string; id: string; status: number; requestIds: string[] }[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method !== 'POST') return void res.writeHead(404).end();
      const type = String(req.headers['content-type']);
      const id = String(req.headers['x-moat-batch-id']);
      if (type !== 'application/json') {
        posts.push({ type, id, status: 415, requestIds: [] });
        return void res.writeHead(415).end('{"error":"unsupported_media_type"}');
      }
      const body = JSON.parse(gunzipSync(Buffer.concat(chunks)).toString('utf8')) as { batch: { request_id: string }[] };
      posts.push({ type, id, status: 200, requestIds: body.batch.map((r) => r.request_id) });
      res.writeHead(200, { 'content-type': 'application/json' }).end(`{"ok":true,"accepted":${body.batch.length},"rejected":0}`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const hubUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const hub = await new FakeHub().start();
  hub.serve('custom_rules', rulesBytes(RULES).body);
  hub.fault('data_subscriptions', { kind: 'status', status: 404 });
  const a = await app(hub.hubUrl, hub.apiKey, { url: `${hubUrl}/v2/upsync`, batchSize: 1000, flushIntervalMs: 600_000 });
  try {
    for (let i = 0; i < 5; i++) await a.get(`/first/${i}`);
    await a.fw.flushReports();
    for (let i = 0; i < 5; i++) await a.get(`/second/${i}`);
    await a.fw.flushReports();
    await waitFor(() => a.fw.status().upsync.sent === 10, 'both batches sent');
    assert.deepEqual(posts.map((p) => [p.type, p.status]), [[COMPACT_TYPE, 415], ['application/json', 200], ['application/json', 200]]);
    assert.equal(posts[1].id, posts[0].id, 'the refused batch is resent with its id');
    assert.notEqual(posts[2].id, posts[1].id);
    assert.equal(new Set(posts.flatMap((p) => p.requestIds)).size, 10, 'ten records, none twice');
    const st = a.fw.status().upsync;
    assert.equal(st.format, 'wafris');
    assert.equal(st.dropped, 0, 'a 415 is not a rejection');
    assert.deepEqual(st.rejected, {});
  } finally {
    await a.stop();
    await hub.stop();
    server.closeAllConnections();
    server.close();
  }
});

test('the expanded compact batch passes the stand-in decoder\'s checks: every column n long, every index in range', async () => {
  const hub = await new FakeHub().start();
  hub.serve('custom_rules', rulesBytes(RULES).body);
  hub.fault('data_subscriptions', { kind: 'status', status: 404 });
  const a = await app(hub.hubUrl, hub.apiKey, { batchSize: 1000, flushIntervalMs: 600_000 });
  try {
    for (let i = 0; i < 300; i++) await a.get(i % 3 === 0 ? `/p/${i}?q=${i}` : '/same', { 'user-agent': `agent-${i % 5}` });
    await a.fw.flushReports();
    const upload = hub.upsyncs.find((u) => u.status === 200)!;
    assert.equal(upload.contentType, COMPACT_TYPE);
    // Managed mode counts repeated Passed requests (reportPassed 'aggregate'): records plus counts are all 300.
    const counted = (upload.body!.aggregates ?? []).reduce((sum, c) => sum + c.count, 0);
    assert.ok(counted > 0, 'the repeats of /same travelled as counts');
    assert.equal(upload.body!.batch.length + counted, 300);
    // Repeats cost bytes, not whole records: 300 records in far less than their Wafris size.
    assert.ok((upload.bytes ?? Infinity) < 300 * 120, `${upload.bytes} bytes for 300 records`);
    assert.throws(() => expandCompact({ meta: {}, n: 1, t0: 0, strings: ['a'], columns: { ip: [1] } }), /bad compact batch/);
  } finally {
    await a.stop();
    await hub.stop();
  }
});

test('upsync.format and upsync.ringBytes: options, MOAT_UPSYNC_FORMAT / MOAT_UPSYNC_RING_BYTES, and bad values refused at start', () => {
  assert.equal(resolveSyncOptions({}, {}).upsync.format, 'compact');
  assert.equal(resolveSyncOptions({}, { MOAT_UPSYNC_FORMAT: 'wafris' }).upsync.format, 'wafris');
  assert.equal(resolveSyncOptions({ upsync: { format: 'compact' } }, { MOAT_UPSYNC_FORMAT: 'wafris' }).upsync.format, 'compact', 'options win');
  assert.throws(() => resolveSyncOptions({ upsync: { format: 'xml' as 'wafris' } }, {}), /upsync.format must be 'compact' or 'wafris'/);
  assert.equal(resolveSyncOptions({}, {}).upsync.ringBytes, 4 * 1024 * 1024);
  assert.equal(resolveSyncOptions({}, { MOAT_UPSYNC_RING_BYTES: '1048576' }).upsync.ringBytes, 1024 * 1024);
  assert.throws(() => resolveSyncOptions({ upsync: { ringBytes: 1000 } }, {}), /ringBytes must be at least 65536/);
});
