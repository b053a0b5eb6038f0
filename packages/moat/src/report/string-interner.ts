// Serving-thread side of the string tables: paths, user agents, hosts and the like repeat from request
// to request, so each distinct value crosses to the worker once and later records carry its id. The
// table is bounded in entries and characters: when a value would exceed either bound the table starts
// afresh (the record says so, and the worker clears its copy), so a flood of unique values costs what
// sending them raw would, never memory. The worker mirrors each table; see ring-reader.ts.

/** Ids per field before the table starts afresh. */
export const MAX_INTERNED = 4096;
/** Characters held per field before the table starts afresh (~1 MiB at two bytes a character). */
export const MAX_INTERNED_CHARS = 512 * 1024;

export class StringInterner {
  private readonly ids = new Map<string, number>();
  private chars = 0;
  /**
   * The value of the previous record and its id. Most fields repeat from one request to the next (one
   * method, one host, one user agent per client), and an equality test on the same or a short string
   * is cheaper than hashing it for the Map.
   */
  private lastValue = '';
  private lastId = -1;

  /** The id of a known value, or -1. */
  find(value: string): number {
    if (value === this.lastValue && this.lastId >= 0) return this.lastId;
    const id = this.ids.get(value);
    if (id === undefined) return -1;
    this.lastValue = value;
    this.lastId = id;
    return id;
  }

  /** Whether adding `value` first empties the table (the caller tells the worker). */
  needsReset(value: string): boolean {
    return this.ids.size >= MAX_INTERNED || this.chars + value.length > MAX_INTERNED_CHARS;
  }

  /** Adds a value not in the table; the table must have room (see needsReset/reset). */
  add(value: string): number {
    const id = this.ids.size;
    this.ids.set(value, id);
    this.chars += value.length;
    this.lastValue = value;
    this.lastId = id;
    return id;
  }

  /** The value found or added last ('' after a reset): the previous record's, for a repeat check (ring-writer.ts). */
  get last(): string {
    return this.lastValue;
  }

  reset(): void {
    this.ids.clear();
    this.chars = 0;
    this.lastValue = '';
    this.lastId = -1;
  }

  get size(): number {
    return this.ids.size;
  }
}
