// Keeps one category's file (custom_rules or data_subscriptions) current in one process: loads the
// last good file at start, polls the hub on a jittered interval, downloads under the directory lock,
// verifies, renames into place, points `current-<category>.json` at it, and installs it. Processes that
// did not download notice the pointer change and load the same file.
import { fsyncSync, openSync, closeSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes, type KeyObject } from 'node:crypto';
import { backoffDelay, jittered } from './backoff.js';
import type { ClientInfo } from './client-info.js';
import { readPointer, writePointer, type CurrentPointer } from './current-pointer.js';
import { DirLock, type HeldLock } from './dir-lock.js';
import { downloadBody } from './download-body.js';
import type { DownloadLimits } from './download-limits.js';
import type { HubFailover } from './hub-failover.js';
import { redact, timedFetch } from './http-fetch.js';
import { processAlive } from './process-alive.js';
import { servedFileName } from './served-file-name.js';
import type { SyncCategory } from './sync-category.js';
import { asError, SyncError } from './sync-error.js';
import { INLINE_VERIFY_MAX_BYTES, verifyDownload } from './verify-download.js';
import { LONG_POLL_HEADER, nextAskDelay, NO_PUSH, readPushAnswer, waitToOffer, type PushAnswer } from './long-poll.js';

/** What a loader returns: the usable value plus what status() shows of the file. */
export interface LoadedFile<T> {
  value: T;
  contentHash: string;
  formatVersion: number;
}

export interface CategorySyncConfig<T> extends DownloadLimits {
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
  /** How often the pointer is re-read for files other processes installed. */
  watchIntervalMs: number;
  lockStaleMs: number;
  publicKey: KeyObject | null;
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

export interface CategorySyncStatus {
  file: CategoryFileStatus | null;
  polling: boolean;
  stopped: boolean;
  lastAttemptAt: number | null;
  lastResult: SyncResult | null;
  lastError: string | null;
  lastErrorReason: string | null;
  lastSuccessAt: number | null;
  lastCheckedAt: number | null;
  consecutiveFailures: number;
  nextPollAt: number | null;
  downloads: number;
  notModified: number;
  followed: number;
  errors: number;
  /** Long-poll state from the hub's last answer; 'off' when this category does not long-poll. */
  push: PushAnswer['kind'] | 'off';
}

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
  private readonly st = {
    stopped: false, lastAttemptAt: null as number | null, lastResult: null as SyncResult | null,
    lastError: null as string | null, lastErrorReason: null as string | null, lastSuccessAt: null as number | null,
    lastCheckedAt: null as number | null, consecutiveFailures: 0, downloads: 0, notModified: 0, followed: 0, errors: 0,
  };

  constructor(private readonly config: CategorySyncConfig<T>) {
    this.lock = new DirLock(config.dir, config.category, { staleMs: config.lockStaleMs, now: config.now });
    this.firstAttempt = new Promise((resolve) => { this.firstAttemptDone = resolve; });
    if (!this.polling) this.firstAttemptDone();
  }

