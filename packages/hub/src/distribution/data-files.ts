import { createHash } from 'node:crypto';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { RulesFormat } from '../store/store.js';

export interface DataFile {
  path: string;
  fileName: string;
  etag: string;
}

/**
 * The data_subscriptions file to serve: the newest `*.db` in `<dir>/<format>/`. Data files are built
 * elsewhere and dropped there (write, then rename into the folder); they are large, so the ETag comes
 * from name, size and modification time rather than from hashing the content on each request.
 */
export async function findDataFile(dir: string | undefined, format: RulesFormat): Promise<DataFile | undefined> {
  if (!dir) return undefined;
  const folder = join(dir, format);
  let newest: { name: string; mtimeMs: number; size: number } | undefined;
  let names: string[];
  try {
    names = await readdir(folder);
  } catch {
    return undefined;
  }
  for (const name of names) {
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*\.db$/.test(name)) continue;
    const found = await stat(join(folder, name)).catch(() => undefined);
    if (!found?.isFile()) continue;
    if (!newest || found.mtimeMs > newest.mtimeMs) newest = { name, mtimeMs: found.mtimeMs, size: found.size };
  }
  if (!newest) return undefined;
  const etag = createHash('sha256').update(`${newest.name}|${newest.size}|${newest.mtimeMs}`).digest('hex').slice(0, 32);
  return { path: join(folder, newest.name), fileName: newest.name, etag };
}
