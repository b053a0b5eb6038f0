// The SQLite seam: Moat reads its rules and data files through the small part of better-sqlite3's API
// its readers use (prepare → get/all/iterate with raw/pluck and source, pragma, exec, close, open), so
// the same files load on every runtime. Node: better-sqlite3 (fastest, and what the files are written
// with), else node:sqlite (Node 22+) when better-sqlite3 cannot load. Bun: bun:sqlite (Bun cannot load
// better-sqlite3's addon). Deno: node:sqlite (Deno refuses better-sqlite3's pre-N-API addon). Files are
// written the same way (openSqliteForWriting: the CLI's `compile` and data builds under Bun or Deno), with
// better-sqlite3 wherever it loads.

import { createRequire } from 'node:module';
import type { Database as BetterSqliteDatabase } from 'better-sqlite3';
import { OptionError } from '../errors/moat-error.js';

export type SqliteDriverName = 'better-sqlite3' | 'node:sqlite' | 'bun:sqlite';

/** A database handle with better-sqlite3's shape, as far as Moat's readers use it. */
export type ReadOnlyDatabase = BetterSqliteDatabase;
/** The same for Moat's writers (prepare → run, exec, pragma, transaction, close). */
export type WritableDatabase = BetterSqliteDatabase;

const load = createRequire(import.meta.url);

/** The driver this runtime uses: `MOAT_SQLITE_DRIVER` when set (tests, or to prefer node:sqlite), else as above. */
export function sqliteDriverName(env: Record<string, string | undefined> = process.env): SqliteDriverName {
  const chosen = env.MOAT_SQLITE_DRIVER;
  if (chosen === 'better-sqlite3' || chosen === 'node:sqlite' || chosen === 'bun:sqlite') return chosen;
  if (chosen !== undefined && chosen !== '') throw new OptionError(`MOAT_SQLITE_DRIVER must be better-sqlite3, node:sqlite or bun:sqlite, not ${JSON.stringify(chosen)}`);
  if (typeof process.versions.bun === 'string') return 'bun:sqlite';
  if ((globalThis as { Deno?: unknown }).Deno !== undefined) return 'node:sqlite';
  return 'better-sqlite3';
}

/** Opens an existing SQLite file read-only with the runtime's driver. Throws the driver's error when it cannot. */
export function openSqliteReadOnly(path: string, driver: SqliteDriverName = sqliteDriverName()): ReadOnlyDatabase {
  if (driver === 'bun:sqlite') return bunDatabase(path) as unknown as ReadOnlyDatabase;
  if (driver === 'node:sqlite') return nodeSqliteDatabase(path) as unknown as ReadOnlyDatabase;
  const Better = betterSqlite();
  if (Better instanceof Error) {
    // No native build for this Node.js: node:sqlite, where the runtime has it, reads the same files.
    if (hasNodeSqlite()) return nodeSqliteDatabase(path) as unknown as ReadOnlyDatabase;
    throw Better;
  }
  return new Better(path, { readonly: true, fileMustExist: true });
}

/** Creates or opens a SQLite file to write, with the runtime's driver (see openSqliteReadOnly). */
export function openSqliteForWriting(path: string, driver: SqliteDriverName = sqliteDriverName()): WritableDatabase {
  if (driver === 'bun:sqlite') return bunDatabase(path, false) as unknown as WritableDatabase;
  if (driver === 'node:sqlite') return nodeSqliteDatabase(path, false) as unknown as WritableDatabase;
  const Better = betterSqlite();
  if (Better instanceof Error) {
    if (hasNodeSqlite()) return nodeSqliteDatabase(path, false) as unknown as WritableDatabase;
    throw Better;
  }
  return new Better(path);
}

type BetterSqlite = new (path: string, options?: object) => BetterSqliteDatabase;

let betterProbe: BetterSqlite | Error | undefined;

/**
 * better-sqlite3's constructor, or why it cannot open a database here. Requiring the package is not
 * enough: it loads its native addon at the first `new Database()`, and an addon built for another
 * Node.js (NODE_MODULE_VERSION) fails only then. So an in-memory database is opened once per process.
 */
function betterSqlite(): BetterSqlite | Error {
  if (betterProbe !== undefined) return betterProbe;
  try {
    const Better = load('better-sqlite3') as BetterSqlite;
    new Better(':memory:').close();
    betterProbe = Better;
  } catch (error) {
    betterProbe = error instanceof Error ? error : new Error(String(error));
  }
  return betterProbe;
}

