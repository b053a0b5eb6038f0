/**
 * `npm run bench`: runs every benchmark part and writes bench/results/<date>.json, <date>.md and one SVG
 * per chart (<date>-<chart>.svg). Each part runs on its own: one that fails is reported and the rest run.
 *   --quick             tiny sizes in seconds, only to prove the bench works (the test suite uses it)
 *   --only a,b          run only these parts (engine, data, lookup, servers, memory, sync, bans, swap, hub, scale)
 *   --report file.json  only rewrite the markdown and charts of an earlier run (after a report change)
 *   MOAT_BENCH_OUT=dir  where the results go (default bench/results)
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, platform, release, totalmem } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { PARTS, fullReport, headlineTable, reportCharts, type BenchResults, type PartName, type PartOutcome, type PartResults } from './report.js';

const args = process.argv.slice(2);

/** Writes <stamp>.md and one <stamp>-<chart>.svg per chart into `dir`. */
function writeReport(results: BenchResults, dir: string, stamp: string): number {
  const charts = reportCharts(results);
  const chartFile = (c: { name: string }) => `${stamp}-${c.name}.svg`;
  for (const c of charts) writeFileSync(join(dir, chartFile(c)), c.svg);
  writeFileSync(join(dir, `${stamp}.md`), fullReport(results, charts, chartFile));
  return charts.length;
}

const reportAt = args.indexOf('--report');
if (reportAt >= 0) {
  const file = args[reportAt + 1];
  if (!file?.endsWith('.json')) { console.error('--report takes the path of a results .json file'); process.exit(2); }
  const count = writeReport(JSON.parse(readFileSync(file, 'utf8')) as BenchResults, dirname(file), basename(file, '.json'));
  console.log(`rewrote ${file.replace(/\.json$/, '.md')} and ${count} charts`);
  process.exit(0);
}

const quick = args.includes('--quick') || process.env.MOAT_BENCH_QUICK === '1';
const onlyAt = args.indexOf('--only');
const only = onlyAt >= 0 ? (args[onlyAt + 1] ?? '').split(',').map((s) => s.trim()).filter(Boolean) : null;
const unknown = only?.filter((p) => !(PARTS as readonly string[]).includes(p)) ?? [];
if (only !== null && (only.length === 0 || unknown.length > 0)) {
  console.error(`--only takes a comma-separated list of: ${PARTS.join(', ')}${unknown.length ? ` (unknown: ${unknown.join(', ')})` : ''}`);
  process.exit(2);
}
const outDir = process.env.MOAT_BENCH_OUT ?? join(import.meta.dirname, 'results');
const log = (s: string) => console.log(s);

const machine = {
  cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, memoryGiB: Math.round(totalmem() / 2 ** 30),
  os: `${platform()} ${release()}`, node: process.version,
};
log(`moat bench${quick ? ' (quick)' : ''} on ${machine.cpu}, ${machine.cores} cores, node ${machine.node}`);

// Each part: how to run it at full size and quickly. Imports are lazy so a part that cannot even load
// (a missing dependency, a syntax error) fails alone.
const runners: { [K in PartName]: () => Promise<PartResults[K]> } = {
  engine: async () => (await import('./engine-bench.js')).runEngineBench(quick
    ? { rangeSizes: [1000, 10_000], patternSizes: [100, 1000], fullRanges: 10_000, ops: 20_000, rounds: 3, log }
    : { rangeSizes: [1000, 100_000, 2_000_000], patternSizes: [1000, 10_000], fullRanges: 2_000_000, ops: 200_000, rounds: 7, log }),
  data: async () => (await import('./data-bench.js')).runDataBench({ quick, log }),
  lookup: async () => (await import('./lookup-bench.js')).runLookupBench({ quick, log }),
  servers: async () => {
    const mod = await import('./server-bench.js');
    return mod.runServerBench(quick ? { quick, log, rounds: 1, seconds: 0.5 } : { log });
  },
  web: async () => (await import('./web-bench.js')).runWebBench({ quick, log }),
  attacks: async () => (await import('./attacks-bench.js')).runAttacksBench({ quick, log }),
  attacksZen: async () => (await import('./attacks-zen.js')).runAttacksZen({ quick, log }),
  bots: async () => (await import('./bots-bench.js')).runBotsBench({ quick, log }),
  memory: async () => (await import('./memory-bench.js')).runMemoryBench({ quick, log }),
  sync: async () => (await import('./sync-bench.js')).runSyncBench({ quick, log }),
  bans: async () => (await import('./ban-latency-bench.js')).runBanLatencyBench({ quick, log }),
  swap: async () => (await import('./swap-bench.js')).runSwapBench({ quick, log }),
  hub: async () => {
    const mod = await import('./hub-bench.js');
    return mod.runHubBench(quick ? { quick, log, storedRecords: 20_000 } : { log, storedRecords: 10_000_000 });
  },
  scale: async () => (await import('./scale-bench.js')).runScaleBench({ quick, log }),
};

const started = performance.now();
const parts = {} as { [K in PartName]: PartOutcome<K> };
async function runPart<K extends PartName>(name: K): Promise<void> {
  if (only !== null && !only.includes(name)) {
    (parts as Record<PartName, PartOutcome<PartName>>)[name] = { status: 'not run', reason: 'not in --only' };
    return;
  }
  log(`${name}:`);
  const t0 = performance.now();
  try {
    const result = await runners[name]();
    (parts as Record<PartName, PartOutcome<PartName>>)[name] = { status: 'ok', seconds: (performance.now() - t0) / 1000, result } as PartOutcome<PartName>;
  } catch (e) {
    // fetch() hides what failed in `cause` (a reset socket, a refused connection): say it.
    const cause = e instanceof Error && e.cause !== undefined ? ` (cause: ${e.cause instanceof Error ? e.cause.message : String(e.cause)})` : '';
    const error = e instanceof Error ? `${e.message}${cause}${e.stack ? `\n${e.stack.split('\n').slice(1, 4).join('\n')}` : ''}` : String(e);
    (parts as Record<PartName, PartOutcome<PartName>>)[name] = { status: 'failed', seconds: (performance.now() - t0) / 1000, error };
    log(`  ${name} FAILED: ${error}`);
  }
}
for (const name of PARTS) await runPart(name);

const now = new Date();
const results: BenchResults = {
  date: now.toISOString(), quick, machine,
  rerun: `npm run bench${quick ? ' -- --quick' : ''}${only ? ` -- --only ${only.join(',')}` : ''}`,
  totalSeconds: (performance.now() - started) / 1000, parts,
};
mkdirSync(outDir, { recursive: true });
// A partial run never overwrites the full report of the day.
const stamp = `${now.toISOString().slice(0, 10)}${quick ? '-quick' : ''}${only ? `-only-${only.join('-')}` : ''}`;
const base = join(outDir, stamp);
writeFileSync(`${base}.json`, `${JSON.stringify(results, null, 2)}\n`);
const chartCount = writeReport(results, outDir, stamp);
log('');
log(headlineTable(results));
const failed = PARTS.filter((k) => parts[k].status === 'failed');
log(`wrote ${base}.json, ${base}.md and ${chartCount} charts in ${(results.totalSeconds / 60).toFixed(1)} min${failed.length ? `; FAILED parts: ${failed.join(', ')}` : ''}`);
// The report is written either way; a failed part still makes the command fail so CI notices.
process.exitCode = failed.length ? 1 : 0;
