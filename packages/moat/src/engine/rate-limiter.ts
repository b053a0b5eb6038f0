/**
 * Rate limiting in process, exact: a sliding log. Each (rule, client) pair keeps the times of its most
 * recent counted requests in a ring (a Float64Array that grows by doubling up to the limit), so
 *   - at most `limit` requests are counted in any interval of `windowMs` (half-open: a request at t and
 *     one at t + windowMs are in different windows), and
 *   - a request is counted whenever fewer than `limit` were counted in the `windowMs` before it;
 *   - a refused request learns exactly how long until the oldest counted request leaves the window.
 * Refused requests are not counted (a client that keeps knocking is not locked out for longer).
 *
 * Memory is bounded in bytes (8 bytes per remembered request plus an estimated overhead per client).
 * Over the budget, logs are evicted in insertion order with a second chance for logs used since
 * (the CLOCK approximation of least-recently-used, so a hit never reorders the map); every eviction is
 * counted, and `evictedLive` counts those that still held requests inside their window (that client
 * got its budget back early: raise `maxBytes` if it is ever non-zero).
 *
 * Cost (bench/rate-limiter-hit.ts, loaded 2-core machine): 0.1–0.5 µs a hit for 5/min over 20 000
 * clients and for 10 000/h, the same range as the weighted two-window counter this replaced; a hit is a
 * map lookup and a few array reads, and allocates only for a new client or a ring that doubles.
 */
export interface RateLimitStore {
  /**
   * Counts one request for `key` unless `limit` were already counted in the `windowMs` before `now`.
   * Returns 0 when counted, otherwise the milliseconds until a request would be counted again.
   */
  hit(key: string, limit: number, windowMs: number, now: number): number;
  readonly size: number;
}

export interface MemoryRateLimitStats {
  /** Clients (rule × client pairs) tracked. */
  keys: number;
  /** Estimated bytes held, at most `maxBytes` (one log can exceed it alone: 8 bytes × its limit). */
  bytes: number;
  maxBytes: number;
  /** Logs dropped to stay within `maxBytes`. */
  evictions: number;
  /** Of those, logs that still counted requests inside their window. */
  evictedLive: number;
}

export interface MemoryRateLimitOptions {
  /** Memory budget in bytes (default 32 MiB: e.g. 10 000 clients at 300/h each, or 400 at 10 000/h). */
  maxBytes?: number;
}

const DEFAULT_MAX_BYTES = 32 * 1024 * 1024;
/** Estimated bytes per tracked log beyond its timestamps: map entry, log object, typed array, key. */
const LOG_OVERHEAD_BYTES = 200;
/** First ring size; most clients never make more requests than this within a window. */
const FIRST_CAPACITY = 8;
/** Second chances given per eviction at most, so one request never walks the whole map. */
const MAX_SECOND_CHANCES = 8;

/** One (rule, client) pair: counted request times, oldest first, in a ring. */
class RequestLog {
  times: Float64Array;
  head = 0;
  count = 0;
  /** Window of the last hit, to tell at eviction whether the log still counts anything. */
  windowMs: number;
  /** Set by every hit, cleared when the log gets its second chance at eviction. */
  referenced = true;

  constructor(capacity: number, windowMs: number) {
    this.times = new Float64Array(capacity);
    this.windowMs = windowMs;
  }

  newest(): number {
    const i = this.head + this.count - 1;
    return this.times[i >= this.times.length ? i - this.times.length : i];
  }
}

export class MemoryRateLimitStore implements RateLimitStore {
  readonly maxBytes: number;
  private readonly logs = new Map<string, RequestLog>();
  private bytes = 0;
  private evictions = 0;
  private evictedLive = 0;

  constructor(options: MemoryRateLimitOptions = {}) {
    const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
    if (typeof maxBytes !== 'number' || !(maxBytes > 0)) {
      throw new TypeError(`MemoryRateLimitStore: maxBytes must be a positive number, not ${String(maxBytes)}`);
    }
    this.maxBytes = maxBytes;
  }

  get size(): number {
    return this.logs.size;
  }

  stats(): MemoryRateLimitStats {
    return { keys: this.logs.size, bytes: this.bytes, maxBytes: this.maxBytes, evictions: this.evictions, evictedLive: this.evictedLive };
  }

  hit(key: string, limit: number, windowMs: number, now: number): number {
    let log = this.logs.get(key);
    if (log === undefined) {
      // Nothing to remember for a limit that refuses everything (rules validation forbids it anyway).
      if (!(limit >= 1)) return windowMs;
      log = new RequestLog(Math.min(limit, FIRST_CAPACITY), windowMs);
      this.logs.set(key, log);
      this.bytes += log.times.byteLength + LOG_OVERHEAD_BYTES + key.length;
      if (this.bytes > this.maxBytes) this.evict(log, now);
    }
    log.referenced = true;
    log.windowMs = windowMs;
    let times = log.times;
    if (log.count > 0) {
      const newest = log.newest();
      // Per client the clock never goes backwards, so the ring stays sorted (a wall clock may step back).
      if (now < newest) now = newest;
      const horizon = now - windowMs;
      if (newest <= horizon) {
        log.head = 0; // every counted request has left the window
        log.count = 0;
      } else {
        while (times[log.head] <= horizon) {
          log.head = log.head + 1 === times.length ? 0 : log.head + 1;
          log.count--;
        }
      }
    }
    if (log.count >= limit) {
      // Refused: counted again once all but limit − 1 of the counted requests have left the window.
      let i = log.head + log.count - limit;
      if (i >= times.length) i -= times.length;
      return times[i] + windowMs - now;
    }
    if (log.count === times.length) times = this.grow(log, limit);
    let tail = log.head + log.count;
    if (tail >= times.length) tail -= times.length;
    times[tail] = now;
    log.count++;
    return 0;
  }

  /** A full ring, below its limit: double it (up to the limit), unrolled so the oldest is first. */
  private grow(log: RequestLog, limit: number): Float64Array {
    const old = log.times;
    const next = new Float64Array(Math.min(Math.max(limit, 1), old.length * 2));
    next.set(old.subarray(log.head));
    next.set(old.subarray(0, log.head), old.length - log.head);
    log.times = next;
    log.head = 0;
    this.bytes += next.byteLength - old.byteLength;
    if (this.bytes > this.maxBytes) this.evict(log, log.newest());
    return next;
  }

  /** Drops logs, oldest first with a second chance for used ones, until within budget; never `keep`. */
  private evict(keep: RequestLog, now: number): void {
    let chances = 0;
    for (const [key, log] of this.logs) {
      if (this.bytes <= this.maxBytes) return;
      if (log === keep) continue;
      const live = log.count > 0 && log.newest() > now - log.windowMs;
      if (live && log.referenced && chances < MAX_SECOND_CHANCES) {
        chances++;
        log.referenced = false;
        this.logs.delete(key);
        this.logs.set(key, log); // to the back: iteration will reach it again only after the rest
        continue;
      }
      this.logs.delete(key);
      this.bytes -= log.times.byteLength + LOG_OVERHEAD_BYTES + key.length;
      this.evictions++;
      if (live) this.evictedLive++;
    }
  }
}
