// The set of peers whose forwarding headers are believed. Built once from addresses, CIDRs and presets;
// asked once or a few times per request, so membership is a parse into a reused buffer plus a binary
// search over merged ranges: no allocation, and exact (10.0.0.1 never trusts 110.0.0.15).

import { parseIpInto } from '../ip/parse-into.js';
import { parseRange } from '../ip/range.js';
import { flattenRanges } from '../ranges/flatten.js';
import { RangeTable } from '../ranges/range-table.js';
import type { ForwardingHeader } from './client-address.js';
import { isProxyPreset, PROXY_PRESETS, presetHeader, presetRanges, type ProxyPreset } from './proxy-presets.js';
import { OptionError } from '../errors/moat-error.js';

/** An IP, a CIDR, a `start-end` range, or a preset name (`loopback`, `private`, `unix`, `cloudflare`, …). */
export type TrustedProxySpec = string;

/** A platform preset in the set and the header it reads the client from. */
export interface PresetHeader {
  preset: ProxyPreset;
  header: ForwardingHeader;
}

export class TrustedProxies {
  /** How many ranges (after expanding presets) the set was built from. */
  readonly size: number;
  /** `unix` was listed: a Unix socket peer (which has no address) is a trusted proxy. */
  readonly trustsUnixSocket: boolean;
  /**
   * `aws-alb` was listed: a Lambda function an Application Load Balancer invokes (whose event names no
   * address, the ALB's own included) reads the client from the header the ALB appends to.
   */
  readonly trustsAwsAlb: boolean;
  /** The headers the listed platform presets name, in the order listed, for choosing the client-IP header. */
  readonly presetHeaders: readonly PresetHeader[];
  private readonly table: RangeTable;
  private readonly words = new Uint32Array(4);

  private constructor(table: RangeTable, size: number, trustsUnixSocket: boolean, presetHeaders: readonly PresetHeader[]) {
    this.table = table;
    this.size = size;
    this.trustsUnixSocket = trustsUnixSocket;
    this.presetHeaders = presetHeaders;
    this.trustsAwsAlb = presetHeaders.some((h) => h.preset === 'aws-alb');
  }

  /** Throws a clear Error naming the bad entry. */
  static from(specs: Iterable<TrustedProxySpec>): TrustedProxies {
    const labelled = [];
    const headers: PresetHeader[] = [];
    let unix = false;
    for (const raw of specs) {
      const spec = raw.trim();
      if (spec === '') continue;
      if (isProxyPreset(spec)) {
        if (spec === 'unix') unix = true;
        const header = presetHeader(spec);
        if (header !== null && !headers.some((h) => h.preset === spec)) headers.push({ preset: spec, header });
      }
      const texts = isProxyPreset(spec) ? presetRanges(spec) : [spec];
      for (const text of texts) {
        try {
          labelled.push({ range: parseRange(text), label: 0 });
        } catch (error) {
          throw new OptionError(`moat: trusted proxy ${JSON.stringify(raw)} is not an IP, CIDR, range or preset ` +
            `(${PROXY_PRESETS.join(', ')}): ${(error as Error).message}`, { cause: error });
        }
      }
    }
    const table = labelled.length === 0 ? RangeTable.empty() : RangeTable.fromFlat(flattenRanges(labelled), () => 0);
    return new TrustedProxies(table, labelled.length, unix, headers);
  }

  static none(): TrustedProxies {
    return new TrustedProxies(RangeTable.empty(), 0, false, []);
  }

  /** No address is trusted (a `unix` entry may still be). */
  get isEmpty(): boolean {
    return this.size === 0;
  }

  /** True when `ip` (any text form, IPv4-mapped included) is inside a trusted range. */
  has(ip: string): boolean {
    if (this.size === 0) return false;
    const family = parseIpInto(ip, this.words);
    return family !== 0 && this.table.lookupParsed(family, this.words) >= 0;
  }

  /** `has` for an address already parsed by `parseIpInto` (family 4 or 6). */
  hasParsed(family: 4 | 6, words: Uint32Array): boolean {
    return this.size !== 0 && this.table.lookupParsed(family, words) >= 0;
  }
}
