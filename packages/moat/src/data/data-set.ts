import type { RangeLookup } from '../ranges/range-table.js';

/** `memory`: the ranges loaded into arrays; `light`: one SQLite seek per lookup. Here, with the other data
 * types, so that a type-only import of it does not reach better-sqlite3's types. */
export type DataMode = 'memory' | 'light';

export interface DataFileInfo {
  path: string | null;
  format: 'moat' | 'wafris';
  formatVersion: number;
  builtAt: string | null;
  hash: string;
}

/** What is known of one flattened range of the data file. */
export interface DataLabel {
  /** ISO country code, or null when unknown. */
  country: string | null;
  /** `AS13335`, or null. */
  asn: string | null;
  /** Names of the IP lists holding the range. */
  lists: readonly string[];
}

/** The data file (countries, ASNs, named IP lists) as the evaluator holds it: one lookup answers all. */
export interface DataSet {
  info: DataFileInfo;
  table: RangeLookup;
  /**
   * Label id (as stored in the table) → what the range is. In light mode a read-only view that reads each
   * label it is asked for from the file (through `label`'s cache): for tools and callers that index it;
   * the request path calls `label`, which costs no proxy trap.
   */
  labels: readonly DataLabel[];
  /**
   * The label of an id `table` returned, on data sets that read labels on demand (light mode), else
   * absent: index `labels` then. Throws a MoatError (MOAT_ERR_FILE_CORRUPT) when the file changed under it.
   */
  label?: (id: number) => DataLabel | undefined;
  /** Lists the file holds, with their range counts. */
  listNames: readonly string[];
  close(): void;
}

/** The label of an id `data.table` returned: on demand in light mode (no proxy trap), else from the array. */
export function labelOf(data: DataSet, id: number): DataLabel | undefined {
  return data.label !== undefined ? data.label(id) : data.labels[id];
}
