/**
 * Light mode's labels, read from the data file when a lookup lands on them instead of all at open. A file
 * with country and ASN data has ~10^5 labels (128,046 from the CC0 country and ASN packages): built as
 * objects at open they cost +22 to +31 MiB private memory per worker (bench/memory-bench.ts --file, 2 and 4
 * workers), where light mode's ranges stay in the shared file. Read on demand, a label costs one rowid seek (`data_labels.id` is the rowid) the first
 * time, then, read again, sits in a small bounded cache (set associative: a hit is one or two array reads).
 *
 * The table is checked at open as memory mode checks it, without building a label: ids numbered 0..n-1,
 * country and ASN texts (or NULL) of sane length, every distinct `lists` value parsed (a few hundred; they
 * are kept, frozen, and shared by the labels read later, so no JSON is parsed per request). A row that
 * changed since (the file rewritten under the mmap) throws MOAT_ERR_FILE_CORRUPT on the request path: the
 * firewall fails open (or closed) and counts it, as it does any engine error.
 */
import type { Database as Db, Statement } from 'better-sqlite3';
import type { DataLabel } from './data-set.js';
import { parseLists } from './label-lists.js';
import { requireSingleSeek } from './sqlite-range-lookup.js';
import { MoatError } from '../errors/moat-error.js';

/** Labels cached at most (a power of two). */
export const LABEL_CACHE_SLOTS = 4096;

/** Longest country or ASN text accepted: codes are 2 characters, `AS4294967295` 12. */
const MAX_LABEL_TEXT = 64;

export class LightLabels {
  /** Labels in the file: ids 0 to count - 1. */
  readonly count: number;
  /** Every list name the labels hold, sorted. */
  readonly listNames: readonly string[];
  /** Labels read from the file, and cached labels replaced by another (for tests and benches). */
  reads = 0;
  evictions = 0;
  private readonly readRow: Statement;
  /** Each distinct `lists` value of the file, parsed once at open. */
  private readonly listSets = new Map<string, readonly string[]>();
  private readonly setMask: number;
  /**
   * The cache: two slots per set (2-way set associative), label `id` in set `id & setMask`, the set's most
   * recently used label first. A hit is one or two array reads; a slot's id and label are written together.
   * Two ways, not one: two hot labels of one set would otherwise take turns evicting each other.
   */
  private readonly cachedIds: Int32Array;
  private readonly cachedLabels: (DataLabel | null)[];
  /**
   * Labels read once lately, by a hash of the id: a label is cached the second time it is read. Under varied
   * traffic most labels read are read once; cached, they lived long enough to be copied by V8's young-generation
   * collections, which then doubled the young generation (+8 MiB per worker, measured with a map as the cache).
   */
  private readonly seenOnce: Int32Array;
  private readonly seenShift: number;

  /** `slots`: labels cached at most, a power of two (two or more). */
  constructor(db: Db, slots = LABEL_CACHE_SLOTS) {
    const bits = Math.log2(slots);
    if (!Number.isInteger(bits) || bits < 1 || bits > 24) throw new MoatError('MOAT_ERR_INTERNAL', `label cache slots must be a power of two from 2, not ${slots}`);
    this.setMask = slots / 2 - 1;
    this.cachedIds = new Int32Array(slots).fill(-1);
    this.cachedLabels = new Array<DataLabel | null>(slots).fill(null);
    this.seenOnce = new Int32Array(slots * 2).fill(-1);
    this.seenShift = 32 - (bits + 1);
    this.readRow = db.prepare('SELECT country, asn, lists FROM data_labels WHERE id = ?').raw(true);
    requireSingleSeek(db, this.readRow.source, 0);
    this.count = checkLabelRows(db);
    const names = new Set<string>();
    for (const json of db.prepare('SELECT DISTINCT lists FROM data_labels').pluck().iterate() as Iterable<unknown>) {
      const lists = Object.freeze(parseLists(json));
      for (const name of lists) names.add(name);
      this.listSets.set(json as string, lists); // parseLists accepts only a string
    }
    this.listNames = [...names].sort();
  }

