/**
 * A small direct-mapped memo from request values (user agents, paths, request targets) to what was
 * worked out for them. Hand-written for a measured reason: every request brings fresh strings, and a
 * Map hashes all of a value's characters before it can look it up (~110 for a user agent), which the
 * server profile showed as the largest part of a cache hit. A slot picked from the length and eight
 * sampled characters, confirmed with ===, answers a repeated value without hashing it. A collision
 * only replaces the slot's entry; the answer is recomputed, never wrong.
 */
export class RecentValues<T> {
  private readonly mask: number;
  // The full hash of each slot's key, beside it in a typed array: a miss is told by one read here, without
  // touching the stored string (a cache miss of its own when it is cold).
  private readonly tags: Int32Array;
  private readonly keys: (string | undefined)[];
  private readonly values: (T | undefined)[];

  /** `slots` is rounded up to a power of two; values longer than `maxLength` are never kept. */
  constructor(slots: number, readonly maxLength: number) {
    let size = 1;
    while (size < slots) size *= 2;
    this.mask = size - 1;
    this.tags = new Int32Array(size);
    this.keys = new Array<string | undefined>(size).fill(undefined);
    this.values = new Array<T | undefined>(size).fill(undefined);
  }

  get(key: string): T | undefined {
    const tag = tagOf(key);
    const slot = tag & this.mask;
    return this.tags[slot] === tag && this.keys[slot] === key ? this.values[slot] : undefined;
  }

  set(key: string, value: T): void {
    if (key.length > this.maxLength) return;
    const tag = tagOf(key);
    const slot = tag & this.mask;
    this.tags[slot] = tag;
    this.keys[slot] = key;
    this.values[slot] = value;
  }
}

/**
 * Length and eight sampled code units: the last three (values often differ only in a version or an
 * id at the end) and five spread over the rest, at n/8, n/4, n/2, 3n/4 and 7n/8.
 */
export function tagOf(key: string): number {
  const n = key.length;
  if (n === 0) return 0;
  let h = n;
  h = (h * 31 + key.charCodeAt(n - 1)) | 0;
  h = (h * 31 + key.charCodeAt(n - 2 < 0 ? 0 : n - 2)) | 0;
  h = (h * 31 + key.charCodeAt(n - 3 < 0 ? 0 : n - 3)) | 0;
  h = (h * 31 + key.charCodeAt(n >> 1)) | 0;
  h = (h * 31 + key.charCodeAt(n >> 2)) | 0;
  h = (h * 31 + key.charCodeAt((n * 3) >> 2)) | 0;
  h = (h * 31 + key.charCodeAt(n >> 3)) | 0;
  h = (h * 31 + key.charCodeAt((n * 7) >> 3)) | 0;
  return h ^ (h >>> 15);
}
