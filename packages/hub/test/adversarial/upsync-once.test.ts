// Fault: the hub stores a report batch, but its 200 never reaches the client (the hub died, a proxy cut
// the connection, the database stalled past the client's timeout). The client must retry — and the
// retry must not be stored again, or every dashboard count is inflated. Also: a client (or anyone with
// the key) cannot get a batch stored twice or slip a malformed id past the hub.
// Real parts: a real Moat managed firewall serving a node:http app, a TCP proxy that forwards to a real
// hub and drops the connection after the hub has answered, SQLite files and a PostgreSQL database.
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import pg from 'pg';
import { createManagedFirewall } from 'moat-waf';
import { withMoat } from 'moat-waf/adapters/node';
import { createHub, type Hub } from '../../src/index.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { HubStore, ReportRecord } from '../../src/store/store.js';
import { ADMIN_EMAIL, ADMIN_PASSWORD, Client, createSiteWithKey, record, startTestHub, upsyncBody } from '../support/hub-fixture.js';
import { freshDatabase } from '../support/postgres.js';
import { UpsyncAnswerProxy } from '../support/upsync-answer-proxy.js';

async function waitFor(condition: () => boolean | Promise<boolean>, what: string, guardMs = 60_000): Promise<void> {
  const deadline = Date.now() + guardMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Reports stored for the site, counted after folding everything into the rollups. */
async function storedCount(store: HubStore, siteId: number): Promise<number> {
  for (let i = 0; i < 100 && (await store.rollUp()) > 0; i++);
  return (await store.totals(siteId, 0, 2 ** 40)).total;
}

/**
 * A Moat app reports `requests` requests through the proxy, which drops the hub's first two upsync
 * answers; the client retries until it hears a 200. The hub must hold each report once.
 */
async function lostAnswersAreStoredOnce(hub: Hub<HubStore>, requests: number): Promise<void> {
  const admin = new Client(hub.url);
  assert.equal((await admin.login()).status, 303);
  const { siteId, apiKey } = await createSiteWithKey(admin, 'shop');
  // The hub's first two upsync answers are lost: it has committed, and the client never hears it.
  let dropped = 0;
  const proxy = new UpsyncAnswerProxy(Number(new URL(hub.url).port), (index, client, upstream) => {
    if (index >= 2) return 'forward';
    dropped++;
    client.destroy();
    upstream.destroy();
    return 'withhold';
  });
  const proxyUrl = await proxy.listen();
  const dir = mkdtempSync(join(tmpdir(), 'moat-upsync-once-'));
  const fw = createManagedFirewall({
    apiKey, hubUrl: proxyUrl, dir, customRulesIntervalMs: 600_000, dataIntervalMs: 600_000, backoffBaseMs: 10, backoffMaxMs: 50,
    logger: false, env: {}, upsync: { batchSize: 40, flushIntervalMs: 200 },
  });
  const app: Server = createHttpServer(withMoat((_req, res) => { res.end('ok'); }, fw));
  try {
    await fw.ready();
    await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
    const appUrl = `http://127.0.0.1:${(app.address() as AddressInfo).port}`;
    for (let i = 0; i < requests; i++) await (await fetch(`${appUrl}/item/${i}`)).arrayBuffer();
    await waitFor(() => { const s = fw.status().upsync; return s.sent === requests && s.queued === 0 && s.inFlight === 0; },
      `all ${requests} records sent (${JSON.stringify(fw.status().upsync)})`);
    assert.equal(dropped, 2, 'two answers were lost on the way back');
    // The first lost answer is for a stored batch; the retries of that batch are answered duplicate.
    assert.match(proxy.answers[0]!, /"accepted":[1-9]/, proxy.answers.join(' | '));
    assert.ok(proxy.answers.slice(1).some((a) => a.includes('"duplicate":true')), proxy.answers.join(' | '));
    assert.ok(fw.status().upsync.failures >= 1, 'the client saw the lost answer as a failure and retried');
    assert.equal(await storedCount(hub.store, siteId), requests, 'each report stored exactly once');
  } finally {
    app.closeAllConnections();
    await new Promise<void>((resolve) => app.close(() => resolve()));
    await fw.close();
    await proxy.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function rows(n: number): ReportRecord[] {
  return Array.from({ length: n }, (_, i) => ({
    ts: 1_700_000_000 + i, ip: '203.0.113.7', method: 'GET', host: 'shop.test', path: `/p/${i}`, parameter: '', userAgent: 'ua',
    requestId: `r${i}`, treatment: 'Passed', category: 'passed', rule: '-', ruleId: null, monitored: null, ipSource: null, country: null,
  }));
}

describe('upsync exactly once: a lost 200 does not store a batch twice', () => {
  it('a Moat client whose 200 is cut off by a proxy retries, and a SQLite hub stores each report once', async () => {
    const hub = await startTestHub();
    try {
      await lostAnswersAreStoredOnce(hub, 120);
    } finally {
      await hub.stop();
    }
  });

  it('a Moat client whose 200 is cut off by a proxy retries, and a PostgreSQL hub stores each report once', async () => {
    const db = await freshDatabase('moat_once');
    const dataDir = mkdtempSync(join(tmpdir(), 'moat-upsync-once-pg-'));
    const hub = await createHub({
      dataDir, databaseUrl: db.url, host: '127.0.0.1', port: 0, adminEmail: ADMIN_EMAIL, adminPassword: ADMIN_PASSWORD,
      rollupIntervalMs: 60_000, print: () => undefined, databasePoolSize: 4,
    });
    try {
      await lostAnswersAreStoredOnce(hub, 120);
    } finally {
      await hub.close();
      await db.drop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('a PostgreSQL hub stalled past the client timeout: retries sent while the first try waits are stored once', async () => {
    const db = await freshDatabase('moat_once');
    const dataDir = mkdtempSync(join(tmpdir(), 'moat-upsync-once-pg-'));
    const hub = await createHub({
      dataDir, databaseUrl: db.url, host: '127.0.0.1', port: 0, adminEmail: ADMIN_EMAIL, adminPassword: ADMIN_PASSWORD,
      rollupIntervalMs: 60_000, print: () => undefined, databasePoolSize: 8,
    });
    const locker = new pg.Client({ connectionString: db.url });
    const watcher = new pg.Client({ connectionString: db.url });
    await locker.connect();
    await watcher.connect();
    try {
      const admin = new Client(hub.url);
      await admin.login();
      const { siteId, apiKey } = await createSiteWithKey(admin, 'shop');
      const body = JSON.stringify(upsyncBody(Array.from({ length: 50 }, (_, i) => record({ request_id: `stall-${i}` }))));
      const post = () => fetch(`${hub.url}/v2/upsync/${apiKey}`, {
        method: 'POST', body, headers: { 'content-type': 'application/json', 'x-moat-batch-id': 'stalled-batch' },
      });
      // The database stalls: inserts into reports wait for this lock.
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE reports IN SHARE MODE');
      const tries = [post(), post(), post()];
      // All three tries are inside the database: the first waits for the table lock, the retries for its batch id.
      // (Watched from another connection: a transaction sees one snapshot of pg_stat_activity.)
      await waitFor(async () => (await watcher.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'")).rows[0]!.n >= 3,
      'three tries waiting on locks');
      await locker.query('COMMIT');
      const answers = await Promise.all(tries.map(async (t) => { const r = await t; return { status: r.status, body: await r.json() as { accepted: number; duplicate?: boolean } }; }));
      assert.deepEqual(answers.map((a) => a.status), [200, 200, 200]);
      assert.deepEqual(answers.map((a) => a.body.accepted).sort(), [0, 0, 50]);
      assert.equal(answers.filter((a) => a.body.duplicate === true).length, 2);
      assert.equal(await storedCount(hub.store, siteId), 50);
    } finally {
      await locker.end();
      await watcher.end();
      await hub.close();
      await db.drop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('a SQLite hub that stops between two 2,000-row slices of a batch: the retry stores the rest, never the first slice again', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'moat-upsync-once-slices-'));
    const file = join(dir, 'hub.db');
    try {
      let store = SqliteStore.open(file);
      const site = await store.createSite('shop');
      const batch = rows(5_000);
      // The first slice commits synchronously; the store closes before the second ("the process died").
      const interrupted = store.insertReports(site.id, batch, { id: 'b-5000', receivedAt: 1_700_000_000 });
      await store.close();
      await assert.rejects(interrupted);
      store = SqliteStore.open(file);
      const count = () => store.db.prepare('SELECT count(*) FROM reports').pluck().get() as number;
      assert.equal(count(), 2_000, 'one slice was stored before the stop');
      assert.equal(await store.insertReports(site.id, batch, { id: 'b-5000', receivedAt: 1_700_000_030 }), 'stored');
      assert.equal(count(), 5_000);
      const ids = store.db.prepare('SELECT count(DISTINCT request_id) FROM reports').pluck().get();
      assert.equal(ids, 5_000, 'every record once');
      assert.equal(await store.insertReports(site.id, batch, { id: 'b-5000', receivedAt: 1_700_000_060 }), 'duplicate');
      assert.equal(count(), 5_000);
      await store.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('upsync batch ids: a retry is answered, never stored again; a bad id is refused', () => {
  it('a batch too large for the hub (413) is split into halves named <id>.0 and <id>.1, each stored once', async () => {
    const hub = await startTestHub({ upsyncMaxBytes: 8 * 1024 });
    const dir = mkdtempSync(join(tmpdir(), 'moat-upsync-split-'));
    const admin = new Client(hub.url);
    await admin.login();
    const { siteId, apiKey } = await createSiteWithKey(admin);
    const fw = createManagedFirewall({
      apiKey, hubUrl: hub.url, dir, customRulesIntervalMs: 600_000, dataIntervalMs: 600_000, backoffBaseMs: 10, backoffMaxMs: 50,
      // Only a full batch of 80 goes (no timer flush), so the batch is too large however slow the machine.
      logger: false, env: {}, upsync: { batchSize: 80, flushIntervalMs: 600_000 },
    });
    const app: Server = createHttpServer(withMoat((_req, res) => { res.end('ok'); }, fw));
    try {
      await fw.ready();
      await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
      const appUrl = `http://127.0.0.1:${(app.address() as AddressInfo).port}`;
      for (let i = 0; i < 80; i++) await (await fetch(`${appUrl}/${'long-path/'.repeat(30)}${i}`)).arrayBuffer();
      await waitFor(() => { const u = fw.status().upsync; return u.sent === 80 && u.inFlight === 0; }, 'all 80 records sent');
      assert.ok(fw.status().upsync.splits >= 1, 'the hub refused the whole batch as too large');
      const ids = (hub.store as SqliteStore).db.prepare('SELECT batch_id FROM upsync_batches WHERE site_id = ?').pluck().all(siteId) as string[];
      assert.ok(ids.length >= 2, ids.join());
      for (const id of ids) assert.match(id, /^[0-9a-f-]{36}(\.[01])+$/, 'halves carry ids derived from their batch');
      assert.equal(await storedCount(hub.store, siteId), 80);
    } finally {
      app.closeAllConnections();
      await new Promise<void>((resolve) => app.close(() => resolve()));
      await fw.close();
      await hub.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the same batch posted twice with one X-Moat-Batch-Id (or meta.batch_id) is stored once and answered duplicate', async () => {
    const hub = await startTestHub();
    try {
      const admin = new Client(hub.url);
      await admin.login();
      const { siteId, apiKey } = await createSiteWithKey(admin);
      const post = (body: unknown, headers: Record<string, string> = {}) => fetch(`${hub.url}/v2/upsync/${apiKey}`, {
        method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json', ...headers },
      });
      const batch = [record({ request_id: 'a' }), record({ request_id: 'b' }), record({ ip: '' })];
      const first = await post(upsyncBody(batch), { 'x-moat-batch-id': 'retry-me' });
      const stored = await first.json() as { accepted: number; rejected: number; duplicate?: boolean };
      assert.deepEqual([stored.accepted, stored.rejected, stored.duplicate], [2, 1, undefined]);
      const again = await post(upsyncBody(batch), { 'x-moat-batch-id': 'retry-me' });
      assert.equal(again.status, 200);
      const answer = await again.json() as { ok: boolean; duplicate: boolean; accepted: number; rejected: number };
      assert.equal(answer.duplicate, true);
      assert.equal(answer.accepted, 0);
      assert.equal(answer.rejected, 1, 'the refusals are reported again, so the client counts them');
      // The id may come in the body instead; a client that can set no header is deduplicated too.
      const inMeta = { meta: { version: '1', client: 'other', framework: 'x', batch_id: 'retry-me' }, batch };
      assert.equal(((await (await post(inMeta)).json()) as { duplicate?: boolean }).duplicate, true);
      assert.equal(await storedCount(hub.store, siteId), 2);
      // Without an id a batch is stored each time it is posted (the Wafris gem never resends one).
      await post(upsyncBody(batch));
      await post(upsyncBody(batch));
      assert.equal(await storedCount(hub.store, siteId), 6);
    } finally {
      await hub.stop();
    }
  });

  it('a malformed batch id, or a header and meta.batch_id that differ, is refused 400 and nothing is stored', async () => {
    const hub = await startTestHub();
    try {
      const admin = new Client(hub.url);
      await admin.login();
      const { siteId, apiKey } = await createSiteWithKey(admin);
      const post = (body: unknown, headers: Record<string, string> = {}) => fetch(`${hub.url}/v2/upsync/${apiKey}`, {
        method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json', ...headers },
      });
      const batch = [record()];
      for (const id of ['', 'x'.repeat(129), '../../etc', 'id with spaces', "a';DROP TABLE reports;--"]) {
        const response = await post(upsyncBody(batch), { 'x-moat-batch-id': id });
        assert.equal(response.status, 400, id);
        assert.equal(((await response.json()) as { error: string }).error, 'invalid_batch_id', id);
      }
      const badMeta = await post({ meta: { batch_id: { $ne: null } }, batch });
      assert.equal(badMeta.status, 400);
      const mismatch = await post({ meta: { batch_id: 'one' }, batch }, { 'x-moat-batch-id': 'two' });
      assert.equal(mismatch.status, 400);
      assert.equal(((await mismatch.json()) as { error: string }).error, 'batch_id_mismatch');
      assert.equal(await storedCount(hub.store, siteId), 0);
    } finally {
      await hub.stop();
    }
  });
});
