// Attacks on reporting's shared ring and string tables, against a real Express app behind a managed
// firewall that reports every decision to a stand-in hub on 127.0.0.1 (the fake hub decodes the compact
// encoding): floods of unique user agents and paths that would grow the string tables, a 1 MB URL, text
// that is not ASCII or not even well-formed UTF-16, and a report worker that dies under load.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request as rawRequest } from 'node:http';
import { test } from 'node:test';
import express from 'express';
import { moat } from '../../src/adapters/express.js';
import { createManagedFirewall, type ManagedFirewall, type ManagedFirewallOptions } from '../../src/managed/managed-firewall.js';
import { MAX_INTERNED, MAX_INTERNED_CHARS } from '../../src/report/string-interner.js';
import { FIELD_LIMITS, TRUNCATED_MARKER } from '../../src/sync/report-record.js';
import type { Upsync } from '../../src/sync/upsync.js';
import { FakeHub, tempDir, waitFor, hubWithWpAdminRules } from '../helpers/fake-hub.js';
import { serveApp } from '../helpers/served-app.js';

/** String#isWellFormed without the ES2024 lib (Node 20 lacks parts of it): no lone surrogate. */
const wellFormed = (text: string): boolean => !/\p{Surrogate}/u.test(text);

interface App {
  fw: ManagedFirewall;
  upsync: Upsync;
  port: number;
  get(path: string, headers?: Record<string, string>): Promise<number>;
  stop(): Promise<void>;
}

const hubWithRules = hubWithWpAdminRules;

/** Express behind a managed firewall; its server takes 2 MB request heads (a 1 MB URL). */
async function expressApp(hub: FakeHub, upsync: ManagedFirewallOptions['upsync']): Promise<App> {
  const { dir, cleanup } = tempDir();
  const fw = createManagedFirewall({
    apiKey: hub.apiKey, hubUrl: hub.hubUrl, dir, customRulesIntervalMs: 60_000, dataIntervalMs: 60_000,
    backoffBaseMs: 10, backoffMaxMs: 40, logger: false, env: {}, upsync,
  });
  await fw.ready();
  const app = express();
  app.set('env', 'test');
  app.use(moat(fw));
  app.use((_req, res) => { res.send('ok'); });
  const server: Server = createServer({ maxHeaderSize: 2 * 1024 * 1024 }, app);
  return { upsync: (fw as unknown as { upsync: Upsync }).upsync, fw, ...(await serveApp(server, fw, cleanup, 'attacker/1')) };
}

/** The serving thread's string tables (internal): their sizes in entries and characters. */
function tables(a: App): { size: number; chars: number }[] {
  const writer = (a.upsync as unknown as { writer: { interners: { size: number; chars: number }[] } }).writer;
  return writer.interners.map((t) => ({ size: t.size, chars: t.chars }));
}

test('1500 requests with unique 1000-character user agents and unique paths: the string tables and the ring stay within their bounds, every record arrives intact (Express)', async () => {
  const hub = await hubWithRules();
  const a = await expressApp(hub, { batchSize: 500, flushIntervalMs: 50, ringBytes: 256 * 1024 });
  const total = 1500;
  try {
    const unique = (i: number) => `${String(i).padStart(6, '0')}-${'u'.repeat(993)}`;
    for (let start = 0; start < total; start += 50) {
      const batch = Array.from({ length: 50 }, (_, k) => start + k);
      const statuses = await Promise.all(batch.map((i) => a.get(`/flood/${i}/${'p'.repeat(200)}`, { 'user-agent': unique(i) })));
      assert.ok(statuses.every((s) => s === 200));
      for (const t of tables(a)) assert.ok(t.size <= MAX_INTERNED && t.chars <= MAX_INTERNED_CHARS, `table within bounds: ${JSON.stringify(t)}`);
      const st = a.fw.status().upsync;
      assert.ok(st.ringUsedBytes <= st.ringBytes);
    }
    await a.fw.flushReports();
    await waitFor(() => { const st = a.fw.status().upsync; return st.sent + st.dropped === total && st.queued + st.inFlight === 0; }, 'all accounted for', 60_000);
    const st = a.fw.status().upsync;
    assert.equal(st.recorded, total);
    const records = hub.records();
    assert.equal(records.length, st.sent);
    assert.equal(new Set(records.map((r) => r.request_id)).size, records.length, 'none twice');
    // Whatever the tables went through, each record still names its own request.
    for (const r of records) {
      const i = Number(/^\/flood\/(\d+)\//.exec(String(r.path))![1]);
      assert.equal(r.user_agent, unique(i), `record ${i}`);
    }
    assert.ok(st.dropped <= total / 10, `few records lost to the flood: ${st.dropped}`);
  } finally {
    await a.stop();
    await hub.stop();
  }
});

test('a request with a 1 MB URL costs one bounded slot: five fit in a 64 KiB ring, each reported with its path, query and user agent cut (Express)', async () => {
  const hub = await hubWithRules();
  const a = await expressApp(hub, { batchSize: 100, flushIntervalMs: 600_000, ringBytes: 64 * 1024 });
  try {
    for (let i = 0; i < 5; i++) {
      const status = await new Promise<number>((resolve, reject) => {
        const req = rawRequest({
          host: '127.0.0.1', port: a.port, path: `/big/${i}/${'a'.repeat(512 * 1024)}?q=${'b'.repeat(512 * 1024)}`,
          headers: { 'user-agent': 'c'.repeat(64 * 1024) },
        }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode ?? 0)); });
        req.on('error', reject);
        req.end();
      });
      assert.equal(status, 200);
    }
    const st = a.fw.status().upsync;
    assert.equal(st.droppedRingFull, 0, 'no slot larger than the ring');
    assert.equal(st.truncated, 5);
    await a.fw.flushReports();
    const records = hub.records();
    assert.equal(records.length, 5);
    for (const r of records) {
      assert.ok(String(r.path).endsWith(TRUNCATED_MARKER) && String(r.path).length === FIELD_LIMITS.path);
      assert.ok(String(r.user_agent).endsWith(TRUNCATED_MARKER) && String(r.user_agent).length === FIELD_LIMITS.userAgent);
      assert.ok(String(r.parameter).endsWith(TRUNCATED_MARKER) && String(r.parameter).length <= FIELD_LIMITS.parameter);
    }
  } finally {
    await a.stop();
    await hub.stop();
  }
});

