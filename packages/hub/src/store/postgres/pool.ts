import pg from 'pg';

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
  /** Called on errors of idle connections (the server restarted, a network cut); never throws. */
  onError?: (error: Error) => void;
}

/**
 * A connection pool whose BIGINT/NUMERIC results are numbers (ids, Unix seconds and counts all stay
 * far below 2^53). Errors of idle connections are reported to onError instead of crashing the process;
 * the pool replaces broken connections by itself.
 */
export function createPool(connectionString: string, options: PoolOptions = {}): pg.Pool {
  const pool = new pg.Pool({
    connectionString,
    max: options.max ?? 10,
    types,
    connectionTimeoutMillis: 10_000,
    idleTimeoutMillis: 30_000,
    application_name: 'moat-hub',
  });
  pool.on('error', (error) => options.onError?.(error));
  return pool;
}
