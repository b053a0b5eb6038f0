/**
 * Memory benchmark (issue 7 §4, issue 15): private and shared memory per worker when 1, 4 and 8 worker
 * processes (forked, as node:cluster forks them) each open the same data file, in both Moat modes: `memory`
 * (typed arrays copied into each worker) and `light` (one read-only mmapped SQLite file, its pages shared by
 * the kernel). Figures come from /proc/<pid>/smaps_rollup.
 *
 * "Private" is Private_Clean + Private_Dirty: every page only this process maps (heap, V8, SQLite, and file
 * pages no other process has touched). Nothing private is left out. Identical Node processes differ by
 * several MiB of it (thread arenas, V8 pages; measured 31–44 MiB for the same worker), more than light
 * mode adds, so a worker is measured against itself:
 * - each worker first loads the same code and the SQLite driver (every Moat worker has it: rules files are
 *   SQLite); after a settling wait, with every worker of the group at that point, each runs the address
 *   loop (no lookups yet) and is sampled (`samples` times, a forced full GC before each; the median counts);
 * - then every worker opens the data file in its mode and looks the addresses up (the no-data baseline
 *   runs the loop without), and, with the whole group done, each runs the loop again and is sampled;
 * - a worker's added memory is after − before; a group's is the median over its workers, with the spread;
 * - what the data costs is the mode's median minus the no-data baseline's median, same worker count.
 * With one worker, light mode's file pages count as private (no other process maps them); from two up
 * they are shared. Each lookup also reads its label, as the engine does: in light mode labels are read from
 * the file on demand, so a real-data file (`--file data.db`: ~10^5 country/ASN labels, where the synthetic
 * file has one) measures what that keeps per worker.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { median } from './lib/measure.js';
import { buildSyntheticInChild } from './lib/synthetic-data-file.js';
import { labelOf } from '../packages/moat/src/data/data-set.js';

export type MemoryMode = 'none' | 'memory' | 'light';

export interface MemoryBenchOptions {
  quick?: boolean;
  /** Ranges in the data file (default 2,500,000: 2.0 M IPv4 + 0.5 M IPv6; quick 20,000). */
  ranges?: number;
  /** An existing data file to measure instead of a synthetic one (`ranges` is then ignored). */
  file?: string;
  workerCounts?: number[];
  /** Lookups each worker does before it is measured (default 200,000). */
  lookups?: number;
  /** smaps samples per worker and phase, a forced GC before each (default 5; quick 3). */
  samples?: number;
  /** Wait after the group's last start before the first sample (default 10 s; quick 5 s). */
  settleMs?: number;
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
  /** Median over the workers of the group, KiB, after loading (each worker's figure the median of its samples). */
  perWorker: Smaps;
  /** Private KiB the data adds per worker: this group's median `privateAdded` minus the no-data baseline's. */
  privateOverBaseline?: number;
  /** Median over the workers of private KiB after loading minus before (each the median of its samples). */
  privateAdded: number;
  /** Lowest and highest `privateAdded` among the group's workers, KiB. */
  privateAddedSpread: [number, number];
  /** Largest spread (max − min) of one worker's private samples in one phase, KiB: the measuring noise. */
  sampleSpread: number;
  /** Sum of Pss over the group, KiB: what the group really costs the machine. */
  totalPss: number;
  /** Lowest and highest private KiB among the group's workers after loading. */
  privateSpread: [number, number];
}

export interface MemoryBenchResult {
  /** Synthetic ranges built; 0 when an existing `file` was measured. */
  ranges: number;
  fileBytes: number;
  lookupsPerWorker: number;
  samplesPerPhase: number;
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

/** Parent → worker: collect garbage and answer (then the parent reads smaps), run the address loop, or open the data and run it. */
type WorkerCommand = 'collect' | 'look' | 'load';

/** One worker and a way to ask it something and wait for its answer (bounded: 120 s). */
class MeasuredWorker {
  private constructor(readonly child: ChildProcess, readonly mode: MemoryMode) {}

