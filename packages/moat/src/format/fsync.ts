/**
 * fsync(2) for durability only: every caller renames the file into place afterwards, which is what makes
 * the write atomic. Node's permission model (`--permission`) refuses fsync outright (ERR_ACCESS_DENIED,
 * and no flag allows it): the write then goes on without it, as atomic as before and as durable as the
 * file system's own flushing. Any other failure is the caller's.
 */
import { fsyncSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';

function refused(error: unknown): boolean {
  return (error as { code?: unknown }).code === 'ERR_ACCESS_DENIED';
}

export function fsyncUnlessRefused(fd: number): void {
  try {
    fsyncSync(fd);
  } catch (error) {
    if (!refused(error)) throw error;
  }
}

export async function syncUnlessRefused(file: FileHandle): Promise<void> {
  try {
    await file.sync();
  } catch (error) {
    if (!refused(error)) throw error;
  }
}
