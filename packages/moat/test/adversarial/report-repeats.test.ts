// The serving thread writes a request that repeats the previous one as a 32-byte repeat entry (report/
// ring-writer.ts). An attacker who knows that hides one odd request inside a flood of identical ones: from
// another IP, on another path, with another user agent, or the same request answered 404. Each must
// reach the hub in full and the flood's count must stay exact; with every Passed record sent in full,
// across a hub outage and a close with records in the ring, each request arrives once; and a hub that only
// takes Wafris JSON (415) still gets every repeated request as its own record. Real managed firewall, real
// node:http and Express apps on 127.0.0.1, a stand-in hub.
import assert from 'node:assert/strict';
import { Agent, createServer, request as httpRequest, type Server } from 'node:http';
import { test } from 'node:test';
import express from 'express';
import { moat } from '../../src/adapters/express.js';
import { withMoat } from '../../src/adapters/node.js';
import { createManagedFirewall, type ManagedFirewall, type ManagedFirewallOptions } from '../../src/managed/managed-firewall.js';
import { ENTRY_REPEAT } from '../../src/report/ring-layout.js';
import { FakeHub, tempDir, waitFor, hubWithWpAdminRules } from '../helpers/fake-hub.js';
import { ringEntries } from '../helpers/ring-entries.js';

interface App {
  fw: ManagedFirewall;
  /** GET from `from` (a loopback address; its own keep-alive connection), with a user agent and headers. */
  get(path: string, options?: { from?: string; userAgent?: string; headers?: Record<string, string> }): Promise<number>;
  stop(): Promise<void>;
}

const hubWithRules = hubWithWpAdminRules;

/** The app answers 404 to a request with `x-missing` (same record, another status), 200 otherwise. */
async function startApp(hub: FakeHub, kind: 'node' | 'express', upsync: ManagedFirewallOptions['upsync']): Promise<App> {
  const { dir, cleanup } = tempDir();
  const fw = createManagedFirewall({
    apiKey: hub.apiKey, hubUrl: hub.hubUrl, dir, customRulesIntervalMs: 60_000, dataIntervalMs: 60_000,
    backoffBaseMs: 10, backoffMaxMs: 40, logger: false, env: {}, upsync,
  });
  await fw.ready();
  let server: Server;
  if (kind === 'node') {
    server = createServer(withMoat((req, res) => { res.statusCode = req.headers['x-missing'] ? 404 : 200; res.end('ok'); }, fw));
  } else {
    const app = express();
    app.set('env', 'test');
    app.use(moat(fw));
    app.use((req, res) => { res.status(req.headers['x-missing'] ? 404 : 200).send('ok'); });
    server = createServer(app);
  }
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as { port: number }).port;
  const agents = new Map<string, Agent>();
  return {
    fw,
    get: (path, { from = '127.0.0.1', userAgent = 'flood/1', headers = {} } = {}) => {
      let agent = agents.get(from);
      if (agent === undefined) agents.set(from, (agent = new Agent({ keepAlive: true, maxSockets: 1 })));
      return new Promise<number>((resolve, reject) => {
        const req = httpRequest({ host: '127.0.0.1', port, path, localAddress: from, agent, headers: { 'user-agent': userAgent, ...headers } }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        });
        req.on('error', reject);
        req.end();
      });
    },
    stop: async () => {
      for (const agent of agents.values()) agent.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await fw.close();
      cleanup();
    },
  };
}

