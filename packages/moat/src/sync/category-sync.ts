// Keeps one category's file (custom_rules or data_subscriptions) current in one process: loads the
// last good file at start, polls the hub on a jittered interval with backoff after failures, and follows
// the pointer to files other processes installed. The steps live beside it: the request on the wire
// (downsync-request.ts, made in the downsync worker: downsync-thread.ts), download, verify and install
// (install-download.ts), the directory's files
// (sync-dir-files.ts), the hub's signed freshness statements (freshness.ts) and what status() shows
// (category-sync-status.ts).
import { join } from 'node:path';
import { backoffDelay, jittered } from './backoff.js';
import { offThreadMinBytes, type CategorySyncConfig, type LoadedFile } from './category-sync-config.js';
import {
  emptySyncCounters, recordSyncError, recordSyncSuccess, type CategorySyncStatus,
} from './category-sync-status.js';
import { readPointer, writePointer, type CurrentPointer } from './current-pointer.js';
import { DirLock, type HeldLock } from './dir-lock.js';
import { downsyncUrl, fetchDownsync, pushAnswerOf, throwUnlessOk } from './downsync-request.js';
import {
  checkNotOlder, confirmed, merged, missingStatement, NO_FRESHNESS, readStatement, siteTag, statementRequired,
  type FreshnessRecord, type FreshnessStatement,
} from './freshness.js';
import { fetchOnThisThread, type DownsyncAnswer } from './downsync-answer.js';
import { installDownload } from './install-download.js';
import { nextAskDelay, NO_PUSH, waitToOffer, type PushAnswer } from './long-poll.js';
import { fileSize, removeAbandonedParts, removeOldFiles } from './sync-dir-files.js';
import { asError, SyncError } from './sync-error.js';

export type { CategorySyncConfig, LoadedFile } from './category-sync-config.js';
export type { CategoryFileStatus, CategorySyncStatus, SyncResult } from './category-sync-status.js';

interface Current<T> {
  value: T;
  file: string;
  path: string;
  servedName: string | null;
  etag: string | null;
  sha256: string | null;
  contentHash: string;
  formatVersion: number;
  source: 'hub' | 'fallback';
  installedAt: number;
}

export class CategorySync<T> {
  private readonly lock: DirLock;
  private current: Current<T> | null = null;
  /** A pointer target that failed to load: not retried until the pointer moves on. */
  private badFile: string | null = null;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | null = null;
  private closed = false;
  private readonly abort = new AbortController();
  private nextPollAt = 0;
  /** What the hub said about holding our last request. */
  private push: PushAnswer = NO_PUSH;
  private firstAttemptDone: () => void = () => {};
  /** Resolves after the first poll that reached an outcome (or at once when not polling). */
  readonly firstAttempt: Promise<void>;
  private readonly st = emptySyncCounters();
  /** What the hub's freshness statements said about the file in use (freshness.ts). */
  private freshness: FreshnessRecord = NO_FRESHNESS;
  /** The site statements must name; null without an API key. */
  private readonly site: string | null;
  /**
   * The hub's 304 named other bytes than ours (a rebuild of equal rules): the next request asks without
   * `client_db` and ETag, so the file comes with a statement naming it.
   */
  private askUnconditionally = false;
  /** A pointer target whose load failed for want of a worker (died, timed out): tried again after a backoff. */
  private followRetry: { file: string; failures: number; at: number } | null = null;

  constructor(private readonly config: CategorySyncConfig<T>) {
    this.lock = new DirLock(config.dir, config.category, { staleMs: config.lockStaleMs, now: config.now });
    this.site = config.apiKey === null ? null : siteTag(config.apiKey);
    this.firstAttempt = new Promise((resolve) => { this.firstAttemptDone = resolve; });
    if (!this.polling) this.firstAttemptDone();
  }

  private get longPollSeconds(): number {
    return this.config.longPollSeconds ?? 0;
  }

  get polling(): boolean {
    return this.config.hubs !== null && this.config.apiKey !== null && !this.st.stopped;
  }

  /** The value in use, if any. */
  get value(): T | null {
    return this.current?.value ?? null;
  }

