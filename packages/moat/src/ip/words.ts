// Conversions between a 128-bit bigint and four big-endian 32-bit words, the layout parseIpInto writes
// and range tables store, so that lookups compare small integers instead of bigints.

const WORD = 0xffffffffn;

/** Writes a 128-bit value as 4 big-endian uint32 words at out[offset..offset+3]. */
export function ipv6Words(value: bigint, out: Uint32Array, offset: number): void {
  out[offset] = Number((value >> 96n) & WORD);
  out[offset + 1] = Number((value >> 64n) & WORD);
  out[offset + 2] = Number((value >> 32n) & WORD);
  out[offset + 3] = Number(value & WORD);
}

/** Reads 4 big-endian 32-bit words from words[offset..offset+3] (the caller's bounds) as a 128-bit value. */
export function wordsToBigint(words: ArrayLike<number>, offset: number): bigint {
  // `>>> 0` so that words read from an Int32Array (negative numbers) count as unsigned.
  return (
    (BigInt(words[offset]! >>> 0) << 96n) |
    (BigInt(words[offset + 1]! >>> 0) << 64n) |
    (BigInt(words[offset + 2]! >>> 0) << 32n) |
    BigInt(words[offset + 3]! >>> 0)
  );
}