test('non-ASCII paths survive the round trip; invalid UTF-8 and lone surrogates reach the hub as well-formed text (Express)', async () => {
  const hub = await hubWithRules();
  const a = await expressApp(hub, { batchSize: 100, flushIntervalMs: 600_000 });
  try {
    const paths = ['/caf%C3%A9/%F0%9F%98%80', '/bad/%ED%A0%80/x', '/bad/%FF%FE', '/mixed/%C3%A9%ED%A0%80%F0%9F%98%80'];
    for (const p of paths) assert.equal(await a.get(p, { 'x-request-id': `id-${p.length}-\u00e9` }), 200);
    for (const p of paths) assert.equal(await a.get(p), 200); // the interned copies
    await a.fw.flushReports();
    const records = hub.records();
    assert.equal(records.length, 2 * paths.length);
    assert.equal(records[0].path, '/café/😀');
    assert.equal(records[4].path, '/café/😀');
    for (const r of records) {
      assert.ok(wellFormed(String(r.path)), `well-formed: ${JSON.stringify(r.path)}`);
      assert.ok(wellFormed(String(r.request_id)));
    }
    assert.equal(records[0].request_id, `id-${paths[0].length}-\u00e9`, 'a Latin-1 request id header survives');
    for (let k = 0; k < paths.length; k++) assert.equal(records[k].path, records[k + paths.length].path, 'the interned copy reads the same');
  } finally {
    await a.stop();
    await hub.stop();
  }
});

test('killing the report worker in the middle of traffic: every request is still served, status() says so, a new worker takes over and reporting resumes (Express)', async () => {
  const hub = await hubWithRules();
  const errors: string[] = [];
  const { dir, cleanup } = tempDir();
  const fw = createManagedFirewall({
    apiKey: hub.apiKey, hubUrl: hub.hubUrl, dir, customRulesIntervalMs: 60_000, dataIntervalMs: 60_000, backoffBaseMs: 10, backoffMaxMs: 40,
    logger: false, env: {}, upsync: { batchSize: 20, flushIntervalMs: 30 },
    onSyncError: ({ error }) => errors.push((error as { reason?: string }).reason ?? ''),
  });
  await fw.ready();
  const app = express();
  app.use(moat(fw));
  app.use((_req, res) => { res.send('ok'); });
  const server = createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as AddressInfo).port;
  const get = async (path: string) => (await fetch(`http://127.0.0.1:${port}${path}`)).status;
  const upsync = (fw as unknown as { upsync: Upsync }).upsync;
  try {
    for (let i = 0; i < 30; i++) assert.equal(await get(`/before/${i}`), 200);
    await waitFor(() => fw.status().upsync.sent === 30, 'the first records sent');
    const killed = upsync.workerForTests!.terminate();
    const during = await Promise.all(Array.from({ length: 40 }, (_, i) => get(`/during/${i}`)));
    assert.ok(during.every((s) => s === 200), 'serving goes on while the worker is gone');
    await killed;
    await waitFor(() => errors.includes('worker-exit'), 'the crash reported (and logged at a bounded rate)');
    assert.match(fw.status().upsync.lastError ?? '', /report worker stopped/);
    await waitFor(() => fw.status().upsync.workerRunning && fw.status().upsync.workerRestarts === 1, 'a new worker', 30_000);
    for (let i = 0; i < 30; i++) assert.equal(await get(`/after/${i}`), 200);
    await waitFor(() => hub.records().filter((r) => String(r.path).startsWith('/after/')).length === 30, 'reporting resumed', 30_000);
    await waitFor(() => { const st = fw.status().upsync; return st.queued + st.inFlight === 0 && st.sent + st.dropped === 100; }, 'all accounted for');
    const st = fw.status().upsync;
    assert.equal(st.recorded, 100);
    assert.equal(st.dropped, st.droppedWorkerExit, 'only the crash lost records');
    assert.equal(hub.records().length, st.sent);
    assert.equal(new Set(hub.records().map((r) => r.request_id)).size, st.sent, 'none twice');
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await fw.close();
    cleanup();
    await hub.stop();
  }
});
