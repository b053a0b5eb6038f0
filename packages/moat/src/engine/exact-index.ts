/**
 * Exact-value lookup for host, method and rate-limited path rules. Request values are fresh strings,
 * so a plain Map.get hashes the whole value on every request; the server profile showed it. Most
 * requests carry a value of a length no rule has, and those are answered from a length bitmap without
 * hashing. Hand-written for that measured reason; lookups are otherwise a Map's.
 */
const MAX_TRACKED_LENGTH = 1024;

export class ExactIndex {
  private readonly map: ReadonlyMap<string, readonly number[]>;
  /** Bit per key length up to MAX_TRACKED_LENGTH; longer keys always go to the map. */
  private readonly lengths = new Uint32Array((MAX_TRACKED_LENGTH >> 5) + 1);

  constructor(map: ReadonlyMap<string, readonly number[]>) {
    this.map = map;
    for (const key of map.keys()) {
      if (key.length <= MAX_TRACKED_LENGTH) this.lengths[key.length >> 5]! |= 1 << (key.length & 31);
    }
  }

  get size(): number {
    return this.map.size;
  }

  /** Every key with its rule indices (to move the index to another thread). */
  entries(): IterableIterator<[string, readonly number[]]> {
    return this.map.entries();
  }

  /** Rule indices for exactly this value, or undefined. */
  get(key: string): readonly number[] | undefined {
    const n = key.length;
    // n >> 5 is within `lengths` whenever n <= MAX_TRACKED_LENGTH (the `!`).
    if (n <= MAX_TRACKED_LENGTH && (this.lengths[n >> 5]! & (1 << (n & 31))) === 0) return undefined;
    return this.map.get(key);
  }
}
