// The client's counters, as status() shows them and as OpenTelemetry collects them: real requests through
// a real Express app on 127.0.0.1, a real MeterProvider from @opentelemetry/sdk-metrics with a reader that
// collects on demand, and for managed mode a real hub on a socket. What was collected must equal what
// happened, request by request. (Without @opentelemetry/api installed, registerOtelMetrics fails with a
// code: the packed-package test checks that in an app where the package is absent.)
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { metrics } from '@opentelemetry/api';
import { MeterProvider, MetricReader, type MetricData } from '@opentelemetry/sdk-metrics';
import express from 'express';
import { moat } from '../src/adapters/express.js';
import { withMoat } from '../src/adapters/node.js';
import { Engine } from '../src/engine/engine.js';
import { Firewall } from '../src/firewall/firewall.js';
import type { FirewallEngine } from '../src/firewall/options.js';
import { createManagedFirewall } from '../src/managed/managed-firewall.js';
import { registerOtelMetrics } from '../src/metrics/otel.js';
import { rulesFile } from './adapters-helpers.js';
import { FakeHub, rulesBytes, tempDir, waitFor } from './helpers/fake-hub.js';
import { serveApp } from './helpers/served-app.js';

/** Collects when asked, as a Prometheus scrape or an export interval would. */
class OnDemandReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

async function collected(reader: MetricReader): Promise<MetricData[]> {
  const { resourceMetrics, errors } = await reader.collect();
  assert.deepEqual(errors, [], 'collection raised no errors');
  return resourceMetrics.scopeMetrics.flatMap((s) => s.metrics);
}

/** The value of `name` at exactly these attributes, or undefined when no such point was observed. */
function point(all: MetricData[], name: string, attributes: Record<string, string> = {}): number | undefined {
  const metric = all.find((m) => m.descriptor.name === name);
  const found = metric?.dataPoints.find((p) => JSON.stringify(sorted(p.attributes)) === JSON.stringify(sorted(attributes)));
  return found?.value as number | undefined;
}

