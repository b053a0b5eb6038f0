/**
 * Builds a SQLite file under a temporary name beside its destination and renames it into place, so a
 * reader (or a process opening the path later) sees the old file or the new one, never half of one.
 */
import { closeSync, mkdirSync, openSync, renameSync, rmSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Database as Db } from 'better-sqlite3';
import { fsyncUnlessRefused } from './fsync.js';
import { openSqliteForWriting } from './sqlite-driver.js';

export function writeSqliteAtomically<T>(outPath: string, build: (db: Db) => T): T {
  mkdirSync(dirname(outPath), { recursive: true });
  const tmp = join(dirname(outPath), `.${basename(outPath)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    const db = openSqliteForWriting(tmp); // better-sqlite3 on Node, bun:sqlite on Bun, node:sqlite on Deno
    let result: T;
    try {
      db.pragma('journal_mode = OFF');
      db.pragma('synchronous = OFF');
      result = db.transaction(() => build(db))();
      vacuum(db);
    } finally {
      db.close();
    }
    const fd = openSync(tmp, 'r');
    try {
      fsyncUnlessRefused(fd); // the rename must not land before the bytes do
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, outPath);
    return result;
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

/**
 * Compacts the pages (smaller downloads, faster cold reads). VACUUM builds the copy in an attached
 * database, which Deno's node:sqlite refuses ("too many attached databases - max 0"): there the file
 * stays as written, every row the same, only less compact.
 */
function vacuum(db: Db): void {
  try {
    db.exec('VACUUM');
  } catch (error) {
    if (!/too many attached databases/.test((error as Error).message)) throw error;
  }
}
