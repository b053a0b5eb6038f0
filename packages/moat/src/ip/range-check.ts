// Guards for ranges built by hand rather than by parseRange.

import type { IpRange } from './range.js';
import { familyBits } from './cidr.js';
import { MoatError } from '../errors/moat-error.js';

/** Throws RangeError unless the family is 4 or 6 and 0 <= start <= end < 2^bits. */
export function checkRange(r: IpRange): void {
  if (r.family !== 4 && r.family !== 6) throw new MoatError('MOAT_ERR_IP_INVALID', `unknown IP family: ${String(r.family)}`);
  const max = (1n << BigInt(familyBits(r.family))) - 1n;
  if (r.start < 0n || r.end > max || r.start > r.end) {
    throw new MoatError('MOAT_ERR_IP_INVALID', `invalid IPv${r.family} range: ${r.start}..${r.end}`);
  }
}