function sorted(attributes: object): [string, unknown][] {
  return Object.entries(attributes).sort(([a], [b]) => a.localeCompare(b));
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function close(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

describe('decisions by treatment and category, on an Express app', () => {
  const rules = rulesFile({
    allow: { ips: ['203.0.113.9'] },
    block: { paths: ['/wp-admin', { value: '/watched', mode: 'monitor' }], userAgents: ['sqlmap'] },
    rateLimits: [{ id: 'login', path: '/login', limit: 2, window: '60s' }],
  });
  // The client address comes from X-Forwarded-For of the loopback proxy, so the test can be several clients.
  const firewall = new Firewall({ rules: rules.path, trustedProxies: ['loopback'], logger: false, env: {} });
  const reader = new OnDemandReader();
  const provider = new MeterProvider({ readers: [reader] });
  let server: Server;
  let base: string;

  before(async () => {
    const app = express();
    app.use(moat(firewall));
    app.use((_req, res) => { res.send('ok'); });
    server = createServer(app);
    base = await listen(server);
  });

  after(async () => {
    await close(server);
    await provider.shutdown();
    firewall.close();
    rules.cleanup();
  });

  const get = async (path: string, client = '198.51.100.20', headers: Record<string, string> = {}): Promise<number> => {
    const res = await fetch(`${base}${path}`, { headers: { 'x-forwarded-for': client, ...headers } });
    await res.arrayBuffer();
    return res.status;
  };

  test('a scanner\'s probes, a brute force and an allowed client are counted by treatment and category in stats() and in moat.decisions', async () => {
    const registration = await registerOtelMetrics(firewall, { meter: provider.getMeter('test') });
    for (const path of ['/', '/shop', '/cart']) assert.equal(await get(path), 200);
    for (const path of ['/wp-admin', '/wp-admin/setup.php', '/%77p-admin']) assert.equal(await get(path, '198.51.100.66'), 403, path);
    assert.equal(await get('/', '198.51.100.67', { 'user-agent': 'sqlmap/1.8' }), 403);
    assert.equal(await get('/watched'), 200, 'monitor mode lets it through');
    // A brute force: two logins pass, the next three are rate limited.
    const logins = [];
    for (let i = 0; i < 5; i++) logins.push(await get('/login', '198.51.100.99'));
    assert.deepEqual(logins, [200, 200, 429, 429, 429]);
    assert.equal(await get('/wp-admin', '203.0.113.9'), 200, 'the allow rule wins');

    const expected = {
      Allowed: { ai: 1 },
      Blocked: { bp: 3, bu: 1, brl: 3 },
      Passed: { passed: 6 },
    };
    const stats = firewall.stats();
    assert.deepEqual(stats.decisions, expected);
    assert.deepEqual(stats.monitoredMatches, { bp: 1 });
    assert.equal(stats.requests, 14);
    assert.deepEqual([stats.allowed, stats.blocked, stats.passed, stats.rateLimited], [1, 7, 6, 3], 'the sums agree');

    const all = await collected(reader);
    assert.equal(point(all, 'moat.requests'), 14);
    for (const [treatment, byCategory] of Object.entries(expected)) {
      for (const [category, n] of Object.entries(byCategory)) {
        assert.equal(point(all, 'moat.decisions', { treatment, category }), n, `moat.decisions{${treatment},${category}}`);
      }
    }
    const decisionPoints = all.find((m) => m.descriptor.name === 'moat.decisions')!.dataPoints;
    assert.equal(decisionPoints.length, 5, 'no point for a category that never decided');
    assert.equal(point(all, 'moat.monitored', { category: 'bp' }), 1);
    assert.equal(point(all, 'moat.engine.errors'), 0);
    assert.equal(point(all, 'moat.sync.age', { category: 'custom_rules' }), undefined, 'no sync metrics without managed mode');

    // Counted at collection time: more traffic shows at the next collection, without re-registering.
    assert.equal(await get('/wp-admin', '198.51.100.66'), 403);
    assert.equal(point(await collected(reader), 'moat.decisions', { treatment: 'Blocked', category: 'bp' }), 4);

    registration.unregister();
    assert.equal(await get('/'), 200);
    assert.equal(firewall.stats().requests, 16);
    // Cumulative metrics keep their last value; no callback reads the firewall any more.
    assert.equal(point(await collected(reader), 'moat.requests'), 15, 'after unregister() the firewall is no longer read');
  });
});

describe('engine errors and fail-open, through the global meter provider', () => {
  test('a request that breaks the engine is counted in moat.engine.errors and moat.unjudged{outcome=open}, and still served', async () => {
    const rules = rulesFile({ block: { paths: ['/wp-admin'] } });
    const real = Engine.open({ rules: rules.path });
    // A FirewallEngine (the public interface) that cannot judge one path, as a bug in a rule kind would.
    const breaking: FirewallEngine = {
      rules: real.rules,
      evaluate: (request) => {
        if (request.path === '/explode') throw new Error('evaluator bug');
        return real.evaluate(request);
      },
    };
    const firewall = new Firewall({ engine: breaking, logger: false, env: {}, trustedProxies: [] });
    const reader = new OnDemandReader();
    const provider = new MeterProvider({ readers: [reader] });
    // No meter given: registerOtelMetrics imports @opentelemetry/api and uses the global provider.
    assert.ok(metrics.setGlobalMeterProvider(provider), 'the global provider was set');
    const server = createServer(withMoat((_req, res) => { res.end('ok'); }, firewall));
    const base = await listen(server);
    try {
      await registerOtelMetrics(firewall);
      const statuses = [];
      for (const path of ['/explode', '/explode', '/wp-admin', '/']) statuses.push((await fetch(`${base}${path}`)).status);
      assert.deepEqual(statuses, [200, 200, 403, 200], 'an engine error fails open');
      const all = await collected(reader);
      assert.equal(point(all, 'moat.engine.errors'), 2);
      assert.equal(point(all, 'moat.unjudged', { outcome: 'open' }), 2);
      assert.equal(point(all, 'moat.unjudged', { outcome: 'closed' }), 0);
      assert.equal(point(all, 'moat.requests'), 4);
      assert.equal(point(all, 'moat.decisions', { treatment: 'Blocked', category: 'bp' }), 1);
      assert.equal(point(all, 'moat.decisions', { treatment: 'Passed', category: 'passed' }), 1, 'unjudged requests are no decisions');
      assert.equal(firewall.stats().engineErrors, 2);
    } finally {
      await close(server);
      metrics.disable();
      await provider.shutdown();
      real.close();
      rules.cleanup();
    }
  });
});

describe('managed mode: sync age and upsync drops', () => {
  test('records a hub refuses are dropped, and moat.upsync.dropped{reason=rejected} and status() say how many', async () => {
    const hub = await new FakeHub().start();
    hub.serve('custom_rules', rulesBytes({ block: { paths: ['/wp-admin'] } }).body);
    hub.fault('data_subscriptions', { kind: 'status', status: 404 });
    hub.upsyncStatus = 400; // the hub will never take these batches
    const { dir, cleanup } = tempDir();
    const startedAt = Date.now();
    const firewall = createManagedFirewall({
      apiKey: hub.apiKey, hubUrl: hub.hubUrl, dir, customRulesIntervalMs: 60_000, dataIntervalMs: 60_000, longPollSeconds: 0,
      backoffBaseMs: 10, backoffMaxMs: 40, logger: false, env: {}, trustedProxies: [], upsync: { flushIntervalMs: 600_000, batchSize: 4 },
    });
    const reader = new OnDemandReader();
    const provider = new MeterProvider({ readers: [reader] });
    const served = await serveApp(createServer(withMoat((_req, res) => { res.end('ok'); }, firewall)), firewall, cleanup);
    try {
      const ready = await firewall.ready();
      assert.equal(ready.customRules.lastResult, 'updated', 'the rules came from the hub');
      await registerOtelMetrics(firewall, { meter: provider.getMeter('test') });
      for (let i = 0; i < 4; i++) assert.equal(await served.get('/wp-admin'), 403);
      await firewall.flushReports();
      await waitFor(() => firewall.status().upsync.droppedRejected === 4, 'the refused batch counted as dropped');

      const status = firewall.status();
      assert.equal(status.upsync.dropped, 4);
      assert.equal(status.syncAgeMs.dataSubscriptions, null, 'no data file was ever confirmed');
      const age = status.syncAgeMs.customRules;
      assert.ok(age !== null && age >= 0 && age <= Date.now() - startedAt, `sync age ${age} within the test's lifetime`);

      const all = await collected(reader);
      assert.equal(point(all, 'moat.upsync.dropped', { reason: 'rejected' }), 4);
      assert.equal(point(all, 'moat.upsync.dropped', { reason: 'queue_full' }), 0);
      assert.equal(point(all, 'moat.upsync.sent'), 0);
      assert.equal(point(all, 'moat.decisions', { treatment: 'Blocked', category: 'bp' }), 4);
      const ageSeconds = point(all, 'moat.sync.age', { category: 'custom_rules' });
      assert.ok(ageSeconds !== undefined && ageSeconds >= 0 && ageSeconds <= (Date.now() - startedAt) / 1000, `moat.sync.age ${ageSeconds}`);
      assert.equal(point(all, 'moat.sync.age', { category: 'data_subscriptions' }), undefined, 'no age for a file never confirmed');
      assert.equal(point(all, 'moat.sync.errors', { category: 'data_subscriptions' }), firewall.status().dataSubscriptions.errors);
    } finally {
      await served.stop();
      await provider.shutdown();
      await hub.stop();
    }
  });
});
