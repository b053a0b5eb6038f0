// What `npm start` checks before it touches anything on disk: that no other demo runs from the same
// folder (a lock file naming a live process) and that its ports are free. A second start must fail
// with a clear message and leave the running demo and its data alone.

import { existsSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

export const LOCK_FILE = 'demo.lock';

/** A reason not to start; the message says what runs and what to do. */
export class DemoConflictError extends Error {
  readonly code = 'DEMO_CONFLICT';
}

interface LockContent {
  pid: number;
  startedAt: string;
}

export interface DemoLock {
  /** Removes the lock file if it is still ours; safe to call more than once. */
  release(): void;
}

/**
 * Takes the demo folder's lock. The file is created exclusively ('wx'), so two starts racing each
 * other cannot both get it; a lock left by a process that is gone (a crash, a reboot) is taken over.
 */
export function acquireDemoLock(root: string, isAlive: (pid: number) => boolean = isDemoProcess): DemoLock {
  const file = join(root, LOCK_FILE);
  const content: LockContent = { pid: process.pid, startedAt: new Date().toISOString() };
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(file, JSON.stringify(content), { flag: 'wx', mode: 0o600 });
      let released = false;
      return {
        release() {
          if (released) return;
          released = true;
          if (readLock(file)?.pid === process.pid) unlinkSync(file);
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = readLock(file);
    if (holder && holder.pid !== process.pid && isAlive(holder.pid)) {
      throw new DemoConflictError(
        `another demo is already running from ${root} (pid ${holder.pid}, since ${holder.startedAt}); `
        + 'stop it with Ctrl-C first, or run a second one elsewhere with MOAT_DEMO_DIR and MOAT_HUB_PORT.',
      );
    }
    // Stale (or unreadable, e.g. cut short by a crash): take it over.
    try { unlinkSync(file); } catch { /* removed by a racing start; the 'wx' retry decides */ }
  }
  throw new DemoConflictError(`could not take the lock ${file}; another demo may be starting right now`);
}

function readLock(file: string): LockContent | undefined {
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as Partial<LockContent>;
    return Number.isInteger(parsed.pid) && (parsed.pid as number) > 0
      ? { pid: parsed.pid as number, startedAt: String(parsed.startedAt ?? '?') } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * True when `pid` is a live process that looks like a demo. Process ids are reused after a reboot, so
 * where /proc exists (Linux) its command line must name demo/start; elsewhere being alive is enough.
 */
export function isDemoProcess(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false; // ESRCH: no such process
  }
  const cmdline = `/proc/${pid}/cmdline`;
  if (!existsSync('/proc/self/cmdline')) return true;
  try {
    return /demo[\\/]start\.ts/.test(readFileSync(cmdline, 'utf8'));
  } catch {
    return false;
  }
}

/** Resolves when `port` can be listened on at `host`; rejects with a DemoConflictError naming the port otherwise. */
export async function assertPortFree(host: string, port: number, setting: string): Promise<void> {
  if (port === 0) return; // the system picks a free one
  await new Promise<void>((resolve, reject) => {
    const probe = createServer();
    probe.once('error', (error: NodeJS.ErrnoException) => {
      reject(error.code === 'EADDRINUSE' || error.code === 'EACCES'
        ? new DemoConflictError(`port ${port} on ${host} is in use by another program; set ${setting} to another port.`)
        : error);
    });
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve()));
  });
}