  /**
   * Loads the last good file at once (synchronously, before the first request): the directory's
   * current file, else the fallback file. Returns the value, or null when neither is usable.
   */
  loadInitial(): T | null {
    const pointer = readPointer(this.config.dir, this.config.category);
    if (pointer !== null) {
      this.st.lastCheckedAt = pointer.checkedAt;
      // What was seen and the age floor hold even if that file cannot be used; its confirmation does not.
      this.freshness = { ...pointer.freshness, confirmedAt: null };
      if (this.adoptPointer(pointer)) return this.current!.value;
    }
    const fallback = this.config.fallbackPath;
    if (fallback !== undefined) {
      try {
        const loaded = this.config.load(fallback);
        this.current = {
          value: loaded.value, file: fallback, path: fallback, servedName: null, etag: null, sha256: null,
          contentHash: loaded.contentHash, formatVersion: loaded.formatVersion, source: 'fallback', installedAt: this.config.now(),
        };
        return loaded.value;
      } catch (error) {
        this.fail(new SyncError('fallback', `the fallback ${this.config.category} file cannot be used: ${asError(error).message}`, { cause: error }));
      }
    }
    return null;
  }

  start(): void {
    if (this.closed) return;
    const checkedAt = this.st.lastCheckedAt;
    // A file another process checked recently is not asked for again at start (unless long-polling:
    // the held request is what brings changes at once).
    this.nextPollAt = this.longPollSeconds === 0 && checkedAt !== null && this.current?.source === 'hub' ? checkedAt + jittered(this.config.intervalMs, this.config.jitter) : 0;
    this.schedule(0);
  }