  private get offThreadMinBytes(): number {
    return this.config.offThreadMinBytes ?? INLINE_VERIFY_MAX_BYTES + 1;
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
    };
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
      return;
    }
    if (pointer.file === this.badFile) return;
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
      const loaded = offThread !== undefined && fileSize(path) >= this.offThreadMinBytes
        ? await offThread(path, null, this.abort.signal)
        : this.config.load(path);
      // Installed even when closing meanwhile: the engine slot closes what it holds.
      this.adopt(pointer, path, loaded);
      return true;
    } catch (error) {
      if (this.closed) return false;
      // A worker that died (out of memory, killed) says nothing about the file: tried again next time.
      if (error instanceof SyncError && error.reason === 'load-worker') this.fail(error);
      else this.badLocalFile(pointer, error);
      return false;
    }
  }

  private adopt(pointer: CurrentPointer, path: string, loaded: LoadedFile<T>): void {
    this.current = {
      value: loaded.value, file: pointer.file, path, servedName: pointer.servedName, etag: pointer.etag, sha256: pointer.sha256,
      contentHash: loaded.contentHash, formatVersion: loaded.formatVersion, source: 'hub', installedAt: pointer.installedAt,
    };
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
      this.removeAbandonedParts();
      const startedAt = config.now();
      const waitSeconds = this.longPollSeconds > 0 ? waitToOffer(this.push, this.longPollSeconds) : -1;
      const status = await this.request(hub, () => held.refresh(), waitSeconds);
      config.hubs!.succeeded(hub);
      this.st.consecutiveFailures = 0;
      this.st.lastError = null;
      this.st.lastErrorReason = null;
      this.st.lastSuccessAt = config.now();
      this.nextPollAt = config.now() + nextAskDelay(this.push, {
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
    const url = this.url(hub, current?.servedName ?? '', waitSeconds);
    const holdMs = Math.max(0, waitSeconds) * 1000;
    const headers: Record<string, string> = { 'user-agent': `moat/${config.client.version}`, accept: 'application/octet-stream' };
    if (current?.etag) headers['if-none-match'] = current.etag;
    const timed = await timedFetch(url, {
      // The hold is silence by design: the wait for the headers may last it plus the usual allowance.
      headers, idleTimeoutMs: config.requestTimeoutMs + holdMs, totalTimeoutMs: config.downloadTimeoutMs + holdMs,
      maxRedirects: config.maxRedirects, signal: this.abort.signal,
    });
    try {
      const { response } = timed;
      this.push = waitSeconds >= 0 && (response.status === 200 || response.status === 304)
        ? readPushAnswer(response.headers.get(LONG_POLL_HEADER)) : NO_PUSH;
      if (response.status === 304) {
        await response.body?.cancel().catch(() => {});
        this.st.notModified++;
        this.st.lastResult = 'not-modified';
        this.checked(current);
        return 304;
      }
      if (response.status === 401 || response.status === 403) {
        await response.body?.cancel().catch(() => {});
        throw new SyncError('unauthorized', `the hub refused the API key for ${config.category} (${response.status} from ${redact(url)}); ` +
          'downsync stopped: check WAFRIS_API_KEY / apiKey');
      }
      if (response.status !== 200) {
        const text = await response.text().catch(() => '');
        throw new SyncError(`http-${response.status}`, `${config.category}: the hub answered ${response.status}${text ? `: ${text.slice(0, 200)}` : ''}`);
      }
      await this.install(timed, refreshLock);
      return 200;
    } finally {
      timed.dispose();
    }
  }

  private url(hub: string, clientDb: string, waitSeconds: number): string {
    const { config } = this;
    const c = config.client;
    const query = new URLSearchParams({
      client: c.client, client_db: clientDb, framework: c.framework, hostname: c.hostname, process_id: c.processId, version: c.version,
    });
    if (waitSeconds >= 0) query.set('wait', String(waitSeconds));
    return `${hub.replace(/\/+$/, '')}/${config.category}/${encodeURIComponent(config.apiKey!)}?${query}`;
  }

  /** Records a successful check of the current file in the pointer, so other processes skip the hub. */
  private checked(current: Current<T> | null): void {
    const now = this.config.now();
    this.st.lastCheckedAt = now;
    if (current === null) return;
    const pointer = readPointer(this.config.dir, this.config.category);
    if (pointer !== null && pointer.file === current.file) writePointer(this.config.dir, { ...pointer, checkedAt: now });
  }

  private async install(timed: Awaited<ReturnType<typeof timedFetch>>, refreshLock: () => void): Promise<void> {
    const { config } = this;
    const response = timed.response;
    const servedName = servedFileName(response.headers.get('content-disposition'));
    const etag = response.headers.get('etag');
    const signature = response.headers.get('x-moat-signature');
    const tmp = join(config.dir, `.${config.category}.${process.pid}.${randomBytes(4).toString('hex')}.part`);
    let lastRefresh = 0;
    try {
      const body = await downloadBody(timed, tmp, config.maxDownloadBytes, () => {
        const now = Date.now();
        if (now - lastRefresh > config.lockStaleMs / 4) {
          lastRefresh = now;
          refreshLock();
        }
      });
      // Hashing happened as the bytes arrived; the whole-file checks and the load of a big file run in a worker.
      const loaded = await this.verifyAndLoad(tmp, body.size, signature);
      const file = `${config.category}-${body.sha256.slice(0, 16)}.db`;
      const path = join(config.dir, file);
      renameSync(tmp, path);
      fsyncDir(config.dir);
      const now = config.now();
      const pointer: CurrentPointer = {
        category: config.category, file, servedName, etag, sha256: body.sha256, size: body.size,
        contentHash: loaded.contentHash, formatVersion: loaded.formatVersion, installedAt: now, checkedAt: now,
      };
      writePointer(config.dir, pointer);
      const previous = this.current;
      this.current = {
        value: loaded.value, file, path, servedName, etag, sha256: body.sha256, contentHash: loaded.contentHash,
        formatVersion: loaded.formatVersion, source: 'hub', installedAt: now,
      };
      this.badFile = null;
      this.st.downloads++;
      this.st.lastResult = 'updated';
      this.st.lastCheckedAt = now;
      config.install(loaded.value);
      this.removeOldFiles(file, previous?.source === 'hub' ? previous.file : null);
    } catch (error) {
      rmSync(tmp, { force: true });
      throw error;
    }
  }

  /** A downloaded file checked and loaded; nothing is installed yet. */
  private async verifyAndLoad(path: string, size: number, signature: string | null): Promise<LoadedFile<T>> {
    const { config } = this;
    const offThread = config.loadOffThread;
    try {
      if (offThread !== undefined && size >= this.offThreadMinBytes) return await offThread(path, { publicKey: config.publicKey, signature }, this.abort.signal);
      await verifyDownload(path, size, config.publicKey, signature, this.abort.signal);
      return config.load(path);
    } catch (error) {
      if (error instanceof SyncError) throw error;
      throw new SyncError('rejected', `${config.category}: the downloaded file was rejected: ${asError(error).message}`, { cause: error });
    }
  }

  /** Partial downloads of processes that died (killed mid-download); ours are removed as they fail. */
  private removeAbandonedParts(): void {
    const prefix = `.${this.config.category}.`;
    for (const name of safeReaddir(this.config.dir)) {
      if (!name.startsWith(prefix) || !name.endsWith('.part')) continue;
      const pid = Number(name.slice(prefix.length).split('.')[0]);
      const path = join(this.config.dir, name);
      if (pid === process.pid) continue;
      if (!processAlive(pid, null) || ageMs(path, this.config.now()) > this.config.lockStaleMs) rmSync(path, { force: true });
    }
  }

  /**
   * Keeps the current file and the one before (a process may still be loading it); removes older ones.
   * Big ones in the background: unlinking hundreds of MB frees many blocks, which takes a while.
   */
  private removeOldFiles(keep: string, previous: string | null): void {
    const prefix = `${this.config.category}-`;
    for (const name of safeReaddir(this.config.dir)) {
      if (name.startsWith(prefix) && name.endsWith('.db') && name !== keep && name !== previous) {
        const path = join(this.config.dir, name);
        if (fileSize(path) <= INLINE_VERIFY_MAX_BYTES) rmSync(path, { force: true });
        else rm(path, { force: true }).catch(() => {}); // left behind: the next install tries again
      }
    }
  }

  private attempted(): void {
    if (this.st.lastResult !== 'locked') this.firstAttemptDone();
  }

  private recordError(error: Error): void {
    this.st.errors++;
    this.st.lastError = error.message;
    this.st.lastErrorReason = error instanceof SyncError ? error.reason : 'error';
  }

  private fail(error: Error): void {
    this.recordError(error);
    this.config.onError(this.config.category, error);
  }
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0; // gone: the loader says so
  }
}

function ageMs(path: string, now: number): number {
  try {
    return now - statSync(path).mtimeMs;
  } catch {
    return 0;
  }
}

/** Makes the rename durable (a crash right after must not bring the old directory entry back). */
function fsyncDir(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // Not supported on every platform; the rename itself is still atomic.
  }
}
