// Decomposes a range into CIDR blocks, for exporting to tools that only understand CIDR
// (firewalls, net.BlockList, Wafris-style lists).

import { formatIp } from './format-ip.js';
import { familyBits } from './cidr.js';
import { checkRange } from './range-check.js';
import type { IpRange } from './range.js';

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
