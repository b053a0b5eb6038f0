// `current-<category>.json` in the sync directory: which verified file is current, and when the hub
// was last asked. Written atomically (temp + rename) by the process holding the download lock; every
// other process polls it, loads the new file and skips the hub while the last check is fresh.
import { readFileSync } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { syncUnlessRefused } from '../format/fsync.js';
import { freshnessFrom, type FreshnessRecord } from './freshness.js';
import { FILE_MODE, type SyncCategory } from './sync-dir-files.js';

export interface CurrentPointer {
  category: SyncCategory;
  /** File name inside the directory. */
  file: string;
  /** The name the hub gave it (sent back as `client_db`), or null for a file not from the hub. */
  servedName: string | null;
  etag: string | null;
  /** sha256 of the file bytes. */
  sha256: string;
  size: number;
  /** Content hash from the file's meta table ('' when the format has none). */
  contentHash: string;
  formatVersion: number;
  /** Epoch ms: when this file was installed, and when the hub last confirmed it (200 or 304). */
  installedAt: number;
  checkedAt: number;
  /** The hub's signed freshness statements about this category (freshness.ts); kept here so a restart keeps them. */
  freshness: FreshnessRecord;
}

export function pointerPath(dir: string, category: SyncCategory): string {
  return join(dir, `current-${category}.json`);
}

/** The pointer, or null when missing or unreadable (a torn write cannot happen: it is renamed into place). */
export function readPointer(dir: string, category: SyncCategory): CurrentPointer | null {
  let text: string;
  try {
    text = readFileSync(pointerPath(dir, category), 'utf8');
  } catch {
    return null;
  }
  try {
    const p = JSON.parse(text) as Partial<CurrentPointer>;
    if (p.category !== category || typeof p.file !== 'string' || !/^[\w.\-]+$/.test(p.file)) return null;
    return {
      category,
      file: p.file,
      servedName: typeof p.servedName === 'string' ? p.servedName : null,
      etag: typeof p.etag === 'string' ? p.etag : null,
      sha256: String(p.sha256 ?? ''),
      size: Number(p.size ?? 0),
      contentHash: String(p.contentHash ?? ''),
      formatVersion: Number(p.formatVersion ?? 0),
      installedAt: Number(p.installedAt ?? 0),
      checkedAt: Number(p.checkedAt ?? 0),
      freshness: freshnessFrom(p.freshness),
    };
  } catch {
    return null;
  }
}

/**
 * Written through the thread pool: its fsync took tens of ms of the serving thread on a busy disk, once
 * per 304 (bench/swap-bench.ts profiled it). The caller holds the download lock and awaits it, so no
 * other write of this process or another can land in between.
 */
export async function writePointer(dir: string, pointer: CurrentPointer): Promise<void> {
  const target = pointerPath(dir, pointer.category);
  const tmp = `${target}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    const file = await open(tmp, 'wx', FILE_MODE);
    try {
      await file.writeFile(JSON.stringify(pointer, null, 1));
      await syncUnlessRefused(file);
    } finally {
      await file.close();
    }
    await rename(tmp, target);
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
}
