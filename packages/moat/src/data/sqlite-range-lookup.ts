/**
 * Memory-light range lookup: one seek per request in the data file, so worker processes share the file's
 * pages through the OS cache instead of each holding the arrays (under +0.4 MiB private memory per worker
 * against +47 MiB at 2.5 M ranges, bench/memory-bench.ts). Written and read here, since writer and reader must agree on the layout.
 *
 * The layout (`ranges_v4`, `ranges_v6`, format/schema.ts) partitions each family's address space: a row
 * says "from `start` to the next row's start, `label`", -1 for addresses in no range, so a lookup is
 * `SELECT label … WHERE start <= ? ORDER BY start DESC LIMIT 1` and nothing is compared afterwards.
 * Why this shape, measured at 2.5 M ranges (CPU time per lookup with parsing, interleaved rounds in one
 * process on a busy 2-core VM; medians of 7: Wafris v2 design 47.7 µs, the old query 4.76 µs = 10×, this
 * one 2.19 µs = 22×, memory mode 1.02 µs):
 * - The old `ip_ranges` seek (blob keys behind the set name and family) returned `end` as a Buffer: a copy
 *   and an object per call. Comparing `end` in SQL and plucking one integer: 2.9 µs.
 * - A table of its own per family, keyed by start: 1.7–1.9 µs (IPv4 an INTEGER PRIMARY KEY, the rowid
 *   itself: no index behind it); IPv6 as a 16-byte blob key 2.2 µs, about what two 64-bit halves cost once
 *   they are made BigInts to bind.
 * - Left as they were: 4 KiB pages (8–64 KiB were slower: longer searches inside each page), mmap (without
 *   it, 4.4 µs unless every worker keeps a private page cache of the file), `MAX(start)` (two seeks).
 * What is left is mostly SQLite walking three B-tree pages (profiled: half the time in the seek and page setup).
 * No result cache: addresses repeat too little to pay for one, and it would flatter the bench.
 *
 * Files from before these tables are read through the older `ip_ranges` seek (legacy-range-lookup.ts), as
 * earlier versions read them, so an upgraded client keeps working with a file its hub built before.
 */
import type { Database as Db, Statement } from 'better-sqlite3';
import type { RangeLookup, RangeTable } from '../ranges/range-table.js';
import { LegacySqliteRangeLookup } from './legacy-range-lookup.js';
import { MoatError } from '../errors/moat-error.js';
import { BatchInsert } from '../format/batch-insert.js';

/** Label of a partition row covering addresses in no range. */
const NO_RANGE = -1;
const LAST_V4 = 0xffffffff;

export class SqliteRangeLookup implements RangeLookup {
  private readonly seek4: Statement;
  private readonly seek6: Statement;
  private readonly key16 = Buffer.alloc(16);
  private counted = -1;

  /**
   * Checks the file before the first lookup, so a bad one is refused (the caller wraps the error in a
   * MoatFileError) rather than answering wrongly later: a lookup that would scan instead of seek (a missing
   * or different key), or a label that names no data label (checkLightLabels). Partition rows cannot
   * overlap or be out of order, so there is nothing else to check. `labelsChecked`: the label pass already
   * ran on this file (in a loader thread), so the serving thread skips it.
   */
  constructor(private readonly db: Db, setName: string, options: { labelsChecked?: boolean } = {}) {
    if (setName !== 'data') throw new MoatError('MOAT_ERR_INTERNAL', `light mode seeks in a data file's own set, not "${setName}"`);
    requireLightTables(db);
    this.seek4 = db.prepare('SELECT label FROM ranges_v4 WHERE start <= ? ORDER BY start DESC LIMIT 1').pluck();
    this.seek6 = db.prepare('SELECT label FROM ranges_v6 WHERE start <= ? ORDER BY start DESC LIMIT 1').pluck();
    requireSingleSeek(db, this.seek4.source, 0);
    requireSingleSeek(db, this.seek6.source, this.key16);
    if (options.labelsChecked !== true) checkLightLabels(db);
  }

  /**
   * Ranges in the file (for inspect and status, never a request): counted on first use. Not from the packed
   * arrays' lengths: SQLite reads a blob to measure it, which left ~7.5 MiB in every worker (measured).
   */
  get size(): number {
    if (this.counted < 0) {
      this.counted = 0;
      for (const table of ['ranges_v4', 'ranges_v6']) {
        this.counted += this.db.prepare(`SELECT count(*) FROM ${table} WHERE label <> ${NO_RANGE}`).pluck().get() as number;
      }
    }
    return this.counted;
  }

  lookupParsed(family: 4 | 6, words: Uint32Array): number {
    let label: number | undefined;
    // `words` holds the parsed address, 4 words (the `!`s; no check on the request path).
    if (family === 4) label = this.seek4.get(words[0]!) as number | undefined;
    else if (family === 6) {
      const key = this.key16;
      for (let k = 0; k < 4; k++) key.writeUInt32BE(words[k]!, k * 4);
      label = this.seek6.get(key) as number | undefined;
    } else return -1;
    return label === undefined ? -1 : label; // undefined: below the first row, in no range
  }