  /** Stops polling and waits for a poll in progress to finish (its download is aborted). */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    this.abort.abort(new SyncError('closed', 'the firewall is closing'));
    await this.running;
    this.firstAttemptDone();
  }

  status(): CategorySyncStatus {
    const now = this.config.now();
    const c = this.current;
    return {
      file: c === null ? null : {
        file: c.file, servedName: c.servedName, sha256: c.sha256, contentHash: c.contentHash, formatVersion: c.formatVersion,
        source: c.source, installedAt: c.installedAt, ageMs: Math.max(0, now - c.installedAt),
      },
      polling: this.polling && !this.closed,
      ...this.st,
      nextPollAt: this.polling && !this.closed ? this.nextPollAt : null,
      push: this.longPollSeconds === 0 ? 'off' : this.push.kind,
      freshness: {
        required: this.statementsChecked && statementRequired(this.config.freshness ?? 'auto', this.freshness),
        issuedAt: this.freshness.issuedAt, confirmedAt: this.freshness.confirmedAt,
        ageMs: this.freshnessAge(now), stale: this.stale(now),
      },
    };
  }

  /** Statements are checked only with a pinned key (and an API key naming the site). */
  private get statementsChecked(): boolean {
    return this.config.publicKey !== null && this.site !== null;
  }

  /** Milliseconds since the newest valid statement about the file in use was issued (hub's clock), or null. */
  private freshnessAge(now: number): number | null {
    const at = this.current?.source === 'hub' ? this.freshness.confirmedAt : null;
    return at === null ? null : Math.max(0, now - at);
  }

  private stale(now: number): boolean {
    const age = this.freshnessAge(now);
    return age !== null && this.polling && age > (this.config.staleAfterMs ?? 3 * this.config.intervalMs);
  }

  private schedule(delayMs: number): void {
    clearTimeout(this.timer);
    if (this.closed) return;
    this.timer = setTimeout(() => { void this.tick(); }, Math.max(0, delayMs));
    this.timer.unref(); // sync never keeps the app alive
  }

  private async tick(): Promise<void> {
    if (this.closed || this.running !== null) return;
    this.running = this.runTick();
    await this.running;
    this.running = null;
    if (this.closed) return;
    const untilPoll = this.polling ? this.nextPollAt - this.config.now() : Infinity;
    this.schedule(Math.min(untilPoll, this.config.watchIntervalMs));
  }

  private async runTick(): Promise<void> {
    try {
      await this.follow();
      if (this.polling && this.config.now() >= this.nextPollAt) await this.poll();
      // A hub (or someone on the path) answering 304 for ever with no new statement shows here.
      const now = this.config.now();
      if (this.stale(now)) this.config.onStale?.(this.config.category, this.freshnessAge(now)!);
    } catch (error) {
      // Nothing here may escape a timer: count it, log it, and try again after a backoff (never at once:
      // a failure that repeats must not turn into a busy loop).
      if (this.polling) this.failedPoll(asError(error));
      else this.fail(asError(error));
    }
  }

  /** Loads a file another process has installed (the pointer moved). */
  private async follow(): Promise<void> {
    const pointer = readPointer(this.config.dir, this.config.category);
    if (pointer === null) return;
    if (this.current !== null && pointer.file === this.current.file) {
      this.st.lastCheckedAt = Math.max(this.st.lastCheckedAt ?? 0, pointer.checkedAt);
      this.freshness = merged(this.freshness, pointer.freshness);
      return;
    }
    if (pointer.file === this.badFile) return;
    const retry = this.followRetry;
    if (retry !== null && retry.file === pointer.file && this.config.now() < retry.at) return;
    if (await this.adoptPointerOffThread(pointer)) {
      this.st.followed++;
      this.st.lastResult = 'followed';
      this.st.lastCheckedAt = pointer.checkedAt;
      this.config.install(this.current!.value);
      this.attempted();
    }
  }

  /** At start: loads the pointer's file on this thread (nothing is served yet). */
  private adoptPointer(pointer: CurrentPointer): boolean {
    const path = join(this.config.dir, pointer.file);
    try {
      this.adopt(pointer, path, this.config.load(path));
      return true;
    } catch (error) {
      this.badLocalFile(pointer, error);
      return false;
    }
  }

  /** While serving: loads the pointer's file, a big one in a worker. */
  private async adoptPointerOffThread(pointer: CurrentPointer): Promise<boolean> {
    const path = join(this.config.dir, pointer.file);
    const offThread = this.config.loadOffThread;
    try {
      const loaded = offThread !== undefined && fileSize(path) >= offThreadMinBytes(this.config)
        ? await offThread(path, null, this.abort.signal)
        : this.config.load(path);
      // Installed even when closing meanwhile: the engine slot closes what it holds.
      this.adopt(pointer, path, loaded);
      this.followRetry = null;
      return true;
    } catch (error) {
      if (this.closed) return false;
      // A worker that died (out of memory, killed) or was stopped for taking too long says nothing about
      // the file: tried again, after a backoff (each try may take up to loadTimeoutMs).
      if (error instanceof SyncError && (error.reason === 'load-worker' || error.reason === 'load-timeout')) {
        const failures = this.followRetry?.file === pointer.file ? this.followRetry.failures + 1 : 1;
        const { backoffBaseMs, backoffMaxMs } = this.config;
        this.followRetry = { file: pointer.file, failures, at: this.config.now() + backoffDelay(failures, backoffBaseMs, Math.max(backoffBaseMs, backoffMaxMs)) };
        this.fail(error);
      } else {
        this.badLocalFile(pointer, error);
      }
      return false;
    }
  }

  private adopt(pointer: CurrentPointer, path: string, loaded: LoadedFile<T>): void {
    this.current = {
      value: loaded.value, file: pointer.file, path, servedName: pointer.servedName, etag: pointer.etag, sha256: pointer.sha256,
      contentHash: loaded.contentHash, formatVersion: loaded.formatVersion, source: 'hub', installedAt: pointer.installedAt,
    };
    this.freshness = pointer.freshness;
    this.badFile = null;
  }

  private badLocalFile(pointer: CurrentPointer, error: unknown): void {
    this.badFile = pointer.file;
    this.fail(new SyncError('bad-local-file', `${this.config.category}: the current file on disk cannot be used: ${asError(error).message}`, { cause: error }));
  }

  private async poll(): Promise<void> {
    const { config } = this;
    const now = config.now();
    const pointer = readPointer(config.dir, config.category);
    // Skipped while long-polling (the held request is what brings a change at once), and for this
    // process's first request when it may long-poll: the hub's answer tells whether it holds.
    const mayHold = this.longPollSeconds > 0 && (this.push.kind === 'held' || this.push.kind === 'closing' || this.st.lastAttemptAt === null);
    if (!mayHold && pointer !== null && this.current?.file === pointer.file && now - pointer.checkedAt < config.intervalMs * (1 - config.jitter)) {
      // Another process asked the hub moments ago; its answer holds for us too.
      this.st.lastResult = 'fresh';
      this.nextPollAt = pointer.checkedAt + jittered(config.intervalMs, config.jitter);
      this.attempted();
      return;
    }
    this.st.lastAttemptAt = now;
    let held: HeldLock | null;
    try {
      held = this.lock.tryAcquire();
    } catch (error) {
      // The directory itself is unusable (a file, read-only, full): back off like any failed poll.
      this.failedPoll(new SyncError('dir', `${config.category}: cannot use the sync directory ${config.dir}: ${asError(error).message}`, { cause: error }));
      this.attempted();
      return;
    }
    if (held === null) {
      // Another process is downloading: look again soon and load its file when the pointer moves.
      this.st.lastResult = 'locked';
      this.nextPollAt = now + Math.min(config.watchIntervalMs, config.intervalMs);
      return;
    }
    const hub = config.hubs!.current;
    // A held request keeps the directory lock for its whole hold: refreshed so it never looks stale.
    const keepLock = setInterval(() => held.refresh(), Math.max(1000, config.lockStaleMs / 4));
    keepLock.unref();
    try {
      await this.follow();
      removeAbandonedParts(config.dir, config.category, config.now(), config.lockStaleMs);
      const startedAt = config.now();
      const waitSeconds = this.longPollSeconds > 0 ? waitToOffer(this.push, this.longPollSeconds) : -1;
      const status = await this.request(hub, () => held.refresh(), waitSeconds);
      config.hubs!.succeeded(hub);
      recordSyncSuccess(this.st, config.now());
      // A 304 naming other bytes than ours: the file is fetched whole at once (askUnconditionally).
      this.nextPollAt = this.askUnconditionally ? config.now() : config.now() + nextAskDelay(this.push, {
        status, tookMs: config.now() - startedAt, waitSeconds: Math.max(0, waitSeconds), intervalMs: config.intervalMs, jitter: config.jitter,
      });
    } catch (error) {
      const err = error instanceof SyncError ? error : new SyncError('error', asError(error).message, { cause: error });
      if (err.reason === 'closed') return;
      if (err.reason === 'unauthorized') {
        this.st.stopped = true;
        this.st.lastResult = 'unauthorized';
        this.recordError(err);
        config.onUnauthorized(config.category, err);
      } else {
        // The next poll (after the backoff) goes to the next hub when this one is away.
        config.hubs!.failed(hub, err);
        this.failedPoll(err);
      }
    } finally {
      clearInterval(keepLock);
      held.release();
      this.attempted();
    }
  }

  /** A poll that failed: the next one waits an exponential backoff (capped at backoffMaxMs). */
  private failedPoll(error: Error): void {
    const { config } = this;
    this.st.lastResult = 'error';
    this.st.consecutiveFailures++;
    this.nextPollAt = config.now() + backoffDelay(this.st.consecutiveFailures, config.backoffBaseMs, Math.max(config.backoffBaseMs, config.backoffMaxMs));
    this.fail(error);
  }

  /** Stops this category for good (the key was refused elsewhere). */
  stop(): void {
    this.st.stopped = true;
    this.firstAttemptDone();
    clearTimeout(this.timer);
    this.schedule(this.config.watchIntervalMs); // keep following files other processes install
  }

  /**
   * One downsync request; resolves with the answer's status (200 or 304) once it is handled.
   * `waitSeconds`: the hold offered (0: a probe), -1 when not long-polling at all (no parameter sent).
   */
  private async request(hub: string, refreshLock: () => void, waitSeconds: number): Promise<number> {
    const { config } = this;
    const current = this.current?.source === 'hub' ? this.current : null;
    const asked = this.askUnconditionally ? null : current;
    const url = downsyncUrl(config, hub, asked?.servedName ?? '', waitSeconds);
    const response = await fetchDownsync(config.fetch ?? fetchOnThisThread, config, url, asked?.etag ?? null, waitSeconds, this.abort.signal);
    try {
      this.push = pushAnswerOf(response, waitSeconds);
      if (response.status === 304) {
        await response.discard();
        // "Not modified" to a request that named no file can only keep us on what we have for ever.
        if (!asked?.servedName && !asked?.etag) throw new SyncError('unasked-304', `${config.category}: the hub answered 304 to a request that named no file`);
        await this.notModified(this.statementOf(response), current);
        return 304;
      }
      await throwUnlessOk(response, config, url);
      let statement: FreshnessStatement | null;
      try {
        statement = this.statementOf(response);
        if (statement !== null) checkNotOlder(statement, this.freshnessOnDisk());
      } catch (error) {
        // Refused before the body is read: a replayed data file costs no download.
        await response.discard();
        throw error;
      }
      await this.install(response, refreshLock, statement);
      this.askUnconditionally = false;
      return 200;
    } finally {
      response.dispose();
    }
  }

  /**
   * The answer's freshness statement, checked (site, category, signature); null when it has none and
   * none is required, or when statements cannot be checked (no pinned key).
   */
  private statementOf(response: DownsyncAnswer): FreshnessStatement | null {
    const { config } = this;
    if (config.publicKey === null || this.site === null) return null;
    const statement = readStatement(response.headers, config.publicKey, { site: this.site, category: config.category });
    if (statement === null && statementRequired(config.freshness ?? 'auto', this.freshnessOnDisk())) {
      throw missingStatement(config.category, config.freshness ?? 'auto');
    }
    return statement;
  }

  /** This process's record with what any process recorded in the pointer: the age floor and `seen` are the directory's. */
  private freshnessOnDisk(): FreshnessRecord {
    const pointer = readPointer(this.config.dir, this.config.category);
    if (pointer === null) return this.freshness;
    const { seen, issuedAt } = merged(this.freshness, pointer.freshness);
    return { ...this.freshness, seen, issuedAt };
  }

  /** A 304: the file in use is current; a statement naming its bytes confirms it as of the statement's time. */
  private async notModified(statement: FreshnessStatement | null, current: Current<T> | null): Promise<void> {
    if (statement !== null) {
      if (current !== null && statement.sha256 === current.sha256) this.freshness = confirmed(this.freshness, statement);
      else this.askUnconditionally = true;
    }
    await this.checked(current);
    // Counted once the pointer is written: the poll is then done but for its bookkeeping (no await follows).
    this.st.notModified++;
    this.st.lastResult = 'not-modified';
  }

  /** Records a successful check of the current file in the pointer, so other processes skip the hub. */
  private async checked(current: Current<T> | null): Promise<void> {
    const now = this.config.now();
    this.st.lastCheckedAt = now;
    if (current === null) return;
    const pointer = readPointer(this.config.dir, this.config.category);
    if (pointer !== null && pointer.file === current.file) {
      await writePointer(this.config.dir, { ...pointer, checkedAt: now, freshness: merged(this.freshness, pointer.freshness) });
    }
  }

  private async install(response: DownsyncAnswer, refreshLock: () => void, statement: FreshnessStatement | null): Promise<void> {
    const { config } = this;
    const { pointer, path, loaded } = await installDownload(config, response, refreshLock, this.abort.signal, statement, this.freshnessOnDisk());
    const previous = this.current;
    this.current = {
      value: loaded.value, file: pointer.file, path, servedName: pointer.servedName, etag: pointer.etag, sha256: pointer.sha256,
      contentHash: loaded.contentHash, formatVersion: loaded.formatVersion, source: 'hub', installedAt: pointer.installedAt,
    };
    this.freshness = pointer.freshness;
    this.badFile = null;
    this.st.downloads++;
    this.st.lastResult = 'updated';
    this.st.lastCheckedAt = pointer.installedAt;
    config.install(loaded.value);
    removeOldFiles(config.dir, config.category, pointer.file, previous?.source === 'hub' ? previous.file : null);
  }

  private attempted(): void {
    if (this.st.lastResult !== 'locked') this.firstAttemptDone();
  }

  private recordError(error: Error): void {
    recordSyncError(this.st, error);
  }

  private fail(error: Error): void {
    this.recordError(error);
    this.config.onError(this.config.category, error);
  }
}