test('one request from another IP, one on another path, one with another user agent and one answered 404, hidden in a flood of 400 identical GETs: each reaches the hub in full, the flood\'s count is exact (node:http)', async () => {
  const hub = await hubWithRules();
  const app = await startApp(hub, 'node', { batchSize: 1000, flushIntervalMs: 600_000, passedSamplesPerSecond: 0 });
  try {
    const odd = new Map<number, () => Promise<number>>([
      [80, () => app.get('/same?q=1', { from: '127.0.0.2' })],
      [160, () => app.get('/other?q=1')],
      [240, () => app.get('/same?q=1', { userAgent: 'odd/1' })],
      [320, () => app.get('/same?q=1', { headers: { 'x-missing': '1' } })],
    ]);
    for (let i = 0; i < 400; i++) {
      const status = await (odd.get(i) ?? (() => app.get('/same?q=1')))();
      assert.equal(status, i === 320 ? 404 : 200);
    }
    // The flood went through the repeat entries (each odd request costs its run two full records).
    assert.ok(ringEntries(app.fw, ENTRY_REPEAT) >= 400 - 4 * 3 - 2, `${ringEntries(app.fw, ENTRY_REPEAT)} repeat entries`);
    await app.fw.flushReports();
    await waitFor(() => hub.requestsReported() === 400, 'every request reported');
    const records = hub.records();
    const flood = (r: Record<string, unknown>) => r.ip === '127.0.0.1' && r.path === '/same' && r.user_agent === 'flood/1';
    const fromOther = records.filter((r) => r.ip === '127.0.0.2');
    assert.deepEqual(fromOther.map((r) => [r.path, r.user_agent, r.parameter, r.status]), [['/same', 'flood/1', 'q=1', 200]]);
    assert.deepEqual(records.filter((r) => r.path === '/other').map((r) => [r.ip, r.user_agent, r.status]), [['127.0.0.1', 'flood/1', 200]]);
    assert.deepEqual(records.filter((r) => r.user_agent === 'odd/1').map((r) => [r.ip, r.path, r.status]), [['127.0.0.1', '/same', 200]]);
    const missing = records.filter((r) => r.status === 404);
    assert.equal(missing.length, 1, 'the 404 inside the flood, in full');
    assert.ok(flood(missing[0]!), 'with the flood\'s fields');
    // The flood's key: its first request of each minute in full (plus the 404), the rest as counts.
    const floodFull = records.filter((r) => flood(r) && r.status !== 404);
    const minutes = new Set(floodFull.map((r) => Math.floor(Number(r.timestamp) / 60)));
    // Plus, at most, the last request: its response may finish after the client read it and after the
    // forced flush took its record, which then goes in full rather than wait for a status (loaded machine).
    assert.ok(floodFull.length === minutes.size || floodFull.length === minutes.size + 1,
      `${floodFull.length} flood records in full over ${minutes.size} minute(s)`);
    const counts = hub.passedCounts();
    assert.ok(counts.every((c) => c.ip === '127.0.0.1' && c.path === '/same' && c.user_agent === 'flood/1'), 'only the flood is counted');
    assert.equal(counts.reduce((sum, c) => sum + c.count, 0), 400 - 4 - floodFull.length);
    assert.equal(records.length, 4 + floodFull.length);
    const st = app.fw.status().upsync;
    assert.deepEqual([st.recorded, st.sent, st.dropped], [400, 400, 0]);
  } finally {
    await app.stop();
    await hub.stop();
  }
});

test('every Passed request in full: 300 identical GETs across a hub outage and a close with records still in the ring arrive once each, with their own request ids (Express)', async () => {
  const hub = await hubWithRules();
  const app = await startApp(hub, 'express', { reportPassed: 'all', batchSize: 50, flushIntervalMs: 600_000 });
  try {
    for (let i = 0; i < 100; i++) assert.equal(await app.get('/same?q=1'), 200);
    hub.upsyncStatus = 503;
    await app.fw.flushReports();
    for (let i = 0; i < 100; i++) assert.equal(await app.get('/same?q=1'), 200);
    assert.ok(hub.upsyncs.some((u) => u.status === 503), 'the hub was away');
    hub.upsyncStatus = 200;
    await app.fw.flushReports();
    for (let i = 0; i < 100; i++) assert.equal(await app.get('/same?q=1'), 200);
    assert.ok(ringEntries(app.fw, ENTRY_REPEAT) >= 290, 'written as repeat entries');
  } finally {
    await app.stop(); // the last hundred are sent by close()
  }
  try {
    const records = hub.records();
    const ids = new Set(records.map((r) => r.request_id));
    assert.equal(records.length, 300);
    assert.equal(ids.size, 300, 'no request twice');
    assert.ok(records.every((r) => r.ip === '127.0.0.1' && r.path === '/same' && r.parameter === 'q=1' && r.user_agent === 'flood/1' && r.status === 200));
    const st = app.fw.status().upsync;
    assert.deepEqual([st.recorded, st.sent, st.dropped], [300, 300, 0]);
  } finally {
    await hub.stop();
  }
});

test('a hub that only takes Wafris JSON (415): 120 identical GETs and one 404 among them arrive as 121 Wafris records, each with its own request id (node:http)', async () => {
  const hub = await hubWithRules();
  hub.compactUpsync = false;
  const app = await startApp(hub, 'node', { reportPassed: 'all', batchSize: 1000, flushIntervalMs: 600_000 });
  try {
    for (let i = 0; i < 121; i++) assert.equal(await app.get('/same', i === 60 ? { headers: { 'x-missing': '1' } } : {}), i === 60 ? 404 : 200);
    await app.fw.flushReports();
    await waitFor(() => hub.records().length === 121, 'every request as a Wafris record');
    const records = hub.records();
    assert.ok(hub.upsyncs.filter((u) => u.status === 200).every((u) => u.contentType === 'application/json'), 'Wafris JSON');
    assert.equal(new Set(records.map((r) => r.request_id)).size, 121);
    assert.ok(records.every((r) => r.ip === '127.0.0.1' && r.path === '/same' && r.user_agent === 'flood/1' && r.treatment === 'Passed'));
    assert.equal(app.fw.status().upsync.format, 'wafris');
    assert.equal(app.fw.status().upsync.dropped, 0);
  } finally {
    await app.stop();
    await hub.stop();
  }
});
