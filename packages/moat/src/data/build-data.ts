/**
 * Builds a Moat data file: country, ASN and named-list ranges flattened together, so one seek per
 * request answers "which country, which network, which lists". Overlaps are resolved here, once
 * (resolve-labels.ts says how), and neighbouring segments that resolve alike are merged.
 */
import { statSync } from 'node:fs';
import type { IpRange } from '../ip/range.js';
import { ipv6Words, splitByFamily } from '../ip/range.js';
import { flattenRanges } from '../ranges/flatten.js';
import type { LabelledRange } from '../ranges/flatten.js';
import { RangeTable } from '../ranges/range-table.js';
import { writeSqliteAtomically } from '../format/atomic-file.js';
import { storeRangeTable } from '../format/packed-ranges.js';
import { dataContentHash } from './data-hash.js';
import {
  DATA_FORMAT, DATA_FORMAT_VERSION, DATA_LABELS_DDL, insertMeta, META_DDL, PACKED_DDL, RANGES_DDL, RANGES_V4_DDL, RANGES_V6_DDL,
  SOURCES_DDL,
} from '../format/schema.js';
import type { DataLabel } from './data-set.js';
import type { AsnRow, CountryRow } from './importers/import-result.js';
import { AttrType, LabelResolver } from './resolve-labels.js';
import type { Attr } from './resolve-labels.js';
import { storeLightRanges } from './sqlite-range-lookup.js';
import { writeWafrisDataFile } from './wafris-data.js';
import type { WafrisDataOptions, WrittenWafrisData } from './wafris-data.js';

export type { AsnRow } from './importers/import-result.js';
export { dataContentHash } from './data-hash.js';

export interface SourceSummary {
  name: string;
  kind: 'country' | 'asn' | 'list' | 'cloud';
  file?: string;
  ranges: number;
  invalidLines: number;
}

export interface DataInputs {
  countries?: { rows: CountryRow[]; summary: SourceSummary };
  asns?: { rows: AsnRow[]; summary: SourceSummary };
  /** Named lists (threat lists, cloud ranges): rules block them by name. */
  lists?: { name: string; ranges: IpRange[]; summary: SourceSummary }[];
}

export interface BuiltDataFile {
  path: string;
  hash: string;
  formatVersion: number;
  builtAt: string;
  /** Flattened ranges written (IPv4 + IPv6). */
  ranges: number;
  /** Input ranges read, over all sources. */
  inputRanges: number;
  /** Segments where country (or ASN) rows disagreed and the more specific one was taken. */
  overlapsResolved: number;
  labels: number;
  sources: SourceSummary[];
  /** Bytes of the written file. */
  bytes: number;
  /** The Wafris data_subscriptions file, when asked for. */
  wafris?: WrittenWafrisData;
}

export interface CompiledData {
  table: RangeTable;
  labels: DataLabel[];
  overlapsResolved: number;
  inputRanges: number;
}

