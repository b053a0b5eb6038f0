/**
 * Data-file benchmark (issue 4 §6): build time, file size and lookup ns for the real country and ASN
 * ranges (@ip-location-db CSVs) plus five deterministic synthetic lists, in both lookup modes, against
 * baselines measured in the same run: parsing the IP alone, and the Wafris v2 design (39-digit text
 * members, two neighbour queries per table, default connection) on the same ranges.
 * `quick` takes the first rows of each CSV and small lists, so it runs in seconds.
 */
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Database as Db, Statement } from 'better-sqlite3';
import { buildDataFile, compileData } from '../packages/moat/src/data/build-data.js';
import { writeWafrisDataFile } from '../packages/moat/src/data/wafris-data.js';
import { countryOfMemberSuffix } from '../packages/moat/src/wafris/country-token.js';
import type { BuiltDataFile, DataInputs } from '../packages/moat/src/data/build-data.js';
import { importAsnCsv, importCountryCsv } from '../packages/moat/src/data/importers/range-csv.js';
import { importIpList } from '../packages/moat/src/data/importers/ip-list.js';
import type { AsnRow, CountryRow } from '../packages/moat/src/data/importers/import-result.js';
import { resolveSourceFiles } from '../packages/moat/src/data/sources.js';
import { loadDataFile } from '../packages/moat/src/format/load-files.js';
import { labelOf } from '../packages/moat/src/data/data-set.js';
import { formatIp, tryParseIp } from '../packages/moat/src/ip/address.js';
import { parseIpInto } from '../packages/moat/src/ip/parse-into.js';
import { measure, rng } from './lib/measure.js';
import type { Measurement } from './lib/measure.js';

export interface DataBenchOptions {
  quick: boolean;
  log: (s: string) => void;
  /** Lookups per round (default 100 000; quick 20 000). */
  ops?: number;
  rounds?: number;
}

export interface DataLookupRow {
  approach: string;
  m: Measurement;
  /** This ns / parse-only ns. */
  vsParse: number;
  /** Wafris-style ns / this ns (higher is better). */
  speedupVsWafris: number;
}

export interface DataBenchResult {
  quick: boolean;
  inputs: { countryRows: number; asnRows: number; lists: { name: string; entries: number }[] };
  build: {
    /** Reading and parsing every source. */
    importS: number;
    /** Flattening, resolving and writing the Moat file. */
    compileWriteS: number;
    /** Writing the Wafris layout from the same compiled ranges. */
    wafrisWriteS: number;
    moatBytes: number;
    wafrisBytes: number;
    ranges: number;
    inputRanges: number;
    labels: number;
    overlapsResolved: number;
    /** Bytes of the packed arrays an in-memory reader holds. */
    memoryTableBytes: number;
  };
  lookups: DataLookupRow[];
  /** Of the queries with a country, the share the Wafris lookup misses (standard members). */
  wafrisCountryMissRate: number;
  /** The same with `ordered` members (expected 0). */
  wafrisOrderedMissRate: number;
  missedStarts: number;
}

const LIST_SIZES_FULL = [100_000, 30_000, 10_000, 5_000, 1_000];
const LIST_SIZES_QUICK = [2_000, 1_000, 500, 200, 100];
const LIST_NAMES = ['blocklist', 'scanners', 'drop', 'tor', 'abuse'];

/** A list of `n` entries in FireHOL style: single IPv4s, IPv4 CIDRs /16–/31 and 10 % IPv6 /48–/128. */
function syntheticList(n: number, seed: number): string {
  const rand = rng(seed);
  const lines = [`# synthetic list ${seed}, ${n} entries`];
  for (let i = 0; i < n; i++) {
    const kind = rand();
    if (kind < 0.1) {
      const v = (0x2000n << 112n) + (BigInt(Math.floor(rand() * 2 ** 32)) << 90n) + BigInt(Math.floor(rand() * 2 ** 20));
      lines.push(`${formatIp({ family: 6, value: v })}/${48 + Math.floor(rand() * 81)}`);
    } else {
      const ip = formatIp({ family: 4, value: BigInt(Math.floor(rand() * 2 ** 32)) });
      lines.push(kind < 0.6 ? ip : `${ip}/${16 + Math.floor(rand() * 16)}`);
    }
  }
  return lines.join('\n');
}

