/**
 * Per-key sliding-window counters with a hard cap on keys. Each key owns a slot of BUCKETS counts in one
 * preallocated slab (memory is fixed up front: maxKeys × (BUCKETS × 4 + 18) bytes, plus the index maps),
 * and the window is the last BUCKETS buckets of windowSeconds / BUCKETS each: a count is exact to one
 * bucket (a twelfth of the window). Keys live in spaces (one per threshold rule), so a key needs no
 * concatenated string. When the cap is reached a key is evicted by the CLOCK rule (a key touched since
 * the hand last passed gets a second chance) and counted. CLOCK rather than exact LRU: re-inserting into
 * a Map on every touch cost several µs per count at 200 000 keys (measured on the shared 2-core box,
 * 20 rules × 10 000 distinct IPs: 1.0–1.8 s with Map re-insertion, 0.3 s with CLOCK and the key parsed
 * once per record); a flag per slot costs nothing.
 *
 * Spaces belong to groups (a rule's space to its site: assign()), and each group holding keys is owed an
 * equal share of the slab: a new key of a group at or above its share evicts one of its own keys, and
 * one of a group below its share evicts from a group above it. One site's flood of addresses then
 * churns through its own counters and never evicts a key of a site within its share. With one group the
 * share is the whole slab, as before.
 */
export const BUCKETS = 12;

/** Rough bytes per key beyond its slot: the Map entry and the key text (used for the reported estimate). */
const INDEX_BYTES_PER_KEY = 120;

export interface CounterStats {
  keys: number;
  maxKeys: number;
  evictions: number;
  /** Estimated bytes held: the slab plus the index. */
  bytes: number;
}

export class SlidingCounters {
  private readonly spaces = new Map<number, Map<string, number>>();
  private readonly counts: Uint32Array;
  /** Bucket number (time / bucket width) of each slot's newest bucket. */
  private readonly heads: Float64Array;
  private readonly touched: Uint8Array;
  /** A flag per slot for the caller (fleet counting: the key's counts are shared), cleared with the counts. */
  private readonly marks: Uint8Array;
  /** Owner of each slot, for eviction: its space, its space's group, and its key (undefined when free). */
  private readonly slotSpace: Float64Array;
  private readonly slotGroup: Float64Array;
  private readonly spaceGroup = new Map<number, number>();
  /** Keys held and keys evicted, per group (a group with no key has no entry in groupKeys). */
  private readonly groupKeys = new Map<number, number>();
  private readonly groupEvictions = new Map<number, number>();
  private readonly slotKey: (string | undefined)[];
  private readonly free: number[] = [];
  private nextSlot = 0;
  private hand = 0;
  private keyCount = 0;
  private evicted = 0;

  constructor(readonly maxKeys: number) {
    if (!Number.isInteger(maxKeys) || maxKeys < 1) throw new RangeError('maxKeys must be an integer ≥ 1');
    this.counts = new Uint32Array(maxKeys * BUCKETS);
    this.heads = new Float64Array(maxKeys);
    this.touched = new Uint8Array(maxKeys);
    this.marks = new Uint8Array(maxKeys);
    this.slotSpace = new Float64Array(maxKeys);
    this.slotGroup = new Float64Array(maxKeys);
    this.slotKey = new Array<string | undefined>(maxKeys);
  }

  /** Puts a space's keys in `group`'s share (before its first key is counted; unassigned spaces share group 0). */
  assign(space: number, group: number): void {
    this.spaceGroup.set(space, group);
  }

  /**
   * Counts one event of `key` in `space` at `bucket` (the event's time divided by its window's bucket
   * width) and returns the count over the window ending at the key's newest bucket. An event older than
   * that window is ignored (returns the current count); a newer one slides the window. `weight` counts
   * several events at once (an aggregated count of requests).
   */
  add(space: number, key: string, bucket: number, weight = 1): number {
    let keys = this.spaces.get(space);
    if (keys === undefined) {
      keys = new Map();
      this.spaces.set(space, keys);
    }
    let slot = keys.get(key);
    if (slot === undefined) {
      const group = this.spaceGroup.get(space) ?? 0;
      slot = this.allocate(group);
      keys.set(key, slot);
      this.slotSpace[slot] = space;
      this.slotGroup[slot] = group;
      this.groupKeys.set(group, (this.groupKeys.get(group) ?? 0) + 1);
      this.slotKey[slot] = key;
      this.heads[slot] = bucket;
      this.keyCount += 1;
    }
    this.touched[slot] = 1;
    const base = slot * BUCKETS;
    const head = this.heads[slot]!;
    if (bucket > head) {
      // Buckets that slid out of the window are emptied (at most all of them).
      const steps = Math.min(bucket - head, BUCKETS);
      for (let i = 1; i <= steps; i++) this.counts[base + ((head + i) % BUCKETS)] = 0;
      this.heads[slot] = bucket;
    } else if (bucket <= head - BUCKETS) {
      return this.sum(base);
    }
    this.counts[base + (bucket % BUCKETS)]! += weight;
    return this.sum(base);
  }

