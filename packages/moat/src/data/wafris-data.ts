/**
 * Writes the data file's ranges in the Wafris v2 data_subscriptions layout (../shared/wafris-v2.md):
 * `country_ip_ranges` with suffixes `G<CC>_<n>` and `reputation_ip_ranges` with `R_<n>`, two 39-digit
 * members per range. The Wafris lookup (nearest member above and below the address, hit when their
 * suffixes agree) misses a range's first address, so each range's start member is written one below
 * its start; same-label neighbours are merged first. Countries cannot all be merged, because
 * neighbouring ranges of different countries touch: at such a boundary the two members share one
 * number and sort by suffix, and the lookup finds both sides only when the earlier range's suffix sorts
 * first. Since the suffix must begin with `G<CC>`, a boundary such as DE followed by BE cannot be
 * expressed; there the later range keeps its real start member and Wafris misses exactly its first
 * address (counted in `missedStarts`), never answering a wrong country.
 * With `ordered`, each member instead reads `<start39>-G<seq>_<CC>_-G<CC>_<n>`: the Wafris lookup
 * compares only the text after the last `-` (`G<CC>_<n>`), while the zero-padded sequence before it
 * sorts touching members in address order, so every address is found. It relies on that documented
 * last-`-` rule, so it is an option, not the default.
 */
import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { wordsToBigint } from '../ip/range.js';
import { writeSqliteAtomically } from '../format/atomic-file.js';
import { encode39 } from '../wafris/encoding.js';
import type { CompiledData } from './build-data.js';

export interface WafrisDataOptions {
  /** Lists whose ranges go into reputation_ip_ranges (Wafris blocks them all); default every list. */
  reputationLists?: readonly string[];
  /** Order members of touching ranges by a sequence tag so Wafris finds every address (see the file comment). */
  ordered?: boolean;
}

export interface WrittenWafrisData {
  path: string;
  hash: string;
  countryRanges: number;
  reputationRanges: number;
  /** Range starts the Wafris lookup cannot find (see the file comment); every other address is found. */
  missedStarts: number;
  bytes: number;
}

interface OutRange {
  start: bigint;
  end: bigint;
  key: string;
}

const V6_FLOOR = 1n << 32n; // IPv6 values below 2^32 would read back as IPv4 in this encoding

/** Every segment of the table in numeric order (IPv4 in the low 32 bits, then IPv6), with its label. */
function* segments(c: CompiledData): Generator<{ start: bigint; end: bigint; label: number }> {
  const a = c.table.arrays;
  for (let i = 0; i < a.v4Labels.length; i++) yield { start: BigInt(a.v4Starts[i]), end: BigInt(a.v4Ends[i]), label: a.v4Labels[i] };
  for (let i = 0; i < a.v6Labels.length; i++) {
    let start = wordsToBigint(a.v6Starts, i * 4);
    const end = wordsToBigint(a.v6Ends, i * 4);
    if (start < V6_FLOOR) start = V6_FLOOR;
    if (start <= end) yield { start, end, label: a.v6Labels[i] };
  }
}

/** Ranges of the segments `keyOf` gives a key to, touching neighbours with the same key merged. */
function rangesBy(c: CompiledData, keyOf: (label: number) => string | null): OutRange[] {
  const out: OutRange[] = [];
  for (const s of segments(c)) {
    const key = keyOf(s.label);
    if (key === null) continue;
    const last = out[out.length - 1];
    if (last && last.key === key && last.end + 1n === s.start) last.end = s.end;
    else out.push({ start: s.start, end: s.end, key });
  }
  return out;
}

/** Members for `ranges` (sorted, non-overlapping), and how many range starts Wafris will miss. */
export function wafrisMembers(ranges: readonly OutRange[], suffixOf: (r: OutRange, n: number) => string): { members: string[]; missedStarts: number } {
  const members: string[] = [];
  let missedStarts = 0;
  let prev: { end: bigint; suffix: string } | null = null;
  ranges.forEach((r, n) => {
    const suffix = suffixOf(r, n);
    let startMember = r.start > 0n ? r.start - 1n : r.start;
    if (r.start === 0n) missedStarts++;
    else if (prev !== null && prev.end + 1n === r.start && prev.suffix > suffix) {
      startMember = r.start; // see the file comment: the best this boundary allows
      missedStarts++;
    }
    members.push(`${encode39(startMember)}-${suffix}`, `${encode39(r.end)}-${suffix}`);
    prev = { end: r.end, suffix };
  });
  return { members, missedStarts };
}

export function writeWafrisDataFile(c: CompiledData, outPath: string, opts: WafrisDataOptions = {}): WrittenWafrisData {
  const wanted = opts.reputationLists ? new Set(opts.reputationLists) : null;
  const countries = rangesBy(c, (l) => c.labels[l].country);
  const reputation = rangesBy(c, (l) => (c.labels[l].lists.some((x) => wanted === null || wanted.has(x)) ? 'R' : null));
  const width = String(countries.length).length;
  const country = wafrisMembers(countries, opts.ordered
    ? (r, n) => `G${String(n + 1).padStart(width, '0')}_${r.key}_-G${r.key}_${n + 1}`
    : (r, n) => `G${r.key}_${n + 1}`);
  const rep = wafrisMembers(reputation, (_r, n) => `R_${n + 1}`);
  const h = createHash('sha256');
  writeSqliteAtomically(outPath, (db) => {
    for (const [table, members] of [['country_ip_ranges', country.members], ['reputation_ip_ranges', rep.members]] as const) {
      db.exec(`CREATE TABLE ${table} (member TEXT)`);
      const ins = db.prepare(`INSERT INTO ${table} (member) VALUES (?)`);
      for (const m of members) {
        ins.run(m);
        h.update(m).update('\n');
      }
      db.exec(`CREATE INDEX ${table}_member ON ${table} (member)`);
      h.update('|');
    }
  });
  return {
    path: outPath, hash: h.digest('hex'), countryRanges: countries.length, reputationRanges: reputation.length,
    missedStarts: country.missedStarts + rep.missedStarts, bytes: statSyncSize(outPath),
  };
}

function statSyncSize(path: string): number {
  return statSync(path).size;
}
