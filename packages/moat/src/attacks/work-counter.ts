/**
 * A count of characters and tokens the detectors looked at. Tests use it to prove the work stays
 * linear in the input (no backtracking, no exponential JSON walk) without timing anything; it is one
 * integer add per scanned chunk, cheap enough to keep on in production.
 */
let steps = 0;

export function addWork(n: number): void {
  steps += n;
}

/** Steps counted since the last reset. */
export function workSteps(): number {
  return steps;
}

export function resetWorkSteps(): void {
  steps = 0;
}
