/**
 * Writes the data file's ranges in the Wafris v2 data_subscriptions layout, so
 * that the unmodified gem finds every address of every range and the right country for each:
 * `country_ip_ranges` and `reputation_ip_ranges`, two 39-digit members per range, `<start39>-<suffix>`
 * and `<end39>-<suffix>`. The gem takes the nearest member above and below the address and reports a hit
 * when the text after their last `-` agrees, which shapes the layout:
 * - each range's start member sits one below its start, since a member equal to the address sorts
 *   after it and the gem would otherwise miss every range's first address;
 * - country suffixes are `<n>G<token>`: `n` (zero-padded, counting up in address order) comes first,
 *   so where a range touches the one before it, the two members sharing a number sort in address
 *   order and both sides are found; it also keeps the suffixes of neighbours apart, so gaps stay gaps;
 *   the gem reads the country as the text after the last `G`, and the token (country-token.ts) is
 *   the code, lower-cased when it holds a `G`;
 * - IPv4 ranges are also written as their IPv4-mapped IPv6 range (`::ffff:a.b.c.d`), which the gem
 *   looks up by its 128-bit value; native IPv6 data inside that block is replaced by the copies, as
 *   Moat itself reads a mapped address as the IPv4 address it carries;
 * - a `moat_export` table (ignored by the gem) tells Moat's reader the starts sit one below.
 * Only a range starting at address 0 cannot be found from its first address (counted in `missedStarts`).
 */
import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { wordsToBigint } from '../ip/range.js';
import { IPV4_MAPPED_FIRST, IPV4_MAPPED_LAST } from '../ip/address.js';
import { writeSqliteAtomically } from '../format/atomic-file.js';
import { BatchInsert } from '../format/batch-insert.js';
import { MOAT_EXPORT_TABLE, encode39 } from '../wafris/encoding.js';
import { wafrisCountryToken } from '../wafris/country-token.js';
import type { CompiledData } from './build-data.js';

export interface WafrisDataOptions {
  /** Lists whose ranges go into reputation_ip_ranges (Wafris blocks them all); default every list. */
  reputationLists?: readonly string[];
}

export interface WrittenWafrisData {
  path: string;
  hash: string;
  countryRanges: number;
  reputationRanges: number;
  /** Range starts the Wafris lookup cannot find (only a start at address 0); every other address is found. */
  missedStarts: number;
  /** IPv4-mapped copies of IPv4 ranges among countryRanges + reputationRanges. */
  mappedRanges: number;
  bytes: number;
}

interface OutRange {
  start: bigint;
  end: bigint;
  key: string;
  mapped: boolean;
}

const V6_FLOOR = 1n << 32n; // IPv6 values below 2^32 would read back as IPv4 in this encoding

interface Segment {
  start: bigint;
  end: bigint;
  label: number;
  /** An IPv4-mapped copy of an IPv4 segment. */
  mapped: boolean;
}

/**
 * Every segment of the table in numeric order (IPv4 in the low 32 bits, then IPv6), with its label;
 * the IPv4 segments appear twice, the second time as IPv4-mapped IPv6 in place of native IPv6 there.
 */
function* segments(c: CompiledData): Generator<Segment> {
  // The table's v4 arrays share one length, and its v6 arrays hold four words per label: the `!`s.
  const a = c.table.arrays;
  const v4 = function* (offset: bigint): Generator<Segment> {
    for (let i = 0; i < a.v4Labels.length; i++) {
      yield { start: offset + BigInt(a.v4Starts[i]!), end: offset + BigInt(a.v4Ends[i]!), label: a.v4Labels[i]!, mapped: offset > 0n };
    }
  };
  yield* v4(0n);
  let mappedDone = false;
  for (let i = 0; i < a.v6Labels.length; i++) {
    let start = wordsToBigint(a.v6Starts, i * 4);
    const end = wordsToBigint(a.v6Ends, i * 4);
    if (start < V6_FLOOR) start = V6_FLOOR;
    if (start > end) continue;
    const label = a.v6Labels[i]!;
    if (start < IPV4_MAPPED_FIRST) yield { start, end: end < IPV4_MAPPED_FIRST ? end : IPV4_MAPPED_FIRST - 1n, label, mapped: false };
    if (end < IPV4_MAPPED_FIRST) continue;
    if (!mappedDone) {
      yield* v4(IPV4_MAPPED_FIRST);
      mappedDone = true;
    }
    if (end > IPV4_MAPPED_LAST) yield { start: start > IPV4_MAPPED_LAST ? start : IPV4_MAPPED_LAST + 1n, end, label, mapped: false };
  }
  if (!mappedDone) yield* v4(IPV4_MAPPED_FIRST);
}

