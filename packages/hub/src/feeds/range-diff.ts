/**
 * What changed in one list between two versions: the address ranges added and removed. Both sides are
 * first merged into sorted, non-overlapping intervals, so re-ordering a feed or splitting a /23 into two
 * /24s is no change; the result counts the intervals of the set differences and keeps a bounded sample.
 */
import { formatRange, type IpRange } from 'moat-waf/ip';
import type { ListDiff } from '../store/feed-records.js';

/** Sample size per direction and list: enough to see what happened, bounded for the store and the page. */
export const DIFF_SAMPLE = 20;

/** IPv6 values are placed above all IPv4 values, so one ordering covers both families. */
const V6_BASE = 1n << 129n;

interface Interval {
  start: bigint;
  end: bigint;
}

const key = (family: 4 | 6, value: bigint) => (family === 4 ? value : V6_BASE + value);

/** Sorted, merged intervals of a list's ranges (adjacent ones joined). */
export function mergeRanges(ranges: readonly IpRange[]): Interval[] {
  const sorted = ranges.map((r) => ({ start: key(r.family, r.start), end: key(r.family, r.end) }))
    .sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  const out: Interval[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && r.start <= last.end + 1n && (r.start >= V6_BASE) === (last.start >= V6_BASE)) {
      if (r.end > last.end) last.end = r.end;
    } else out.push({ ...r });
  }
  return out;
}

/** The parts of `a` not covered by `b` (both merged). */
export function subtract(a: readonly Interval[], b: readonly Interval[]): Interval[] {
  const out: Interval[] = [];
  let j = 0;
  for (const r of a) {
    let start = r.start;
    while (j < b.length && b[j]!.end < start) j++;
    let k = j;
    while (k < b.length && b[k]!.start <= r.end) {
      const cut = b[k]!;
      if (cut.start > start) out.push({ start, end: cut.start - 1n });
      if (cut.end + 1n > start) start = cut.end + 1n;
      if (start > r.end) break;
      k++;
    }
    if (start <= r.end) out.push({ start, end: r.end });
  }
  return out;
}

function describe(i: Interval): string {
  const v6 = i.start >= V6_BASE;
  const range: IpRange = v6 ? { family: 6, start: i.start - V6_BASE, end: i.end - V6_BASE } : { family: 4, start: i.start, end: i.end };
  return formatRange(range);
}

export function diffList(list: string, before: readonly Interval[], after: readonly Interval[]): ListDiff {
  const added = subtract(after, before);
  const removed = subtract(before, after);
  return {
    list, added: added.length, removed: removed.length,
    addedSample: added.slice(0, DIFF_SAMPLE).map(describe), removedSample: removed.slice(0, DIFF_SAMPLE).map(describe),
  };
}

/** Intervals as text, for the snapshot the next build compares with ("start-end" in the combined ordering). */
export function intervalsToText(intervals: readonly Interval[]): string[] {
  return intervals.map((i) => `${i.start.toString(16)}-${i.end.toString(16)}`);
}

export function intervalsFromText(lines: readonly string[]): Interval[] {
  return lines.map((l) => {
    const [s, e] = l.split('-');
    return { start: BigInt(`0x${s}`), end: BigInt(`0x${e}`) };
  });
}
