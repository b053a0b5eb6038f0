// Splits an IPv6 range at the IPv4-mapped block, so that range tables only ever hold IPv4 addresses
// as family 4 and an IPv4 client matches whether it arrives as "1.2.3.4" or "::ffff:1.2.3.4".

import type { IpRange } from './range.js';
import { IPV4_MAPPED_FIRST, IPV4_MAPPED_LAST } from './mapped.js';

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
