// IP rules stored before schema version 21 have no range keys (ip_lo, ip_hi): the hub fills them when it
// opens the database, and until then (or for a rule an older hub of a PostgreSQL fleet wrote or changed)
// HubStore.rulesFor still returns them, so the overview and the IP page never miss a rule.
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import pg from 'pg';
import { migrate as migratePostgres } from '../src/store/postgres/migrate.js';
import { PG_MIGRATIONS } from '../src/store/postgres/migrations.js';
import { PostgresStore } from '../src/store/postgres/postgres-store.js';
import { migrate as migrateSqlite } from '../src/store/sqlite/migrate.js';
import { MIGRATIONS } from '../src/store/sqlite/migrations.js';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import type { HubStore } from '../src/store/store.js';
import { freshDatabase } from './support/postgres.js';

/** A rule row as a hub of schema 20 wrote it (no range keys). */
const OLD_RULE = (id: string, value: string, position = 1) => `INSERT INTO rules (site_id, id, action, kind, value, note, mode, expires,
  rl_method, rl_path, rl_match, rl_limit, rl_window_ms, position, created_at, updated_at) VALUES (1, '${id}', 'block', 'ip', '${value}', NULL,
  'block', NULL, NULL, NULL, NULL, NULL, NULL, ${position}, 1, 1)`;

async function looksUp(store: HubStore, ip: string): Promise<string[]> {
  return (await store.rulesFor(1, { ips: [ip] })).map((r) => r.id);
}

describe('rule range keys after the upgrade to schema 21', () => {
  it('SQLite: filled when the hub opens the database', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'moat-rule-keys-'));
    try {
      const file = join(dir, 'hub.db');
      const old = new Database(file);
      migrateSqlite(old, MIGRATIONS.filter((m) => m.version <= 20));
      old.exec("INSERT INTO sites (id, name, created_at) VALUES (1, 's', 1)");
      old.exec(OLD_RULE('net', '203.0.113.0/24'));
      old.exec(OLD_RULE('one', '198.51.100.7', 2));
      old.close();
      const store = SqliteStore.open(file);
      try {
        assert.equal(store.db.prepare('SELECT count(*) FROM rules WHERE ip_lo IS NULL').pluck().get(), 0);
        assert.deepEqual(await looksUp(store, '203.0.113.9'), ['net']);
        assert.deepEqual(await looksUp(store, '198.51.100.7'), ['one']);
      } finally {
        await store.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('PostgreSQL: filled at start; a rule an older hub writes or changes is still found', async () => {
    const db = await freshDatabase('moat_rule_keys');
    const sql = new pg.Client({ connectionString: db.url });
    try {
      const pool = new pg.Pool({ connectionString: db.url, max: 1 });
      try {
        await migratePostgres(pool, PG_MIGRATIONS.filter((m) => m.version <= 20));
        await pool.query("INSERT INTO sites (id, name, created_at) VALUES (1, 's', 1)");
        await pool.query(OLD_RULE('net', '203.0.113.0/24'));
      } finally {
        await pool.end();
      }
      const store = await PostgresStore.open(db.url, { max: 2 });
      await sql.connect();
      try {
        assert.equal((await sql.query('SELECT count(*)::int AS n FROM rules WHERE ip_lo IS NULL')).rows[0].n, 0);
        assert.deepEqual(await looksUp(store, '203.0.113.9'), ['net']);
        // An older hub of the fleet (schema 20 code) adds a rule, and moves the /24: no keys, or stale ones.
        await sql.query(OLD_RULE('added', '192.0.2.0/24', 2));
        await sql.query("UPDATE rules SET value = '198.51.100.0/24' WHERE id = 'net'");
        assert.deepEqual(await looksUp(store, '192.0.2.1'), ['net', 'added'], 'rules without keys are candidates');
        assert.deepEqual((await sql.query("SELECT ip_lo FROM rules WHERE id = 'net'")).rows[0].ip_lo, null, 'the stale keys went');
        assert.deepEqual(await looksUp(store, '203.0.113.9'), ['net', 'added'], 'never matched by its old range alone');
        // The next hub to start fills them in.
        const next = await PostgresStore.open(db.url, { max: 2 });
        await next.close();
        assert.deepEqual(await looksUp(store, '198.51.100.1'), ['net']);
        assert.deepEqual(await looksUp(store, '192.0.2.1'), ['added']);
      } finally {
        await store.close();
      }
    } finally {
      await sql.end().catch(() => undefined);
      await db.drop();
    }
  });
});
