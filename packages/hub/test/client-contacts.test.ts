// The Clients page tells the truth about who downloaded what: a contact row belongs to the API key that
// made it. Before, the row was keyed by what the client says (hostname, process id, client, category),
// so any key of the site could overwrite another host's row, its key id and the file it has.
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import pg from 'pg';
import { migrate as migratePostgres } from '../src/store/postgres/migrate.js';
import { PG_MIGRATIONS } from '../src/store/postgres/migrations.js';
import { PostgresStore } from '../src/store/postgres/postgres-store.js';
import { migrate as migrateSqlite } from '../src/store/sqlite/migrate.js';
import { MIGRATIONS } from '../src/store/sqlite/migrations.js';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import type { ClientContact, HubStore } from '../src/store/store.js';
import { startHubWithSite, type Client, type TestHub } from './support/hub-fixture.js';
import { freshDatabase } from './support/postgres.js';

describe('Clients page: a row per API key', () => {
  let hub: TestHub;
  let client: Client;
  let siteId: number;
  let keyA: { key: string; id: number; prefix: string };
  let keyB: { key: string; id: number; prefix: string };

  before(async () => {
    let apiKey: string;
    let keyId: number;
    ({ hub, client, siteId, apiKey, keyId } = await startHubWithSite('clients'));
    const second = await client.api('POST', `/api/sites/${siteId}/keys`, { label: 'other key' });
    assert.equal(second.status, 201);
    const body = (await second.json()) as { key: string; info: { id: number; prefix: string } };
    const infos = ((await (await client.api('GET', `/api/sites/${siteId}/keys`)).json()) as { keys: { id: number; prefix: string }[] }).keys;
    keyA = { key: apiKey, id: keyId, prefix: infos.find((k) => k.id === keyId)!.prefix };
    keyB = { key: body.key, id: body.info.id, prefix: body.info.prefix };
  });
  after(() => hub.stop());

  const downsync = async (key: string, query: string) => {
    const response = await fetch(`${hub.url}/v2/downsync/custom_rules/${key}?client=moat&hostname=web-1&process_id=42&${query}`);
    await response.arrayBuffer();
    assert.ok(response.status === 200 || response.status === 304, String(response.status));
  };
  const listed = async () =>
    ((await (await client.api('GET', `/api/sites/${siteId}/clients`)).json()) as { clients: ClientContact[] }).clients;

  it('another key claiming the same host and process adds its own row; the first keeps its key id and file', async () => {
    await downsync(keyA.key, 'version=1.0.0&framework=express');
    const [first] = await listed();
    assert.equal(first?.apiKeyId, keyA.id);
    const servedToA = first!.servedFile;
    assert.match(servedToA, /\.db$/);

    // Key B, same hostname and process id, says it has an old file.
    await downsync(keyB.key, 'version=0.0.1&framework=koa&client_db=old.db');
    const rows = await listed();
    assert.equal(rows.length, 2, 'two keys on one hostname are two clients');
    const a = rows.find((c) => c.apiKeyId === keyA.id);
    const b = rows.find((c) => c.apiKeyId === keyB.id);
    assert.deepEqual([a?.framework, a?.version, a?.servedFile, a?.clientDb], ['express', '1.0.0', servedToA, '']);
    assert.deepEqual([b?.framework, b?.version, b?.clientDb], ['koa', '0.0.1', 'old.db']);

    const html = await (await client.request(`/sites/${siteId}/clients`)).text();
    const rowsHtml = html.split('<tr>').filter((r) => r.includes('<td>web-1</td>'));
    assert.equal(rowsHtml.length, 2);
    assert.ok(rowsHtml.some((r) => r.includes(`${keyA.prefix}…`) && r.includes('express')), 'key A\'s row names key A');
    assert.ok(rowsHtml.some((r) => r.includes(`${keyB.prefix}…`) && r.includes('other key') && r.includes('koa')), 'key B\'s row names key B');
  });
});

/** A contact as a hub of schema 19 stored it, read back after the upgrade; then a second key's contact. */
async function upgradeKeepsRows(store: HubStore, siteId: number): Promise<void> {
  const before = await store.listClients(siteId);
  assert.deepEqual(before.map((c) => [c.apiKeyId, c.hostname, c.servedFile]), [[1, 'web-1', 'f1.db']]);
  const contact = before[0]!;
  await store.recordClientContact({ ...contact, apiKeyId: 2, servedFile: 'other.db', lastSeen: contact.lastSeen + 1 });
  assert.deepEqual((await store.listClients(siteId)).map((c) => [c.apiKeyId, c.servedFile]), [[2, 'other.db'], [1, 'f1.db']]);
}

const INSERT_V19_CONTACT = `INSERT INTO clients (site_id, hostname, process_id, client, category, api_key_id, version, framework,
  format, client_db, served_file, ip, last_seen) VALUES (1, 'web-1', '42', 'moat', 'custom_rules', 1, '1', 'express', 'moat', '', 'f1.db', '10.0.0.1', 100)`;

describe('upgrade to schema 20 (client contacts owned by their key)', () => {
  it('SQLite: rows stored before the upgrade are kept', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'moat-clients-upgrade-'));
    try {
      const file = join(dir, 'hub.db');
      const old = new Database(file);
      migrateSqlite(old, MIGRATIONS.filter((m) => m.version <= 19));
      old.exec("INSERT INTO sites (id, name, created_at) VALUES (1, 's', 1)");
      old.exec(INSERT_V19_CONTACT);
      old.close();
      const store = SqliteStore.open(file);
      try {
        assert.equal(store.schemaVersion(), Math.max(...MIGRATIONS.map((m) => m.version)));
        await upgradeKeepsRows(store, 1);
      } finally {
        await store.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('PostgreSQL: rows stored before the upgrade are kept', async () => {
    const db = await freshDatabase('moat_clients');
    try {
      const pool = new pg.Pool({ connectionString: db.url, max: 1 });
      try {
        await migratePostgres(pool, PG_MIGRATIONS.filter((m) => m.version <= 19));
        await pool.query("INSERT INTO sites (id, name, created_at) VALUES (1, 's', 1)");
        await pool.query(INSERT_V19_CONTACT);
      } finally {
        await pool.end();
      }
      const store = await PostgresStore.open(db.url, { max: 2 });
      try {
        assert.equal(await store.schemaVersion(), Math.max(...PG_MIGRATIONS.map((m) => m.version)));
        await upgradeKeepsRows(store, 1);
      } finally {
        await store.close();
      }
    } finally {
      await db.drop();
    }
  });
});
