/**
 * Flattening: turns overlapping, nested and adjacent labelled ranges into sorted, non-overlapping
 * segments, each carrying the set of labels that cover it. Done once at build time so that a lookup
 * is a single seek (see docs/performance.md).
 */
import type { IpRange } from '../ip/range.js';

export interface LabelledRange {
  readonly range: IpRange;
  readonly label: number;
}

export interface Segment<P extends number | bigint> {
  start: P;
  end: P;
  /** Sorted, distinct labels covering the whole segment. */
  labels: number[];
}

export interface FlatRanges {
  v4: Segment<number>[];
  v6: Segment<bigint>[];
}

interface Event<P> {
  pos: P;
  delta: 1 | -1;
  label: number;
}

function sweep<P extends number | bigint>(events: Event<P>[], one: P): Segment<P>[] {
  events.sort((a, b) => (a.pos < b.pos ? -1 : a.pos > b.pos ? 1 : a.delta - b.delta));
  const active = new Map<number, number>();
  const out: Segment<P>[] = [];
  let i = 0;
  let prev: P | null = null;
  // i < events.length in both loops (the `!`s).
  while (i < events.length) {
    const pos = events[i]!.pos;
    if (prev !== null && active.size > 0) {
      const labels = [...active.keys()].sort((a, b) => a - b);
      const end = ((pos as bigint) - (one as bigint)) as P;
      const last = out[out.length - 1];
      // Adjacent segments with the same labels are one segment: fewer rows, same answers.
      if (last && ((last.end as bigint) + (one as bigint)) === (prev as bigint) && sameLabels(last.labels, labels)) {
        last.end = end;
      } else {
        out.push({ start: prev, end, labels });
      }
    }
    for (; i < events.length && events[i]!.pos === pos; i++) {
      const e = events[i]!;
      const n = (active.get(e.label) ?? 0) + e.delta;
      if (n === 0) active.delete(e.label);
      else active.set(e.label, n);
    }
    prev = pos;
  }
  return out;
}

function sameLabels(a: number[], b: number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** IPv4 positions fit in a double, so IPv4 is swept with numbers (several times faster than bigint). */
export function flattenRanges(inputs: Iterable<LabelledRange>): FlatRanges {
  const e4: Event<number>[] = [];
  const e6: Event<bigint>[] = [];
  for (const { range, label } of inputs) {
    if (range.family === 4) {
      e4.push({ pos: Number(range.start), delta: 1, label }, { pos: Number(range.end) + 1, delta: -1, label });
    } else {
      e6.push({ pos: range.start, delta: 1, label }, { pos: range.end + 1n, delta: -1, label });
    }
  }
  return { v4: sweep(e4, 1), v6: sweep(e6, 1n) };
}
