import { TOP_DIMENSIONS, type TopDimension, type TopEntry } from './store.js';

// Top lists over ranges too large for one GROUP BY, the same in both stores. A range is cut into pieces:
// whole days that have a day summary, and single hours. Of each hour only its largest values are read
// (the index hour_top(site_id, dim, hour, total, blocked) gives them in order); a day summary keeps the
// largest sums of its hours' largest values. Every piece also says the most any value it left out can
// have had in it (its floor), so each count comes with the most it may be low by, and the cost of a list
// is bounded by the number of pieces, not by the number of values clients reported.

/** Up to this many (hour, value) rows in a range, a top list is one plain GROUP BY (exact). */
export const PLAIN_TOP_LIMIT = 20_000;
/** Values read per hour (a caller asking for more reads that many), and kept per day. */
export const HEAD_VALUES = 100;
/**
 * Hourly rows one list reads at most, about: a range with more hours to read than its days' summaries
 * cover (days not summarised yet, after an upgrade or a late report) reads fewer values from each hour,
 * down to MIN_HOUR_VALUES, so its cost stays bounded; the bounds stay true, only wider.
 */
export const HOUR_ROWS_BUDGET = 8_000;
export const MIN_HOUR_VALUES = 3;
export const DAY_SECONDS = 86_400;
/** Dimensions summarised per day: the overview's top lists. */
export const DAY_TOP_DIMENSIONS: readonly TopDimension[] = TOP_DIMENSIONS;
/**
 * A rollup call builds pending day summaries, a dimension at a time, until it has read this many hourly
 * rows: one dimension of a day reads at most 24 × (HEAD_VALUES + 1).
 */
export const DAY_BUILD_ROWS = 5_000;

/** A value's counts in a piece; `missed`: the most its requests there may exceed `total` (0 for an hour). */
export interface HeadRow { value: string; total: number; blocked: number; missed: number }

/** The largest values of an hour or a day; `floor`: the most requests a value left out can have had in it. */
export interface Head { rows: HeadRow[]; floor: number }

export function dayFloor(t: number): number {
  return t - (((t % DAY_SECONDS) + DAY_SECONDS) % DAY_SECONDS);
}

/** UTF-8 byte order (SQLite's BINARY, PostgreSQL's "C"), which is code point order. */
export function compareValues(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    // UTF-16 puts surrogates (code points from U+10000) below U+E000–U+FFFF; code point order above.
    if (x >= 0xd800 && y >= 0xd800) {
      x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
      y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
    }
    return x - y;
  }
  return a.length - b.length;
}

/** The order heads are cut in, which the index gives: total, then blocked, then value, all descending. */
export function headOrder(a: HeadRow, b: HeadRow): number {
  return b.total - a.total || b.blocked - a.blocked || compareValues(b.value, a.value);
}

/** Values to read from each of `hours` hours for a list of `limit`: HEAD_VALUES (or `limit`), fewer when many. */
export function hourHeadSize(hours: number, limit: number): number {
  const most = Math.max(HEAD_VALUES, limit);
  return Math.max(MIN_HOUR_VALUES, Math.min(most, Math.floor(HOUR_ROWS_BUDGET / Math.max(1, hours)) - 1));
}

/** An hour's head from up to n + 1 of its rows, read in head order: n kept, the next one's total the floor. */
export function hourHead(rows: ReadonlyArray<readonly [string, number, number]>, n: number): Head {
  const kept: HeadRow[] = [];
  for (let i = 0; i < rows.length && i < n; i++) {
    const [value, total, blocked] = rows[i]!;
    kept.push({ value, total, blocked, missed: 0 });
  }
  return { rows: kept, floor: rows.length > n ? rows[n]![1] : 0 };
}

/** Hour heads from rows of several hours (as a LATERAL query returns them): grouped by hour, each in head order. */
export function hourHeadsOf(rows: ReadonlyArray<{ hour: number; value: string; total: number; blocked: number }>, n: number): Map<number, Head> {
  const byHour = new Map<number, HeadRow[]>();
  for (const r of rows) {
    let list = byHour.get(r.hour);
    if (!list) byHour.set(r.hour, (list = []));
    list.push({ value: r.value, total: r.total, blocked: r.blocked, missed: 0 });
  }
  const heads = new Map<number, Head>();
  for (const [hour, list] of byHour) {
    list.sort(headOrder);
    heads.set(hour, hourHead(list.map((r) => [r.value, r.total, r.blocked] as const), n));
  }
  return heads;
}

/**
 * Sums pieces: a value's total and blocked over the pieces that hold it; its `missed` adds what those
 * pieces say it may have missed and the floors of the pieces that do not hold it. `floor`: the sum of
 * every floor, the most a value held by no piece can have.
 */
export function mergeHeads(pieces: readonly Head[]): { rows: HeadRow[]; floor: number } {
  let floor = 0;
  for (const p of pieces) floor += p.floor;
  const sums = new Map<string, HeadRow & { held: number }>();
  for (const p of pieces) {
    for (const r of p.rows) {
      const e = sums.get(r.value);
      if (e) {
        e.total += r.total;
        e.blocked += r.blocked;
        e.missed += r.missed;
        e.held += p.floor;
      } else {
        sums.set(r.value, { value: r.value, total: r.total, blocked: r.blocked, missed: r.missed, held: p.floor });
      }
    }
  }
  const rows: HeadRow[] = [];
  for (const e of sums.values()) rows.push({ value: e.value, total: e.total, blocked: e.blocked, missed: e.missed + floor - e.held });
  return { rows, floor };
}

/** A day's head from its hours' heads: the n largest sums, and the most any value left out can have had. */
export function dayHead(hours: readonly Head[], n: number): Head {
  const merged = mergeHeads(hours);
  const rows = merged.rows.sort(headOrder);
  let floor = merged.floor;
  for (let i = n; i < rows.length; i++) floor = Math.max(floor, rows[i]!.total + rows[i]!.missed);
  return { rows: rows.slice(0, n), floor };
}

/**
 * The top list of a range from its pieces: the largest sums, ties by value (as the plain GROUP BY
 * orders them). `lowBy` is set on a count that may be low: its true count is at most total + lowBy.
 */
export function topFromHeads(pieces: readonly Head[], limit: number): TopEntry[] {
  const rows = mergeHeads(pieces).rows.sort((a, b) => b.total - a.total || compareValues(a.value, b.value));
  return rows.slice(0, limit).map((r) => (r.missed > 0
    ? { value: r.value, total: r.total, blocked: r.blocked, lowBy: r.missed }
    : { value: r.value, total: r.total, blocked: r.blocked }));
}