/** Pure part of the build: inputs → table + labels. */
export function compileData(inputs: DataInputs): CompiledData {
  const attrs: Attr[] = [];
  const ranged: LabelledRange[] = [];
  const add = (range: IpRange, attr: Attr) => {
    const label = attrs.length;
    attrs.push(attr);
    for (const part of splitByFamily(range)) ranged.push({ range: part, label });
  };
  for (const row of inputs.countries?.rows ?? []) add(row.range, { type: AttrType.Country, value: row.country, size: row.range.end - row.range.start });
  for (const row of inputs.asns?.rows ?? []) add(row.range, { type: AttrType.Asn, value: row.asn, size: row.range.end - row.range.start });
  for (const list of inputs.lists ?? []) {
    // One attr per list: memberships need no size, and fewer distinct labels flatten faster.
    const label = attrs.length;
    attrs.push({ type: AttrType.List, value: list.name, size: 0n });
    for (const r of list.ranges) for (const part of splitByFamily(r)) ranged.push({ range: part, label });
  }
  const flat = flattenRanges(ranged);
  ranged.length = 0;
  const resolver = new LabelResolver(attrs);

  // Segments are resolved, then neighbours with the same label merged: fewer rows, same answers.
  const v4s: number[] = [];
  const v4e: number[] = [];
  const v4l: number[] = [];
  for (const s of flat.v4) {
    const id = resolver.resolve(s.labels);
    const n = v4s.length;
    if (n > 0 && v4l[n - 1] === id && v4e[n - 1]! + 1 === s.start) v4e[n - 1] = s.end;
    else {
      v4s.push(s.start);
      v4e.push(s.end);
      v4l.push(id);
    }
  }
  const v6: { start: bigint; end: bigint; label: number }[] = [];
  for (const s of flat.v6) {
    const id = resolver.resolve(s.labels);
    const last = v6[v6.length - 1];
    if (last && last.label === id && last.end + 1n === s.start) last.end = s.end;
    else v6.push({ start: s.start, end: s.end, label: id });
  }
  const arrays = {
    v4Starts: Uint32Array.from(v4s), v4Ends: Uint32Array.from(v4e), v4Labels: Uint32Array.from(v4l),
    v6Starts: new Uint32Array(v6.length * 4), v6Ends: new Uint32Array(v6.length * 4), v6Labels: new Uint32Array(v6.length),
  };
  v6.forEach((s, i) => {
    ipv6Words(s.start, arrays.v6Starts, i * 4);
    ipv6Words(s.end, arrays.v6Ends, i * 4);
    arrays.v6Labels[i] = s.label;
  });
  const inputRanges = (inputs.countries?.rows.length ?? 0) + (inputs.asns?.rows.length ?? 0) +
    (inputs.lists ?? []).reduce((n, l) => n + l.ranges.length, 0);
  return { table: new RangeTable(arrays), labels: resolver.labels, overlapsResolved: resolver.overlapsResolved, inputRanges };
}

export interface BuildDataOptions {
  builtAt?: Date;
  /** Also write the Wafris v2 data_subscriptions layout to this path. */
  wafris?: { path: string } & WafrisDataOptions;
}

export function buildDataFile(inputs: DataInputs, outPath: string, opts: BuildDataOptions = {}): BuiltDataFile {
  const compiled = compileData(inputs);
  const hash = dataContentHash(compiled.table, compiled.labels);
  const builtAt = (opts.builtAt ?? new Date()).toISOString();
  const sources = [inputs.countries?.summary, inputs.asns?.summary, ...(inputs.lists ?? []).map((l) => l.summary)].filter(
    (s): s is SourceSummary => s !== undefined,
  );
  writeSqliteAtomically(outPath, (db) => {
    for (const ddl of [META_DDL, RANGES_DDL, RANGES_V4_DDL, RANGES_V6_DDL, PACKED_DDL, DATA_LABELS_DDL, SOURCES_DDL]) db.exec(ddl);
    insertMeta(db, { format: DATA_FORMAT, format_version: DATA_FORMAT_VERSION, built_at: builtAt, content_hash: hash });
    storeRangeTable(db, 'data', compiled.table);
    storeLightRanges(db, compiled.table); // what light mode seeks in (ip_ranges stays for older readers)
    const lab = db.prepare('INSERT INTO data_labels (id, country, asn, lists) VALUES (?, ?, ?, ?)');
    compiled.labels.forEach((l, id) => lab.run(id, l.country, l.asn, JSON.stringify(l.lists)));
    const src = db.prepare('INSERT INTO sources (name, kind, file, ranges, invalid_lines) VALUES (?, ?, ?, ?, ?)');
    for (const s of sources) src.run(s.name, s.kind, s.file ?? null, s.ranges, s.invalidLines);
  });
  const built: BuiltDataFile = {
    path: outPath, hash, formatVersion: DATA_FORMAT_VERSION, builtAt, ranges: compiled.table.size,
    inputRanges: compiled.inputRanges, overlapsResolved: compiled.overlapsResolved, labels: compiled.labels.length, sources,
    bytes: fileSize(outPath),
  };
  if (opts.wafris) built.wafris = writeWafrisDataFile(compiled, opts.wafris.path, opts.wafris);
  return built;
}

function fileSize(path: string): number {
  return statSync(path).size;
}
