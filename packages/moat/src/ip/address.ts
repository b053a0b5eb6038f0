// A single IP address as a value: family plus integer, and what every other part of the IP layer
// needs to know about one: the IPv4-mapped block, the four-word layout of a 128-bit value, and the
// error of the strict parsers. Strict parsing for rule files and configuration (throws with a
// reason); the per-request path uses parseIpInto instead.

import { MoatError } from '../errors/moat-error.js';
import { describeParseFailure } from './parse-failure.js';
import { scanIp } from './parse-into.js';

export { formatIp } from './format-ip.js';

export type IpFamily = 4 | 6;

/** value: IPv4 0..2^32-1, IPv6 0..2^128-1. IPv4-mapped IPv6 (::ffff:a.b.c.d and ::ffff:XXXX:XXXX) is family 4. */
export interface IpAddress {
  readonly family: IpFamily;
  readonly value: bigint;
}

// The IPv4-mapped IPv6 block ::ffff:0:0/96. Node reports IPv4 clients of dual-stack sockets as
// "::ffff:a.b.c.d"; Moat treats every address in this block as the IPv4 address it carries (Wafris did
// not, so such clients never matched IPv4 rules). IPv4-compatible (::a.b.c.d) and NAT64 (64:ff9b::/96)
// addresses are deliberately not included: they are distinct IPv6 addresses.
export const IPV4_MAPPED_FIRST = 0xffff_0000_0000n;
export const IPV4_MAPPED_LAST = 0xffff_ffff_ffffn;

// The error of the strict parsers. It quotes the input (escaped and shortened) so that log lines
// show what was wrong without letting a hostile header inject control characters or megabytes of text.

const QUOTED_LIMIT = 80;

function quote(input: string): string {
  if (input.length <= QUOTED_LIMIT) return JSON.stringify(input);
  return `${JSON.stringify(input.slice(0, QUOTED_LIMIT))}… (${input.length} characters)`;
}

export class IpParseError extends MoatError {
  override readonly name = 'IpParseError';
  /** The text that failed to parse, unshortened. */
  readonly input: string;

  /** `what` names the expected thing ("IP address", "IP range"); `reason` says why, when known. */
  constructor(input: string, reason?: string, what = 'IP address') {
    const text = String(input);
    super('MOAT_ERR_IP_INVALID', `invalid ${what} ${quote(text)}${reason ? `: ${reason}` : ''}`);
    this.input = text;
  }
}

// Conversions between a 128-bit bigint and four big-endian 32-bit words, the layout parseIpInto
// writes and range tables store, so that lookups compare small integers instead of bigints.

const WORD = 0xffffffffn;

/** Writes a 128-bit value as 4 big-endian uint32 words at out[offset..offset+3]. */
export function ipv6Words(value: bigint, out: Uint32Array, offset: number): void {
  out[offset] = Number((value >> 96n) & WORD);
  out[offset + 1] = Number((value >> 64n) & WORD);
  out[offset + 2] = Number((value >> 32n) & WORD);
  out[offset + 3] = Number(value & WORD);
}

/** Reads 4 big-endian 32-bit words from words[offset..offset+3] (the caller's bounds) as a 128-bit value. */
export function wordsToBigint(words: ArrayLike<number>, offset: number): bigint {
  // `>>> 0` so that words read from an Int32Array (negative numbers) count as unsigned.
  return (
    (BigInt(words[offset]! >>> 0) << 96n) |
    (BigInt(words[offset + 1]! >>> 0) << 64n) |
    (BigInt(words[offset + 2]! >>> 0) << 32n) |
    BigInt(words[offset + 3]! >>> 0)
  );
}

// Strict parsing.

const scratch = new Uint32Array(4);

/** Parses an IPv4 or IPv6 address (see parseIpInto for the accepted forms). Throws IpParseError. */
export function parseIp(text: string): IpAddress {
  const result = scanIp(text, scratch);
  if (result === 4) return { family: 4, value: BigInt(scratch[0]!) };
  if (result === 6) return { family: 6, value: wordsToBigint(scratch, 0) };
  throw new IpParseError(text, describeParseFailure(result));
}

/** parseIp, with null instead of an exception. */
export function tryParseIp(text: string): IpAddress | null {
  const result = scanIp(text, scratch);
  if (result === 4) return { family: 4, value: BigInt(scratch[0]!) };
  if (result === 6) return { family: 6, value: wordsToBigint(scratch, 0) };
  return null;
}
