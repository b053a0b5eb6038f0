// The files a category's sync keeps in its directory: `<category>-<sha>.db` installed files and
// `.<category>.<pid>.<random>.part` downloads in progress. Naming, durable renames and housekeeping.
import { readdirSync, rmSync, statSync } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { processAlive } from './process-alive.js';
import { INLINE_VERIFY_MAX_BYTES } from './verify-download.js';

/** Mode of every file sync writes (downloads, pointers, locks): the directory is the app's alone (sync-dir-trust.ts). */
export const FILE_MODE = 0o600;

/** The two files a site downloads, by their Wafris v2 names. */
export type SyncCategory = 'custom_rules' | 'data_subscriptions';

/** Where this process downloads a new file before it is checked and renamed into place. */
export function partFilePath(dir: string, category: SyncCategory): string {
  return join(dir, `.${category}.${process.pid}.${randomBytes(4).toString('hex')}.part`);
}

/** The name an installed file gets: its category and the start of its SHA-256. */
export function installedFileName(category: SyncCategory, sha256: string): string {
  return `${category}-${sha256.slice(0, 16)}.db`;
}

/** Partial downloads of processes that died (killed mid-download); ours are removed as they fail. */
export function removeAbandonedParts(dir: string, category: SyncCategory, now: number, staleMs: number): void {
  const prefix = `.${category}.`;
  for (const name of safeReaddir(dir)) {
    if (!name.startsWith(prefix) || !name.endsWith('.part')) continue;
    const pid = Number(name.slice(prefix.length).split('.')[0]);
    const path = join(dir, name);
    if (pid === process.pid) continue;
    if (!processAlive(pid, null) || ageMs(path, now) > staleMs) rmSync(path, { force: true });
  }
}

/**
 * Keeps the current file and the one before (a process may still be loading it); removes older ones.
 * Big ones in the background: unlinking hundreds of MB frees many blocks, which takes a while.
 */
export function removeOldFiles(dir: string, category: SyncCategory, keep: string, previous: string | null): void {
  const prefix = `${category}-`;
  for (const name of safeReaddir(dir)) {
    if (name.startsWith(prefix) && name.endsWith('.db') && name !== keep && name !== previous) {
      const path = join(dir, name);
      if (fileSize(path) <= INLINE_VERIFY_MAX_BYTES) rmSync(path, { force: true });
      else rm(path, { force: true }).catch(() => {}); // left behind: the next install tries again
    }
  }
}

export function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0; // gone: the loader says so
  }
}

/** Makes the rename durable (a crash right after must not bring the old directory entry back); through the thread pool. */
export async function fsyncDir(dir: string): Promise<void> {
  try {
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // Not supported on every platform; the rename itself is still atomic.
  }
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function ageMs(path: string, now: number): number {
  try {
    return now - statSync(path).mtimeMs;
  } catch {
    return 0;
  }
}
