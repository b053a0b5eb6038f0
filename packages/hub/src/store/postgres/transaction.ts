import type { Pool, PoolClient } from 'pg';
import { DatabaseUnavailableError, isConnectionLoss } from './database-unavailable.js';
import { storePoolOf } from './pool.js';

/**
 * Runs `task` in a transaction on one pooled connection: COMMIT on success, ROLLBACK on any error.
 *
 * The connection may die at any moment (a database restart, a failover): pg then emits 'error' on the
 * checked-out client, which would crash the process without a listener, so one is attached while the
 * client is out. After any failure the client is released with the error flag, so the pool destroys it
 * instead of handing on a dead connection or one still holding session state (the rollup's session-level
 * advisory lock survives a ROLLBACK). Failures are rare; pg-pool's own query() does the same. Connection
 * errors reject with DatabaseUnavailableError.
 */
export async function withTransaction<T>(pool: Pool, task: (client: PoolClient) => Promise<T>): Promise<T> {
  const store = storePoolOf(pool);
  let client: PoolClient;
  try {
    client = await pool.connect();
  } catch (error) {
    throw translate(pool, error);
  }
  let lost: Error | undefined;
  const onError = (error: Error) => {
    lost ??= error;
    store?.outage.failed(error);
  };
  client.on('error', onError);
  let failed = false;
  try {
    const startedAt = store?.outage.time() ?? 0;
    await client.query('BEGIN');
    const result = await task(client);
    await client.query('COMMIT');
    store?.outage.succeeded(startedAt);
    return result;
  } catch (error) {
    failed = true;
    // Frees the transaction's row locks at once while the connection still works; the client goes anyway.
    if (!lost) await client.query('ROLLBACK').catch(() => undefined);
    // A transaction whose connection died did not commit, whatever the task threw: the database is away.
    throw translate(pool, lost && !isConnectionLoss(error) ? lost : error);
  } finally {
    client.removeListener('error', onError);
    // Synchronous with the removal: pg-pool attaches its idle listener inside release(), no gap.
    client.release(lost ?? failed);
  }
}

function translate(pool: Pool, error: unknown): unknown {
  const store = storePoolOf(pool);
  if (store) return store.translate(error);
  return isConnectionLoss(error) && !(error instanceof DatabaseUnavailableError) ? new DatabaseUnavailableError(error) : error;
}
