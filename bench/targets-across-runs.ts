/**
 * `node --import tsx bench/targets-across-runs.ts [results.json …]`: the open issues' targets in several
 * full runs side by side (bench/targets.ts, targetsAcrossRuns), as markdown on stdout. Without
 * arguments, every full run in bench/results (not the quick or partial ones), oldest first. A run whose
 * results predate a part's current shape is left out, and stderr says so.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchResults } from './report.js';
import { targetRows, targetsAcrossRuns } from './targets.js';

const dir = fileURLToPath(new URL('./results/', import.meta.url));
// A day's second full run is <date>-2: ordered after <date>, which a plain sort would not do ('-' < '.').
const order = (name: string) => name.replace(/^(\d{4}-\d{2}-\d{2})$/, '$1-1');
const files = process.argv.length > 2 ? process.argv.slice(2)
  : readdirSync(dir).filter((f) => /^\d{4}-\d{2}-\d{2}(-\d+)?\.json$/.test(f)).map((f) => join(dir, f))
    .sort((a, b) => order(basename(a, '.json')).localeCompare(order(basename(b, '.json'))));
const runs = files.map((file) => ({ name: basename(file, '.json'), results: JSON.parse(readFileSync(file, 'utf8')) as BenchResults }))
  .filter((run) => {
    if (run.results.quick) return false;
    try {
      targetRows(run.results);
      return true;
    } catch (error) {
      process.stderr.write(`left out ${run.name}: its results predate the targets' reading (${(error as Error).message})\n`);
      return false;
    }
  });
process.stdout.write(targetsAcrossRuns(runs));