  static start(mode: MemoryMode, path: string, lookups: number): Promise<MeasuredWorker> {
    const child = fork(self, ['--memory-worker', mode, path, String(lookups)], { execArgv: ['--import', 'tsx', '--expose-gc'], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    const worker = new MeasuredWorker(child, mode);
    return worker.answer('start').then(() => worker);
  }

  ask(command: WorkerCommand): Promise<unknown> {
    const answered = this.answer(command);
    this.child.send(command);
    return answered;
  }

  private answer(what: string): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { this.child.kill(); reject(new Error(`${this.mode} worker did not answer ${what} within 120 s`)); }, 120_000);
      const onExit = (code: number | null) => { clearTimeout(timer); reject(new Error(`${this.mode} worker exited with ${code} during ${what}`)); };
      this.child.once('exit', onExit);
      this.child.once('message', (m) => { clearTimeout(timer); this.child.off('exit', onExit); resolve(m); });
    });
  }

  /** `samples` readings, each after a full collection in the worker; the median of each figure, and the private spread. */
  async sample(samples: number): Promise<{ smaps: Smaps; privateSpread: number }> {
    const all: Smaps[] = [];
    for (let i = 0; i < samples; i++) {
      await this.ask('collect');
      all.push(parseSmapsRollup(readFileSync(`/proc/${this.child.pid}/smaps_rollup`, 'utf8')));
    }
    const med = (k: keyof Smaps) => median(all.map((s) => s[k]));
    const priv = all.map((s) => s.private);
    return { smaps: { rss: med('rss'), pss: med('pss'), private: med('private'), shared: med('shared') }, privateSpread: Math.max(...priv) - Math.min(...priv) };
  }
}

async function measureGroup(mode: MemoryMode, workers: number, path: string, lookups: number, samples: number, settleMs: number): Promise<Omit<MemoryRow, 'privateOverBaseline'>> {
  const group: MeasuredWorker[] = [];
  try {
    // Started one after another, as a cluster master does; each phase waits for the whole group, so every
    // worker is measured with all the others at the same point (file pages shared or not alike).
    for (let i = 0; i < workers; i++) group.push(await MeasuredWorker.start(mode, path, lookups));
    // A just-started worker frees ~6 MiB of anonymous memory on its own 2–5 s later (measured with the
    // data file not yet open): sampled before that, loading would look 6 MiB cheaper than it is.
    await new Promise((resolve) => setTimeout(resolve, settleMs));
    type Sampled = Awaited<ReturnType<MeasuredWorker['sample']>>;
    // Each worker runs its loop again right before it is sampled, in both phases: left idle for ~10 s, V8
    // shrinks its young generation (measured: −1 to −2 MiB private), which the next loop grows back.
    const sampleAll = async () => {
      const sampled: Sampled[] = [];
      for (const w of group) {
        await w.ask('look');
        sampled.push(await w.sample(samples));
      }
      return sampled;
    };
    const before = await sampleAll();
    await Promise.all(group.map((w) => w.ask('load')));
    const after = await sampleAll();
    const added = after.map((a, i) => a.smaps.private - before[i]!.smaps.private);
    const med = (k: keyof Smaps) => median(after.map((s) => s.smaps[k]));
    const privates = after.map((s) => s.smaps.private);
    return {
      mode, workers,
      perWorker: { rss: med('rss'), pss: med('pss'), private: med('private'), shared: med('shared') },
      privateAdded: median(added), privateAddedSpread: [Math.min(...added), Math.max(...added)],
      sampleSpread: Math.max(...[...before, ...after].map((s) => s.privateSpread)),
      totalPss: after.reduce((a, s) => a + s.smaps.pss, 0),
      privateSpread: [Math.min(...privates), Math.max(...privates)],
    };
  } finally {
    for (const w of group) w.child.kill();
  }
}

const mib = (kib: number) => `${(kib / 1024).toFixed(1)} MiB`;
const signedMib = (kib: number) => `${kib < 0 ? '−' : '+'}${(Math.abs(kib) / 1024).toFixed(2)} MiB`;

