/**
 * A loaded in-memory data set as it crosses from the load worker to the serving thread. The range
 * arrays travel as transferred ArrayBuffers (moved, not copied: free whatever their size). The labels
 * are JS objects, which cannot be moved; they travel as JSON slices (json-slices.ts), so even a file
 * with millions of labels never holds the serving thread's loop for more than a slice.
 */
import type { DataFileInfo, DataLabel, DataSet } from '../data/data-set.js';
import { RangeTable, type RangeTableArrays } from '../ranges/range-table.js';
import { jsonSlices, parseSlices, type SliceTimer } from './json-slices.js';
import { MoatError } from '../errors/moat-error.js';

const PARTS = ['v4Starts', 'v4Ends', 'v4Labels', 'v6Starts', 'v6Ends', 'v6Labels'] as const;

export interface PackedDataSet {
  info: DataFileInfo;
  arrays: RangeTableArrays;
  labelSlices: string[];
  listNameSlices: string[];
}

/** Packs a data set held in memory; `transfer` lists the buffers postMessage must move. */
export function packDataSet(data: DataSet): { packed: PackedDataSet; transfer: ArrayBuffer[] } {
  if (!(data.table instanceof RangeTable)) throw new MoatError('MOAT_ERR_INTERNAL', 'only an in-memory data set can be packed');
  const transfer: ArrayBuffer[] = [];
  const arrays = movableRangeArrays(data.table, transfer);
  return { packed: { info: data.info, arrays, labelSlices: jsonSlices(data.labels), listNameSlices: jsonSlices(data.listNames) }, transfer };
}

/**
 * The table's arrays, each on a buffer of its own, added to `transfer`. A buffer can be moved only once
 * and only whole: arrays that share one (the empty table) or view part of a larger one (a blob read
 * from SQLite) are copied first.
 */
export function movableRangeArrays(table: RangeTable, transfer: ArrayBuffer[]): RangeTableArrays {
  const arrays = {} as RangeTableArrays;
  for (const part of PARTS) arrays[part] = movable(table.arrays[part], transfer);
  return arrays;
}

/** `arr`, or a copy of it, alone on its buffer; the buffer is added to `transfer`. */
export function movable<A extends Uint8Array | Uint16Array | Int32Array | Uint32Array>(arr: A, transfer: ArrayBuffer[]): A {
  const own = arr.buffer instanceof ArrayBuffer && arr.byteOffset === 0 && arr.byteLength === arr.buffer.byteLength &&
    !transfer.includes(arr.buffer);
  const out = own ? arr : (arr.slice() as A);
  transfer.push(out.buffer as ArrayBuffer);
  return out;
}

/** The data set again, on the receiving thread; yields to the event loop between label slices. */
export async function unpackDataSet(packed: PackedDataSet, onSlice?: SliceTimer): Promise<DataSet> {
  const labels = await parseSlices<DataLabel>(packed.labelSlices, onSlice);
  const listNames = await parseSlices<string>(packed.listNameSlices, onSlice);
  return { info: packed.info, table: new RangeTable(packed.arrays), labels, listNames, close: () => {} };
}
