/**
 * Engine benchmark (issue 2 §7): ns per evaluated request per rule type and list size, against the
 * Wafris v2 designs measured in the same run.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine } from '../packages/moat/src/engine/engine.js';
import { buildDataFile } from '../packages/moat/src/data/build-data.js';
import { loadDataFile } from '../packages/moat/src/format/load-files.js';
import { writeRulesFile } from '../packages/moat/src/format/write-rules.js';
import { parseIpInto } from '../packages/moat/src/ip/parse-into.js';
import { normalizeRule } from '../packages/moat/src/rules/normalize-rule.js';
import type { Rule } from '../packages/moat/src/rules/types.js';
import { formatRange } from '../packages/moat/src/ip/range.js';
import { measure } from './lib/measure.js';
import type { Measurement } from './lib/measure.js';
import { queryAddresses, syntheticPatterns, syntheticRanges } from './lib/synthetic.js';
import { writeFullRules, writeThreatData } from './lib/full-load.js';
import { WafrisRangeLookup, buildWafrisRangeDb, loopMatcher } from './lib/wafris-baseline.js';

export interface EngineBenchOptions {
  rangeSizes: number[];
  patternSizes: number[];
  /** Ranges in the whole-evaluation case. */
  fullRanges: number;
  ops: number;
  rounds: number;
  log: (s: string) => void;
}

export interface Row {
  case: string;
  size: number;
  approach: string;
  m: Measurement;
  /** Baseline ns / this ns (higher is better), where a baseline exists. */
  speedup?: number;
  /** True hits this approach missed, of the queries that should hit. */
  missed?: number;
  extra?: Record<string, number | string>;
}

