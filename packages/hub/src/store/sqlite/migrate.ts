import type Database from 'better-sqlite3';
import type { Migration } from './migrations.js';

/**
 * Brings the database to the latest schema version. The version lives in SQLite's `user_version`, and
 * each migration runs in its own transaction together with the version bump, so a crash leaves the
 * database at a whole version.
 */
export function migrate(db: Database.Database, migrations: readonly Migration[]): { from: number; to: number } {
  const from = db.pragma('user_version', { simple: true }) as number;
  const latest = migrations.reduce((max, m) => Math.max(max, m.version), 0);
  if (from > latest) {
    throw new Error(`hub database schema version ${from} is newer than this hub knows (${latest}); upgrade the hub`);
  }
  const pending = migrations.filter((m) => m.version > from).sort((a, b) => a.version - b.version);
  for (const migration of pending) {
    db.transaction(() => {
      db.exec(migration.sql);
      // user_version takes no bound parameters; the value is an integer from our own list.
      db.pragma(`user_version = ${Math.trunc(migration.version)}`);
    }).immediate();
  }
  return { from, to: Math.max(from, latest) };
}
