/** The content hash of a data file: the format, the flattened ranges and their labels; not the build time. */
import { createHash } from 'node:crypto';
import { DATA_FORMAT, DATA_FORMAT_VERSION } from '../format/schema.js';
import type { RangeTable } from '../ranges/range-table.js';
import type { DataLabel } from './data-set.js';

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
