// A FIFO with a hard bound: when full, the oldest item makes room for the newest (the recent past
// matters most once a long outage ends), and the caller counts the drop. O(1) push and shift.

export class BoundedQueue<T> {
  private items: (T | undefined)[];
  private head = 0;
  private count = 0;

  constructor(readonly capacity: number) {
    this.items = new Array<T | undefined>(Math.max(1, capacity));
  }

  get size(): number {
    return this.count;
  }

  /** Adds an item; returns the item dropped to make room, or undefined. */
  push(item: T): T | undefined {
    const cap = this.items.length;
    let dropped: T | undefined;
    if (this.count === cap) {
      dropped = this.items[this.head];
      this.items[this.head] = item;
      this.head = (this.head + 1) % cap;
      return dropped;
    }
    this.items[(this.head + this.count) % cap] = item;
    this.count++;
    return undefined;
  }

  peek(): T | undefined {
    return this.count === 0 ? undefined : this.items[this.head];
  }

  /** Removes and returns up to `n` of the oldest items. */
  take(n: number): T[] {
    const out: T[] = [];
    const cap = this.items.length;
    while (out.length < n && this.count > 0) {
      out.push(this.items[this.head] as T);
      this.items[this.head] = undefined;
      this.head = (this.head + 1) % cap;
      this.count--;
    }
    return out;
  }
}
