/**
 * Builds a Moat data file of synthetic ranges (one list named `bench`), either here or in a child process.
 * The child keeps the build's garbage (tens of millions of objects at 10 M ranges) out of the bench's own
 * heap, and gets a larger heap limit than the default.
 */
import { execFile } from 'node:child_process';
import { statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { buildDataFile } from '../../packages/moat/src/data/build-data.js';
import type { IpRange } from '../../packages/moat/src/ip/range.js';
import { classifiedQueries, syntheticRanges, withSingles, type ClassifiedQuery } from './synthetic.js';

export interface SyntheticSpec {
  n: number;
  seed: number;
  /** Share of IPv4 ranges (default 0.8). */
  ipv4Share?: number;
  /** Every n-th IPv4 range becomes a single address (default: none). */
  singlesEvery?: number;
  /** Classified queries to return (default 0). */
  queries?: number;
}

export interface BuiltSynthetic {
  path: string;
  seconds: number;
  bytes: number;
  ranges: number;
  queries: ClassifiedQuery[];
}

export function specRanges(spec: SyntheticSpec): IpRange[] {
  const ranges = syntheticRanges(spec.n, spec.seed, spec.ipv4Share ?? 0.8);
  return spec.singlesEvery ? withSingles(ranges, spec.singlesEvery) : ranges;
}

export function buildSyntheticHere(path: string, spec: SyntheticSpec, ranges = specRanges(spec)): BuiltSynthetic {
  const t0 = performance.now();
  buildDataFile({ lists: [{ name: 'bench', ranges, summary: { name: 'bench', kind: 'list', ranges: ranges.length, invalidLines: 0 } }] }, path);
  const seconds = (performance.now() - t0) / 1000;
  const queries = spec.queries ? classifiedQueries(ranges, spec.queries, spec.seed + 1) : [];
  return { path, seconds, bytes: statSync(path).size, ranges: ranges.length, queries };
}

const self = fileURLToPath(import.meta.url);

/** Builds in a child process (bounded: 15 minutes) with a heap of `heapMiB`. */
export function buildSyntheticInChild(path: string, spec: SyntheticSpec, heapMiB = 8192): Promise<BuiltSynthetic> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--import', 'tsx', `--max-old-space-size=${heapMiB}`, self, path, JSON.stringify(spec)],
      { timeout: 15 * 60_000, maxBuffer: 256 * 2 ** 20 }, (error, stdout, stderr) => {
        if (error) reject(new Error(`building ${spec.n} ranges failed: ${error.message}\n${stderr}`));
        else resolve(JSON.parse(stdout) as BuiltSynthetic);
      });
  });
}

if (process.argv[1] === self && process.argv.length === 4) {
  const built = buildSyntheticHere(process.argv[2], JSON.parse(process.argv[3]) as SyntheticSpec);
  process.stdout.write(JSON.stringify(built));
}
