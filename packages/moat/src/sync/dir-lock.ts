// One download per directory and category at a time, across every process on the host (cluster, PM2).
// The lock is a file created with O_EXCL holding the holder's PID, start-time token and host. It cannot
// go stale: a lock whose holder is dead (or a zombie, or whose PID now belongs to another process) is
// broken at once, and one whose holder stopped refreshing it for `staleMs` is broken too (hung holder,
// shared network directory, PID namespaces).
import { closeSync, linkSync, openSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { processAlive, processStartToken } from './process-alive.js';
import { FILE_MODE } from './sync-dir-files.js';

interface LockContent {
  pid: number;
  token: string | null;
  host: string;
  id: string;
}

export interface HeldLock {
  /** Marks the lock as alive (call during long downloads). */
  refresh(): void;
  release(): void;
}

export interface DirLockOptions {
  staleMs: number;
  now?: () => number;
}

const HOST = hostname();

export class DirLock {
  readonly path: string;
  private readonly staleMs: number;
  private readonly now: () => number;

  constructor(dir: string, name: string, options: DirLockOptions) {
    this.path = join(dir, `.${name}.lock`);
    this.staleMs = options.staleMs;
    this.now = options.now ?? Date.now;
  }

  /** Takes the lock, breaking it first if its holder is gone; null when a live process holds it. */
  tryAcquire(): HeldLock | null {
    const mine: LockContent = { pid: process.pid, token: processStartToken(process.pid), host: HOST, id: randomBytes(8).toString('hex') };
    for (let attempt = 0; attempt < 2; attempt++) {
      if (this.create(mine)) return this.held(mine);
      if (!this.breakIfStale()) return null;
    }
    return null;
  }

  /**
   * Creates the lock with its content in one step (write a temp file, hard-link it): never an empty
   * lock. The temp file is removed on every path, failures included: on a full disk the create may
   * succeed and the write fail, and each retry must not leave one more file behind.
   */
  private create(content: LockContent): boolean {
    const tmp = `${this.path}.${process.pid}.${content.id}.tmp`;
    try {
      const fd = openSync(tmp, 'wx', FILE_MODE);
      try {
        writeSync(fd, JSON.stringify(content));
      } finally {
        closeSync(fd);
      }
      linkSync(tmp, this.path);
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw error;
    } finally {
      removeQuietly(tmp);
    }
  }

  /** Breaks the lock when its holder is gone; true when the caller may try again. */
  private breakIfStale(): boolean {
    let text: string;
    let mtimeMs: number;
    try {
      text = readFileSync(this.path, 'utf8');
      mtimeMs = statSync(this.path).mtimeMs;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return true; // released meanwhile
      throw error;
    }
    const holder = parseLock(text);
    const old = this.now() - mtimeMs > this.staleMs;
    // An unreadable lock (not written by Moat) is broken only once old.
    const dead = holder !== null && holder.host === HOST && !processAlive(holder.pid, holder.token);
    if (!dead && !old) return false;
    // Move it aside (atomic: of several breakers only one succeeds), then check that what was moved
    // is the stale lock that was judged and not a fresh one taken in between.
    const aside = `${this.path}.${process.pid}.${randomBytes(4).toString('hex')}.broken`;
    try {
      renameSync(this.path, aside);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return true;
      throw error;
    }
    try {
      if (readFileSync(aside, 'utf8') !== text) {
        try {
          linkSync(aside, this.path); // put the fresh lock back (fails if yet another was taken: fine)
        } catch {
          // Someone holds a newer lock; ours is not needed.
        }
        return false;
      }
      return true;
    } finally {
      removeQuietly(aside);
    }
  }

  private held(content: LockContent): HeldLock {
    let released = false;
    return {
      refresh: () => {
        if (released) return;
        try {
          const t = new Date(this.now());
          utimesSync(this.path, t, t);
        } catch {
          // Broken by someone who judged us stale; the download goes on, the rename stays atomic.
        }
      },
      release: () => {
        if (released) return;
        released = true;
        try {
          // Remove only our own lock, never one someone took after breaking ours.
          if (parseLock(readFileSync(this.path, 'utf8'))?.id === content.id) rmSync(this.path, { force: true });
        } catch {
          // Already gone.
        }
      },
    };
  }
}

/** Removes a file of ours; a directory that cannot even be listed has nothing to remove. */
function removeQuietly(path: string): void {
  try {
    rmSync(path, { force: true });
  } catch {
    // ENOTDIR, EACCES: the create failed for the same reason, so nothing was left.
  }
}

function parseLock(text: string): LockContent | null {
  try {
    const value = JSON.parse(text) as Partial<LockContent>;
    if (typeof value.pid !== 'number' || typeof value.id !== 'string') return null;
    return { pid: value.pid, token: typeof value.token === 'string' ? value.token : null, host: String(value.host ?? ''), id: value.id };
  } catch {
    return null;
  }
}