  close(): void {
    this.db.close();
  }
}

/** The light lookup for a data file: its own tables, or the older `ip_ranges` seek for a file built before them. */
export function openLightLookup(db: Db, options: { labelsChecked?: boolean } = {}): RangeLookup & { readonly size: number; close(): void } {
  return hasLightTables(db) ? new SqliteRangeLookup(db, 'data', options) : new LegacySqliteRangeLookup(db, 'data');
}

function hasLightTables(db: Db): boolean {
  const tables = new Set(db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all() as string[]);
  return tables.has('ranges_v4') && tables.has('ranges_v6');
}

function requireLightTables(db: Db): void {
  if (!hasLightTables(db)) {
    throw new MoatError('MOAT_ERR_FILE_VERSION', 'the file has no light-mode tables (ranges_v4, ranges_v6): it was built by an older Moat; ' +
      'rebuild it with `moat-waf data build` (or a current hub), or load it with dataMode "memory"');
  }
}

/**
 * Refuses partition rows whose label names no data label (out of range, NULL, not an integer): a lookup
 * would read past the label table. One pass over the labels (~0.1–0.2 s at 2.5 M ranges on an idle core,
 * in pages the workers share; nothing is copied), so it belongs in a loader thread where there is one.
 */
export function checkLightLabels(db: Db): void {
  if (!hasLightTables(db)) return; // an older file: read by the legacy seek, which compares each range's end

  const maxLabel = (db.prepare('SELECT count(*) FROM data_labels').pluck().get() as number) - 1;
  for (const table of ['ranges_v4', 'ranges_v6']) {
    const bad = db.prepare(`SELECT count(*) FROM ${table} WHERE label IS NULL OR typeof(label) <> 'integer' OR label NOT BETWEEN ${NO_RANGE} AND ${maxLabel}`)
      .pluck().get() as number;
    if (bad > 0) throw new MoatError('MOAT_ERR_FILE_CORRUPT', `${table} has ${bad} row(s) whose label names no data label (out of range, NULL or not an integer)`);
  }
}

/** Refuses a table whose lookup would scan (a missing or different key): one seek per request is the contract. */
export function requireSingleSeek(db: Db, sql: string, key: unknown): void {
  const plan = (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(key) as { detail: string }[]).map((r) => r.detail);
  if (plan.length === 0 || plan.some((d) => !d.startsWith('SEARCH ') || d.includes('TEMP B-TREE'))) {
    throw new MoatError('MOAT_ERR_FILE_CORRUPT', `a light-mode lookup would not be a single seek (${plan.join('; ')}): the table's key is missing or wrong`);
  }
}

/** Writes a data file's ranges as the partition rows the lookup seeks in (one row per boundary). */
export function storeLightRanges(db: Db, table: RangeTable): void {
  const a = table.arrays;
  const v4 = new BatchInsert(db, 'ranges_v4', ['start', 'label']);
  let covered = 0; // first address not yet inside a written row's span
  // The table's v4 arrays have one length and its v6 arrays four words per label (RangeTable): the `!`s.
  for (let i = 0; i < a.v4Starts.length; i++) {
    // A gap row where a range does not begin right after the previous one (none before the first: no row = no range).
    if (i > 0 && a.v4Starts[i] !== covered) v4.add(covered, NO_RANGE);
    v4.add(a.v4Starts[i], a.v4Labels[i]);
    covered = a.v4Ends[i]! + 1;
  }
  if (a.v4Starts.length > 0 && covered <= LAST_V4) v4.add(covered, NO_RANGE);
  v4.flush();

  const v6 = new BatchInsert(db, 'ranges_v6', ['start', 'label']);
  let after: Buffer | null = null; // first address after the previous range, null past the last address
  const n6 = a.v6Labels.length;
  for (let i = 0; i < n6; i++) {
    const start = wordsToBytes(a.v6Starts, i * 4);
    if (after !== null && !after.equals(start)) v6.add(after, NO_RANGE);
    v6.add(start, a.v6Labels[i]);
    // wordsToBytes() makes a new buffer each time, so a row still waiting in the batch keeps its bytes.
    after = nextAddress(wordsToBytes(a.v6Ends, i * 4));
  }
  if (n6 > 0 && after !== null) v6.add(after, NO_RANGE);
  v6.flush();
}

function wordsToBytes(words: Uint32Array, offset: number): Buffer {
  const b = Buffer.alloc(16);
  for (let k = 0; k < 4; k++) b.writeUInt32BE(words[offset + k]!, k * 4);
  return b;
}

/** The big-endian address one above `addr` (changed in place), or null when `addr` is the last one. */
function nextAddress(addr: Buffer): Buffer | null {
  for (let i = addr.length - 1; i >= 0; i--) {
    if (addr[i] !== 0xff) {
      addr[i]!++;
      return addr;
    }
    addr[i] = 0;
  }
  return null;
}

