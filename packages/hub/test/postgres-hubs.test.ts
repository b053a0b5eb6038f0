import { strict as assert } from 'node:assert';
import { createPublicKey, verify } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Engine } from 'moat-waf';
import { createHub, type Hub } from '../src/index.js';
import type { HubStore } from '../src/store/store.js';
import { ADMIN_EMAIL, ADMIN_PASSWORD, Client, createSiteWithKey, record, upsyncBody } from './support/hub-fixture.js';
import { freshDatabase, type TestDatabase } from './support/postgres.js';

/**
 * Two hub instances behind an imaginary load balancer: one PostgreSQL database, separate local data
 * dirs (each instance compiles its own copy of the rule files), one shared signing key file.
 */
describe('two hub instances on one PostgreSQL database', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'moat-pg-hubs-'));
  let db: TestDatabase;
  let a: Hub<HubStore>;
  let b: Hub<HubStore>;
  let clientA: Client;
  let siteId: number;
  let apiKey: string;

  before(async () => {
    db = await freshDatabase('moat_hubs');
    const start = (name: string) => createHub({
      dataDir: join(scratch, name), databaseUrl: db.url, signingKeyFile: join(scratch, 'shared-signing-key.pem'),
      host: '127.0.0.1', port: 0, adminEmail: ADMIN_EMAIL, adminPassword: ADMIN_PASSWORD,
      rollupIntervalMs: 60_000, print: () => undefined, databasePoolSize: 4,
    });
    // Started together: migrations and the first-run admin must not race.
    [a, b] = await Promise.all([start('a'), start('b')]);
    clientA = new Client(a.url);
    assert.equal((await clientA.login()).status, 303);
    ({ siteId, apiKey } = await createSiteWithKey(clientA, 'shop'));
  });
  after(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await db?.drop();
    rmSync(scratch, { recursive: true, force: true });
  });

  it('a session created on A works on B (sessions live in the database)', async () => {
    assert.equal(await a.store.countUsers(), 1, 'one admin although both instances ran first-run setup');
    const onB = new Client(b.url);
    for (const [k, v] of clientA.cookies) onB.cookies.set(k, v);
    const me = await onB.request('/api/me');
    assert.equal(me.status, 200);
    assert.equal(((await me.json()) as { email: string }).email, ADMIN_EMAIL);
    onB.csrf = clientA.csrf;
    const site = await onB.api('POST', '/api/sites', { name: 'made on B' });
    assert.equal(site.status, 201, 'CSRF token of the session is valid on B too');
    assert.ok((await a.store.listSites()).some((s) => s.name === 'made on B'));
  });

  it('a rule created on A is served by B, signed with the shared key, and the file name agrees', async () => {
    const created = await clientA.api('POST', `/api/sites/${siteId}/rules`, { kind: 'ip', value: '198.51.100.0/24' });
    assert.equal(created.status, 201);
    const response = await fetch(`${b.url}/v2/downsync/custom_rules/${apiKey}?client=moat&hostname=web-1&process_id=1`);
    assert.equal(response.status, 200);
    const fileName = /filename=(\S+)/.exec(response.headers.get('content-disposition') ?? '')?.[1];
    assert.ok(fileName);
    const bytes = Buffer.from(await response.arrayBuffer());
    const keyA = (await (await fetch(`${a.url}/v2/public-key`)).json()) as { pem: string };
    const keyB = (await (await fetch(`${b.url}/v2/public-key`)).json()) as { pem: string };
    assert.equal(keyA.pem, keyB.pem, 'one signing key for every instance');
    const signature = Buffer.from(response.headers.get('x-moat-signature') ?? '', 'base64');
    assert.ok(verify(null, bytes, createPublicKey(keyA.pem), signature), 'B signs with the shared key');
    const path = join(scratch, 'served-b.db');
    writeFileSync(path, bytes);
    const engine = Engine.open({ rules: path });
    try {
      assert.equal(engine.evaluate({ ip: '198.51.100.9', method: 'GET', host: 'x', path: '/', userAgent: 'ua' }).treatment, 'Blocked');
      assert.equal(engine.evaluate({ ip: '192.0.2.9', method: 'GET', host: 'x', path: '/', userAgent: 'ua' }).treatment, 'Passed');
    } finally {
      engine.close();
    }
    // A client that got its file from B is up to date on A: both compile the same rules to the same name.
    const fromA = await fetch(`${a.url}/v2/downsync/custom_rules/${apiKey}?client=moat&client_db=${fileName}`);
    assert.equal(fromA.status, 304);

    // A change made on B reaches clients of A.
    const onB = new Client(b.url);
    for (const [k, v] of clientA.cookies) onB.cookies.set(k, v);
    onB.csrf = clientA.csrf;
    assert.equal((await onB.api('POST', `/api/sites/${siteId}/rules`, { kind: 'path', value: '/wp-admin' })).status, 201);
    const changed = await fetch(`${a.url}/v2/downsync/custom_rules/${apiKey}?client=moat&client_db=${fileName}`);
    assert.equal(changed.status, 200);
    const path2 = join(scratch, 'served-a.db');
    writeFileSync(path2, Buffer.from(await changed.arrayBuffer()));
    const engine2 = Engine.open({ rules: path2 });
    try {
      assert.equal(engine2.evaluate({ ip: '192.0.2.9', method: 'GET', host: 'x', path: '/wp-admin', userAgent: 'ua' }).treatment, 'Blocked');
    } finally {
      engine2.close();
    }
  });

  it('reports upsynced to A appear in the overview of B', async () => {
    const now = Math.floor(Date.now() / 1000);
    const batch = [
      record({ ip: '198.51.100.9', treatment: 'Blocked', category: 'bc', rule: '198.51.100.0/24', timestamp: now }),
      record({ ip: '203.0.113.5', timestamp: now }),
      record({ ip: '203.0.113.6', timestamp: now }),
    ];
    const upsync = await fetch(`${a.url}/v2/upsync/${apiKey}`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(upsyncBody(batch)),
    });
    assert.equal(upsync.status, 200, await upsync.clone().text());
    // B's rollup timer folds what A stored (here called directly instead of waiting for the timer).
    assert.equal(await b.rollUpNow(), 3);
    assert.equal(await a.rollUpNow(), 0, 'A finds nothing left to fold');
    const onB = new Client(b.url);
    for (const [k, v] of clientA.cookies) onB.cookies.set(k, v);
    const overview = await onB.request(`/api/sites/${siteId}/stats/overview?range=1h`);
    assert.equal(overview.status, 200);
    const body = (await overview.json()) as { totals: { total: number; blocked: number }; uniqueIps: number };
    assert.deepEqual([body.totals.total, body.totals.blocked, body.uniqueIps], [3, 1, 3]);
  });
});
