/**
 * HyperLogLog distinct counter (2^12 registers, ~1.6 % standard error, 4 KiB). Hourly sketches of
 * client IPs merge into the unique-IP count of any range without reading every (hour, IP) row.
 */
export const HLL_PRECISION = 12;
export const HLL_REGISTERS = 1 << HLL_PRECISION;

/** 32-bit FNV-1a with murmur3's finaliser: cheap and well mixed for short strings such as IPs. */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export function newSketch(): Uint8Array {
  return new Uint8Array(HLL_REGISTERS);
}

export function addToSketch(sketch: Uint8Array, text: string): void {
  const h = hash32(text);
  const index = h >>> (32 - HLL_PRECISION);
  // Rank of the first 1 bit in the remaining 20 bits (a sentinel bit caps it at 21).
  const rank = Math.clz32(((h << HLL_PRECISION) | (1 << (HLL_PRECISION - 1))) >>> 0) + 1;
  if (rank > sketch[index]!) sketch[index] = rank;
}

/** Register-wise maximum: the sketch of the union. */
export function mergeInto(target: Uint8Array, source: Uint8Array): void {
  const n = Math.min(target.length, source.length);
  for (let i = 0; i < n; i++) if (source[i]! > target[i]!) target[i] = source[i]!;
}

export function estimate(sketch: Uint8Array): number {
  const m = sketch.length;
  let sum = 0;
  let zeros = 0;
  for (let i = 0; i < m; i++) {
    sum += 2 ** -sketch[i]!;
    if (sketch[i] === 0) zeros++;
  }
  const alpha = 0.7213 / (1 + 1.079 / m);
  const raw = (alpha * m * m) / sum;
  // Small ranges: linear counting is far more accurate.
  if (raw <= 2.5 * m && zeros > 0) return Math.round(m * Math.log(m / zeros));
  return Math.round(raw);
}
