/**
 * The same-process comparison: one server holds the app with and without the firewall and switches
 * between them every few hundred ms under one continuous load, keeping each block's CPU time and
 * requests. Separate processes differ by a few µs per request by their own luck (where heap and code
 * landed) and rounds by the load's own swings; a pair of adjacent blocks in one process shares both, so
 * its difference is the firewall's cost alone. Blocks run off-on, on-off, … so neither mode always goes first.
 * A process still keeps its luck in both modes, which moves all its pairs alike (about ±0.5 µs per request
 * between two processes of the same node:http code), so a row runs several processes and pools their pairs.
 */
import { median } from './measure.js';
import { quartiles, type PairedFigure } from './paired-rounds.js';

export interface AlternatingBlock {
  /** The firewall judged this block's requests. */
  on: boolean;
  requests: number;
  /** How long the block lasted, ms (timers fire late under load, so blocks differ a little). */
  ms: number;
  /** CPU time of the whole process in the block (every thread), µs. */
  cpuUs: number;
  /** CPU time of the serving thread in the block, µs; null off Linux. */
  mainUs: number | null;
}

/** A median over the pairs with its quartiles, and the mean with its standard error (how sure the mean is). */
export interface PairFigure extends PairedFigure {
  mean: number;
  standardError: number;
}

export interface AlternatingFigures {
  pairs: number;
  /** The processes whose pairs were pooled. */
  processes: number;
  /** Each process's median CPU µs added per request: how far one process's luck moves it. */
  processMedians: number[];
  /** CPU µs per request with the firewall off: the app's own cost (median over the off blocks). */
  offCpuUs: number;
  /** CPU µs per request, on − off per pair (every thread). */
  cpuAddedUs: PairFigure;
  /** The serving thread's CPU µs per request, on − off per pair; null off Linux. */
  mainCpuAddedUs: PairFigure | null;
  /** Requests per second, on / off − 1 per pair. */
  change: PairFigure;
}

/** Which mode block `k` of a run is in: off, on, on, off, and again. */
export function blockIsOn(k: number): boolean {
  return k % 4 === 1 || k % 4 === 2;
}

function pairFigure(xs: number[]): PairFigure {
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  const variance = xs.length > 1 ? xs.reduce((s, x) => s + (x - mean) ** 2, 0) / (xs.length - 1) : 0;
  return { median: median(xs), spread: quartiles(xs), mean, standardError: Math.sqrt(variance / xs.length) };
}

/**
 * Pairs each process's blocks 0–1, 2–3, … (never across processes); a pair counts when it holds one
 * block of each mode and each served at least `minRequests` (a block cut short by the end of the load
 * says little). Null without a pair.
 */
export function alternatingFigures(processes: readonly (readonly AlternatingBlock[])[], minRequests = 50): AlternatingFigures | null {
  const cpu: number[] = [];
  const main: number[] = [];
  const change: number[] = [];
  const off: number[] = [];
  const processMedians: number[] = [];
  let mainKnown = true;
  for (const blocks of processes) {
    const first = cpu.length;
    for (let k = 0; k + 1 < blocks.length; k += 2) {
      const a = blocks[k]!;
      const b = blocks[k + 1]!;
      if (a.on === b.on) continue;
      const [on, offBlock] = a.on ? [a, b] : [b, a];
      if (on.requests < minRequests || offBlock.requests < minRequests) continue;
      cpu.push(on.cpuUs / on.requests - offBlock.cpuUs / offBlock.requests);
      off.push(offBlock.cpuUs / offBlock.requests);
      change.push((on.requests / on.ms) / (offBlock.requests / offBlock.ms) - 1);
      if (on.mainUs === null || offBlock.mainUs === null) mainKnown = false;
      else main.push(on.mainUs / on.requests - offBlock.mainUs / offBlock.requests);
    }
    if (cpu.length > first) processMedians.push(median(cpu.slice(first)));
  }
  if (cpu.length === 0) return null;
  return {
    pairs: cpu.length,
    processes: processMedians.length,
    processMedians,
    offCpuUs: median(off),
    cpuAddedUs: pairFigure(cpu),
    mainCpuAddedUs: mainKnown ? pairFigure(main) : null,
    change: pairFigure(change),
  };
}
