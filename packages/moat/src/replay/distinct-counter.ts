/**
 * Counting distinct values exactly, up to a cap, for a replay's distinct client IPs. A replay adds one
 * value per record, a million or more, each a fresh string read from storage: a Set of strings hashes and
 * compares every one of them, which was a fifth of a rate-limit preview's judging in a profile. Dotted IPv4
 * text in canonical form (what Node gives as a peer address, and most reports hold) is kept as its 32-bit
 * number in an open-addressed table instead: parsing it costs less than hashing the string, and the
 * number spells exactly that text back, so counts and merged states are the same as with strings alone.
 */

/** A DistinctCounter's values as plain data, to merge into a counter elsewhere (another worker's). */
export interface DistinctCounterState {
  values: string[];
  full: boolean;
}

/** The value of canonical dotted IPv4 text (`192.0.2.1`: four decimal octets, no leading zeros), else -1. */
export function canonicalIpv4Value(text: string): number {
  const n = text.length;
  if (n < 7 || n > 15) return -1;
  let value = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x2e) {
      if (digits === 0 || dots === 3) return -1;
      value = value * 256 + octet;
      octet = 0;
      digits = 0;
      dots++;
    } else if (c >= 0x30 && c <= 0x39) {
      // A leading zero (`01`) is another spelling of the same address: left to the string set.
      if (digits > 0 && octet === 0) return -1;
      octet = octet * 10 + (c - 0x30);
      if (octet > 255) return -1;
      digits++;
    } else {
      return -1;
    }
  }
  if (digits === 0 || dots !== 3) return -1;
  return value * 256 + octet;
}

function ipv4Text(value: number): string {
  return `${value >>> 24}.${(value >>> 16) & 255}.${(value >>> 8) & 255}.${value & 255}`;
}

/** Distinct 32-bit numbers, open addressing with linear probing; a slot holds value + 1 (0: empty), so a float. */
class Uint32Set {
  private slots = new Float64Array(1024);
  private mask = 1023;
  size = 0;

  /** True when `value` was new. */
  add(value: number): boolean {
    const i = this.slotOf(value + 1);
    if (this.slots[i] !== 0) return false;
    this.slots[i] = value + 1;
    if (++this.size * 2 > this.slots.length) this.grow();
    return true;
  }

  has(value: number): boolean {
    return this.slots[this.slotOf(value + 1)] !== 0;
  }

  /** The slot holding `stored`, or the empty one where it would go (the table is never full). */
  private slotOf(stored: number): number {
    const slots = this.slots;
    const mask = this.mask;
    let i = Math.imul(stored - 1, 0x9e3779b1) >>> 0 & mask;
    for (;;) {
      const held = slots[i]!; // i ≤ mask < slots.length
      if (held === stored || held === 0) return i;
      i = (i + 1) & mask;
    }
  }

  values(): number[] {
    const out: number[] = [];
    for (const held of this.slots) if (held !== 0) out.push(held - 1);
    return out;
  }

  private grow(): void {
    const old = this.values();
    this.slots = new Float64Array(this.slots.length * 2);
    this.mask = this.slots.length - 1;
    this.size = 0;
    for (const value of old) this.add(value);
  }
}

/** Distinct values, exact up to `cap`; beyond it the count is a lower bound (`atLeast`). */
export class DistinctCounter {
  private readonly ipv4 = new Uint32Set();
  private readonly others = new Set<string>();
  private full = false;

  constructor(private readonly cap = 1_000_000) {}

  add(value: string): void {
    const v4 = canonicalIpv4Value(value);
    if (v4 >= 0) {
      if (this.count < this.cap) this.ipv4.add(v4);
      else if (!this.ipv4.has(v4)) this.full = true;
    } else if (this.count < this.cap) this.others.add(value);
    else if (!this.others.has(value)) this.full = true;
  }

  get count(): number {
    return this.ipv4.size + this.others.size;
  }

  state(): DistinctCounterState {
    return { values: [...this.ipv4.values().map(ipv4Text), ...this.others], full: this.full };
  }

  merge(other: DistinctCounterState): void {
    if (other.full) this.full = true;
    for (const value of other.values) this.add(value);
  }

  get atLeast(): boolean {
    return this.full;
  }
}