export async function runMemoryBench(o: MemoryBenchOptions = {}): Promise<MemoryBenchResult> {
  const quick = o.quick === true;
  const n = o.ranges ?? (quick ? 20_000 : 2_500_000);
  const counts = o.workerCounts ?? (quick ? [1, 2] : [1, 4, 8]);
  const lookups = o.lookups ?? (quick ? 20_000 : 200_000);
  const samples = o.samples ?? (quick ? 3 : 5);
  const settleMs = o.settleMs ?? (quick ? 5_000 : 10_000);
  const log = o.log ?? (() => {});
  const dir = mkdtempSync(join(tmpdir(), 'moat-memory-bench-'));
  try {
    let built: { path: string; bytes: number };
    if (o.file !== undefined) built = { path: o.file, bytes: statSync(o.file).size };
    else {
      const synthetic = await buildSyntheticInChild(join(dir, 'data.db'), { n, seed: 25 });
      log(`  built ${n.toLocaleString('en-US')} ranges (${(synthetic.bytes / 2 ** 20).toFixed(0)} MiB) in ${synthetic.seconds.toFixed(1)} s`);
      built = synthetic;
    }
    const rows: MemoryRow[] = [];
    for (const workers of counts) {
      let baseline = 0;
      for (const mode of ['none', ...(o.modes ?? ['memory', 'light'])] as const) {
        const g = await measureGroup(mode, workers, built.path, lookups, samples, settleMs);
        if (mode === 'none') baseline = g.privateAdded;
        const row: MemoryRow = { ...g, privateOverBaseline: mode === 'none' ? undefined : g.privateAdded - baseline };
        rows.push(row);
        log(`  ${workers} × ${mode}: private ${mib(g.perWorker.private)} (workers ${mib(g.privateSpread[0])}–${mib(g.privateSpread[1])}), shared ${mib(g.perWorker.shared)}; ` +
          `added by loading ${signedMib(g.privateAdded)} (workers ${signedMib(g.privateAddedSpread[0])} to ${signedMib(g.privateAddedSpread[1])}, samples within ${mib(g.sampleSpread)})` +
          (row.privateOverBaseline === undefined ? '' : `, over the no-data baseline ${signedMib(row.privateOverBaseline)}`));
      }
    }
    return { ranges: o.file !== undefined ? 0 : n, fileBytes: built.bytes, lookupsPerWorker: lookups, samplesPerPhase: samples, rows };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * A worker: load the code and the SQLite driver, run the address loop once without lookups, then answer
 * the parent: `collect` (a full GC, so garbage does not count as memory the data needs), `look` (the loop
 * again, with lookups once the data is open) and `load` (open the file in its mode, then the loop).
 */
async function worker(mode: MemoryMode, path: string, lookups: number): Promise<void> {
  const { loadDataFile } = await import('../packages/moat/src/format/load-files.js');
  const { openReadOnly, readMeta } = await import('../packages/moat/src/format/open-sqlite.js');
  const { parseIpInto } = await import('../packages/moat/src/ip/parse-into.js');
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('the memory worker needs --expose-gc');
  const driverLoaded = openReadOnly(path); // as a rules file would load it: the driver is every Moat worker's
  readMeta(driverLoaded);
  driverLoaded.close();

  const words = new Uint32Array(4);
  let data: ReturnType<typeof loadDataFile> | null = null;
  const lookAround = () => {
    let x = 12345; // the same addresses in every worker, so each touches the same file pages
    let hits = 0;
    for (let i = 0; i < lookups; i++) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      const ip = i % 5 === 4 ? `2${(x & 0xfff).toString(16).padStart(3, '0')}:${(x >>> 12).toString(16)}::1` : `${x >>> 24}.${(x >>> 16) & 255}.${(x >>> 8) & 255}.${x & 255}`;
      const f = parseIpInto(ip, words);
      if (data === null || f === 0) continue;
      const id = data.table.lookupParsed(f, words);
      // The label too, as the engine reads it (light mode: from the file, through a bounded cache).
      if (id >= 0 && labelOf(data, id) !== undefined) hits++;
    }
    return hits;
  };
  lookAround();

  process.on('message', (command: WorkerCommand) => {
    if (command === 'collect') {
      gc();
      gc(); // a second pass frees what the first one's finalisation left
      process.send!({ collected: true });
    } else if (command === 'look') {
      process.send!({ hits: lookAround() });
    } else if (command === 'load') {
      if (mode !== 'none') data = loadDataFile(path, mode);
      process.send!({ loaded: true, hits: lookAround(), size: data?.table.size ?? 0 });
    }
  });
  process.send!({ ready: true });
  // The data set must stay reachable (as in a server, where the engine holds it): otherwise a collection
  // frees the arrays (memory mode) or closes the file (light mode) and the figures read far too low.
  // Bounded life: ends with the parent, or after 10 minutes at the latest.
  process.on('disconnect', () => process.exit(0));
  setTimeout(() => process.exit(0), 600_000).unref();
  setInterval(() => { if (data && data.table.size < 0) console.log('unreachable'); }, 60_000);
}

if (process.argv[2] === '--memory-worker' && process.send !== undefined) {
  await worker(process.argv[3] as MemoryMode, process.argv[4], Number(process.argv[5]));
} else if (process.argv[1] === self) {
  const modes = process.argv.includes('--light') ? ['light' as const] : undefined;
  const fileAt = process.argv.indexOf('--file');
  const file = fileAt > 0 ? process.argv[fileAt + 1] : undefined;
  console.log(JSON.stringify(await runMemoryBench({ quick: process.argv.includes('--quick'), modes, file, log: console.log }), null, 2));
}
