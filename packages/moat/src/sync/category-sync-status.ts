// What status() shows of one category's sync, and the counters behind it, kept apart from the work that
// moves them so the shape users read is in one place.
import type { MoatErrorCode } from '../errors/codes.js';
import { errorCodeOf } from '../errors/moat-error.js';
import type { PushAnswer } from './long-poll.js';
import { SyncError } from './sync-error.js';

export type SyncResult =
  | 'updated' | 'not-modified' | 'fresh' | 'followed' | 'locked' | 'error' | 'unauthorized';

export interface CategoryFileStatus {
  file: string;
  servedName: string | null;
  sha256: string | null;
  contentHash: string;
  formatVersion: number;
  source: 'hub' | 'fallback';
  installedAt: number;
  ageMs: number;
}

/** The counters and last outcomes of a category's sync; the part of its status that is not the file. */
export interface SyncCounters {
  stopped: boolean;
  lastAttemptAt: number | null;
  lastResult: SyncResult | null;
  lastError: string | null;
  /** The SyncError reason of the last error (`http-503`, `bad-signature`…), 'error' for another error. */
  lastErrorReason: string | null;
  /** The stable code of the last error (docs/errors.md). */
  lastErrorCode: MoatErrorCode | null;
  lastSuccessAt: number | null;
  lastCheckedAt: number | null;
  consecutiveFailures: number;
  downloads: number;
  notModified: number;
  followed: number;
  errors: number;
}

export interface CategorySyncStatus extends SyncCounters {
  file: CategoryFileStatus | null;
  polling: boolean;
  nextPollAt: number | null;
  /** Long-poll state from the hub's last answer; 'off' when this category does not long-poll. */
  push: PushAnswer['kind'] | 'off';
  /**
   * The hub's signed freshness statements about the file in use (times by the hub's clock, Unix ms):
   * `required`: an answer without one is refused now; `issuedAt`: the statement the file came with (no
   * older file is accepted); `confirmedAt`: the newest statement naming it (a 200 or 304); `ageMs`: since
   * then, null without one; `stale`: older than three poll intervals while polling (logged too).
   */
  freshness: { required: boolean; issuedAt: number | null; confirmedAt: number | null; ageMs: number | null; stale: boolean };
}

export function emptySyncCounters(): SyncCounters {
  return {
    stopped: false, lastAttemptAt: null, lastResult: null, lastError: null, lastErrorReason: null, lastErrorCode: null,
    lastSuccessAt: null, lastCheckedAt: null, consecutiveFailures: 0, downloads: 0, notModified: 0, followed: 0, errors: 0,
  };
}

export function recordSyncError(counters: SyncCounters, error: Error): void {
  counters.errors++;
  counters.lastError = error.message;
  counters.lastErrorReason = error instanceof SyncError ? error.reason : 'error';
  counters.lastErrorCode = errorCodeOf(error, 'MOAT_ERR_SYNC_FAILED');
}

/** A poll that reached the hub: the failure streak and the last error end. */
export function recordSyncSuccess(counters: SyncCounters, now: number): void {
  counters.consecutiveFailures = 0;
  counters.lastError = null;
  counters.lastErrorReason = null;
  counters.lastErrorCode = null;
  counters.lastSuccessAt = now;
}
