// Upsync against a real HTTP server on 127.0.0.1, with decisions made by a real node:http app behind
// the managed firewall: Wafris record fields, gzip, batches by size and by age, redaction, sampling,
// a long hub outage (bounded memory, drops counted, kept records delivered), flush on close, 401.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { test } from 'node:test';
import { withMoat } from '../src/adapters/node.js';
import { createManagedFirewall, type ManagedFirewall, type ManagedFirewallOptions } from '../src/managed/managed-firewall.js';
import { FakeHub, rulesBytes, tempDir, waitFor } from './helpers/fake-hub.js';
import { serveApp } from './helpers/served-app.js';

const RULES = {
  block: { paths: ['/wp-admin', { value: '/watched', mode: 'monitor' }], ips: [] },
};

interface App {
  fw: ManagedFirewall;
  get(path: string, headers?: Record<string, string>): Promise<number>;
  stop(): Promise<void>;
}

async function app(hub: FakeHub, upsync: ManagedFirewallOptions['upsync'], extra: Partial<ManagedFirewallOptions> = {}): Promise<App> {
  const { dir, cleanup } = tempDir();
  const fw = createManagedFirewall({
    apiKey: hub.apiKey, hubUrl: hub.hubUrl, dir, customRulesIntervalMs: 60_000, dataIntervalMs: 60_000,
    backoffBaseMs: 10, backoffMaxMs: 40, logger: false, env: {}, upsync, ...extra,
  });
  await fw.ready();
  const handler = withMoat((_req, res) => { res.end('ok'); }, fw);
  assert.equal(handler.firewall, fw, 'adapters take the managed firewall as a Firewall');
  const server: Server = createServer(handler);
  return { fw, ...(await serveApp(server, fw, cleanup, 'test-agent/1')) };
}

async function hubWithRules(): Promise<FakeHub> {
  const hub = await new FakeHub().start();
  hub.serve('custom_rules', rulesBytes(RULES).body);
  hub.fault('data_subscriptions', { kind: 'status', status: 404 });
  return hub;
}

test('records carry the Wafris fields, gzip, and go by batch size', async () => {
  const hub = await hubWithRules();
  const a = await app(hub, { batchSize: 3, flushIntervalMs: 600_000 });
  try {
    assert.equal(await a.get('/wp-admin/setup.php', { 'x-request-id': 'req-1' }), 403);
    assert.equal(await a.get('/home?page=2'), 200);
    assert.equal(await a.get('/watched'), 200);
    await waitFor(() => hub.records().length === 3, 'a full batch (only its size can have sent it)');
    const upload = hub.upsyncs.find((u) => u.status === 200)!;
    assert.equal(upload.contentEncoding, 'gzip');
    assert.equal(upload.contentType, 'application/vnd.moat.upsync.v2+json', 'the compact encoding by default');
    assert.equal(upload.body?.meta.client, 'moat');
    assert.ok(upload.body?.meta.version);
    assert.equal(upload.body?.meta.framework, 'node');
    const [blocked, passed, watched] = hub.records();
    assert.deepEqual(
      { ...blocked, timestamp: 0 },
      {
        ip: '127.0.0.1', user_agent: 'test-agent/1', path: '/wp-admin/setup.php', parameter: '', host: '127.0.0.1', method: 'GET',
        request_id: 'req-1', timestamp: 0, treatment: 'Blocked', category: 'bp', rule: '/wp-admin', rule_id: blocked.rule_id,
        monitored: [], ip_source: 'socket', status: 403,
      },
    );
    assert.ok(Math.abs((blocked.timestamp as number) - Date.now() / 1000) < 60, 'timestamp in Unix seconds');
    assert.equal(typeof blocked.rule_id, 'string');
    assert.equal(passed.treatment, 'Passed');
    assert.equal(passed.parameter, 'page=2', 'parameters reported even without parameter rules');
    assert.match(String(passed.request_id), /^[0-9a-f-]{36}$/, 'a generated request id');
    assert.equal(watched.treatment, 'Passed');
    assert.deepEqual((watched.monitored as { category: string }[]).map((m) => m.category), ['bp'], 'monitor match reported');
    await waitFor(() => a.fw.status().upsync.sent === 3, 'the client counts them sent');
  } finally {
    await a.stop();
    await hub.stop();
  }
});

test('a lone record goes when it is old enough (timer, not request arrival)', async () => {
  const hub = await hubWithRules();
  const a = await app(hub, { batchSize: 250, flushIntervalMs: 40 });
  try {
    await a.get('/one');
    await waitFor(() => hub.records().length === 1, 'the record, sent by age');
    assert.equal(a.fw.status().upsync.queued, 0);
  } finally {
    await a.stop();
    await hub.stop();
  }
});

