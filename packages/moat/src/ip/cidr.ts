// CIDR arithmetic on bigint values, shared by range parsing, formatting and decomposition.

import type { IpFamily } from './address.js';

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
