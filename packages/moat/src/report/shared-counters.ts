// Reads and updates of the counters the worker keeps in shared memory (ring-layout.ts COUNTER): every
// slot exists (the layout reserves COUNTER_SLOTS), so a missing element can only be a wrong slot number,
// and reads it as 0 rather than NaN.

/** The value of counter `slot`. */
export function counterOf(counters: Float64Array, slot: number): number {
  return counters[slot] ?? 0;
}

/** Adds `by` (default 1) to counter `slot`. */
export function addToCounter(counters: Float64Array, slot: number, by = 1): void {
  counters[slot] = (counters[slot] ?? 0) + by;
}
