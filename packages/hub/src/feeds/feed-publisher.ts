/**
 * Puts a built data file where downsync serves it: `<dataFilesDir>/<format>/feeds-<time>-<hash>.db`,
 * renamed in (the build ran in a folder inside dataFilesDir, so the rename stays on one file system and
 * a reader sees the whole file or none). The newest file of a folder is the one served, so clients get
 * the new version at their next poll, as with a rules change. Older feed builds are then removed,
 * keeping a few for clients still downloading one.
 */
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';

/** Feed-built files kept per format folder, the new one included. */
export const KEPT_VERSIONS = 3;
const FEED_FILE = /^feeds-[0-9TZ]+-[0-9a-f]{8}\.db$/;

export function versionFileName(builtAt: Date, hash: string): string {
  return `feeds-${builtAt.toISOString().replace(/[-:]|\.\d+/g, '')}-${hash.slice(0, 8)}.db`;
}

/** Moves `<workDir>/moat.db` and `<workDir>/wafris.db` into place under `fileName`. */
export async function publishDataFiles(workDir: string, dataFilesDir: string, fileName: string): Promise<void> {
  for (const format of ['wafris', 'moat'] as const) {
    await mkdir(join(dataFilesDir, format), { recursive: true });
    await rename(join(workDir, `${format}.db`), join(dataFilesDir, format, fileName));
    await pruneOldVersions(join(dataFilesDir, format));
  }
}

async function pruneOldVersions(folder: string): Promise<void> {
  const names = (await readdir(folder)).filter((n) => FEED_FILE.test(n));
  const dated = await Promise.all(names.map(async (name) => ({ name, mtimeMs: (await stat(join(folder, name))).mtimeMs })));
  dated.sort((a, b) => b.mtimeMs - a.mtimeMs || b.name.localeCompare(a.name));
  for (const old of dated.slice(KEPT_VERSIONS)) await rm(join(folder, old.name), { force: true });
}
