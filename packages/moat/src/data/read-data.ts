/**
 * Opens a Moat data file, either loaded into memory (fastest; the content hash is checked) or looked up
 * in place (lightest: one indexed seek per request in a read-only, EXCLUSIVE-locked, mmapped file; the
 * hash is not recomputed there, since that would read the whole file into every worker).
 */
import type { Database as Db } from 'better-sqlite3';
import { loadRangeTable } from '../format/packed-ranges.js';
import { readMeta } from '../format/open-sqlite.js';
import { DATA_FORMAT_VERSION } from '../format/schema.js';
import type { DataLabel, DataMode, DataSet } from './data-set.js';
import { openLightLookup } from './sqlite-range-lookup.js';
import { LightLabels, labelsView } from './light-labels.js';
import { parseLists } from './label-lists.js';
import { dataContentHash } from './data-hash.js';
import { MoatError, MoatFileError, errorCodeOf } from '../errors/moat-error.js';

export type { DataMode } from './data-set.js';

/** `labelsChecked`: a loader thread already checked the light tables' labels (checkLightLabels). */
export function loadMoatData(db: Db, path: string, mode: DataMode, options: { labelsChecked?: boolean } = {}): DataSet {
  try {
    const meta = readMeta(db);
    const version = Number(meta.get('format_version'));
    if (!Number.isInteger(version) || version < 1) throw new MoatError('MOAT_ERR_FILE_VERSION', 'missing format version');
    if (version > DATA_FORMAT_VERSION) throw new MoatError('MOAT_ERR_FILE_VERSION', `format version ${version} is newer than this Moat understands; upgrade moat`);
    const info = { path, format: 'moat' as const, formatVersion: version, builtAt: meta.get('built_at') ?? null, hash: meta.get('content_hash') ?? '' };
    if (mode === 'light') {
      // Labels too are read from the file when a lookup needs them (light-labels.ts says why).
      const labels = new LightLabels(db);
      const table = openLightLookup(db, options);
      return { info, table, labels: labelsView(labels), label: labels.label, listNames: labels.listNames, close: () => table.close() };
    }
    const labels = readLabels(db);
    const listNames = [...new Set(labels.flatMap((l) => l.lists))].sort();
    const table = loadRangeTable(db, 'data');
    const max = table.maxLabel();
    if (max >= labels.length) throw new MoatError('MOAT_ERR_FILE_CORRUPT', 'ranges refer to a missing label');
    // The loaded arrays are hashed anyway in a few ms; a file edited or damaged since its build is refused.
    if (dataContentHash(table, labels) !== info.hash) throw new MoatError('MOAT_ERR_FILE_CORRUPT', 'content hash does not match the ranges (corrupt or edited file)');
    db.close(); // everything is in memory now
    return { info, table, labels, listNames, close: () => {} };
  } catch (e) {
    if (e instanceof MoatFileError) throw e;
    throw new MoatFileError(errorCodeOf(e, 'MOAT_ERR_FILE_CORRUPT'), path, `unreadable data file: ${(e as Error).message}`, { cause: e });
  }
}

/**
 * The label table (memory mode), each text and list set held once. Labels stay in every worker, and a file
 * with country and ASN data has ~10^5 of them repeating a few hundred countries and list sets: measured at
 * 90,000 labels, 11.8 MiB of heap per worker read row by row, 7.1 MiB shared this way (docs/performance.md).
 * Rows are iterated, not collected first, so loading leaves no second copy for the heap to grow by.
 */
function readLabels(db: Db): DataLabel[] {
  const texts = new Map<string, string>();
  const listSets = new Map<string, readonly string[]>();
  const shared = <T>(value: T): T => {
    if (typeof value !== 'string') return value;
    const known = texts.get(value);
    if (known !== undefined) return known as T;
    texts.set(value, value);
    return value;
  };
  const labels: DataLabel[] = [];
  for (const row of db.prepare('SELECT id, country, asn, lists FROM data_labels ORDER BY id').raw(true).iterate() as Iterable<[unknown, string | null, string | null, unknown]>) {
    const [id, country, asn, listsJson] = row;
    if (id !== labels.length) throw new MoatError('MOAT_ERR_FILE_CORRUPT', 'data labels are not numbered 0..n-1');
    let lists = typeof listsJson === 'string' ? listSets.get(listsJson) : undefined;
    if (lists === undefined) {
      lists = Object.freeze(parseLists(listsJson).map(shared)); // frozen: one array serves many labels
      if (typeof listsJson === 'string') listSets.set(listsJson, lists);
    }
    labels.push({ country: shared(country), asn: shared(asn), lists });
  }
  return labels;
}
