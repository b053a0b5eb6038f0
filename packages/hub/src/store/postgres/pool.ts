import pg from 'pg';
import { DatabaseUnavailableError, isConnectionLoss } from './database-unavailable.js';
import { OutageLog, type OutageLogger } from './outage-log.js';

/** int8 (count, sum of integers, BIGINT columns) and numeric (sum of BIGINT) as JS numbers, like SQLite gives. */
const NUMBER_TYPES = new Set<number>([20, 1700]);

const types = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (NUMBER_TYPES.has(oid) && format !== 'binary') return (value: string) => Number(value);
    return pg.types.getTypeParser(oid, format);
  },
} as pg.CustomTypesConfig;

export interface PoolOptions {
  /** Most connections this instance opens (default 10). */
  max?: number;
  /**
   * Receives a line when the database becomes unavailable, at most one a minute while it stays so, and one
   * when it is back (default: stderr). Never receives the connection string.
   */
  log?: OutageLogger;
}

/**
 * A connection pool that survives its database going away:
 * - errors of idle connections (the pool's 'error' event) are counted, never an unhandled 'error';
 * - a statement that fails because the connection or server is gone rejects with DatabaseUnavailableError
 *   (the hub answers 503), other errors pass unchanged;
 * - broken connections are dropped by pg-pool and new ones opened on demand, so it recovers by itself.
 * BIGINT/NUMERIC results are numbers (ids, Unix seconds and counts all stay far below 2^53).
 * Only the promise form of query() is translated; the store uses no other.
 */
export class StorePool extends pg.Pool {
  readonly outage: OutageLog;

  constructor(config: pg.PoolConfig, log: OutageLogger) {
    super(config);
    this.outage = new OutageLog(log);
    this.on('error', (error) => this.outage.failed(error));
  }

  // `any`: the override must fit every overload of pg's query(); callers keep pg's types through `Pool`.
  override query(...args: any[]): any {
    const base = pg.Pool.prototype.query as (...a: unknown[]) => unknown;
    const last = args[args.length - 1];
    if (typeof last === 'function' || typeof (args[0] as { submit?: unknown })?.submit === 'function') return base.apply(this, args);
    const startedAt = this.outage.time();
    return (base.apply(this, args) as Promise<unknown>).then(
      (result) => {
        this.outage.succeeded(startedAt);
        return result;
      },
      (error: unknown) => {
        throw this.translate(error);
      },
    );
  }

  /** A connection-loss error becomes DatabaseUnavailableError (and is counted); others pass unchanged. */
  translate(error: unknown): unknown {
    if (error instanceof DatabaseUnavailableError) return error;
    if (!isConnectionLoss(error)) return error;
    this.outage.failed(error);
    return new DatabaseUnavailableError(error);
  }
}

/** The pool of the PostgreSQL store; see StorePool. */
export function createPool(connectionString: string, options: PoolOptions = {}): StorePool {
  return new StorePool({
    connectionString,
    max: options.max ?? 10,
    types,
    connectionTimeoutMillis: 10_000,
    idleTimeoutMillis: 30_000,
    // TCP keepalive: a connection to a server that vanished without closing it (a failover) errors out
    // instead of waiting forever.
    keepAlive: true,
    application_name: 'moat-hub',
  }, options.log ?? ((line) => console.error(line)));
}

/** The outage bookkeeping of a store pool (undefined for a plain pg.Pool, e.g. in a test). */
export function storePoolOf(pool: pg.Pool): StorePool | undefined {
  return pool instanceof StorePool ? pool : undefined;
}
