/**
 * Scale curve (issue 7 §7): cost of one IP-range lookup and of one whole evaluation against a list rule,
 * at 1 k to 10 M ranges. A binary search costs about log2(n) steps, so ns / log2(n) should stay nearly
 * flat; what grows beyond that is cache misses once the arrays outgrow the CPU caches. Every size uses
 * IPv4 ranges only (10 M distinct IPv4 ranges still leave gaps between them), built in a child process.
 * Baseline: parsing the IP string alone, measured at every size in the same run.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Engine } from '../packages/moat/src/engine/engine.js';
import { loadDataFile, loadRulesFile } from '../packages/moat/src/format/load-files.js';
import { writeRulesFile } from '../packages/moat/src/format/write-rules.js';
import { parseIpInto } from '../packages/moat/src/ip/parse-into.js';
import { normalizeRule } from '../packages/moat/src/rules/normalize-rule.js';
import { measure, type Measurement } from './lib/measure.js';
import { buildSyntheticInChild } from './lib/synthetic-data-file.js';

export interface ScaleBenchOptions {
  quick?: boolean;
  /** Default [1e3, 1e4, 1e5, 1e6, 1e7]; quick [1e3, 1e4]. */
  sizes?: number[];
  ops?: number;
  rounds?: number;
  log?: (s: string) => void;
}

export interface ScaleRow {
  ranges: number;
  log2n: number;
  buildS: number;
  fileBytes: number;
  parse: Measurement;
  memory: Measurement;
  light: Measurement;
  evaluate: Measurement;
  /** (lookup − parse) / log2(n): the search's cost per halving step. */
  memorySearchNsPerLog2: number;
  evaluateNsPerLog2: number;
  /** evaluate ns here / at the smallest size, and what pure log n growth would give. */
  evaluateGrowth: number;
  log2Growth: number;
  missed: number;
}

export interface ScaleBenchResult {
  ipv4Only: true;
  rows: ScaleRow[];
}

export async function runScaleBench(o: ScaleBenchOptions = {}): Promise<ScaleBenchResult> {
  const quick = o.quick === true;
  const sizes = o.sizes ?? (quick ? [1_000, 10_000] : [1_000, 10_000, 100_000, 1_000_000, 10_000_000]);
  const ops = o.ops ?? (quick ? 10_000 : 200_000);
  const rounds = o.rounds ?? (quick ? 3 : 7);
  const log = o.log ?? (() => {});
  const dir = mkdtempSync(join(tmpdir(), 'moat-scale-bench-'));
  const words = new Uint32Array(4);
  try {
    const rulesPath = join(dir, 'rules.db');
    writeRulesFile([normalizeRule({ action: 'block', kind: 'list', value: 'bench' })], rulesPath);
    const rows: ScaleRow[] = [];
    for (const n of sizes) {
      const path = join(dir, `data-${n}.db`);
      const built = await buildSyntheticInChild(path, { n, seed: 40 + n, ipv4Share: 1, queries: quick ? 2_000 : 20_000 });
      const qs = built.queries.map((q) => q.ip);
      const expected = built.queries.map((q) => q.expected);
      const q = qs.length;
      const parse = measure((i) => parseIpInto(qs[i % q], words), ops, rounds);
      const data = loadDataFile(path, 'memory');
      const hit = (s: string) => { const f = parseIpInto(s, words); return f !== 0 && data.table.lookupParsed(f, words) >= 0; };
      const memory = measure((i) => hit(qs[i % q]), ops, rounds);
      const missed = qs.filter((s, i) => hit(s) !== expected[i]).length;
      const engine = new Engine({ rules: loadRulesFile(rulesPath), data });
      const evaluate = measure((i) => engine.evaluate({ ip: qs[i % q], method: 'GET', host: 'example.com', path: '/' }).treatment === 'Blocked', ops, rounds);
      engine.close();
      const lightData = loadDataFile(path, 'light');
      const lightHit = (s: string) => { const f = parseIpInto(s, words); return f !== 0 && lightData.table.lookupParsed(f, words) >= 0; };
      const light = measure((i) => lightHit(qs[i % q]), Math.min(ops, 50_000), rounds);
      lightData.close();
      rmSync(path, { force: true });
      const log2n = Math.log2(n);
      const first = rows[0];
      rows.push({
        ranges: n, log2n, buildS: built.seconds, fileBytes: built.bytes, parse, memory, light, evaluate,
        memorySearchNsPerLog2: Math.max(0, memory.ns - parse.ns) / log2n, evaluateNsPerLog2: evaluate.ns / log2n,
        evaluateGrowth: first ? evaluate.ns / first.evaluate.ns : 1, log2Growth: first ? log2n / first.log2n : 1, missed,
      });
      log(`  ${n.toLocaleString('en-US')} ranges (built in ${built.seconds.toFixed(1)} s): parse ${parse.ns.toFixed(0)} ns, memory ${memory.ns.toFixed(0)} ns, light ${light.ns.toFixed(0)} ns, evaluate ${evaluate.ns.toFixed(0)} ns`);
    }
    return { ipv4Only: true, rows };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const sizes = process.argv.includes('--sizes') ? process.argv[process.argv.indexOf('--sizes') + 1].split(',').map(Number) : undefined;
  console.log(JSON.stringify(await runScaleBench({ quick: process.argv.includes('--quick'), sizes, log: console.log }), null, 2));
}
