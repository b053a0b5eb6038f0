// The set of peers whose forwarding headers are believed. Built once from addresses, CIDRs and presets;
// asked once or a few times per request, so membership is a parse into a reused buffer plus a binary
// search over merged ranges: no allocation, and exact (10.0.0.1 never trusts 110.0.0.15).

import { parseIpInto } from '../ip/parse-into.js';
import { parseRange } from '../ip/range.js';
import { flattenRanges } from '../ranges/flatten.js';
import { RangeTable } from '../ranges/range-table.js';
import { isProxyPreset, presetRanges } from './proxy-presets.js';

/** An IP, a CIDR, a `start-end` range, or a preset name: `loopback`, `private`, `cloudflare`. */
export type TrustedProxySpec = string;

export class TrustedProxies {
  /** How many ranges (after expanding presets) the set was built from. */
  readonly size: number;
  private readonly table: RangeTable;
  private readonly words = new Uint32Array(4);

  private constructor(table: RangeTable, size: number) {
    this.table = table;
    this.size = size;
  }

  /** Throws a clear Error naming the bad entry. */
  static from(specs: Iterable<TrustedProxySpec>): TrustedProxies {
    const labelled = [];
    for (const raw of specs) {
      const spec = raw.trim();
      if (spec === '') continue;
      const texts = isProxyPreset(spec) ? presetRanges(spec) : [spec];
      for (const text of texts) {
        try {
          labelled.push({ range: parseRange(text), label: 0 });
        } catch (error) {
          throw new Error(`moat: trusted proxy ${JSON.stringify(raw)} is not an IP, CIDR, range or preset ` +
            `(loopback, private, cloudflare): ${(error as Error).message}`);
        }
      }
    }
    const table = labelled.length === 0 ? RangeTable.empty() : RangeTable.fromFlat(flattenRanges(labelled), () => 0);
    return new TrustedProxies(table, labelled.length);
  }

  static none(): TrustedProxies {
    return new TrustedProxies(RangeTable.empty(), 0);
  }

  get isEmpty(): boolean {
    return this.size === 0;
  }

  /** True when `ip` (any text form, IPv4-mapped included) is inside a trusted range. */
  has(ip: string): boolean {
    if (this.size === 0) return false;
    const family = parseIpInto(ip, this.words);
    return family !== 0 && this.table.lookupParsed(family, this.words) >= 0;
  }
}
