/**
 * Builds a Moat data file: country, ASN and named-list ranges flattened together, so one seek per
 * request answers "which country, which network, which lists". Overlaps are resolved here, once:
 * for country and ASN the most specific (smallest) range wins, and between equal ranges the row read
 * first; list memberships add up.
 */
import { createHash } from 'node:crypto';
import type { IpRange } from '../ip/range.js';
import { splitByFamily } from '../ip/range.js';
import { flattenRanges } from '../ranges/flatten.js';
import type { LabelledRange } from '../ranges/flatten.js';
import { RangeTable } from '../ranges/range-table.js';
import { writeSqliteAtomically } from '../format/atomic-file.js';
import { storeRangeTable } from '../format/packed-ranges.js';
import {
  DATA_FORMAT, DATA_FORMAT_VERSION, DATA_LABELS_DDL, META_DDL, PACKED_DDL, RANGES_DDL, SOURCES_DDL,
} from '../format/schema.js';
import type { DataLabel } from './data-set.js';
import type { CountryRow } from './importers/import-result.js';

export interface AsnRow {
  range: IpRange;
  asn: string;
  org?: string;
}

export interface SourceSummary {
  name: string;
  kind: 'country' | 'asn' | 'list';
  file?: string;
  ranges: number;
  invalidLines: number;
}

export interface DataInputs {
  countries?: { rows: CountryRow[]; summary: SourceSummary };
  asns?: { rows: AsnRow[]; summary: SourceSummary };
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
  /** Stretches where two country (or ASN) ranges disagreed and the more specific one was taken. */
  overlapsResolved: number;
  labels: number;
  sources: SourceSummary[];
}

interface Attr {
  type: 0 | 1 | 2; // country, asn, list
  value: string | null;
  size: bigint;
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
  for (const row of inputs.countries?.rows ?? []) add(row.range, { type: 0, value: row.country, size: row.range.end - row.range.start });
  for (const row of inputs.asns?.rows ?? []) add(row.range, { type: 1, value: row.asn, size: row.range.end - row.range.start });
  for (const list of inputs.lists ?? []) for (const r of list.ranges) add(r, { type: 2, value: list.name, size: 0n });

  const flat = flattenRanges(ranged);
  const labels: DataLabel[] = [];
  const labelIds = new Map<string, number>();
  let overlapsResolved = 0;
  const resolve = (segmentLabels: number[]): number => {
    let country: Attr | null = null;
    let asn: Attr | null = null;
    let countryConflict = false;
    let asnConflict = false;
    const lists = new Set<string>();
    // segmentLabels are ascending input indices, so on equal size the row read first is kept.
    for (const l of segmentLabels) {
      const a = attrs[l];
      if (a.type === 2) lists.add(a.value!);
      else if (a.type === 0) {
        if (country && country.value !== a.value) countryConflict = true;
        if (!country || a.size < country.size) country = a;
      } else {
        if (asn && asn.value !== a.value) asnConflict = true;
        if (!asn || a.size < asn.size) asn = a;
      }
    }
    if (countryConflict || asnConflict) overlapsResolved++;
    const label: DataLabel = { country: country?.value ?? null, asn: asn?.value ?? null, lists: [...lists].sort() };
    const key = `${label.country}|${label.asn}|${label.lists.join(',')}`;
    let id = labelIds.get(key);
    if (id === undefined) {
      id = labels.length;
      labels.push(label);
      labelIds.set(key, id);
    }
    return id;
  };
  // Adjacent segments may resolve to the same label; the table keeps them apart, which is harmless.
  const table = RangeTable.fromFlat(flat, resolve);
  return { table, labels, overlapsResolved, inputRanges: attrs.length };
}

export function dataContentHash(table: RangeTable, labels: readonly DataLabel[]): string {
  const h = createHash('sha256').update(`${DATA_FORMAT}/${DATA_FORMAT_VERSION}\n`);
  const a = table.arrays;
  for (const arr of [a.v4Starts, a.v4Ends, a.v4Labels, a.v6Starts, a.v6Ends, a.v6Labels]) {
    h.update(new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength));
    h.update('|');
  }
  h.update(JSON.stringify(labels));
  return h.digest('hex');
}

export function buildDataFile(inputs: DataInputs, outPath: string, opts: { builtAt?: Date } = {}): BuiltDataFile {
  const compiled = compileData(inputs);
  const hash = dataContentHash(compiled.table, compiled.labels);
  const builtAt = (opts.builtAt ?? new Date()).toISOString();
  const sources = [inputs.countries?.summary, inputs.asns?.summary, ...(inputs.lists ?? []).map((l) => l.summary)].filter(
    (s): s is SourceSummary => s !== undefined,
  );
  writeSqliteAtomically(outPath, (db) => {
    for (const ddl of [META_DDL, RANGES_DDL, PACKED_DDL, DATA_LABELS_DDL, SOURCES_DDL]) db.exec(ddl);
    const meta = db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)');
    meta.run('format', DATA_FORMAT);
    meta.run('format_version', String(DATA_FORMAT_VERSION));
    meta.run('built_at', builtAt);
    meta.run('content_hash', hash);
    storeRangeTable(db, 'data', compiled.table);
    const lab = db.prepare('INSERT INTO data_labels (id, country, asn, lists) VALUES (?, ?, ?, ?)');
    compiled.labels.forEach((l, id) => lab.run(id, l.country, l.asn, JSON.stringify(l.lists)));
    const src = db.prepare('INSERT INTO sources (name, kind, file, ranges, invalid_lines) VALUES (?, ?, ?, ?, ?)');
    for (const s of sources) src.run(s.name, s.kind, s.file ?? null, s.ranges, s.invalidLines);
  });
  return {
    path: outPath, hash, formatVersion: DATA_FORMAT_VERSION, builtAt, ranges: compiled.table.size,
    inputRanges: compiled.inputRanges, overlapsResolved: compiled.overlapsResolved, labels: compiled.labels.length, sources,
  };
}
