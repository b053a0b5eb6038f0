/**
 * What "the database is away" looks like to the pg driver, and the one error the store throws for it.
 * The hub answers it with 503 `database_unavailable` (a retry later will work) instead of a 500.
 */

/** Thrown by the PostgreSQL store when it cannot reach its database; `cause` keeps the driver's error. */
export class DatabaseUnavailableError extends Error {
  readonly code = 'database_unavailable';

  /** The driver's message is kept for logs (it names host and port, never the password); clients see a fixed text. */
  constructor(cause: unknown) {
    super(`the database is unavailable (${cause instanceof Error ? cause.message : String(cause)})`, { cause });
    this.name = 'DatabaseUnavailableError';
  }
}

/**
 * SQLSTATEs of a lost or refused connection: class 08 (connection exception), 57P01–57P03 (admin or
 * crash shutdown, "the database system is starting up / shutting down"), 53300 (too many connections).
 */
const LOST_SQLSTATE = /^(08...|57P0[123]|53300)$/;

/** Socket-level errors of a server that restarted, went away or is unreachable. */
const LOST_SOCKET = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ENOTFOUND']);

/** Messages pg and pg-pool use for a dead connection; they carry no code. */
const LOST_MESSAGE = /^(Connection terminated|Client has encountered a connection error|timeout expired|timeout exceeded when trying to connect|Client was closed)/;

/** True when an error means the connection or the server is gone, not that a statement was wrong. */
export function isConnectionLoss(error: unknown): boolean {
  if (error instanceof DatabaseUnavailableError) return true;
  if (typeof error !== 'object' || error === null) return false;
  const { code, message } = error as { code?: unknown; message?: unknown };
  if (typeof code === 'string' && (LOST_SQLSTATE.test(code) || LOST_SOCKET.has(code))) return true;
  return typeof message === 'string' && LOST_MESSAGE.test(message);
}
