// Passed requests counted in the report worker (reportPassed 'aggregate', the managed-mode default):
// every request reaches the hub once, as a record or inside a count; only plain Passed decisions are
// counted; 'all' sends each in full; and a hub that only takes Wafris JSON (415) costs the counts made
// so far, counted as dropped, never silently. Real managed firewall, real node:http app, a stand-in hub.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { test } from 'node:test';
import { withMoat } from '../src/adapters/node.js';
import { createManagedFirewall, type ManagedFirewall, type ManagedFirewallOptions } from '../src/managed/managed-firewall.js';
import { resolveSyncOptions } from '../src/sync/managed-options.js';
import { FakeHub, rulesBytes, tempDir, waitFor } from './helpers/fake-hub.js';
import { serveApp } from './helpers/served-app.js';

const RULES = { block: { paths: ['/wp-admin', { value: '/watched', mode: 'monitor' }] } };

async function setup(upsync: ManagedFirewallOptions['upsync'], configure: (hub: FakeHub) => void = () => undefined) {
  const hub = await new FakeHub().start();
  hub.serve('custom_rules', rulesBytes(RULES).body);
  hub.fault('data_subscriptions', { kind: 'status', status: 404 });
  configure(hub);
  const { dir, cleanup } = tempDir();
  const fw: ManagedFirewall = createManagedFirewall({
    apiKey: hub.apiKey, hubUrl: hub.hubUrl, dir, customRulesIntervalMs: 60_000, dataIntervalMs: 60_000, backoffBaseMs: 10, backoffMaxMs: 40,
    logger: false, env: {}, upsync,
  });
  await fw.ready();
  const server: Server = createServer(withMoat((_req, res) => { res.end('ok'); }, fw));
  const app = await serveApp(server, fw, cleanup, 'aggregate-test/1');
  return { hub, fw, app, stop: async () => { await app.stop(); await hub.stop(); } };
}

test('200 requests of one key: one record per minute and the rest as a count reach the hub, status() adds up', async () => {
  const { hub, fw, app, stop } = await setup({ batchSize: 1000, flushIntervalMs: 600_000, passedSamplesPerSecond: 0 });
  try {
    for (let i = 0; i < 200; i++) assert.equal(await app.get('/same'), 200);
    await fw.flushReports();
    // One window per minute (the interval is longer): the key's first request of each in full, the rest counted.
    const minutes = new Set(hub.records().map((r) => Math.floor(Number(r.timestamp) / 60)));
    assert.equal(hub.records().length, minutes.size, 'the key\'s first request of each window, in full');
    const counts = hub.passedCounts();
    assert.ok(counts.every((c) => c.path === '/same' && c.method === 'GET' && minutes.has(Math.floor(c.timestamp / 60))));
    assert.equal(counts.reduce((sum, c) => sum + c.count, 0), 200 - minutes.size);
    assert.equal(hub.requestsReported(), 200);
    const st = fw.status().upsync;
    assert.equal(st.recorded, 200);
    assert.equal(st.aggregated, 200 - minutes.size);
    assert.equal(st.sent, 200, 'sent counts requests, a count as many as it holds');
    assert.equal(st.dropped, 0);
    assert.equal(st.queued + st.inFlight, 0);
  } finally {
    await stop();
  }
});

test('blocked requests and monitor-mode matches are never counted: each goes in full', async () => {
  const { hub, fw, app, stop } = await setup({ batchSize: 1000, flushIntervalMs: 600_000, passedSamplesPerSecond: 0 });
  try {
    for (let i = 0; i < 30; i++) {
      assert.equal(await app.get('/wp-admin/x'), 403);
      assert.equal(await app.get('/watched'), 200);
    }
    await fw.flushReports();
    assert.equal(hub.records().length, 60);
    assert.equal(hub.passedCounts().length, 0);
    assert.equal(fw.status().upsync.aggregated, 0);
  } finally {
    await stop();
  }
});

test("reportPassed 'all' sends every Passed request in full", async () => {
  const { hub, fw, app, stop } = await setup({ batchSize: 1000, flushIntervalMs: 600_000, passedSamplesPerSecond: 0, reportPassed: 'all' });
  try {
    for (let i = 0; i < 50; i++) assert.equal(await app.get('/same'), 200);
    await fw.flushReports();
    assert.equal(hub.records().length, 50);
    assert.equal(hub.passedCounts().length, 0);
    assert.equal(fw.status().upsync.aggregated, 0);
  } finally {
    await stop();
  }
});