/** The first `limit` lines of a file (all when limit is null). */
function readLines(file: string, limit: number | null): string {
  const text = readFileSync(file, 'utf8');
  if (limit === null) return text;
  let at = 0;
  for (let k = 0; k < limit && at >= 0; k++) at = text.indexOf('\n', at + 1);
  return at < 0 ? text : text.slice(0, at);
}

/** The Wafris data_subscriptions lookup as documented: per table, nearest member above and below. */
class WafrisDataLookup {
  private readonly db: Db;
  private readonly stmts: [Statement, Statement][];
  constructor(path: string) {
    this.db = new Database(path, { readonly: true }); // default locking, as the Ruby client opens it
    this.stmts = ['country_ip_ranges', 'reputation_ip_ranges'].map((t) => [
      this.db.prepare(`SELECT member FROM ${t} WHERE member >= ? ORDER BY member ASC LIMIT 1`).pluck(),
      this.db.prepare(`SELECT member FROM ${t} WHERE member < ? ORDER BY member DESC LIMIT 1`).pluck(),
    ]);
  }
  private one(k: number, key: string): string | null {
    const a = this.stmts[k][0].get(key) as string | undefined;
    const b = this.stmts[k][1].get(key) as string | undefined;
    if (!a || !b) return null;
    const sa = a.slice(a.lastIndexOf('-') + 1);
    return sa === b.slice(b.lastIndexOf('-') + 1) ? sa : null;
  }
  /** Country suffix and reputation hit: the two questions Wafris can answer (it has no ASNs). */
  lookup(ipText: string): { country: string | null; reputation: boolean } | null {
    const ip = tryParseIp(ipText);
    if (!ip) return null;
    const key = ip.value.toString().padStart(39, '0');
    return { country: this.one(0, key), reputation: this.one(1, key) !== null };
  }
  close(): void {
    this.db.close();
  }
}

/** Queries: half inside flattened ranges (first, last or middle address), half random IPv4/IPv6. */
function queries(data: DataInputs, count: number): string[] {
  const rand = rng(7);
  const pool = [...(data.countries?.rows ?? []).map((r) => r.range), ...(data.asns?.rows ?? []).map((r) => r.range), ...(data.lists ?? []).flatMap((l) => l.ranges)];
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    if (i % 2 === 0) {
      const r = pool[Math.floor(rand() * pool.length)];
      const v = i % 6 === 0 ? r.start : i % 6 === 2 ? r.end : r.start + (r.end - r.start) / 2n;
      out.push(formatIp({ family: r.family, value: v }));
    } else if (i % 4 === 1) out.push(formatIp({ family: 4, value: BigInt(Math.floor(rand() * 2 ** 32)) }));
    else out.push(formatIp({ family: 6, value: (0x2000n << 112n) + (BigInt(Math.floor(rand() * 2 ** 32)) << 93n) }));
  }
  return out;
}

