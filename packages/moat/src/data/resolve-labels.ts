/**
 * Overlap resolution of the data file, done once at build time. For each flattened segment, given the
 * input rows covering it:
 * - country: the most specific (smallest) covering row wins; on equal size a known country beats
 *   "unknown", then the alphabetically first code — never the input order, so the same rows in any
 *   order give the same file;
 * - ASN: the same, the smallest row, then the alphabetically first `AS…`;
 * - lists: memberships add up (a segment is in every list that covers it).
 */
import type { DataLabel } from './data-set.js';

export const AttrType = { Country: 0, Asn: 1, List: 2 } as const;
export type AttrType = (typeof AttrType)[keyof typeof AttrType];

/** One input row: what it says and how large its range is. */
export interface Attr {
  type: AttrType;
  value: string | null;
  size: bigint;
}

function better(a: Attr, b: Attr | null): boolean {
  if (b === null) return true;
  if (a.size !== b.size) return a.size < b.size;
  if ((a.value === null) !== (b.value === null)) return a.value !== null;
  return a.value !== null && b.value !== null && a.value < b.value;
}

/** Interns resolved labels, so each distinct (country, ASN, lists) is stored once. */
export class LabelResolver {
  readonly labels: DataLabel[] = [];
  /** Segments where covering country (or ASN) rows disagreed and one had to be chosen. */
  overlapsResolved = 0;
  private readonly ids = new Map<string, number>();
  private readonly lists = new Set<string>();

  constructor(private readonly attrs: readonly Attr[]) {}

  /** The label id of a segment covered by the rows `covering` (indices into attrs). */
  resolve(covering: readonly number[]): number {
    let country: Attr | null = null;
    let asn: Attr | null = null;
    let conflict = false;
    const lists = this.lists;
    lists.clear();
    for (let k = 0; k < covering.length; k++) {
      const a = this.attrs[covering[k]!]!; // labels are attribute indexes (flattened from this.attrs)
      if (a.type === AttrType.List) lists.add(a.value!);
      else if (a.type === AttrType.Country) {
        if (country !== null && country.value !== a.value) conflict = true;
        if (better(a, country)) country = a;
      } else {
        if (asn !== null && asn.value !== a.value) conflict = true;
        if (better(a, asn)) asn = a;
      }
    }
    if (conflict) this.overlapsResolved++;
    const sorted = lists.size === 0 ? [] : [...lists].sort();
    const key = `${country?.value ?? ''}|${asn?.value ?? ''}|${sorted.join(',')}`;
    let id = this.ids.get(key);
    if (id === undefined) {
      id = this.labels.length;
      this.labels.push({ country: country?.value ?? null, asn: asn?.value ?? null, lists: sorted });
      this.ids.set(key, id);
    }
    return id;
  }
}
