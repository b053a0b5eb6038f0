import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ManagedFirewall } from 'moat-waf';
import pg from 'pg';
import { createHub, type Hub } from '../src/index.js';
import type { HubStore } from '../src/store/store.js';
import { ADMIN_EMAIL, ADMIN_PASSWORD, Client, createSiteWithKey } from './support/hub-fixture.js';
import { longPoll, waitUntil } from './support/long-poll-client.js';
import { freshDatabase, type TestDatabase } from './support/postgres.js';

const actor = { userId: null, email: 'push-pg-test', ip: null };
const requestFrom = (ip: string) => ({ ip, method: 'GET', host: 'shop.example', path: '/' });

/** Two hubs on one PostgreSQL database: a change made on A wakes clients held on B (LISTEN/NOTIFY). */
describe('push across hubs on PostgreSQL', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'moat-push-pg-'));
  let db: TestDatabase;
  let a: Hub<HubStore>;
  let b: Hub<HubStore>;
  let siteId: number;
  let apiKey: string;

  before(async () => {
    db = await freshDatabase('moat_push');
    const start = (name: string) => createHub({
      dataDir: join(scratch, name), databaseUrl: db.url, signingKeyFile: join(scratch, 'shared-signing-key.pem'),
      host: '127.0.0.1', port: 0, adminEmail: ADMIN_EMAIL, adminPassword: ADMIN_PASSWORD,
      rollupIntervalMs: 60_000, print: () => undefined, databasePoolSize: 4, logger: false,
      // Holds longer than any guard below: only a wake-up can bring a change in time.
      longPoll: { timeoutMs: 120_000 },
    });
    [a, b] = await Promise.all([start('a'), start('b')]);
    const admin = new Client(a.url);
    await admin.login();
    ({ siteId, apiKey } = await createSiteWithKey(admin, 'shop'));
    await waitUntil(() => a.context.changeFeed?.stats().connected === true && b.context.changeFeed?.stats().connected === true, 'both feeds up');
  });
  after(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await db?.drop();
    rmSync(scratch, { recursive: true, force: true });
  });

  it('a rule added on hub A is enforced by a Moat client held on hub B', async () => {
    const firewall = new ManagedFirewall({
      apiKey, hubUrl: b.url, dir: join(scratch, 'client-b'), customRulesIntervalMs: 3_600_000,
      publicKey: b.context.signingKey?.publicKeyBase64, upsync: false, logger: false,
    });
    try {
      await firewall.ready();
      await waitUntil(() => b.context.waiters.stats().waiting === 1, 'the client held on B');
      await a.context.rules.create(siteId, { action: 'block', kind: 'ip', value: '203.0.113.20', mode: 'block', note: undefined, expires: undefined }, actor);
      await waitUntil(() => firewall.currentEngine?.evaluate(requestFrom('203.0.113.20')).treatment === 'Blocked', 'B\'s client to enforce A\'s change', 60_000);
      assert.ok(b.context.changeFeed!.stats().received >= 1, 'B heard of the change from A');
      assert.equal(b.context.waiters.stats().timedOut, 0, 'no hold ran out: it was pushed');
    } finally {
      await firewall.close();
    }
  });

  it('after B loses its LISTEN connection it reconnects, re-LISTENs and held clients still get A\'s changes', async () => {
    const reconnectsBefore = b.context.changeFeed!.stats().reconnects;
    const admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
    try {
      // Kill every feed connection (A's too): what a database restart or a network cut does to them.
      await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'moat-hub-changes' AND datname = current_database()`);
    } finally {
      await admin.end();
    }
    await waitUntil(() => b.context.changeFeed!.stats().reconnects > reconnectsBefore && b.context.changeFeed!.stats().connected
      && a.context.changeFeed!.stats().connected, 'the feeds to reconnect', 60_000);
    const clientDb = (await b.context.builder.current(siteId, 'moat')).fileName;
    const held = longPoll(b.url, apiKey, { clientDb, wait: '25' });
    await waitUntil(() => b.context.waiters.stats().waiting === 1, 'a request held on B');
    await a.context.rules.create(siteId, { action: 'block', kind: 'ip', value: '203.0.113.21', mode: 'block', note: undefined, expires: undefined }, actor);
    const answer = await held;
    assert.equal(answer.status, 200, 'woken with the new file');
    assert.equal(answer.fileName, (await a.context.builder.current(siteId, 'moat')).fileName, 'the file A built');
  });
});
