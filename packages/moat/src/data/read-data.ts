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
    const rows = db.prepare('SELECT id, country, asn, lists FROM data_labels ORDER BY id').all() as
      { id: number; country: string | null; asn: string | null; lists: string }[];
    const labels: DataLabel[] = rows.map((r, i) => {
      if (r.id !== i) throw new MoatError('MOAT_ERR_FILE_CORRUPT', 'data labels are not numbered 0..n-1');
      return { country: r.country, asn: r.asn, lists: parseLists(r.lists) };
    });
    const listNames = [...new Set(labels.flatMap((l) => l.lists))].sort();
    const info = { path, format: 'moat' as const, formatVersion: version, builtAt: meta.get('built_at') ?? null, hash: meta.get('content_hash') ?? '' };
    if (mode === 'light') {
      const table = openLightLookup(db, options);
      return { info, table, labels, listNames, close: () => table.close() };
    }
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
 * More list names than one range can sensibly carry: a label is the set of lists holding a range, and
 * a data file has a few dozen lists. The bound keeps a crafted label from costing unbounded time later.
 */
const MAX_LISTS_PER_LABEL = 4096;

/** A label's `lists` column: a JSON array of names, nothing else (a file from a hub is input). */
function parseLists(json: unknown): string[] {
  if (typeof json !== 'string') throw new MoatError('MOAT_ERR_FILE_CORRUPT', 'a data label has no list column');
  const lists = JSON.parse(json) as unknown;
  if (!Array.isArray(lists) || lists.length > MAX_LISTS_PER_LABEL || !lists.every((l) => typeof l === 'string')) {
    throw new MoatError('MOAT_ERR_FILE_CORRUPT', `a data label's lists are not an array of at most ${MAX_LISTS_PER_LABEL} names`);
  }
  return lists as string[];
}
