/**
 * A small direct-mapped memo from request values (user agents, paths, request targets) to what was
 * worked out for them. Hand-written for a measured reason: every request brings fresh strings, and a
 * Map hashes all of a value's characters before it can look it up (~110 for a user agent), which the
 * server profile showed as the largest part of a cache hit. A slot picked from the length and four
 * sampled characters, confirmed with ===, answers a repeated value without hashing it. A collision
 * only replaces the slot's entry; the answer is recomputed, never wrong.
 */
export class RecentValues<T> {
  private readonly mask: number;
  private readonly keys: (string | undefined)[];
  private readonly values: (T | undefined)[];

  /** `slots` is rounded up to a power of two; values longer than `maxLength` are never kept. */
  constructor(slots: number, readonly maxLength: number) {
    let size = 1;
    while (size < slots) size *= 2;
    this.mask = size - 1;
    this.keys = new Array<string | undefined>(size).fill(undefined);
    this.values = new Array<T | undefined>(size).fill(undefined);
  }

  get(key: string): T | undefined {
    const slot = this.slotOf(key);
    return this.keys[slot] === key ? this.values[slot] : undefined;
  }

  set(key: string, value: T): void {
    if (key.length > this.maxLength) return;
    const slot = this.slotOf(key);
    this.keys[slot] = key;
    this.values[slot] = value;
  }

  private slotOf(key: string): number {
    const n = key.length;
    if (n === 0) return 0;
    const h = n * 31 + key.charCodeAt(n - 1) * 7 + key.charCodeAt(n >> 1) * 13 + key.charCodeAt((n * 3) >> 2) * 17 +
      key.charCodeAt(n >> 2);
    return h & this.mask;
  }
}