test('a hub that answers 415 to compact v2: the counts made so far are dropped and counted, Passed goes in full from then on', async () => {
  const { hub, fw, app, stop } = await setup({ batchSize: 1000, flushIntervalMs: 600_000, passedSamplesPerSecond: 0 }, (h) => { h.compactUpsync = false; });
  try {
    for (let i = 0; i < 20; i++) assert.equal(await app.get('/same'), 200);
    await fw.flushReports();
    await waitFor(() => fw.status().upsync.format === 'wafris', 'the fall-back to Wafris JSON');
    for (let i = 0; i < 10; i++) assert.equal(await app.get('/same'), 200);
    await fw.flushReports();
    const st = fw.status().upsync;
    // The first 20 went in full once per minute window (two when they straddle a minute), the rest as
    // a count; the 10 after the fall-back each go in full.
    const firstInFull = hub.records().length - 10;
    const firstMinutes = new Set(hub.records().slice(0, firstInFull).map((r) => Math.floor(Number(r.timestamp) / 60)));
    assert.ok(firstInFull >= 1 && firstInFull === firstMinutes.size, 'the key\'s first request of each minute, then every request in full');
    assert.equal(st.droppedUnsupported, 20 - firstInFull, 'the count a Wafris JSON body cannot carry');
    assert.equal(st.dropped, 20 - firstInFull);
    assert.equal(st.sent, firstInFull + 10);
    assert.equal(st.recorded, st.sent + st.dropped);
    assert.ok(hub.upsyncs.filter((u) => u.status === 200).every((u) => u.contentType === 'application/json'));
  } finally {
    await stop();
  }
});

test('upsync.reportPassed and passedSamplesPerSecond: options, environment names, and bad values refused at start', () => {
  assert.equal(resolveSyncOptions({}, {}).upsync.reportPassed, 'aggregate', 'the managed-mode default');
  assert.equal(resolveSyncOptions({}, { MOAT_UPSYNC_REPORT_PASSED: 'all' }).upsync.reportPassed, 'all');
  assert.equal(resolveSyncOptions({ upsync: { reportPassed: 'all' } }, {}).upsync.reportPassed, 'all');
  assert.equal(resolveSyncOptions({}, { MOAT_UPSYNC_PASSED_SAMPLES_PER_SECOND: '25' }).upsync.passedSamplesPerSecond, 25);
  assert.throws(() => resolveSyncOptions({ upsync: { reportPassed: 'some' as 'all' } }, {}), /reportPassed must be 'aggregate' or 'all'/);
  assert.throws(() => resolveSyncOptions({ upsync: { passedSamplesPerSecond: -1 } }, {}), /passedSamplesPerSecond/);
});