export async function runDataBench(o: DataBenchOptions): Promise<DataBenchResult> {
  const ops = o.ops ?? (o.quick ? 20_000 : 100_000);
  const rounds = o.rounds ?? (o.quick ? 3 : 7);
  const limit = o.quick ? 20_000 : null;
  const dir = mkdtempSync(join(tmpdir(), 'moat-data-bench-'));
  try {
    const listFiles = (o.quick ? LIST_SIZES_QUICK : LIST_SIZES_FULL).map((n, i) => {
      const file = join(dir, `${LIST_NAMES[i]}.netset`);
      writeFileSync(file, syntheticList(n, 100 + i));
      return { name: LIST_NAMES[i], file, entries: n };
    });

    // 1. Import: read and parse every source.
    const t0 = performance.now();
    const countryRows: CountryRow[] = [];
    for (const f of resolveSourceFiles('default', 'country')) for (const r of importCountryCsv(readLines(f, limit)).rows) countryRows.push(r);
    const asnRows: AsnRow[] = [];
    for (const f of resolveSourceFiles('default', 'asn')) for (const r of importAsnCsv(readLines(f, limit)).rows) asnRows.push(r);
    const lists = listFiles.map((l) => {
      const ranges = importIpList(readFileSync(l.file, 'utf8')).rows;
      return { name: l.name, ranges, summary: { name: l.name, kind: 'list' as const, ranges: ranges.length, invalidLines: 0 } };
    });
    const importS = (performance.now() - t0) / 1000;
    const inputs: DataInputs = {
      countries: { rows: countryRows, summary: { name: 'country', kind: 'country', ranges: countryRows.length, invalidLines: 0 } },
      asns: { rows: asnRows, summary: { name: 'asn', kind: 'asn', ranges: asnRows.length, invalidLines: 0 } },
      lists,
    };
    o.log(`  imported ${countryRows.length} country rows, ${asnRows.length} ASN rows, ${lists.length} lists in ${importS.toFixed(2)} s`);

    // 2. Build: the Moat file, then the Wafris layout from the same compiled ranges.
    const moatPath = join(dir, 'data.db');
    const wafrisPath = join(dir, 'wafris.db');
    const t1 = performance.now();
    const built: BuiltDataFile = buildDataFile(inputs, moatPath);
    const compileWriteS = (performance.now() - t1) / 1000;
    const compiled = compileData(inputs); // again, untimed: the Wafris writer starts from compiled ranges
    const t2 = performance.now();
    const wafrisFile = writeWafrisDataFile(compiled, wafrisPath, { reputationLists: LIST_NAMES });
    const wafrisWriteS = (performance.now() - t2) / 1000;
    const orderedPath = join(dir, 'wafris-ordered.db');
    writeWafrisDataFile(compiled, orderedPath, { reputationLists: LIST_NAMES });
    o.log(`  built ${built.ranges} ranges (${(built.bytes / 2 ** 20).toFixed(1)} MiB) in ${compileWriteS.toFixed(2)} s; ` +
      `Wafris layout ${(wafrisFile.bytes / 2 ** 20).toFixed(1)} MiB in ${wafrisWriteS.toFixed(2)} s`);

    // 3. Lookups, each answering country + ASN + lists (Wafris: country + reputation).
    const qs = queries(inputs, 20_000);
    const n = qs.length;
    const words = new Uint32Array(4);
    const mem = loadDataFile(moatPath, 'memory');
    const light = loadDataFile(moatPath, 'light');
    const wafris = new WafrisDataLookup(wafrisPath);
    const memoryTableBytes = Object.values((mem.table as unknown as { arrays: Record<string, Uint32Array> }).arrays).reduce((s, a) => s + a.byteLength, 0);

    // Correctness first (untimed): both modes agree; how often Wafris misses a country Moat finds.
    let withCountry = 0;
    let wafrisMissed = 0;
    let orderedMissed = 0;
    let wrongCountry = 0;
    const ordered = new WafrisDataLookup(orderedPath);
    for (const ip of qs) {
      const f = parseIpInto(ip, words) as 4 | 6;
      const a = mem.table.lookupParsed(f, words);
      const b = light.table.lookupParsed(f, words);
      if (a !== b) throw new Error(`memory and light lookups disagree on ${ip}`);
      if (a >= 0 && mem.labels[a].country !== null) {
        withCountry++;
        const cc = mem.labels[a].country;
        const w = wafris.lookup(ip)?.country ?? null;
        const wo = ordered.lookup(ip)?.country ?? null;
        if (w === null) wafrisMissed++;
        if (wo === null) orderedMissed++;
        if ((w !== null && countryOfMemberSuffix(w) !== cc) || (wo !== null && countryOfMemberSuffix(wo) !== cc)) wrongCountry++;
      }
    }
    ordered.close();
    if (wrongCountry > 0) throw new Error(`the Wafris layout answered a wrong country ${wrongCountry} times`);

    const answer = (ds: typeof mem) => (i: number) => {
      const f = parseIpInto(qs[i % n], words);
      if (f === 0) return false;
      const id = ds.table.lookupParsed(f, words);
      const label = id >= 0 ? labelOf(ds, id) : undefined;
      return label !== undefined && label.lists.length + (label.country ? 1 : 0) > 0;
    };
    const parse = measure((i) => parseIpInto(qs[i % n], words) !== 0, ops, rounds);
    const memory = measure(answer(mem), ops, rounds);
    const lightM = measure(answer(light), ops, rounds);
    const wafrisM = measure((i) => wafris.lookup(qs[i % n])?.reputation, Math.min(ops, o.quick ? ops : 20_000), rounds);
    mem.close();
    light.close();
    wafris.close();
    const row = (approach: string, m: Measurement): DataLookupRow => ({ approach, m, vsParse: m.ns / parse.ns, speedupVsWafris: wafrisM.ns / m.ns });
    const lookups = [
      row('parse the IP only', parse),
      row('Moat, packed arrays in memory (country+ASN+lists)', memory),
      row('Moat, SQLite seek, read-only EXCLUSIVE mmap (country+ASN+lists)', lightM),
      row('Wafris-style: 39-digit members, 2 queries x 2 tables (country+reputation)', wafrisM),
    ];
    for (const r of lookups) o.log(`  ${r.approach}: ${r.m.ns.toFixed(0)} ns (x${r.vsParse.toFixed(1)} parse, ${r.speedupVsWafris.toFixed(1)}x faster than Wafris)`);

    return {
      quick: o.quick,
      inputs: { countryRows: countryRows.length, asnRows: asnRows.length, lists: listFiles.map((l) => ({ name: l.name, entries: l.entries })) },
      build: {
        importS, compileWriteS, wafrisWriteS, moatBytes: statSync(moatPath).size, wafrisBytes: wafrisFile.bytes,
        ranges: built.ranges, inputRanges: built.inputRanges, labels: built.labels, overlapsResolved: built.overlapsResolved, memoryTableBytes,
      },
      lookups,
      wafrisCountryMissRate: withCountry > 0 ? wafrisMissed / withCountry : 0,
      wafrisOrderedMissRate: withCountry > 0 ? orderedMissed / withCountry : 0,
      missedStarts: wafrisFile.missedStarts,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The data section of the bench report, in markdown. */
export function dataReport(r: DataBenchResult): string {
  const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;
  const b = r.build;
  return [
    `## Data file${r.quick ? ' (quick)' : ''}: ${r.inputs.countryRows} country + ${r.inputs.asnRows} ASN rows + ${r.inputs.lists.length} lists ` +
      `(${r.inputs.lists.map((l) => l.entries).join(', ')} entries)`,
    '',
    `Import ${b.importS.toFixed(2)} s; compile + write ${b.compileWriteS.toFixed(2)} s; Wafris layout from the compiled ranges ${b.wafrisWriteS.toFixed(2)} s. ` +
      `${b.inputRanges} input ranges → ${b.ranges} flattened (${b.labels} labels, ${b.overlapsResolved} overlaps resolved). ` +
      `Moat file ${mib(b.moatBytes)} (in-memory arrays ${mib(b.memoryTableBytes)}); Wafris layout ${mib(b.wafrisBytes)} (×${(b.wafrisBytes / b.moatBytes).toFixed(2)}).`,
    '',
    '| lookup | ns (median) | × parse-only | speed-up vs Wafris-style |',
    '|---|---:|---:|---:|',
    ...r.lookups.map((l) => `| ${l.approach} | ${l.m.ns.toFixed(0)} | ${l.vsParse.toFixed(1)} | ${l.speedupVsWafris.toFixed(1)} |`),
    '',
    `The Wafris lookup missed ${(r.wafrisCountryMissRate * 100).toFixed(1)} % of the queries with a country ` +
      `(${r.missedStarts} range starts cannot be found) and answered no wrong country.`,
    '',
  ].join('\n');
}
