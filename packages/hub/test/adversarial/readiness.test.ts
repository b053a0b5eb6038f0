// Attack: /readyz is public (load balancers call it without credentials) and runs a database query, so a
// flood of it could take the pool's few connections away from real traffic, and a stuck pool could make it
// hang instead of answering. These tests flood a real hub on PostgreSQL with a two-connection pool and
// hold that pool busy, and check that readiness costs the database at most one query at a time (one a second)
// and always answers: 503 when the database does not answer in time.
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { createHub, type Hub } from '../../src/index.js';
import type { HubStore } from '../../src/store/store.js';
import { READY_REUSE_MS } from '../../src/server/readiness-probe.js';
import { ADMIN_EMAIL, ADMIN_PASSWORD, Client, createSiteWithKey, record, startTestHub, upsyncBody } from '../support/hub-fixture.js';
import { freshDatabase, type TestDatabase } from '../support/postgres.js';

describe('readiness under attack (PostgreSQL hub, pool of 2)', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'moat-readyz-'));
  let db: TestDatabase;
  let hub: Hub<HubStore>;
  let apiKey: string;
  let pings = 0;

  before(async () => {
    db = await freshDatabase('moat_readyz');
    hub = await createHub({
      dataDir, databaseUrl: db.url, host: '127.0.0.1', port: 0, adminEmail: ADMIN_EMAIL, adminPassword: ADMIN_PASSWORD,
      rollupIntervalMs: 60_000, print: () => undefined, databasePoolSize: 2,
    });
    // Counts the store checks readiness makes (the real check still runs).
    const ping = hub.store.ping.bind(hub.store);
    hub.store.ping = () => { pings += 1; return ping(); };
    const admin = new Client(hub.url);
    assert.equal((await admin.login()).status, 303);
    ({ apiKey } = await createSiteWithKey(admin, 'readyz'));
  });
  after(async () => {
    await hub?.close();
    await db?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('a flood of 300 concurrent GET /readyz runs at most one database check per second and upsync still gets through', async () => {
    pings = 0;
    const started = Date.now();
    const flood = Array.from({ length: 300 }, () => fetch(`${hub.url}/readyz`).then((r) => r.status));
    const upsync = await fetch(`${hub.url}/v2/upsync/${apiKey}`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(upsyncBody([record({ request_id: 'during-flood' })])),
    });
    const statuses = await Promise.all(flood);
    const elapsed = Date.now() - started;
    assert.equal(upsync.status, 200);
    assert.deepEqual([...new Set(statuses)], [200]);
    assert.ok(pings <= 1 + Math.ceil(elapsed / READY_REUSE_MS), `${pings} database checks for 300 probes in ${elapsed} ms`);
  });

  it('GET /readyz answers 503 (not a hang) while every pooled connection is stuck', async () => {
    await new Promise((resolve) => setTimeout(resolve, READY_REUSE_MS)); // the last good answer expires
    const store = hub.store as HubStore & { pool: pg.Pool };
    // Both connections of the pool sleep in the database: the readiness check cannot get one.
    const stuck = [1, 2].map(() => store.pool.query("SELECT pg_sleep(30), 'moat-readyz-stuck'").catch(() => undefined));
    try {
      const response = await fetch(`${hub.url}/readyz`);
      assert.equal(response.status, 503);
      const body = (await response.json()) as { ready: boolean; error: string; message: string };
      assert.deepEqual([body.ready, body.error], [false, 'database_unavailable']);
      assert.match(body.message, /did not answer in time/);
    } finally {
      const admin = new pg.Client({ connectionString: db.url });
      await admin.connect();
      await admin.query("SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE query LIKE '%moat-readyz-stuck%' AND pid <> pg_backend_pid()");
      await admin.end();
      await Promise.all(stuck);
    }
    assert.equal((await fetch(`${hub.url}/healthz`)).status, 200, 'liveness never waits for the database');
  });
});

describe('readiness of a SQLite hub', () => {
  it('GET /readyz is 200 while the SQLite file answers and 503 once it cannot (while /healthz stays 200)', async () => {
    const hub = await startTestHub();
    try {
      assert.equal((await fetch(`${hub.url}/readyz`)).status, 200);
      hub.store.db.close(); // the database file can no longer be queried
      await new Promise((resolve) => setTimeout(resolve, READY_REUSE_MS)); // the last good answer expires
      const response = await fetch(`${hub.url}/readyz`);
      assert.equal(response.status, 503);
      assert.equal(((await response.json()) as { error: string }).error, 'database_unavailable');
      assert.equal((await fetch(`${hub.url}/healthz`)).status, 200);
    } finally {
      await hub.stop();
    }
  });
});