  /** The label `id`, or undefined for an id no label has. An arrow: the data set hands it out as `label`. */
  readonly label = (id: number): DataLabel | undefined => {
    if (!(id >= 0 && id < this.count)) return undefined;
    const first = (id & this.setMask) << 1;
    const ids = this.cachedIds;
    const labels = this.cachedLabels;
    if (ids[first] === id) return labels[first]!;
    if (ids[first + 1] === id) {
      const hit = labels[first + 1]!;
      this.putFirst(first, id, hit);
      return hit;
    }
    const label = this.read(id);
    const seen = Math.imul(id, 0x9e3779b1) >>> this.seenShift;
    if (this.seenOnce[seen] !== id) {
      this.seenOnce[seen] = id;
      return label;
    }
    if (ids[first + 1] !== -1) this.evictions++;
    this.putFirst(first, id, label);
    return label;
  };

  /** Makes `id` its set's first (most recent) label; the first moves second, dropping what was second. */
  private putFirst(first: number, id: number, label: DataLabel): void {
    const ids = this.cachedIds;
    const labels = this.cachedLabels;
    ids[first + 1] = ids[first]!;
    labels[first + 1] = labels[first]!;
    ids[first] = id;
    labels[first] = label;
  }

  /** Labels in the cache now (at most its slots). */
  get cached(): number {
    let n = 0;
    for (const id of this.cachedIds) if (id !== -1) n++;
    return n;
  }

  private read(id: number): DataLabel {
    const row = this.readRow.get(id) as [unknown, unknown, unknown] | undefined;
    const lists = row !== undefined && typeof row[2] === 'string' ? this.listSets.get(row[2]) : undefined;
    if (row === undefined || lists === undefined || !isLabelText(row[0]) || !isLabelText(row[1])) {
      throw new MoatError('MOAT_ERR_FILE_CORRUPT', `data label ${id} is missing or changed since the file was opened`);
    }
    this.reads++;
    return { country: row[0], asn: row[1], lists };
  }
}

function isLabelText(value: unknown): value is string | null {
  return value === null || (typeof value === 'string' && value.length <= MAX_LABEL_TEXT);
}

/**
 * One pass over the label rows (in the shared file pages; nothing kept): refuses ids memory mode refuses,
 * and country or ASN values no real label has (not text, or too long to be a code). Returns the row count.
 */
function checkLabelRows(db: Db): number {
  const text = (column: string) => `sum(NOT (${column} IS NULL OR (typeof(${column}) = 'text' AND length(${column}) <= ${MAX_LABEL_TEXT})))`;
  const [rows, minId, maxId, badIds, badCountries, badAsns, badLists] = db.prepare(
    `SELECT count(*), min(id), max(id), sum(typeof(id) <> 'integer'), ${text('country')}, ${text('asn')}, sum(typeof(lists) <> 'text') FROM data_labels`,
  ).raw(true).get() as [number, unknown, unknown, number | null, number | null, number | null, number | null];
  if (rows === 0) return 0;
  if (badIds !== 0 || minId !== 0 || maxId !== rows - 1) throw new MoatError('MOAT_ERR_FILE_CORRUPT', 'data labels are not numbered 0..n-1');
  if (badCountries !== 0 || badAsns !== 0) {
    throw new MoatError('MOAT_ERR_FILE_CORRUPT', `${(badCountries ?? 0) + (badAsns ?? 0)} data label(s) have a country or ASN that is not a text of at most ${MAX_LABEL_TEXT} characters`);
  }
  if (badLists !== 0) throw new MoatError('MOAT_ERR_FILE_CORRUPT', `${badLists} data label(s) have no list column`);
  return rows;
}

/**
 * `labels` as an array for code that indexes or iterates it (inspect, tests, programs using loadDataFile):
 * each index read goes through `label`. A proxy trap costs ~150 ns, hence `label` on the request path.
 */
export function labelsView(labels: LightLabels): readonly DataLabel[] {
  const indexOf = (key: string | symbol): number => {
    if (typeof key !== 'string') return -1;
    const i = Number(key);
    return Number.isInteger(i) && i >= 0 && String(i) === key ? i : -1;
  };
  return new Proxy<DataLabel[]>([], {
    get(target, key, receiver) {
      if (key === 'length') return labels.count;
      const i = indexOf(key);
      return i >= 0 ? labels.label(i) : Reflect.get(target, key, receiver);
    },
    has(target, key) {
      const i = indexOf(key);
      return i >= 0 ? i < labels.count : Reflect.has(target, key);
    },
    set: () => false,
    deleteProperty: () => false,
  });
}