test('a flood of unique user agents restarts the string tables: later counts still name the right key (attack on the ids)', async () => {
  const { createRing, ringViews } = await import('../src/report/ring-layout.js');
  const { RingWriter } = await import('../src/report/ring-writer.js');
  const { RingReader } = await import('../src/report/ring-reader.js');
  const { PassedAggregator } = await import('../src/report/passed-aggregator.js');
  const { MAX_INTERNED } = await import('../src/report/string-interner.js');
  const sab = createRing(16 * 1024 * 1024);
  const writer = new RingWriter(sab);
  const reader = new RingReader(sab, '00000000-0000-0000-0000-');
  const counted = new Map<string, number>();
  const full = new Map<string, number>();
  const written = new Map<string, number>();
  const aggregator = new PassedAggregator(600_000, 0, reader.stringOf, ringViews(sab).counters, (e) => {
    counted.set(e.userAgent, (counted.get(e.userAgent) ?? 0) + e.aggregated!);
  });
  const passed = { treatment: 'Passed', category: 'passed', rule: '-', ruleId: null, monitored: [] } as const;
  const at = Date.UTC(2026, 0, 1, 12, 0, 30);
  const blocked = { treatment: 'Blocked', category: 'bu', rule: 'flood', ruleId: null, monitored: [] } as const;
  const send = (userAgent: string, decision: typeof passed | typeof blocked = passed) => {
    const request = { ip: '198.51.100.4', ipSource: 'socket', method: 'GET', host: 'shop.test', path: '/', params: undefined, userAgent, headers: {}, url: '/' };
    assert.ok(writer.write(decision as never, request as never, at));
    written.set(userAgent, (written.get(userAgent) ?? 0) + 1);
  };
  const drain = () => reader.drain((r) => full.set(r.userAgent, (full.get(r.userAgent) ?? 0) + 1), Infinity, aggregator);
  for (let i = 0; i < 5; i++) send('steady-agent');
  drain();
  // Blocked requests with unique user agents fill the table (they are never counted, so no keys): the
  // next new value starts it afresh and takes id 0, the id 'steady-agent' had.
  for (let u = 0; u < MAX_INTERNED - 1; u++) send(`flood-${u}`, blocked);
  for (let i = 0; i < 4; i++) send('after-reset');
  for (let i = 0; i < 3; i++) send('steady-agent');
  drain();
  aggregator.close();
  for (const [agent, n] of written) {
    assert.equal((full.get(agent) ?? 0) + (counted.get(agent) ?? 0), n, `${agent}: every request once, under its own name`);
  }
  assert.equal(counted.get('after-reset'), 3, 'the repeats after the reset count under their own key');
  assert.equal(counted.get('steady-agent'), 4 + 2, 'four before the flood; after it, a new key: one in full, two counted');
});

test('the request that starts the user-agent table afresh is answered 404 (sent in full, not counted): later counts still name the right key (attack on the ids)', async () => {
  const { createRing, ringViews } = await import('../src/report/ring-layout.js');
  const { RingWriter } = await import('../src/report/ring-writer.js');
  const { RingReader } = await import('../src/report/ring-reader.js');
  const { PassedAggregator } = await import('../src/report/passed-aggregator.js');
  const { StatusJoin } = await import('../src/report/status-join.js');
  const { MAX_INTERNED } = await import('../src/report/string-interner.js');
  const sab = createRing(16 * 1024 * 1024);
  const writer = new RingWriter(sab);
  const reader = new RingReader(sab, '00000000-0000-0000-0000-');
  const counters = ringViews(sab).counters;
  const counted = new Map<string, number>();
  const full = new Map<string, number>();
  const written = new Map<string, number>();
  const aggregator = new PassedAggregator(600_000, 0, reader.stringOf, counters, (e) => {
    counted.set(e.userAgent, (counted.get(e.userAgent) ?? 0) + e.aggregated!);
  });
  const join = new StatusJoin(600_000, counters);
  const passed = { treatment: 'Passed', category: 'passed', rule: '-', ruleId: null, monitored: [] } as const;
  const at = Date.UTC(2026, 0, 1, 12, 0, 30);
  const send = (userAgent: string, status: number) => {
    const request = { ip: '198.51.100.4', ipSource: 'socket', method: 'GET', host: 'shop.test', path: '/', params: undefined, userAgent, headers: {}, url: '/' };
    assert.ok(writer.write(passed as never, request as never, at, true));
    writer.writeStatus(writer.lastSeq, status);
    written.set(userAgent, (written.get(userAgent) ?? 0) + 1);
  };
  const drain = () => reader.drain((r) => full.set(r.userAgent, (full.get(r.userAgent) ?? 0) + 1), Infinity, aggregator, join, true);
  for (let i = 0; i < 5; i++) send('steady-agent', 200);
  drain();
  // Unique user agents answered 403 (never counted) fill the table; the next new one, answered 404, starts
  // it afresh and takes id 0, the id 'steady-agent' had; the same request answered 200 follows.
  for (let u = 0; u < MAX_INTERNED - 1; u++) send(`flood-${u}`, 403);
  send('after-reset', 404);
  for (let i = 0; i < 4; i++) send('after-reset', 200);
  for (let i = 0; i < 3; i++) send('steady-agent', 200);
  drain();
  aggregator.close();
  for (const [agent, n] of written) {
    assert.equal((full.get(agent) ?? 0) + (counted.get(agent) ?? 0), n, `${agent}: every request once, under its own name`);
  }
  assert.equal(counted.get('after-reset'), 3, 'the 404 and the first 200 in full, the rest counted under their own key');
});
