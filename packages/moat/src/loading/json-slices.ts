/**
 * JS objects cannot be moved between threads, and structured cloning a big object graph costs the
 * receiving thread time in proportion to it, all at once. So object lists travel as JSON text in slices
 * of bounded size (text is copied in one cheap block) and the receiving thread parses one slice per turn
 * of the event loop: however long the list, the loop is never held for more than a slice.
 */

/** JSON characters per slice: parsing one takes well under a millisecond (rule and label lists, measured). */
const SLICE_CHARS = 64 * 1024;

/** JSON arrays of consecutive items, each about SLICE_CHARS long (one item may exceed it alone). */
export function jsonSlices(items: Iterable<unknown>): string[] {
  const slices: string[] = [];
  let parts: string[] = [];
  let length = 0;
  for (const item of items) {
    const json = JSON.stringify(item) ?? 'null';
    parts.push(json);
    length += json.length + 1;
    if (length >= SLICE_CHARS) {
      slices.push(`[${parts.join(',')}]`);
      parts = [];
      length = 0;
    }
  }
  if (parts.length > 0) slices.push(`[${parts.join(',')}]`);
  return slices;
}

/** Time the receiving thread spent parsing one slice, for the loader's counters. */
export type SliceTimer = (ms: number) => void;

/** The items again, one slice per event-loop turn (the first at once). */
export async function parseSlices<T>(slices: readonly string[], onSlice?: SliceTimer): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < slices.length; i++) {
    if (i > 0) await new Promise<void>((resolve) => setImmediate(resolve));
    const t0 = performance.now();
    for (const item of JSON.parse(slices[i]!) as T[]) out.push(item);
    onSlice?.(performance.now() - t0);
  }
  return out;
}
