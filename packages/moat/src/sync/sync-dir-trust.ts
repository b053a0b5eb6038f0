// The sync directory is trusted: the files in it are loaded at start without their signatures (those
// were checked when they were downloaded), and the pointer says which file is current. So nobody but
// this process's user may write to it. Moat creates it 0700 (its files 0600) and, at start, refuses
// one that another user owns or that group or others may write: anyone who can write there could
// swap in rules of their own, whatever public key is pinned.
import { accessSync, constants, mkdirSync, statSync, type Stats } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { MoatError } from '../errors/moat-error.js';

/** The sync directory's mode when Moat creates it; its files are FILE_MODE (sync-dir-files.ts). */
export const DIR_MODE = 0o700;

/**
 * Creates `dir` (mode 0700, parents with the default mode) when missing. Returns the error when it
 * cannot be created or is not a directory (sync then fails with reason `dir` and retries, as a full or
 * read-only disk does); throws MoatError MOAT_ERR_SYNC_DIR when it is a directory someone else could
 * write to, since then nothing read from it can be trusted.
 */
export function prepareSyncDir(dir: string, uid: number | null = currentUid()): Error | null {
  let stats: Stats;
  try {
    stats = statOrCreate(dir);
  } catch (error) {
    return error as Error;
  }
  if (!stats.isDirectory()) return new MoatError('MOAT_ERR_SYNC_DIR', `${dir} is not a directory`);
  const problem = untrustedBecause(stats, uid);
  if (problem !== null && !readOnlyFileSystem(dir)) {
    throw new MoatError('MOAT_ERR_SYNC_DIR', `the sync directory ${resolve(dir)} ${problem}: another user could replace the rules ` +
      'Moat loads from it. Give the app a directory of its own (Moat creates a missing one with mode 0700) or fix it with chmod 700 / chown');
  }
  return null;
}

/** Why a directory cannot be trusted, or null. Root's own directories are trusted (root can write anywhere anyway). */
export function untrustedBecause(stats: Pick<Stats, 'uid' | 'mode'>, uid: number | null): string | null {
  // No POSIX owners and modes (Windows): the platform's ACLs are the deployment's to set.
  if (uid === null) return null;
  if (stats.uid !== uid && stats.uid !== 0) return `is owned by user ${stats.uid}, not by this process's user (${uid}) or root`;
  const writable = [(stats.mode & 0o020) !== 0 ? 'group' : '', (stats.mode & 0o002) !== 0 ? 'others' : ''].filter((w) => w !== '');
  if (writable.length > 0) return `is writable by ${writable.join(' and ')} (mode ${(stats.mode & 0o7777).toString(8).padStart(4, '0')})`;
  return null;
}

/** Nobody can write to a directory on a read-only mount, whatever its owner and mode say (sync then fails with reason `dir`). */
function readOnlyFileSystem(dir: string): boolean {
  try {
    accessSync(dir, constants.W_OK);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EROFS';
  }
}

function statOrCreate(dir: string): Stats {
  try {
    return statSync(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  mkdirSync(dirname(resolve(dir)), { recursive: true });
  try {
    mkdirSync(dir, { mode: DIR_MODE });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error; // another process made it meanwhile
  }
  return statSync(dir);
}

function currentUid(): number | null {
  return typeof process.getuid === 'function' ? process.getuid() : null;
}
