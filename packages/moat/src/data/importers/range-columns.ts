/**
 * The `start,end` columns of range CSVs. The @ip-location-db packages ship two shapes: addresses
 * (`1.0.0.0,1.0.0.255`) and integers (`16777216,16777471`, the `-num.csv` files). Integers are read as
 * IPv4 when both are below 2^32 and as IPv6 otherwise, the same convention as the Wafris encoding.
 */
import { scanIp } from '../../ip/parse-into.js';
import { tryParseRange } from '../../ip/range.js';
import type { IpRange } from '../../ip/range.js';

const DIGITS = /^\d{1,39}$/;
const V4_LIMIT = 1n << 32n;
const V6_LIMIT = 1n << 128n;
const scratch = new Uint32Array(4);

/** The range, or a reason it is not one. */
export function rangeFromColumns(start: string, end: string): IpRange | string {
  if (DIGITS.test(start) && DIGITS.test(end)) {
    const s = BigInt(start);
    const e = BigInt(end);
    if (e >= V6_LIMIT) return 'integer above the IPv6 space';
    if (s > e) return 'start is after end';
    return { family: e < V4_LIMIT ? 4 : 6, start: s, end: e };
  }
  // Fast path for the common dotted IPv4 row (most of a million rows); anything else goes the general way.
  if (!start.includes(':') && !end.includes(':') && scanIp(start, scratch) === 4) {
    const s = scratch[0]!; // scanIp wrote the IPv4 address there (the `!`s)
    if (scanIp(end, scratch) === 4) return s <= scratch[0]! ? { family: 4, start: BigInt(s), end: BigInt(scratch[0]!) } : 'start is after end';
  }
  const range = tryParseRange(`${start}-${end}`);
  return range ?? `invalid range ${JSON.stringify(`${start},${end}`.slice(0, 60))}`;
}

/** A first line without any digit in its first column is a header, not an error. */
export function isHeader(lineIndex: number, firstColumn: string): boolean {
  return lineIndex === 0 && !/\d/.test(firstColumn);
}
