// A hub must always serve a data_subscriptions file: the Wafris gem applies no rule at all until it
// holds both files. When the data-files folder has none, the first start builds one from the CC0
// country ranges the hub depends on (@ip-location-db/geo-whois-asn-country), in both layouts.
// The build runs in a child process (`moat-waf data build`), so the hub's event loop never waits on it.

import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rename, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import type { RulesFormat } from '../store/store.js';

const run = promisify(execFile);
const FORMATS: readonly RulesFormat[] = ['moat', 'wafris'];
const DATA_FILE = /^[A-Za-z0-9][A-Za-z0-9_.-]*\.db$/;

export type DefaultDataOutcome =
  | { kind: 'present' }
  | { kind: 'built'; fileName: string; ranges: number; seconds: number }
  | { kind: 'failed'; message: string };

/** The `moat-waf` command of the installed moat-waf package. */
function moatCommand(): string {
  const entry = createRequire(import.meta.url).resolve('moat-waf');
  return join(dirname(entry), '..', 'bin', 'moat.js');
}

async function hasDataFile(folder: string): Promise<boolean> {
  const names = await readdir(folder).catch(() => [] as string[]);
  return names.some((name) => DATA_FILE.test(name));
}

/**
 * Builds `<dir>/moat/<name>` and `<dir>/wafris/<name>` from the bundled country ranges when either
 * folder holds no data file. Files are built in a temporary folder and renamed in, so a reader never
 * sees half a file and a failed build leaves nothing behind. Never throws: the outcome says what happened.
 */
export async function ensureDefaultDataFiles(dir: string, now: () => number = Date.now): Promise<DefaultDataOutcome> {
  const missing = [];
  for (const format of FORMATS) if (!(await hasDataFile(join(dir, format)))) missing.push(format);
  if (missing.length === 0) return { kind: 'present' };

  await mkdir(dir, { recursive: true });
  const work = await mkdtemp(join(dir, '.building-'));
  const fileName = `data-cc0-${new Date(now()).toISOString().slice(0, 10)}.db`;
  try {
    const { stdout } = await run(process.execPath, [
      moatCommand(), 'data', 'build', '--country', 'default',
      '--wafris', join(work, 'wafris.db'), '--json', '-o', join(work, 'moat.db'),
    ], { maxBuffer: 1024 * 1024 });
    const built = JSON.parse(stdout) as { ranges: number; seconds: number };
    for (const format of missing) {
      await mkdir(join(dir, format), { recursive: true });
      await rename(join(work, `${format}.db`), join(dir, format, fileName));
    }
    return { kind: 'built', fileName, ranges: built.ranges, seconds: built.seconds };
  } catch (error) {
    const detail = (error as { stderr?: string }).stderr?.trim() || (error as Error).message;
    return { kind: 'failed', message: detail.split('\n').slice(-3).join(' ') };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
