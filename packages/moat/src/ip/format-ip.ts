// Canonical text of an address: dotted decimal for IPv4, RFC 5952 for IPv6, so that equal addresses
// always print the same (Wafris compared raw strings and missed "2001:DB8::1" vs "2001:db8:0:0::1").

import type { IpAddress } from './address.js';
import { MoatError } from '../errors/moat-error.js';

const MAX_IPV4 = 0xffffffffn;
const MAX_IPV6 = (1n << 128n) - 1n;
const MAPPED_PREFIX = 0xffffn; // value >> 32 of an address in ::ffff:0:0/96

export function formatIpv4Number(value: number): string {
  return `${value >>> 24}.${(value >>> 16) & 255}.${(value >>> 8) & 255}.${value & 255}`;
}

/**
 * IPv4 dotted; IPv6 per RFC 5952: lower case, no leading zeros, the longest run of two or more zero
 * groups compressed to "::" (the first on a tie), and IPv4-mapped values in mixed form "::ffff:1.2.3.4"
 * (RFC 5952 section 5). Throws RangeError when the value does not fit the family.
 */
export function formatIp(addr: IpAddress): string {
  const { family, value } = addr;
  if (family === 4) {
    if (value < 0n || value > MAX_IPV4) throw new MoatError('MOAT_ERR_IP_INVALID', `IPv4 value out of range: ${value}`);
    return formatIpv4Number(Number(value));
  }
  if (family !== 6) throw new MoatError('MOAT_ERR_IP_INVALID', `unknown IP family: ${String(family)}`);
  if (value < 0n || value > MAX_IPV6) throw new MoatError('MOAT_ERR_IP_INVALID', `IPv6 value out of range: ${value}`);
  if (value >> 32n === MAPPED_PREFIX) return `::ffff:${formatIpv4Number(Number(value & MAX_IPV4))}`;

  const groups: number[] = [];
  for (let shift = 112n; shift >= 0n; shift -= 16n) groups.push(Number((value >> shift) & 0xffffn));

  let bestStart = -1;
  let bestLength = 1; // a single zero group is never compressed
  for (let j = 0; j < 8; ) {
    if (groups[j] !== 0) {
      j++;
      continue;
    }
    let k = j;
    while (k < 8 && groups[k] === 0) k++;
    if (k - j > bestLength) {
      bestStart = j;
      bestLength = k - j;
    }
    j = k;
  }

  const hex = (from: number, to: number): string =>
    groups
      .slice(from, to)
      .map((g) => g.toString(16))
      .join(':');
  if (bestStart < 0) return hex(0, 8);
  return `${hex(0, bestStart)}::${hex(bestStart + bestLength, 8)}`;
}