export async function runEngineBench(o: EngineBenchOptions): Promise<{ rows: Row[]; builds: Record<string, unknown>[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'moat-bench-'));
  const rows: Row[] = [];
  const builds: Record<string, unknown>[] = [];
  const words = new Uint32Array(4);
  try {
    // 1. IP ranges: Moat in memory, Moat memory-light, Wafris encoding; plus the cost of parsing alone.
    for (const n of o.rangeSizes) {
      const ranges = syntheticRanges(n, n);
      const queries = queryAddresses(ranges, 20_000, n + 1);
      const expected = queries.map((_, i) => i % 2 === 0); // even queries were drawn from inside a range
      const t0 = performance.now();
      const dataPath = join(dir, `data-${n}.db`);
      const built = buildDataFile({ lists: [{ name: 'bench', ranges, summary: { name: 'bench', kind: 'list', ranges: n, invalidLines: 0 } }] }, dataPath);
      const moatBuildS = (performance.now() - t0) / 1000;
      const t1 = performance.now();
      const wafrisPath = join(dir, `wafris-${n}.db`);
      buildWafrisRangeDb(wafrisPath, ranges);
      const wafrisBuildS = (performance.now() - t1) / 1000;
      builds.push({ ranges: n, moatBuildSeconds: moatBuildS, moatBytes: statSync(dataPath).size, flattened: built.ranges, wafrisBuildSeconds: wafrisBuildS, wafrisBytes: statSync(wafrisPath).size });
      o.log(`  built ${n} ranges: moat ${moatBuildS.toFixed(1)} s, wafris-style ${wafrisBuildS.toFixed(1)} s`);

      const mem = loadDataFile(dataPath, 'memory');
      const light = loadDataFile(dataPath, 'light');
      const wafris = new WafrisRangeLookup(wafrisPath);
      const q = queries.length;
      const missed = (hit: (s: string) => boolean) => queries.filter((s, i) => expected[i] && !hit(s)).length;
      const memHit = (s: string) => { const f = parseIpInto(s, words); return f !== 0 && mem.table.lookupParsed(f, words) >= 0; };
      const lightHit = (s: string) => { const f = parseIpInto(s, words); return f !== 0 && light.table.lookupParsed(f, words) >= 0; };
      const wafrisHit = (s: string) => wafris.lookup(s);
      const base = measure((i) => wafrisHit(queries[i % q]), Math.min(o.ops, 20_000), o.rounds);
      rows.push({ case: 'ip-range lookup', size: n, approach: 'wafris-v2 (39-digit members, two neighbour queries)', m: base, speedup: 1, missed: missed(wafrisHit) });
      rows.push({ case: 'ip-range lookup', size: n, approach: 'parse the IP string only', m: measure((i) => parseIpInto(queries[i % q], words), o.ops, o.rounds) });
      for (const [name, fn] of [['moat memory (typed arrays)', memHit], ['moat light (SQLite seek)', lightHit]] as const) {
        const m = measure((i) => fn(queries[i % q]), o.ops, o.rounds);
        rows.push({ case: 'ip-range lookup', size: n, approach: name, m, speedup: base.ns / m.ns, missed: missed(fn) });
      }
      // Whole evaluation of a request against a rule blocking the list, through the engine.
      const rulesPath = join(dir, `rules-list-${n}.db`);
      writeRulesFile([normalizeRule({ action: 'block', kind: 'list', value: 'bench' })], rulesPath);
      const engine = new Engine({ rules: (await import('../packages/moat/src/format/load-files.js')).loadRulesFile(rulesPath), data: mem });
      const m = measure((i) => engine.evaluate({ ip: queries[i % q], method: 'GET', path: '/', host: 'example.com' }).treatment === 'Blocked', o.ops, o.rounds);
      rows.push({ case: 'evaluate: list rule', size: n, approach: 'moat engine.evaluate (memory)', m, speedup: base.ns / m.ns });
      light.close();
      wafris.close();
      rmSync(wafrisPath, { force: true });
    }

    // 2. IP rules in the rules file itself (allow/block CIDRs), through the engine.
    for (const n of o.rangeSizes.filter((s) => s <= 100_000)) {
      const ranges = syntheticRanges(n, 7 + n);
      const rules: Rule[] = ranges.map((r) => normalizeRule({ action: 'block', kind: 'ip', value: formatRange(r) }));
      const path = join(dir, `rules-ip-${n}.db`);
      writeRulesFile(rules, path);
      const engine = Engine.open({ rules: path });
      const queries = queryAddresses(ranges, 20_000, 9);
      const m = measure((i) => engine.evaluate({ ip: queries[i % queries.length] }).treatment === 'Blocked', o.ops, o.rounds);
      rows.push({ case: 'evaluate: ip rules', size: n, approach: 'moat engine.evaluate', m });
    }

    // 3. Substring rules: Aho-Corasick built once against a per-request loop.
    for (const n of o.patternSizes) {
      const patterns = syntheticPatterns(n, '/');
      const rules = patterns.map((p) => normalizeRule({ action: 'block', kind: 'path', value: p }));
      const path = join(dir, `rules-path-${n}.db`);
      writeRulesFile(rules, path);
      const engine = Engine.open({ rules: path });
      const requests = Array.from({ length: 1000 }, (_, i) =>
        i % 10 === 0 ? `/app${patterns[i % n]}/x` : `/static/app/assets/page-${i}/index.html`);
      const loop = loopMatcher(patterns);
      const base = measure((i) => loop(requests[i % requests.length]), Math.min(o.ops, n >= 10_000 ? 2_000 : 20_000), o.rounds);
      rows.push({ case: 'substring (path) rules', size: n, approach: 'wafris-v2 (loop over rules per request)', m: base, speedup: 1 });
      const m = measure((i) => engine.evaluate({ ip: '192.0.2.1', path: requests[i % requests.length] }).treatment === 'Blocked', o.ops, o.rounds);
      rows.push({ case: 'substring (path) rules', size: n, approach: 'moat engine.evaluate (Aho-Corasick)', m, speedup: base.ns / m.ns });
    }

    // 4. Everything loaded at once: the figure an app pays per request.
    {
      const n = o.fullRanges;
      const ranges = syntheticRanges(n, 99);
      const dataPath = join(dir, 'data-full.db');
      writeThreatData(ranges, dataPath);
      const pmax = Math.max(...o.patternSizes);
      const rulesPath = join(dir, 'rules-full.db');
      writeFullRules({
        pathPatterns: pmax, userAgentPatterns: pmax, loginLimit: 1_000_000,
        extra: [
          ...syntheticRanges(1000, 5).map((r) => ({ action: 'block' as const, kind: 'ip' as const, value: formatRange(r) })),
          { action: 'allow', kind: 'ip', value: '10.0.0.0/8' },
        ],
      }, rulesPath);
      const engine = Engine.open({ rules: rulesPath, data: dataPath });
      const queries = queryAddresses(ranges, 20_000, 11);
      const ua = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36';
      const m = measure((i) => engine.evaluate({
        ip: queries[i % queries.length], method: i % 7 === 0 ? 'POST' : 'GET', host: 'www.example.com',
        path: i % 7 === 0 ? '/login' : `/products/${i % 500}`, params: 'page=2&sort=price', userAgent: ua,
      }).treatment === 'Blocked', o.ops, o.rounds);
      rows.push({ case: 'whole evaluation, everything loaded', size: n, approach: `moat engine.evaluate (${n} ranges, ${pmax} path + ${pmax} UA patterns)`, m });
      engine.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return { rows, builds };
}
