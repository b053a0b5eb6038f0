import type { MoatErrorCode } from '../errors/codes.js';
import { MoatError } from '../errors/moat-error.js';

/**
 * The code of each sync reason. A reason is finer (status() and the logs show it, failover reads it); the
 * code is what a user handles. `http-<status>` reasons are MOAT_ERR_SYNC_HTTP; a reason not listed is
 * MOAT_ERR_SYNC_FAILED (the errors test checks that every reason written in the source is listed).
 */
export const SYNC_REASON_CODES: Readonly<Record<string, MoatErrorCode>> = {
  network: 'MOAT_ERR_SYNC_NETWORK',
  timeout: 'MOAT_ERR_SYNC_NETWORK',
  truncated: 'MOAT_ERR_SYNC_NETWORK',
  upsync: 'MOAT_ERR_SYNC_FAILED',
  unauthorized: 'MOAT_ERR_SYNC_UNAUTHORIZED',
  unsigned: 'MOAT_ERR_SYNC_SIGNATURE',
  'bad-signature': 'MOAT_ERR_SYNC_SIGNATURE',
  // Freshness statements (freshness.ts): signed, but not for this site, category or file, or older than what is installed.
  'statement-invalid': 'MOAT_ERR_SYNC_SIGNATURE',
  'statement-site': 'MOAT_ERR_SYNC_SIGNATURE',
  'statement-category': 'MOAT_ERR_SYNC_SIGNATURE',
  'statement-file': 'MOAT_ERR_SYNC_SIGNATURE',
  'statement-missing': 'MOAT_ERR_SYNC_SIGNATURE',
  'statement-old': 'MOAT_ERR_SYNC_SIGNATURE',
  'unasked-304': 'MOAT_ERR_SYNC_HTTP',
  'not-sqlite': 'MOAT_ERR_SYNC_REJECTED',
  corrupt: 'MOAT_ERR_SYNC_REJECTED',
  empty: 'MOAT_ERR_SYNC_REJECTED',
  rejected: 'MOAT_ERR_SYNC_REJECTED',
  verify: 'MOAT_ERR_SYNC_REJECTED',
  'too-large': 'MOAT_ERR_SYNC_TOO_LARGE',
  'bad-redirect': 'MOAT_ERR_SYNC_REDIRECT',
  'too-many-redirects': 'MOAT_ERR_SYNC_REDIRECT',
  dir: 'MOAT_ERR_SYNC_DIR',
  fallback: 'MOAT_ERR_SYNC_LOCAL_FILE',
  'bad-local-file': 'MOAT_ERR_SYNC_LOCAL_FILE',
  closed: 'MOAT_ERR_SYNC_ABORTED',
  aborted: 'MOAT_ERR_SYNC_ABORTED',
  'records-refused': 'MOAT_ERR_UPSYNC_REFUSED',
  'load-worker': 'MOAT_ERR_WORKER',
  'load-timeout': 'MOAT_ERR_WORKER',
  worker: 'MOAT_ERR_WORKER',
  'worker-exit': 'MOAT_ERR_WORKER',
  configuration: 'MOAT_ERR_OPTION_INVALID',
  error: 'MOAT_ERR_SYNC_FAILED',
};

export function syncReasonCode(reason: string): MoatErrorCode {
  if (reason.startsWith('http-')) return 'MOAT_ERR_SYNC_HTTP';
  return Object.hasOwn(SYNC_REASON_CODES, reason) ? SYNC_REASON_CODES[reason]! : 'MOAT_ERR_SYNC_FAILED';
}

/** A failed sync step: a short machine-readable `reason` for status() and the logs, and the `code` it falls under. */
export class SyncError extends MoatError {
  override readonly name = 'SyncError';
  constructor(
    readonly reason: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(syncReasonCode(reason), message, options);
  }
}

export function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
