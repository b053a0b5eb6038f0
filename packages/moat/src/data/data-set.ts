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
  /** Label id (as stored in the table) → what the range is. */
  labels: readonly DataLabel[];
  /** Lists the file holds, with their range counts. */
  listNames: readonly string[];
  close(): void;
}
