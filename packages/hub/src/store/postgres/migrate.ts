import type { Pool } from 'pg';
import { LOCK_NAMESPACE, LOCKS } from './advisory-locks.js';
import type { Migration } from './migrations.js';
import { withTransaction } from './transaction.js';

/**
 * Brings the database to the latest schema version, with the same rules as the SQLite store: the version
 * is one number (table moat_schema), migrations run in order, and a database newer than this hub is an
 * error. Everything runs in ONE transaction holding an advisory lock, so hub instances starting together
 * wait for each other, the second sees the first one's version, and a crash leaves the old version.
 */
export async function migrate(pool: Pool, migrations: readonly Migration[]): Promise<{ from: number; to: number }> {
  const latest = migrations.reduce((max, m) => Math.max(max, m.version), 0);
  return withTransaction(pool, async (client) => {
    await client.query('SELECT pg_advisory_xact_lock($1, $2)', [LOCK_NAMESPACE, LOCKS.migrate]);
    await client.query('CREATE TABLE IF NOT EXISTS moat_schema (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL)');
    await client.query('INSERT INTO moat_schema (id, version) VALUES (1, 0) ON CONFLICT (id) DO NOTHING');
    const from = (await client.query<{ version: number }>('SELECT version FROM moat_schema WHERE id = 1')).rows[0]!.version;
    if (from > latest) {
      throw new Error(`hub database schema version ${from} is newer than this hub knows (${latest}); upgrade the hub`);
    }
    const pending = migrations.filter((m) => m.version > from).sort((a, b) => a.version - b.version);
    for (const migration of pending) {
      await client.query(migration.sql);
      await client.query('UPDATE moat_schema SET version = $1 WHERE id = 1', [migration.version]);
    }
    return { from, to: Math.max(from, latest) };
  });
}

export async function schemaVersion(pool: Pool): Promise<number> {
  const result = await pool.query<{ version: number }>('SELECT version FROM moat_schema WHERE id = 1');
  return result.rows[0]?.version ?? 0;
}
