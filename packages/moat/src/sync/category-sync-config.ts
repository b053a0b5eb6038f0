// What a category's sync is given: where its files live, how to reach the hub, and how to load and
// install a file. Shared by the scheduler (category-sync.ts) and the download steps.
import type { KeyObject } from 'node:crypto';
import type { ClientInfo } from './client-info.js';
import type { DownsyncFetch } from './downsync-answer.js';
import type { FreshnessMode } from './freshness.js';
import type { DownloadLimits } from './managed-options.js';
import type { HubFailover } from './hub-failover.js';
import type { SyncCategory } from './sync-dir-files.js';
import { INLINE_VERIFY_MAX_BYTES } from './verify-download.js';

/** What a loader returns: the usable value plus what status() shows of the file. */
export interface LoadedFile<T> {
  value: T;
  contentHash: string;
  formatVersion: number;
}

/** `maxDownloadBytes`: this category's bound (the rules file's is the smaller). */
export interface CategorySyncConfig<T> extends Omit<DownloadLimits, 'maxRulesDownloadBytes'> {
  category: SyncCategory;
  dir: string;
  /** The `…/v2/downsync` endpoints (shared by both categories); null with no API key: files on disk only, no polling. */
  hubs: HubFailover | null;
  apiKey: string | null;
  client: ClientInfo;
  intervalMs: number;
  /**
   * Seconds the hub may hold a request while our file is current (long-poll, see long-poll.ts); 0 or
   * absent: plain polling. The interval stays the fallback for hubs that do not hold.
   */
  longPollSeconds?: number;
  maxRedirects: number;
  /** Makes the requests: in the downsync worker (downsync-thread.ts); default, on this thread. */
  fetch?: DownsyncFetch;
  /** How often the pointer is re-read for files other processes installed. */
  watchIntervalMs: number;
  lockStaleMs: number;
  publicKey: KeyObject | null;
  /** Whether answers must carry a freshness statement (with `publicKey`; see freshness.ts). Default 'auto'. */
  freshness?: FreshnessMode;
  /** Bound of a worker that checks a download when there is no loadOffThread (loadOffThread has its own). */
  loadTimeoutMs?: number;
  /**
   * The hub's newest valid freshness statement is older than `staleAfterMs` (default three intervals):
   * called on each check while it stays so (the caller bounds its logging).
   */
  onStale?(category: SyncCategory, ageMs: number): void;
  staleAfterMs?: number;
  /** A file shipped with the app, used when the directory holds no good file. */
  fallbackPath?: string;
  load(path: string): LoadedFile<T>;
  /** Files from this size on go to loadOffThread (default: over INLINE_VERIFY_MAX_BYTES). */
  offThreadMinBytes?: number;
  /**
   * Verifies (when `verify` is given) and loads a file without holding the event loop, in a worker
   * thread; used for files of offThreadMinBytes or more. `verify` is null for a file another process
   * installed (it was checked then). Rejects with SyncError for a failed check or a dead worker, with
   * any other error for a file the loader refused. Without it: verifyDownload, then `load` here.
   */
  loadOffThread?(path: string, verify: { publicKey: KeyObject | null; signature: string | null } | null, signal: AbortSignal): Promise<LoadedFile<T>>;
  install(value: T): void;
  onError(category: SyncCategory, error: Error): void;
  /** The hub refused the API key (401): every sync with it stops. */
  onUnauthorized(category: SyncCategory, error: Error): void;
  now: () => number;
}

/** The size from which a file is loaded in a worker (when the config can). */
export function offThreadMinBytes(config: Pick<CategorySyncConfig<unknown>, 'offThreadMinBytes'>): number {
  return config.offThreadMinBytes ?? INLINE_VERIFY_MAX_BYTES + 1;
}