test('sensitive parameters are redacted before they leave the process (configurable list)', async () => {
  const hub = await hubWithRules();
  const a = await app(hub, { batchSize: 2, flushIntervalMs: 600_000 });
  const b = await app(hub, { batchSize: 1, flushIntervalMs: 600_000, redactParams: ['q'] });
  try {
    await a.get('/login?user=bob&password=hunter2&api_key=abc123&Authorization=Bearer%20x&q=shoes');
    await a.get('/reset?reset_token=t0k3n&secret=s&page=1');
    await waitFor(() => hub.records().length === 2, 'two records');
    const [login, reset] = hub.records();
    assert.equal(login.parameter, 'user=bob&password=[redacted]&api_key=[redacted]&Authorization=[redacted]&q=shoes');
    assert.equal(reset.parameter, 'reset_token=[redacted]&secret=[redacted]&page=1');
    const all = JSON.stringify(hub.upsyncs.map((u) => u.body));
    for (const secret of ['hunter2', 'abc123', 't0k3n', 'Bearer']) assert.ok(!all.includes(secret), secret);

    await b.get('/search?q=private&password=visible-here');
    await waitFor(() => hub.records().length === 3, 'the custom-list record');
    assert.equal(hub.records()[2].parameter, 'q=[redacted]&password=visible-here');
  } finally {
    await a.stop();
    await b.stop();
    await hub.stop();
  }
});

test('Passed records are sampled; Blocked and monitor matches are always kept', async () => {
  const hub = await hubWithRules();
  const a = await app(hub, { batchSize: 250, flushIntervalMs: 600_000, passedSampleRate: 0 });
  try {
    for (let i = 0; i < 5; i++) await a.get(`/plain/${i}`);
    await a.get('/wp-admin');
    await a.get('/watched');
    await a.fw.flushReports();
    assert.deepEqual(hub.records().map((r) => r.path), ['/wp-admin', '/watched']);
    assert.equal(a.fw.status().upsync.sampledOut, 5);
    assert.equal(a.fw.status().upsync.dropped, 0, 'sampling is not a loss');
  } finally {
    await a.stop();
    await hub.stop();
  }
});

test('hub down for a long time: memory bounded, drops counted, kept records delivered when it returns', async () => {
  const hub = await hubWithRules();
  hub.upsyncStatus = 503;
  const maxQueue = 20;
  const a = await app(hub, { batchSize: 5, flushIntervalMs: 10, maxQueue });
  try {
    const total = 60;
    for (let i = 0; i < total; i++) {
      assert.equal(await a.get(`/r/${i}`), 200, 'requests never wait for reporting');
      const st = a.fw.status().upsync;
      // The worker's queue holds maxQueue records at most; the ring in front of it is bounded in bytes.
      assert.ok(st.queued - st.inRing + st.inFlight <= maxQueue, `bounded: ${st.queued} - ${st.inRing} + ${st.inFlight}`);
      assert.ok(st.ringUsedBytes <= st.ringBytes);
    }
    await waitFor(() => a.fw.status().upsync.failures >= 2, 'failed attempts');
    await waitFor(() => a.fw.status().upsync.droppedQueueFull === total - maxQueue, 'the worker to take every record from the ring');
    const st = a.fw.status().upsync;
    assert.equal(st.droppedQueueFull, total - maxQueue);
    assert.equal(st.queued + st.inFlight, maxQueue);
    assert.equal(hub.records().length, 0);

    hub.upsyncStatus = 200;
    await waitFor(() => hub.records().length === maxQueue, 'the kept records', 30_000);
    const paths = hub.records().map((r) => r.path);
    assert.equal(new Set(paths).size, maxQueue, 'no duplicates');
    assert.ok(paths.includes(`/r/${total - 1}`), 'the newest records are kept');
    // The hub stores a batch before its 200 reaches the client, which counts it sent only then.
    await waitFor(() => a.fw.status().upsync.sent === maxQueue, 'the client to count the last batch sent');
    assert.equal(a.fw.status().upsync.sent, maxQueue);
    assert.equal(a.fw.status().upsync.dropped, total - maxQueue, 'nothing else lost');
  } finally {
    await a.stop();
    await hub.stop();
  }
});

test('close() flushes the queue; a refused key stops reporting', async () => {
  const hub = await hubWithRules();
  const a = await app(hub, { batchSize: 250, flushIntervalMs: 600_000 });
  for (let i = 0; i < 4; i++) await a.get(`/bye/${i}`);
  assert.equal(hub.records().length, 0);
  await a.stop();
  assert.equal(hub.records().length, 4, 'flushed on close');

  const b = await app(hub, { batchSize: 1, flushIntervalMs: 600_000 });
  try {
    hub.upsyncStatus = 401; // the hub refuses the key for reports
    await b.get('/x');
    await waitFor(() => b.fw.status().upsync.stopped, 'reporting stops');
    assert.equal(b.fw.status().keyRefused, true);
    await b.get('/y');
    assert.equal(b.fw.status().upsync.queued, 0, 'nothing queued after the stop');
  } finally {
    await b.stop();
    await hub.stop();
  }
});
