/**
 * Memory benchmark (issue 7 §4): private and shared memory per worker when 1, 4 and 8 worker processes
 * (forked, as node:cluster forks them) each open the same data file, in both Moat modes: `memory` (typed
 * arrays copied into each worker) and `light` (one read-only mmapped SQLite file, its pages shared by the
 * kernel). The baseline is a worker that loads the same code but no data, measured in the same run.
 * Figures come from /proc/<pid>/smaps_rollup after each worker has done a burst of lookups.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { median } from './lib/measure.js';
import { buildSyntheticInChild } from './lib/synthetic-data-file.js';

export type MemoryMode = 'none' | 'memory' | 'light';

export interface MemoryBenchOptions {
  quick?: boolean;
  /** Ranges in the data file (default 2,500,000: 2.0 M IPv4 + 0.5 M IPv6; quick 20,000). */
  ranges?: number;
  workerCounts?: number[];
  /** Lookups each worker does before it is measured (default 200,000). */
  lookups?: number;
  /** Modes to measure besides the no-data baseline (default both; `--light` on the command line: light only). */
  modes?: ('memory' | 'light')[];
  log?: (s: string) => void;
}

/** KiB figures from smaps_rollup, per worker. */
export interface Smaps {
  rss: number;
  pss: number;
  private: number;
  shared: number;
}

export interface MemoryRow {
  mode: MemoryMode;
  workers: number;
  /** Median over the workers of the group, KiB. */
  perWorker: Smaps;
  /** Private KiB above the no-data baseline with the same number of workers. */
  privateOverBaseline?: number;
  /** Sum of Pss over the group, KiB: what the group really costs the machine. */
  totalPss: number;
  /** Lowest and highest private KiB among the group's workers. */
  privateSpread: [number, number];
}

export interface MemoryBenchResult {
  ranges: number;
  fileBytes: number;
  lookupsPerWorker: number;
  rows: MemoryRow[];
}

export function parseSmapsRollup(text: string): Smaps {
  const kib = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? Number.NaN);
  return {
    rss: kib('Rss'), pss: kib('Pss'),
    private: kib('Private_Clean') + kib('Private_Dirty'),
    shared: kib('Shared_Clean') + kib('Shared_Dirty'),
  };
}

const self = fileURLToPath(import.meta.url);

function startWorker(mode: MemoryMode, path: string, lookups: number): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = fork(self, ['--memory-worker', mode, path, String(lookups)], { execArgv: ['--import', 'tsx', '--expose-gc'], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    const timer = setTimeout(() => { child.kill(); reject(new Error(`${mode} worker did not start within 120 s`)); }, 120_000);
    child.once('message', () => { clearTimeout(timer); resolve(child); });
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`${mode} worker exited with ${code}`)); });
  });
}

async function measureGroup(mode: MemoryMode, workers: number, path: string, lookups: number): Promise<{ perWorker: Smaps; totalPss: number; privateSpread: [number, number] }> {
  const children: ChildProcess[] = [];
  try {
    // Started one after another, as a cluster master does; all alive together when measured.
    for (let i = 0; i < workers; i++) children.push(await startWorker(mode, path, lookups));
    const all = children.map((c) => parseSmapsRollup(readFileSync(`/proc/${c.pid}/smaps_rollup`, 'utf8')));
    const med = (k: keyof Smaps) => median(all.map((s) => s[k]));
    return { perWorker: { rss: med('rss'), pss: med('pss'), private: med('private'), shared: med('shared') }, totalPss: all.reduce((a, s) => a + s.pss, 0),
      privateSpread: [Math.min(...all.map((s) => s.private)), Math.max(...all.map((s) => s.private))] };
  } finally {
    for (const c of children) c.kill();
  }
}

export async function runMemoryBench(o: MemoryBenchOptions = {}): Promise<MemoryBenchResult> {
  const quick = o.quick === true;
  const n = o.ranges ?? (quick ? 20_000 : 2_500_000);
  const counts = o.workerCounts ?? (quick ? [1, 2] : [1, 4, 8]);
  const lookups = o.lookups ?? (quick ? 20_000 : 200_000);
  const log = o.log ?? (() => {});
  const dir = mkdtempSync(join(tmpdir(), 'moat-memory-bench-'));
  try {
    const built = await buildSyntheticInChild(join(dir, 'data.db'), { n, seed: 25 });
    log(`  built ${n.toLocaleString('en-US')} ranges (${(built.bytes / 2 ** 20).toFixed(0)} MiB) in ${built.seconds.toFixed(1)} s`);
    const rows: MemoryRow[] = [];
    for (const workers of counts) {
      let baseline = 0;
      for (const mode of ['none', ...(o.modes ?? ['memory', 'light'])] as const) {
        const g = await measureGroup(mode, workers, built.path, lookups);
        if (mode === 'none') baseline = g.perWorker.private;
        rows.push({ mode, workers, ...g, privateOverBaseline: mode === 'none' ? undefined : g.perWorker.private - baseline });
        log(`  ${workers} × ${mode}: private ${(g.perWorker.private / 1024).toFixed(1)} MiB, shared ${(g.perWorker.shared / 1024).toFixed(1)} MiB per worker`);
      }
    }
    return { ranges: n, fileBytes: built.bytes, lookupsPerWorker: lookups, rows };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A worker: open the file in its mode, look up `lookups` pseudo-random addresses, report ready, idle. */
async function worker(mode: MemoryMode, path: string, lookups: number): Promise<void> {
  const { loadDataFile } = await import('../packages/moat/src/format/load-files.js');
  const { parseIpInto } = await import('../packages/moat/src/ip/parse-into.js');
  const words = new Uint32Array(4);
  let x = 12345;
  let hits = 0;
  const data = mode === 'none' ? null : loadDataFile(path, mode);
  for (let i = 0; i < lookups; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    const ip = i % 5 === 4 ? `2${(x & 0xfff).toString(16).padStart(3, '0')}:${(x >>> 12).toString(16)}::1` : `${x >>> 24}.${(x >>> 16) & 255}.${(x >>> 8) & 255}.${x & 255}`;
    const f = parseIpInto(ip, words);
    if (data && f !== 0 && data.table.lookupParsed(f, words) >= 0) hits++;
  }
  // A full collection first, so garbage from loading does not count as memory the data needs. The data set
  // must stay reachable past it (as in a server, where the engine holds it): otherwise the collection frees
  // the arrays (memory mode) or closes the file (light mode) and the figures read far too low.
  (globalThis as { gc?: () => void }).gc?.();
  process.send!({ ready: true, hits, size: data?.table.size ?? 0 });
  // Bounded life: ends with the parent, or after 10 minutes at the latest.
  process.on('disconnect', () => process.exit(0));
  setTimeout(() => process.exit(0), 600_000).unref();
  setInterval(() => { if (data && data.table.size < 0) console.log('unreachable'); }, 60_000);
}

if (process.argv[2] === '--memory-worker' && process.send !== undefined) {
  await worker(process.argv[3] as MemoryMode, process.argv[4], Number(process.argv[5]));
} else if (process.argv[1] === self) {
  const modes = process.argv.includes('--light') ? ['light' as const] : undefined;
  console.log(JSON.stringify(await runMemoryBench({ quick: process.argv.includes('--quick'), modes, log: console.log }), null, 2));
}
