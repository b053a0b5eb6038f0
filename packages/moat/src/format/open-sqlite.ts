/** Opens a rules or data file read-only and tells what it is, with clear errors for everything else. */
import { existsSync, openSync, readSync, closeSync, statSync } from 'node:fs';
import { openSqliteReadOnly } from './sqlite-driver.js';
import type { Database as Db } from 'better-sqlite3';
import { MoatFileError } from '../errors/moat-error.js';
import { DATA_FORMAT, RULES_FORMAT } from './schema.js';

export type FileKind = 'moat-rules' | 'moat-data' | 'wafris-rules' | 'wafris-data';

const SQLITE_MAGIC = 'SQLite format 3\0';

/**
 * Page cache per read-only connection, KiB. Mapped pages are read from the shared mapping, not copied into
 * this cache, so it only fills where mmap does not reach (a driver built without it, a file past mmap_size).
 * Then the drivers' defaults (16 MiB in better-sqlite3, 2 MiB elsewhere) would become private memory in every
 * worker of a light-mode app; 256 KiB still holds a data file's interior B-tree pages. Measured at 2.5 M
 * ranges: mmap'd lookups unchanged (0.98–1.02×), without mmap 4.7 µs against 3.8 µs (docs/performance.md).
 */
export const PAGE_CACHE_KIB = 256;

export function openReadOnly(path: string): Db {
  if (!existsSync(path)) throw new MoatFileError('MOAT_ERR_FILE_MISSING', path, 'file not found');
  if (statSync(path).size < 512) throw new MoatFileError('MOAT_ERR_FILE_CORRUPT', path, 'file is too small to be a SQLite database (truncated?)');
  const fd = openSync(path, 'r');
  const head = Buffer.alloc(16);
  try {
    readSync(fd, head, 0, 16, 0);
  } finally {
    closeSync(fd);
  }
  if (head.toString('latin1') !== SQLITE_MAGIC) throw new MoatFileError('MOAT_ERR_FILE_CORRUPT', path, 'not a SQLite database');
  try {
    const db = openSqliteReadOnly(path); // better-sqlite3 on Node, bun:sqlite on Bun, node:sqlite on Deno
    // Files are replaced by rename, never changed in place, so holding the lock is safe and saves
    // a lock/unlock round per statement (docs/performance.md).
    db.pragma('locking_mode = EXCLUSIVE');
    db.pragma('mmap_size = 1073741824');
    db.pragma(`cache_size = -${PAGE_CACHE_KIB}`);
    return db;
  } catch (e) {
    throw new MoatFileError('MOAT_ERR_FILE_UNREADABLE', path, `cannot open: ${(e as Error).message}`, { cause: e });
  }
}

/**
 * The file's table names, once its schema is known to hold plain tables and indexes only. A view or a
 * virtual table named like one the loader reads runs whatever query it was built on (a recursive one
 * never ends: the serving thread, or the loader worker, would hang) and a trigger is code; no Moat or
 * Wafris file has any, so a file with one is refused before anything reads it.
 */
function tableNames(db: Db, path: string): Set<string> {
  const rows = db.prepare('SELECT type, name, sql FROM sqlite_master').all() as { type: string; name: string; sql: string | null }[];
  const tables = new Set<string>();
  for (const row of rows) {
    const virtual = row.type === 'table' && row.sql !== null && /^\s*create\s+virtual\s/i.test(row.sql);
    if ((row.type !== 'table' && row.type !== 'index') || virtual) {
      throw new MoatFileError('MOAT_ERR_FILE_CORRUPT', path, `holds a ${virtual ? 'virtual table' : row.type} (${JSON.stringify(row.name.slice(0, 64))}): rules and data files have plain tables only`);
    }
    if (row.type === 'table') tables.add(row.name);
  }
  return tables;
}

export function readMeta(db: Db): Map<string, string> {
  return new Map((db.prepare('SELECT key, value FROM meta').all() as { key: string; value: string }[]).map((r) => [r.key, r.value]));
}

/** Tells a Moat file from a Wafris one by its tables, so users never have to say which they have. */
export function detectKind(db: Db, path: string): FileKind {
  let tables: Set<string>;
  let format: string | undefined;
  try {
    tables = tableNames(db, path);
    if (tables.has('meta')) format = readMeta(db).get('format');
  } catch (e) {
    if (e instanceof MoatFileError) throw e;
    throw new MoatFileError('MOAT_ERR_FILE_CORRUPT', path, `corrupt SQLite file: ${(e as Error).message}`, { cause: e });
  }
  if (tables.has('meta')) {
    if (format === RULES_FORMAT) return 'moat-rules';
    if (format === DATA_FORMAT) return 'moat-data';
    throw new MoatFileError('MOAT_ERR_FILE_VERSION', path, `unknown format ${JSON.stringify(format)}`);
  }
  if (tables.has('blocked_ips') || tables.has('blocked_cidr_ranges') || tables.has('allowed_ips')) return 'wafris-rules';
  if (tables.has('country_ip_ranges') || tables.has('reputation_ip_ranges')) return 'wafris-data';
  throw new MoatFileError('MOAT_ERR_FILE_KIND', path, 'neither a Moat nor a Wafris rules or data file');
}
