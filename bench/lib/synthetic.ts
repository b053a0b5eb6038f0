/** Synthetic but realistic-shaped inputs: non-overlapping ranges, query addresses, substring patterns. */
import type { IpRange } from '../../packages/moat/src/ip/range.js';
import { formatIp } from '../../packages/moat/src/ip/address.js';
import { rng } from './measure.js';

/**
 * `n` non-overlapping ranges, 80 % IPv4 and 20 % IPv6 (or `ipv4Share`), sorted per family (as real lists
 * are after flattening).
 */
export function syntheticRanges(n: number, seed = 1, ipv4Share = 0.8): IpRange[] {
  const rand = rng(seed);
  const out: IpRange[] = [];
  const n4 = Math.round(n * ipv4Share);
  const n6 = n - n4;
  const slot4 = Math.floor(2 ** 32 / Math.max(1, n4));
  for (let i = 0; i < n4; i++) {
    const base = i * slot4;
    const len = 1 + Math.floor(rand() * Math.max(1, slot4 / 2));
    const off = Math.floor(rand() * (slot4 - len));
    out.push({ family: 4, start: BigInt(base + off), end: BigInt(base + off + len - 1) });
  }
  // IPv6: ranges inside 2000::/3, as /48-ish blocks spread over the space.
  const base6 = 0x2000n << 112n;
  const slot6 = (1n << 125n) / BigInt(Math.max(1, n6));
  for (let i = 0; i < n6; i++) {
    const start = base6 + BigInt(i) * slot6 + (BigInt(Math.floor(rand() * 65536)) << 80n);
    out.push({ family: 6, start, end: start + (1n << 80n) - 1n });
  }
  return out;
}

/** Query addresses: half inside ranges (including their first and last address), half random. */
export function queryAddresses(ranges: IpRange[], count: number, seed = 2): string[] {
  const rand = rng(seed);
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    if (ranges.length > 0 && i % 2 === 0) {
      const r = ranges[Math.floor(rand() * ranges.length)];
      const pick = i % 6 === 0 ? r.start : i % 6 === 2 ? r.end : r.start + (r.end - r.start) / 2n;
      out.push(formatIp({ family: r.family, value: pick }));
    } else if (i % 4 === 1) {
      out.push(formatIp({ family: 4, value: BigInt(Math.floor(rand() * 2 ** 32)) }));
    } else {
      const v = (0x2000n << 112n) + (BigInt(Math.floor(rand() * 2 ** 32)) << 93n);
      out.push(formatIp({ family: 6, value: v }));
    }
  }
  return out;
}

const WORDS = ['admin', 'login', 'wp', 'api', 'bot', 'scan', 'php', 'cgi', 'shell', 'debug', 'config', 'backup', 'sql', 'test', 'old'];

/** `n` distinct lower-case patterns such as `/scan-wp4711`, like a large path or user-agent block list. */
export function syntheticPatterns(n: number, prefix: string, seed = 3): string[] {
  const rand = rng(seed);
  const set = new Set<string>();
  while (set.size < n) {
    const w1 = WORDS[Math.floor(rand() * WORDS.length)];
    const w2 = WORDS[Math.floor(rand() * WORDS.length)];
    set.add(`${prefix}${w1}-${w2}${Math.floor(rand() * 1e6)}`);
  }
  return [...set];
}

/** Turns every `every`-th IPv4 range into a single address (a /32), the case the Wafris lookup misses most. */
export function withSingles(ranges: IpRange[], every: number): IpRange[] {
  return ranges.map((r, i) => (r.family === 4 && i % every === 0 ? { family: 4, start: r.start, end: r.start } : r));
}

export type QueryKind = 'start' | 'end' | 'single' | 'inside' | 'before start' | 'after end';

export interface ClassifiedQuery {
  ip: string;
  kind: QueryKind;
  /** True when the address lies in one of the ranges (known by construction, not by any lookup). */
  expected: boolean;
}

/**
 * Queries of known answer, drawn in equal shares: first and last address of multi-address ranges, single-address
 * ranges, the middle of a range, and the addresses just outside a range (when that address is in a gap).
 * `ranges` must be non-overlapping and sorted per family (as syntheticRanges makes them).
 */
export function classifiedQueries(ranges: IpRange[], count: number, seed = 5): ClassifiedQuery[] {
  const rand = rng(seed);
  const out: ClassifiedQuery[] = [];
  const singles = ranges.flatMap((r, i) => (r.start === r.end ? [i] : []));
  const kinds: QueryKind[] = ['start', 'end', 'single', 'inside', 'before start', 'after end'];
  for (let i = 0, guard = 0; out.length < count && guard < count * 20; guard++, i++) {
    const kind = kinds[i % kinds.length];
    const at = kind === 'single' && singles.length > 0 ? singles[Math.floor(rand() * singles.length)] : Math.floor(rand() * ranges.length);
    const r = ranges[at];
    const ip = (value: bigint) => formatIp({ family: r.family, value });
    if (kind === 'single') { if (singles.length > 0) out.push({ ip: ip(r.start), kind, expected: true }); continue; }
    if (r.start === r.end) continue; // the other kinds need a range of several addresses
    if (kind === 'start') out.push({ ip: ip(r.start), kind, expected: true });
    else if (kind === 'end') out.push({ ip: ip(r.end), kind, expected: true });
    else if (kind === 'inside') out.push({ ip: ip(r.start + (r.end - r.start) / 2n), kind, expected: true });
    else if (kind === 'before start') {
      const prev = ranges[at - 1];
      const free = r.start > 0n && (prev === undefined || prev.family !== r.family || prev.end < r.start - 1n);
      if (free) out.push({ ip: ip(r.start - 1n), kind, expected: false });
    } else {
      const next = ranges[at + 1];
      const max = r.family === 4 ? 0xffffffffn : (1n << 128n) - 1n;
      const free = r.end < max && (next === undefined || next.family !== r.family || next.start > r.end + 1n);
      if (free) out.push({ ip: ip(r.end + 1n), kind, expected: false });
    }
  }
  return out;
}