  /**
   * A key's window: its newest bucket number, with the counts of the BUCKETS buckets ending there written
   * to `into` oldest first; undefined when the key is not counted. (Fleet counting shares a key's counts
   * once it matters; see FleetCounts.)
   */
  window(space: number, key: string, into: Uint32Array): number | undefined {
    const slot = this.spaces.get(space)?.get(key);
    if (slot === undefined) return undefined;
    const head = this.heads[slot]!;
    const base = slot * BUCKETS;
    for (let i = 0; i < BUCKETS; i++) into[i] = this.counts[base + ((head - BUCKETS + 1 + i) % BUCKETS + BUCKETS) % BUCKETS]!;
    return head;
  }

  /** Sets a counted key's mark; true when it was not set before (false too when the key is not counted). */
  mark(space: number, key: string): boolean {
    const slot = this.spaces.get(space)?.get(key);
    if (slot === undefined || this.marks[slot] === 1) return false;
    this.marks[slot] = 1;
    return true;
  }

  /** Forgets a key's counts and mark (after it crossed its threshold, counting starts again). */
  reset(space: number, key: string): void {
    const slot = this.spaces.get(space)?.get(key);
    if (slot !== undefined) {
      this.counts.fill(0, slot * BUCKETS, (slot + 1) * BUCKETS);
      this.marks[slot] = 0;
    }
  }

  /** Drops every key of a space (a deleted or changed rule's counters). */
  dropSpace(space: number): void {
    const keys = this.spaces.get(space);
    const group = this.spaceGroup.get(space) ?? 0;
    this.spaceGroup.delete(space);
    if (!keys) return;
    for (const slot of keys.values()) {
      this.slotKey[slot] = undefined;
      this.free.push(slot);
    }
    this.keyCount -= keys.size;
    this.spaces.delete(space);
    this.addToGroup(group, -keys.size);
  }

  stats(): CounterStats {
    const keys = this.keyCount;
    const slab = this.counts.byteLength + this.heads.byteLength + this.touched.byteLength + this.marks.byteLength + this.slotSpace.byteLength;
    return { keys, maxKeys: this.maxKeys, evictions: this.evicted, bytes: slab + keys * INDEX_BYTES_PER_KEY };
  }

  /** A group's keys, evictions and estimated bytes; `maxKeys` is the share it is owed now. */
  groupStats(group: number): CounterStats {
    const keys = this.groupKeys.get(group) ?? 0;
    const groups = this.groupKeys.size + (this.groupKeys.has(group) ? 0 : 1);
    return {
      keys, maxKeys: Math.floor(this.maxKeys / groups), evictions: this.groupEvictions.get(group) ?? 0,
      bytes: keys * (BUCKETS * 4 + 18 + INDEX_BYTES_PER_KEY),
    };
  }

  private allocate(group: number): number {
    const reused = this.free.pop();
    if (reused !== undefined) return this.clear(reused);
    if (this.nextSlot < this.maxKeys) return this.clear(this.nextSlot++);
    // Full. Whose key goes: the group's own when it holds its share already, else a key of a group above
    // its share (there is one: the shares add up to the slab). See the class comment.
    const groups = this.groupKeys.size + (this.groupKeys.has(group) ? 0 : 1);
    const share = Math.floor(this.maxKeys / groups);
    const own = this.groupKeys.get(group) ?? 0;
    const ownOnly = own > 0 && own >= share;
    // The CLOCK hand passes over touched slots of those groups (clearing their flag) to the first untouched
    // one; two turns at most, as the first clears every flag it may stop at.
    for (;;) {
      const slot = this.hand;
      this.hand = (this.hand + 1) % this.maxKeys;
      const key = this.slotKey[slot];
      if (key !== undefined) {
        const owner = this.slotGroup[slot]!;
        if (ownOnly ? owner !== group : (this.groupKeys.get(owner) ?? 0) <= share) continue;
      }
      if (this.touched[slot] === 1) {
        this.touched[slot] = 0;
        continue;
      }
      if (key !== undefined) {
        const space = this.spaces.get(this.slotSpace[slot]!);
        space?.delete(key);
        if (space?.size === 0) this.spaces.delete(this.slotSpace[slot]!);
        this.keyCount -= 1;
        this.evicted += 1;
        const owner = this.slotGroup[slot]!;
        this.addToGroup(owner, -1);
        this.groupEvictions.set(owner, (this.groupEvictions.get(owner) ?? 0) + 1);
      }
      return this.clear(slot);
    }
  }

  private addToGroup(group: number, delta: number): void {
    const keys = (this.groupKeys.get(group) ?? 0) + delta;
    if (keys > 0) this.groupKeys.set(group, keys);
    else this.groupKeys.delete(group);
  }

  private clear(slot: number): number {
    this.counts.fill(0, slot * BUCKETS, (slot + 1) * BUCKETS);
    this.touched[slot] = 0;
    this.marks[slot] = 0;
    return slot;
  }

  private sum(base: number): number {
    let total = 0;
    for (let i = 0; i < BUCKETS; i++) total += this.counts[base + i]!;
    return total;
  }
}
