/**
 * The in-memory IP range table: sorted, non-overlapping ranges in typed arrays, searched by binary
 * search. Hand-written because it is the per-request hot path: ~0.3 µs at 2.5 M ranges against
 * ~1.4 µs for the best SQLite seek (docs/performance.md; re-measured in bench/).
 * IPv4 (including IPv4-mapped IPv6) lives in its own 32-bit table; IPv6 uses four big-endian
 * 32-bit words per address. Each segment carries a label-set id; LabelSets (at the end) interns
 * those sets.
 */
import { ipv6Words } from '../ip/range.js';
import type { FlatRanges } from './flatten.js';

export interface RangeLookup {
  /** Label-set id of the range holding the address, or -1. `words` as filled by parseIpInto. */
  lookupParsed(family: 4 | 6, words: Uint32Array): number;
  readonly size: number;
  close?(): void;
}

export interface RangeTableArrays {
  v4Starts: Uint32Array;
  v4Ends: Uint32Array;
  v4Labels: Uint32Array;
  v6Starts: Uint32Array;
  v6Ends: Uint32Array;
  v6Labels: Uint32Array;
}

/** Compares the 4-word address `w` with entry `i` of `arr`: <0, 0, >0. */
function cmp6(w: Uint32Array, arr: Uint32Array, i: number): number {
  const o = i * 4;
  // Hot path: `w` holds 4 words and entry i is in `arr` (the callers' binary search), so `!` and no check.
  for (let k = 0; k < 4; k++) {
    const a = w[k]!;
    const b = arr[o + k]!;
    if (a !== b) return a < b ? -1 : 1;
  }
  return 0;
}

export class RangeTable implements RangeLookup {
  constructor(readonly arrays: RangeTableArrays) {}

  get size(): number {
    return this.arrays.v4Starts.length + this.arrays.v6Labels.length;
  }

  static empty(): RangeTable {
    const z = new Uint32Array(0);
    return new RangeTable({ v4Starts: z, v4Ends: z, v4Labels: z, v6Starts: z, v6Ends: z, v6Labels: z });
  }

  /** Builds the table from flattened segments; `labelOf` maps a segment's labels to the stored label id. */
  static fromFlat(flat: FlatRanges, labelOf: (labels: number[]) => number): RangeTable {
    const n4 = flat.v4.length;
    const n6 = flat.v6.length;
    const a: RangeTableArrays = {
      v4Starts: new Uint32Array(n4),
      v4Ends: new Uint32Array(n4),
      v4Labels: new Uint32Array(n4),
      v6Starts: new Uint32Array(n6 * 4),
      v6Ends: new Uint32Array(n6 * 4),
      v6Labels: new Uint32Array(n6),
    };
    flat.v4.forEach((s, i) => {
      a.v4Starts[i] = s.start;
      a.v4Ends[i] = s.end;
      a.v4Labels[i] = labelOf(s.labels);
    });
    flat.v6.forEach((s, i) => {
      ipv6Words(s.start, a.v6Starts, i * 4);
      ipv6Words(s.end, a.v6Ends, i * 4);
      a.v6Labels[i] = labelOf(s.labels);
    });
    return new RangeTable(a);
  }

  /** Highest label id used, or -1: lets loaders check labels point at something. */
  maxLabel(): number {
    let max = -1;
    for (const arr of [this.arrays.v4Labels, this.arrays.v6Labels]) for (let i = 0; i < arr.length; i++) if (arr[i]! > max) max = arr[i]!;
    return max;
  }

  lookupParsed(family: 4 | 6, words: Uint32Array): number {
    // Hot path. Every index below is in bounds: `words` holds the parsed address (4 words), and the binary
    // search stays within the arrays, whose lengths the loaders check; so `!` and no runtime check.
    const a = this.arrays;
    if (family === 4) {
      const ip = words[0]!;
      const starts = a.v4Starts;
      let lo = 0;
      let hi = starts.length - 1;
      let found = -1;
      while (lo <= hi) {
        const mid = (lo + hi) >>> 1;
        if (starts[mid]! <= ip) {
          found = mid;
          lo = mid + 1;
        } else hi = mid - 1;
      }
      return found >= 0 && a.v4Ends[found]! >= ip ? a.v4Labels[found]! : -1;
    }
    if (family !== 6) return -1;
    let lo = 0;
    let hi = a.v6Labels.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (cmp6(words, a.v6Starts, mid) >= 0) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found >= 0 && cmp6(words, a.v6Ends, found) <= 0 ? a.v6Labels[found]! : -1;
  }
}

/** Interns label sets: many segments share the same set, so each distinct set is stored once. */
export class LabelSets {
  readonly sets: number[][] = [];
  private readonly ids = new Map<string, number>();

  intern(labels: readonly number[]): number {
    const key = labels.join(',');
    let id = this.ids.get(key);
    if (id === undefined) {
      id = this.sets.length;
      this.sets.push([...labels]);
      this.ids.set(key, id);
    }
    return id;
  }
}
