// Inclusive address ranges as written in rule files (a single address, a CIDR block, or `start-end`),
// and the arithmetic on them: CIDR blocks, validity checks for ranges built by hand, the split at the
// IPv4-mapped block that range tables rely on, and decomposition into CIDR blocks for export.

import { MoatError } from '../errors/moat-error.js';
import { IpParseError, IPV4_MAPPED_FIRST, IPV4_MAPPED_LAST, wordsToBigint, type IpFamily } from './address.js';
import { formatIp } from './format-ip.js';
import { describeParseFailure } from './parse-failure.js';
import { scanIp } from './parse-into.js';

export type { IpFamily } from './address.js';
export { ipv6Words, wordsToBigint } from './address.js';

/** Inclusive: start <= end, both within the family's address space. */
export interface IpRange {
  readonly family: IpFamily;
  readonly start: bigint;
  readonly end: bigint;
}

// CIDR arithmetic on bigint values, shared by parsing, formatting and decomposition.

export function familyBits(family: IpFamily): 32 | 128 {
  return family === 4 ? 32 : 128;
}

/** The block of `prefix` leading bits containing `value`: host bits cleared (start) and set (end). */
export function cidrBlock(family: IpFamily, value: bigint, prefix: number): { start: bigint; end: bigint } {
  const hostMask = (1n << BigInt(familyBits(family) - prefix)) - 1n;
  const start = value & ~hostMask;
  return { start, end: start | hostMask };
}

/** The prefix length when [start, end] is exactly one CIDR block, otherwise -1. */
export function exactPrefixLength(family: IpFamily, start: bigint, end: bigint): number {
  if (end < start) return -1;
  const size = end - start + 1n;
  if ((size & (size - 1n)) !== 0n || (start & (size - 1n)) !== 0n) return -1;
  const hostBits = size.toString(2).length - 1;
  return familyBits(family) - hostBits;
}

/** Guards ranges built by hand rather than by parseRange: throws unless 0 <= start <= end < 2^bits of family 4 or 6. */
export function checkRange(r: IpRange): void {
  if (r.family !== 4 && r.family !== 6) throw new MoatError('MOAT_ERR_IP_INVALID', `unknown IP family: ${String(r.family)}`);
  const max = (1n << BigInt(familyBits(r.family))) - 1n;
  if (r.start < 0n || r.end > max || r.start > r.end) {
    throw new MoatError('MOAT_ERR_IP_INVALID', `invalid IPv${r.family} range: ${r.start}..${r.end}`);
  }
}

// Parsing.

/** One side of a range, remembering whether it was written as IPv6 (which decides how to read a prefix). */
interface Endpoint {
  readonly family: IpFamily;
  readonly value: bigint;
  readonly writtenAsIpv6: boolean;
}

const scratch = new Uint32Array(4);
const PREFIX_PATTERN = /^(0|[1-9][0-9]{0,2})$/; // no leading zeros, for the same octal reason as IPv4

function trimAscii(text: string): string {
  return text.replace(/^[\t\n\v\f\r ]+|[\t\n\v\f\r ]+$/g, '');
}

function readEndpoint(text: string): Endpoint | string {
  const result = scanIp(text, scratch);
  if (result === 4) return { family: 4, value: BigInt(scratch[0]!), writtenAsIpv6: text.includes(':') };
  if (result === 6) return { family: 6, value: wordsToBigint(scratch, 0), writtenAsIpv6: true };
  return describeParseFailure(result);
}

/** The endpoint's position in the 128-bit space (an IPv4-mapped address inside ::ffff:0:0/96). */
function ipv6Value(e: Endpoint): bigint {
  return e.family === 6 ? e.value : IPV4_MAPPED_FIRST + e.value;
}

/** A range in the IPv6 space, as family 4 when it lies wholly inside the IPv4-mapped block. */
function fromIpv6Space(start: bigint, end: bigint): IpRange {
  if (start >= IPV4_MAPPED_FIRST && end <= IPV4_MAPPED_LAST) {
    return { family: 4, start: start - IPV4_MAPPED_FIRST, end: end - IPV4_MAPPED_FIRST };
  }
  return { family: 6, start, end };
}

function readCidr(addressText: string, prefixText: string): IpRange | string {
  const address = readEndpoint(addressText);
  if (typeof address === 'string') return address;
  const prefixDigits = trimAscii(prefixText);
  if (!PREFIX_PATTERN.test(prefixDigits)) return 'the prefix length must be a decimal number without leading zeros';
  const prefix = Number(prefixDigits);
  if (!address.writtenAsIpv6) {
    if (prefix > 32) return 'an IPv4 prefix length is 0 to 32';
    return { family: 4, ...cidrBlock(4, address.value, prefix) };
  }
  // Written as IPv6 (even ::ffff:1.2.3.0/120): the prefix counts IPv6 bits.
  if (prefix > 128) return 'an IPv6 prefix length is 0 to 128';
  const block = cidrBlock(6, ipv6Value(address), prefix);
  return fromIpv6Space(block.start, block.end);
}

