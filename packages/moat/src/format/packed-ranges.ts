/** Stores and loads a RangeTable: rows for seeking in SQLite, packed arrays for loading into memory. */
import { endianness } from 'node:os';
import type { Database as Db } from 'better-sqlite3';
import { RangeTable } from '../ranges/range-table.js';
import type { RangeTableArrays } from '../ranges/range-table.js';
import { MoatError } from '../errors/moat-error.js';
import { BatchInsert } from './batch-insert.js';

const PARTS = ['v4Starts', 'v4Ends', 'v4Labels', 'v6Starts', 'v6Ends', 'v6Labels'] as const;
const LITTLE_ENDIAN = endianness() === 'LE';

/** words[offset..offset+count-1], within `words` at every call (the `!`), as big-endian bytes. */
function beBytes(words: Uint32Array, offset: number, count: number): Buffer {
  const b = Buffer.allocUnsafe(count * 4);
  for (let k = 0; k < count; k++) b.writeUInt32BE(words[offset + k]!, k * 4);
  return b;
}

export function storeRangeTable(db: Db, setName: string, table: RangeTable): void {
  const a = table.arrays;
  const row = new BatchInsert(db, 'ip_ranges', ['set_name', 'family', 'start', '"end"', 'label']);
  for (let i = 0; i < a.v4Starts.length; i++) {
    row.add(setName, 4, beBytes(a.v4Starts, i, 1), beBytes(a.v4Ends, i, 1), a.v4Labels[i]);
  }
  for (let i = 0; i < a.v6Labels.length; i++) {
    row.add(setName, 6, beBytes(a.v6Starts, i * 4, 4), beBytes(a.v6Ends, i * 4, 4), a.v6Labels[i]);
  }
  row.flush();
  const packed = db.prepare('INSERT INTO packed_ranges (set_name, part, data) VALUES (?, ?, ?)');
  for (const part of PARTS) {
    const arr = a[part];
    const buf = Buffer.alloc(arr.length * 4);
    for (let i = 0; i < arr.length; i++) buf.writeUInt32LE(arr[i]!, i * 4);
    packed.run(setName, part, buf);
  }
}

function toUint32(buf: Buffer): Uint32Array {
  if (buf.length % 4 !== 0) throw new MoatError('MOAT_ERR_FILE_CORRUPT', 'packed range data has a length that is not a multiple of 4');
  // A view, not a copy, where the layout allows (little-endian host, aligned blob): copying tens of MB
  // per set left the freed blobs' pages in every worker (measured: +80 MiB private per worker at
  // 2.5 M ranges instead of the arrays' ~40 MiB). The blob is ours alone; nothing else writes to it.
  if (LITTLE_ENDIAN && buf.byteOffset % 4 === 0) return new Uint32Array(buf.buffer, buf.byteOffset, buf.length / 4);
  const out = new Uint32Array(buf.length / 4);
  if (LITTLE_ENDIAN) new Uint8Array(out.buffer).set(buf);
  else for (let i = 0; i < out.length; i++) out[i] = buf.readUInt32LE(i * 4);
  return out;
}

/** Loads a set's packed arrays and checks they are consistent (sorted, non-overlapping) before use. */
export function loadRangeTable(db: Db, setName: string): RangeTable {
  const rows = db.prepare('SELECT part, data FROM packed_ranges WHERE set_name = ?').all(setName) as { part: string; data: Buffer }[];
  if (rows.length === 0) return RangeTable.empty();
  const parts = new Map(rows.map((r) => [r.part, r.data]));
  const arrays = {} as RangeTableArrays;
  for (const part of PARTS) {
    const data = parts.get(part);
    if (!data) throw new MoatError('MOAT_ERR_FILE_CORRUPT', `range set "${setName}" is missing its ${part} part`);
    arrays[part] = toUint32(data);
  }
  validate(arrays, setName);
  return new RangeTable(arrays);
}

/** A corrupt table must fail loudly at load, not answer wrongly for months. O(n), once per file. */
function validate(a: RangeTableArrays, setName: string): void {
  const n4 = a.v4Starts.length;
  const n6 = a.v6Labels.length;
  if (a.v4Ends.length !== n4 || a.v4Labels.length !== n4 || a.v6Starts.length !== n6 * 4 || a.v6Ends.length !== n6 * 4) {
    throw new MoatError('MOAT_ERR_FILE_CORRUPT', `range set "${setName}" has parts of different lengths`);
  }
  // The lengths are checked above, so every index below is in bounds (the `!`s).
  for (let i = 0; i < n4; i++) {
    if (a.v4Starts[i]! > a.v4Ends[i]! || (i > 0 && a.v4Starts[i]! <= a.v4Ends[i - 1]!)) {
      throw new MoatError('MOAT_ERR_FILE_CORRUPT', `range set "${setName}" is not sorted and non-overlapping at IPv4 entry ${i}`);
    }
  }
  const cmp = (x: Uint32Array, i: number, y: Uint32Array, j: number) => {
    for (let k = 0; k < 4; k++) if (x[i * 4 + k] !== y[j * 4 + k]) return x[i * 4 + k]! < y[j * 4 + k]! ? -1 : 1;
    return 0;
  };
  for (let i = 0; i < n6; i++) {
    if (cmp(a.v6Starts, i, a.v6Ends, i) > 0 || (i > 0 && cmp(a.v6Starts, i, a.v6Ends, i - 1) <= 0)) {
      throw new MoatError('MOAT_ERR_FILE_CORRUPT', `range set "${setName}" is not sorted and non-overlapping at IPv6 entry ${i}`);
    }
  }
}
