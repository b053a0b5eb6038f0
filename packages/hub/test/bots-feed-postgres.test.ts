// Two hubs on one PostgreSQL database and a `bots` feed added on one of them: the catalogue lives in the
// database, so the other hub compiles the very same catalogue into the site's rules file (same hash,
// same file name), and a client long-polling the other hub is woken with the new file at once.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { createHub, type Hub } from '../src/index.js';
import type { HubStore } from '../src/store/store.js';
import { FeedServer } from './feeds-server.js';
import { ADMIN_EMAIL, ADMIN_PASSWORD, Client, createSiteWithKey } from './support/hub-fixture.js';
import { freshDatabase, type TestDatabase } from './support/postgres.js';
import { until } from './support/until.js';

const HOUR = 3_600_000;
const SHIPPED = JSON.parse(readFileSync(new URL('../../moat/data/bots.json', import.meta.url), 'utf8')) as { bots: object[] };
const CATALOGUE = JSON.stringify({
  version: 1, updated: '2026-12-02-pg', bots: [...SHIPPED.bots, { id: 'examplebot', name: 'ExampleBot', category: 'ai-crawler', tokens: ['examplebot'] }],
});

/** The bot ids a Moat rules file carries in its `bots` meta row. */
function botIdsIn(bytes: Buffer, scratch: string): string[] {
  const file = join(scratch, `served-${Math.random().toString(36).slice(2)}.db`);
  writeFileSync(file, bytes);
  const db = new Database(file, { readonly: true });
  try {
    const row = db.prepare("SELECT value FROM meta WHERE key = 'bots'").get() as { value: string } | undefined;
    return row ? (JSON.parse(row.value) as { catalogue: { bots: { id: string }[] } }).catalogue.bots.map((b) => b.id) : [];
  } finally {
    db.close();
  }
}

describe('a bot catalogue feed on two hubs sharing one PostgreSQL database', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'moat-pg-botcat-'));
  const feeds = new FeedServer();
  let db: TestDatabase;
  let a: Hub<HubStore>;
  let b: Hub<HubStore>;
  let clientA: Client;
  let siteId = 0;
  let apiKey = '';

  const downsync = (hub: Hub<HubStore>, query = '') => fetch(`${hub.url}/v2/downsync/custom_rules/${apiKey}?client=moat&format=moat&hostname=web-1&process_id=1${query}`);
  const fileNameOf = (response: Response) => /filename=(\S+)/.exec(response.headers.get('content-disposition') ?? '')?.[1] ?? '';

  before(async () => {
    await feeds.start();
    db = await freshDatabase('moat_botcat');
    const start = (name: string) => createHub({
      dataDir: join(scratch, name), databaseUrl: db.url, signingKeyFile: join(scratch, 'shared-signing-key.pem'),
      host: '127.0.0.1', port: 0, adminEmail: ADMIN_EMAIL, adminPassword: ADMIN_PASSWORD,
      rollupIntervalMs: 60_000, print: () => undefined, databasePoolSize: 4,
      feeds: { allowPrivate: true, timeoutMs: 1500, tickMs: HOUR },
      // A long hold, as a guard only: the held request must end by the wake, long before this.
      longPoll: { timeoutMs: 120_000 },
    });
    [a, b] = await Promise.all([start('a'), start('b')]);
    clientA = new Client(a.url);
    assert.equal((await clientA.login()).status, 303);
    ({ siteId, apiKey } = await createSiteWithKey(clientA, 'shop'));
    const page = await (await clientA.request(`/sites/${siteId}/rules`)).text();
    const csrf = /name="_csrf" value="([^"]+)"/.exec(page)![1]!;
    const saved = await clientA.request(`/sites/${siteId}/bots`, { method: 'POST', form: { _csrf: csrf, key: 'ai-crawler', mode: 'block' } });
    assert.equal(saved.status, 303);
  });

  after(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await feeds.stop();
    await db?.drop();
    rmSync(scratch, { recursive: true, force: true });
  });

  it('a catalogue accepted on hub A wakes a client held on hub B, and B serves the same file compiled from the database copy', async () => {
    const first = await downsync(b);
    assert.equal(first.status, 200);
    const before = fileNameOf(first);
    assert.ok(!botIdsIn(Buffer.from(await first.arrayBuffer()), scratch).includes('examplebot'));

    // A Moat client long-polling B with the file it has.
    const held = downsync(b, `&client_db=${before}&wait=120`);
    await until(() => b.context.waiters.stats().waiting === 1, 'the request to be held on B');

    feeds.serve('/bots.json', CATALOGUE);
    const created = await clientA.api('POST', '/api/feeds?wait=1', { name: 'bot catalogue', format: 'bots', origin: 'url', url: `${feeds.base}/bots.json` });
    assert.equal(created.status, 201, await created.clone().text());
    assert.equal(((await created.json()) as { source: { status: string } }).source.status, 'ok');

    const woken = await held;
    assert.equal(woken.status, 200, 'B answers the held request with a new file');
    const onB = fileNameOf(woken);
    const buildA = await a.store.getBuild(siteId, 'moat');
    assert.notEqual(onB, before);
    assert.equal(onB, buildA?.fileName, 'B compiled the same file as A (the name carries the content hash)');
    assert.ok(existsSync(join(b.config.rulesDir, `site-${siteId}`, onB)), 'B compiled it itself, from the database');
    assert.ok(botIdsIn(Buffer.from(await woken.arrayBuffer()), scratch).includes('examplebot'));

    // Both hubs report the same catalogue in force.
    const onBClient = new Client(b.url);
    for (const [k, v] of clientA.cookies) onBClient.cookies.set(k, v);
    const stateA = (await (await clientA.api('GET', '/api/bot-catalogue')).json()) as { inForce: { hash: string; bots: number } };
    const stateB = (await (await onBClient.request('/api/bot-catalogue')).json()) as { inForce: { hash: string; bots: number } };
    assert.equal(stateB.inForce.hash, stateA.inForce.hash);
    assert.equal(stateB.inForce.bots, SHIPPED.bots.length + 1);
  });

  it('hub B, started afresh on the same database, compiles the same catalogue hash', async () => {
    const fresh = await createHub({
      dataDir: join(scratch, 'c'), databaseUrl: db.url, signingKeyFile: join(scratch, 'shared-signing-key.pem'),
      host: '127.0.0.1', port: 0, adminEmail: ADMIN_EMAIL, adminPassword: ADMIN_PASSWORD,
      rollupIntervalMs: 60_000, print: () => undefined, databasePoolSize: 2, feeds: { allowPrivate: true, tickMs: HOUR },
    });
    try {
      const rebuilt = await fresh.context.builder.rebuild(siteId);
      assert.equal(rebuilt.moat.fileName, (await a.store.getBuild(siteId, 'moat'))?.fileName);
    } finally {
      await fresh.close();
    }
  });
});