function readStartEnd(startText: string, endText: string): IpRange | string {
  const start = readEndpoint(startText);
  if (typeof start === 'string') return `start: ${start}`;
  const end = readEndpoint(endText);
  if (typeof end === 'string') return `end: ${end}`;
  let range: IpRange;
  if (start.family === 4 && end.family === 4) range = { family: 4, start: start.value, end: end.value };
  else if (start.writtenAsIpv6 && end.writtenAsIpv6) range = fromIpv6Space(ipv6Value(start), ipv6Value(end));
  else return 'start and end must be of the same family';
  return range.start <= range.end ? range : 'start is after end';
}

function readRange(text: string): IpRange | string {
  if (typeof text !== 'string') return 'not text';
  const trimmed = trimAscii(text);
  if (trimmed === '') return 'empty text';
  const slash = trimmed.indexOf('/');
  if (slash >= 0) return readCidr(trimmed.slice(0, slash), trimmed.slice(slash + 1));

  const single = readEndpoint(trimmed);
  if (typeof single !== 'string') return { family: single.family, start: single.value, end: single.value };
  // `start-end`. A zone ("%br-lan") may itself hold '-', so try each '-' until both sides read.
  let firstFailure: string | undefined;
  for (let dash = trimmed.indexOf('-'); dash >= 0; dash = trimmed.indexOf('-', dash + 1)) {
    const range = readStartEnd(trimmed.slice(0, dash), trimmed.slice(dash + 1));
    if (typeof range !== 'string') return range;
    firstFailure ??= range;
  }
  return firstFailure ?? single;
}

/**
 * Parses a single IP, a CIDR block (host bits normalised to the network; prefix 0..32 for IPv4 text,
 * 0..128 for IPv6 text) or `start-end` (same family, start <= end, spaces around '-' allowed).
 * Ranges written in IPv6 that lie inside ::ffff:0:0/96 come back as family 4. Throws IpParseError.
 */
export function parseRange(text: string): IpRange {
  const range = readRange(text);
  if (typeof range === 'string') throw new IpParseError(text, range, 'IP range');
  return range;
}

/** parseRange, with null instead of an exception. */
export function tryParseRange(text: string): IpRange | null {
  const range = readRange(text);
  return typeof range === 'string' ? null : range;
}

/** A single address -> the address; an exact CIDR block -> `net/len`; otherwise `start-end`. */
export function formatRange(r: IpRange): string {
  checkRange(r);
  const start = formatIp({ family: r.family, value: r.start });
  if (r.start === r.end) return start;
  const prefix = exactPrefixLength(r.family, r.start, r.end);
  if (prefix >= 0) return `${start}/${prefix}`;
  return `${start}-${formatIp({ family: r.family, value: r.end })}`;
}

// Splitting at the IPv4-mapped block, so that range tables only ever hold IPv4 addresses as
// family 4 and an IPv4 client matches whether it arrives as "1.2.3.4" or "::ffff:1.2.3.4".

/**
 * A v6 range overlapping the IPv4-mapped block ::ffff:0:0/96 is split so that the part inside the block
 * becomes a family-4 range; v6 parts outside it stay v6 (in ascending order: below, mapped, above).
 * Family-4 ranges, and v6 ranges not touching the block, are returned as they are.
 */
export function splitByFamily(r: IpRange): IpRange[] {
  if (r.family === 4 || r.end < IPV4_MAPPED_FIRST || r.start > IPV4_MAPPED_LAST) return [r];
  const parts: IpRange[] = [];
  if (r.start < IPV4_MAPPED_FIRST) parts.push({ family: 6, start: r.start, end: IPV4_MAPPED_FIRST - 1n });
  parts.push({
    family: 4,
    start: (r.start > IPV4_MAPPED_FIRST ? r.start : IPV4_MAPPED_FIRST) - IPV4_MAPPED_FIRST,
    end: (r.end < IPV4_MAPPED_LAST ? r.end : IPV4_MAPPED_LAST) - IPV4_MAPPED_FIRST,
  });
  if (r.end > IPV4_MAPPED_LAST) parts.push({ family: 6, start: IPV4_MAPPED_LAST + 1n, end: r.end });
  return parts;
}

// Decomposition into CIDR blocks, for exporting to tools that only understand CIDR
// (firewalls, net.BlockList, Wafris-style lists).

/** The minimal list of CIDR blocks (`net/len`, ascending) covering exactly the range. */
export function rangeToCidrs(r: IpRange): string[] {
  checkRange(r);
  const bits = familyBits(r.family);
  const blocks: string[] = [];
  let start = r.start;
  // Greedy from the bottom: each step takes the largest block aligned at `start` that stays inside the
  // range. That is minimal, and yields at most 2 * bits blocks, so the loop is bounded.
  while (start <= r.end) {
    let size = 1n;
    let length = bits;
    while (length > 0) {
      const doubled = size << 1n;
      if ((start & (doubled - 1n)) !== 0n || start + doubled - 1n > r.end) break;
      size = doubled;
      length--;
    }
    blocks.push(`${formatIp({ family: r.family, value: start })}/${length}`);
    start += size;
  }
  return blocks;
}
