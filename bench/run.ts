/**
 * `npm run bench`: runs the benchmarks and writes bench/results/<date>.json and .md.
 * `--quick` (used by the test suite) runs tiny sizes in seconds, only to prove the bench works.
 */
import { writeFileSync, mkdirSync } from 'node:fs';
import { cpus, totalmem, platform, release } from 'node:os';
import { join } from 'node:path';
import { runEngineBench } from './engine-bench.js';
import { engineReport } from './report.js';

const quick = process.argv.includes('--quick') || process.env.MOAT_BENCH_QUICK === '1';
const outDir = process.env.MOAT_BENCH_OUT ?? join(import.meta.dirname, 'results');
const log = (s: string) => console.log(s);

const machine = {
  cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, memoryGiB: Math.round(totalmem() / 2 ** 30),
  os: `${platform()} ${release()}`, node: process.version,
};
log(`moat bench${quick ? ' (quick)' : ''} on ${machine.cpu}, ${machine.cores} cores, node ${machine.node}`);

log('engine:');
const engine = await runEngineBench(quick
  ? { rangeSizes: [1000, 10_000], patternSizes: [100, 1000], fullRanges: 10_000, ops: 20_000, rounds: 3, log }
  : { rangeSizes: [1000, 100_000, 2_000_000], patternSizes: [1000, 10_000], fullRanges: 2_000_000, ops: 200_000, rounds: 7, log });

const date = new Date().toISOString().slice(0, 10);
const results = { date: new Date().toISOString(), quick, machine, engine };
mkdirSync(outDir, { recursive: true });
const base = join(outDir, quick ? `${date}-quick` : date);
writeFileSync(`${base}.json`, JSON.stringify(results, null, 2));
const md = engineReport(results);
writeFileSync(`${base}.md`, md);
log(md);
log(`wrote ${base}.json and ${base}.md`);