function hasNodeSqlite(): boolean {
  try {
    load('node:sqlite');
    return true;
  } catch {
    return false;
  }
}

// ---- the adapters: each driver's statements behind better-sqlite3's names ------------------------

/** What both other drivers' statements offer (bun:sqlite returns null for no row, node:sqlite undefined). */
interface ForeignStatement {
  get(...params: unknown[]): unknown;
  run(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
  iterate?(...params: unknown[]): Iterable<unknown>;
  values?(...params: unknown[]): unknown[][];
}

interface ForeignDatabase {
  prepare(sql: string): ForeignStatement;
  exec(sql: string): unknown;
  close(): unknown;
}

/** better-sqlite3 returns BLOBs as Buffers, the others as Uint8Arrays: Moat's readers expect Buffers. */
function value(v: unknown): unknown {
  return v instanceof Uint8Array && !Buffer.isBuffer(v) ? Buffer.from(v.buffer, v.byteOffset, v.byteLength) : v;
}

/** How rows come back: objects (the default), arrays of values (`raw`), or the first value alone (`pluck`). */
type RowShape = 'object' | 'raw' | 'pluck';

function row(r: unknown, shape: RowShape): unknown {
  if (r === null || r === undefined) return undefined;
  const record = r as Record<string, unknown>;
  if (shape === 'pluck') {
    for (const k in record) return value(record[k]);
    return undefined;
  }
  if (shape === 'raw') return Object.keys(record).map((k) => value(record[k]));
  for (const k in record) record[k] = value(record[k]);
  return record;
}

class Statement {
  private shape: RowShape = 'object';
  constructor(private readonly statement: ForeignStatement, readonly source: string) {}

  raw(toggle = true): this {
    this.shape = toggle ? 'raw' : 'object';
    return this;
  }

  pluck(toggle = true): this {
    this.shape = toggle ? 'pluck' : 'object';
    return this;
  }

  get(...params: unknown[]): unknown {
    return row(this.statement.get(...params), this.shape);
  }

  all(...params: unknown[]): unknown[] {
    return this.statement.all(...params).map((r) => row(r, this.shape));
  }

  /** Bound as better-sqlite3 binds them: the values, or one array holding them (BatchInsert's rows). */
  run(...params: unknown[]): unknown {
    const values = params.length === 1 && Array.isArray(params[0]) ? params[0] as unknown[] : params;
    return this.statement.run(...values);
  }

  *iterate(...params: unknown[]): IterableIterator<unknown> {
    const rows = this.statement.iterate === undefined ? this.statement.all(...params) : this.statement.iterate(...params);
    for (const r of rows) yield row(r, this.shape);
  }
}

class Database {
  open = true;
  constructor(private readonly db: ForeignDatabase) {}

  prepare(sql: string): Statement {
    return new Statement(this.db.prepare(sql), sql);
  }

  /** `pragma('name = value')` sets; `pragma('name', { simple: true })` reads one value. */
  pragma(source: string, options?: { simple?: boolean }): unknown {
    const rows = this.db.prepare(`PRAGMA ${source}`).all().map((r) => row(r, 'object') as Record<string, unknown>);
    const first = rows[0];
    if (options?.simple === true) return first === undefined ? undefined : Object.values(first)[0];
    return rows;
  }

  exec(sql: string): this {
    this.db.exec(sql);
    return this;
  }

  /** `fn` wrapped in BEGIN … COMMIT, rolled back when it throws (better-sqlite3's transaction(), not nested). */
  transaction<A extends unknown[], R>(fn: (...args: A) => R): (...args: A) => R {
    return (...args: A): R => {
      this.db.exec('BEGIN');
      try {
        const result = fn(...args);
        this.db.exec('COMMIT');
        return result;
      } catch (error) {
        this.db.exec('ROLLBACK');
        throw error;
      }
    };
  }

  close(): this {
    if (this.open) this.db.close();
    this.open = false;
    return this;
  }
}

function bunDatabase(path: string, readonly = true): Database {
  const { Database: BunDatabase } = load('bun:sqlite') as { Database: new (path: string, options: object) => ForeignDatabase };
  return new Database(new BunDatabase(path, readonly ? { readonly: true, create: false } : { create: true }));
}

function nodeSqliteDatabase(path: string, readOnly = true): Database {
  const { DatabaseSync } = load('node:sqlite') as { DatabaseSync: new (path: string, options: object) => ForeignDatabase };
  return new Database(new DatabaseSync(path, { readOnly }));
}
