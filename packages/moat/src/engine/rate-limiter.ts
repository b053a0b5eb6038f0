/**
 * Sliding-window rate limiting, in process. Each (rule, client) pair keeps the count of the current
 * fixed window and of the previous one; the estimate weights the previous window by how much of it
 * still overlaps the sliding window. Unlike plain fixed windows this allows no double burst at a
 * window edge, and it needs two numbers per client instead of a timestamp per request.
 * Memory is bounded: past `maxKeys` tracked clients the least recently started windows are evicted.
 */
export interface RateLimitStore {
  /**
   * Records one request for `key` unless it is over `limit` per `windowMs`.
   * Returns 0 when allowed, otherwise the milliseconds until a request would be allowed again.
   */
  hit(key: string, limit: number, windowMs: number, now: number): number;
  readonly size: number;
}

interface WindowState {
  start: number; // start of the current fixed window
  count: number;
  prev: number; // count of the window before it
}

export class MemoryRateLimitStore implements RateLimitStore {
  private readonly windows = new Map<string, WindowState>();
  constructor(private readonly maxKeys = 100_000) {}

  get size(): number {
    return this.windows.size;
  }

  hit(key: string, limit: number, windowMs: number, now: number): number {
    const windowStart = now - (now % windowMs);
    let w = this.windows.get(key);
    if (w === undefined) {
      if (this.windows.size >= this.maxKeys) {
        // Maps iterate in insertion order and windows are re-inserted when they roll over,
        // so the first key is the one whose window started longest ago.
        const oldest = this.windows.keys().next().value as string;
        this.windows.delete(oldest);
      }
      w = { start: windowStart, count: 0, prev: 0 };
      this.windows.set(key, w);
    } else if (w.start !== windowStart) {
      w.prev = windowStart - w.start === windowMs ? w.count : 0;
      w.start = windowStart;
      w.count = 0;
      this.windows.delete(key);
      this.windows.set(key, w);
    }
    const elapsed = now - windowStart;
    const weight = (windowMs - elapsed) / windowMs;
    const estimate = w.prev * weight + w.count;
    if (estimate + 1 <= limit) {
      w.count++;
      return 0;
    }
    return retryAfterMs(w, limit, windowMs, elapsed);
  }
}

/** When will prev·(W−t)/W + count + 1 ≤ limit hold again? Solved for t, capped at the next windows. */
function retryAfterMs(w: WindowState, limit: number, windowMs: number, elapsed: number): number {
  if (w.count + 1 <= limit && w.prev > 0) {
    // Within this window: the previous window's weight has to fall far enough.
    const t = windowMs - ((limit - 1 - w.count) * windowMs) / w.prev;
    return Math.max(1, Math.ceil(t - elapsed));
  }
  // The current window alone is full: wait for the next one, where this window becomes "previous".
  const untilNext = windowMs - elapsed;
  if (w.count === 0) return untilNext;
  const t = windowMs - ((limit - 1) * windowMs) / w.count;
  return Math.max(1, Math.ceil(untilNext + Math.max(0, t)));
}
