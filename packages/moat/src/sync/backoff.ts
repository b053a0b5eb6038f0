// Retry and polling delays. Jitter spreads many processes (and many hosts) over time, so a hub that
// comes back is not hit by every client in the same second.

/** `intervalMs` ± `jitter` (a fraction, e.g. 0.1 for ±10 %). */
export function jittered(intervalMs: number, jitter: number, random: () => number = Math.random): number {
  const spread = intervalMs * Math.min(Math.max(jitter, 0), 1);
  return Math.max(0, Math.round(intervalMs - spread + random() * 2 * spread));
}

/**
 * Delay before retry number `failures` (1 for the first retry): doubling from `baseMs` up to `maxMs`,
 * then drawn in [half, whole] of that ("equal jitter"), so the delay still grows but never synchronises.
 */
export function backoffDelay(failures: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const exponent = Math.min(Math.max(failures - 1, 0), 30);
  const ceiling = Math.min(maxMs, baseMs * 2 ** exponent);
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}
