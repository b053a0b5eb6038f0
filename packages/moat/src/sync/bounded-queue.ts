// A FIFO with two hard bounds, items and bytes: when either is reached, the oldest items make room
// for the newest (the recent past matters most once a long outage ends), and every drop is counted
// by which bound caused it. Items taken out for sending can stay "reserved" against the bounds until
// they are done with, so queue plus in-flight never exceed them. O(1) push and shift.

export class BoundedQueue<T> {
  private items: (T | undefined)[];
  private head = 0;
  private count = 0;
  private heldBytes = 0;
  private reservedItems = 0;
  private reservedBytes = 0;
  /** Items dropped because the item bound was reached, or the byte bound (as `tally` counts them). */
  droppedFull = 0;
  droppedBytes = 0;
  /** What the queued items stand for, as `tally` counts them (items, unless told otherwise). */
  tallied = 0;

  constructor(
    readonly capacity: number,
    readonly maxBytes: number = Infinity,
    private readonly weigh: (item: T) => number = () => 0,
    /** How many things an item stands for (a report entry may count many requests); 1 by default. */
    private readonly tally: (item: T) => number = () => 1,
  ) {
    this.items = new Array<T | undefined>(Math.max(1, capacity));
  }

  get size(): number {
    return this.count;
  }

  /** Estimated bytes of the queued items (not counting reserved ones). */
  get bytes(): number {
    return this.heldBytes;
  }

  /**
   * Adds an item, dropping the oldest while a bound would be exceeded; returns how many were dropped.
   * An item that cannot fit even in an empty queue (reservations included) is itself dropped.
   */
  push(item: T): number {
    const weight = this.weigh(item);
    const cap = Math.max(1, this.capacity - this.reservedItems);
    const budget = this.maxBytes - this.reservedBytes;
    if (this.reservedItems >= this.capacity || weight > budget) {
      if (weight > budget) this.droppedBytes += this.tally(item);
      else this.droppedFull += this.tally(item);
      return 1;
    }
    let dropped = 0;
    while (this.count > 0 && (this.count >= cap || this.heldBytes + weight > budget)) {
      const full = this.count >= cap;
      const oldest = this.shift();
      if (full) this.droppedFull += this.tally(oldest);
      else this.droppedBytes += this.tally(oldest);
      dropped++;
    }
    this.items[(this.head + this.count) % this.items.length] = item;
    this.count++;
    this.heldBytes += weight;
    this.tallied += this.tally(item);
    return dropped;
  }

  peek(): T | undefined {
    return this.count === 0 ? undefined : this.items[this.head];
  }

  /** Removes and returns up to `n` of the oldest items, and at most `maxBytes` of them (but at least one). */
  take(n: number, maxBytes = Infinity): T[] {
    const out: T[] = [];
    let bytes = 0;
    while (out.length < n && this.count > 0) {
      const weight = this.weigh(this.items[this.head] as T);
      if (out.length > 0 && bytes + weight > maxBytes) break;
      bytes += weight;
      out.push(this.shift());
    }
    return out;
  }

  /** Counts items taken out (a batch being sent) against the bounds until `release`. */
  reserve(items: number, bytes: number): void {
    this.reservedItems += items;
    this.reservedBytes += bytes;
  }

  release(items: number, bytes: number): void {
    this.reservedItems = Math.max(0, this.reservedItems - items);
    this.reservedBytes = Math.max(0, this.reservedBytes - bytes);
  }

  private shift(): T {
    const item = this.items[this.head] as T;
    this.items[this.head] = undefined;
    this.head = (this.head + 1) % this.items.length;
    this.count--;
    this.heldBytes -= this.weigh(item);
    this.tallied -= this.tally(item);
    return item;
  }
}