/**
 * Ranges of the segments `keyOf` gives a key to, touching neighbours with the same key merged, in
 * order. Made as they are read, twice per table (once to count them): kept as a list, with a bigint
 * pair each and every IPv4 range twice, they were most of a 4 M-range feed build's heap.
 */
function* rangesBy(c: CompiledData, keyOf: (label: number) => string | null): Generator<OutRange> {
  let last: OutRange | null = null;
  for (const s of segments(c)) {
    const key = keyOf(s.label);
    if (key === null) continue;
    // Never merged across 2^32: the reader tells IPv4 from IPv6 by the value.
    if (last !== null && last.key === key && last.end + 1n === s.start && s.start !== V6_FLOOR) last.end = s.end;
    else {
      if (last !== null) yield last;
      last = { start: s.start, end: s.end, key, mapped: s.mapped };
    }
  }
  if (last !== null) yield last;
}

/** How many ranges `ranges` makes, and how many of them are IPv4-mapped copies. */
function countRanges(ranges: Iterable<OutRange>): { count: number; mapped: number } {
  let count = 0;
  let mapped = 0;
  for (const r of ranges) {
    count++;
    if (r.mapped) mapped++;
  }
  return { count, mapped };
}

/**
 * Members for `ranges` (sorted, non-overlapping), each start one below the range start, handed to `add`
 * in key order (the writer streams them: holding every member of a 1 M-range feed's build at once grew
 * it past 1.5 GiB). `suffixOf` must give the members of touching ranges suffixes that sort in address order
 * (see the file comment). A start at address 0 has no member below it: the gem misses that one
 * address, and it is counted (the return value).
 */
function eachMember(ranges: Iterable<OutRange>, suffixOf: (r: OutRange, n: number) => string, add: (member: string) => void): number {
  let missedStarts = 0;
  let n = 0;
  for (const r of ranges) {
    const suffix = suffixOf(r, n++);
    if (r.start === 0n) missedStarts++;
    // Address 0 alone would need one member twice; the gem could not find it anyway.
    if (r.end === 0n) continue;
    add(`${encode39(r.start > 0n ? r.start - 1n : 0n)}-${suffix}`);
    add(`${encode39(r.end)}-${suffix}`);
  }
  return missedStarts;
}

export function writeWafrisDataFile(c: CompiledData, outPath: string, opts: WafrisDataOptions = {}): WrittenWafrisData {
  const wanted = opts.reputationLists ? new Set(opts.reputationLists) : null;
  // Every label id in the table indexes c.labels (compiled together): the `!`s.
  const countryKey = (l: number) => c.labels[l]!.country;
  const reputationKey = (l: number) => (c.labels[l]!.lists.some((x) => wanted === null || wanted.has(x)) ? 'R' : null);
  const countries = countRanges(rangesBy(c, countryKey));
  const reputation = countRanges(rangesBy(c, reputationKey));
  const width = String(countries.count).length;
  // Reputation ranges share one key, so touching ones were merged; padded all the same, for the one
  // place they may still touch (255.255.255.255 and 2^32, kept apart for the reader).
  const repWidth = String(reputation.count).length;
  const tables = [
    ['country_ip_ranges', countryKey, (r: OutRange, n: number) => `${String(n + 1).padStart(width, '0')}G${wafrisCountryToken(r.key)}`],
    ['reputation_ip_ranges', reputationKey, (_r: OutRange, n: number) => `R_${String(n + 1).padStart(repWidth, '0')}`],
  ] as const;
  const h = createHash('sha256');
  let missedStarts = 0;
  writeSqliteAtomically(outPath, (db) => {
    db.exec(`CREATE TABLE ${MOAT_EXPORT_TABLE} (key TEXT PRIMARY KEY, value TEXT NOT NULL)`);
    db.prepare(`INSERT INTO ${MOAT_EXPORT_TABLE} (key, value) VALUES ('writer', 'moat'), ('range_starts', 'one_below')`).run();
    for (const [table, keyOf, suffixOf] of tables) {
      // The members are the key of a WITHOUT ROWID table: the gem's `member > ?` / `member < ?` queries
      // seek it as they would an index, and each member is stored once instead of in a table and an index
      // (measured on the bundled country data: about half the file). Members are unique and come in key order.
      db.exec(`CREATE TABLE ${table} (member TEXT PRIMARY KEY) WITHOUT ROWID`);
      const rows = new BatchInsert(db, table, ['member']);
      missedStarts += eachMember(rangesBy(c, keyOf), suffixOf, (m) => {
        rows.add(m);
        h.update(`${m}\n`);
      });
      rows.flush();
      h.update('|');
    }
  });
  return {
    path: outPath, hash: h.digest('hex'), countryRanges: countries.count, reputationRanges: reputation.count,
    missedStarts, bytes: statSyncSize(outPath),
    mappedRanges: countries.mapped + reputation.mapped,
  };
}

function statSyncSize(path: string): number {
  return statSync(path).size;
}
