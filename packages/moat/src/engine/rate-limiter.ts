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
 * Keyed rate limits (a header, cookie or user id) let the client choose how many counters it makes: one
 * address rotating API keys could fill the budget and push every other client out. So a keyed counter
 * names the client IP that made it, and each IP holds at most `maxKeysPerClient` keyed counters per rule.
 * At the cap, its oldest counter is dropped only when it no longer counts anything in its window
 * (`clientCapEvictions`); otherwise the new key is refused (`clientCapRefusals`). A live counter is never
 * dropped: other addresses may count in it too (one account's login attempts from many places), and
 * dropping it would hand that account's budget back to whoever rotated keys past the cap.
 *
 * Cost (bench/rate-limiter-hit.ts, loaded 2-core machine): 0.1–0.5 µs a hit for 5/min over 20 000
 * clients and for 10 000/h, the same range as the weighted two-window counter this replaced; a hit is a
 * map lookup and a few array reads, and allocates only for a new client or a ring that doubles.
 */
import { OptionError } from '../errors/moat-error.js';
export interface RateLimitStore {
  /**
   * Counts one request for `key` unless `limit` were already counted in the `windowMs` before `now`.
   * Returns 0 when counted, otherwise the milliseconds until a request would be counted again.
   * `client`, for a keyed counter: the (rule, client IP) it was made by, so a store can cap how many
   * counters one client makes.
   */
  hit(key: string, limit: number, windowMs: number, now: number, client?: string): number;
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
  /** Keyed counters dropped to make room under `maxKeysPerClient`: only counters with nothing left in their window. */
  clientCapEvictions: number;
  /** New keys refused because their client IP held `maxKeysPerClient` live keyed counters (it rotated keys). */
  clientCapRefusals: number;
}

export interface MemoryRateLimitOptions {
  /** Memory budget in bytes (default 32 MiB: e.g. 10 000 clients at 300/h each, or 400 at 10 000/h). */
  maxBytes?: number;
  /** Keyed counters (header, cookie, user) one client IP may hold per rule (default 1024; NAT gateways share an IP). */
  maxKeysPerClient?: number;
}

const DEFAULT_MAX_BYTES = 32 * 1024 * 1024;
const DEFAULT_MAX_KEYS_PER_CLIENT = 1024;
// The estimates below are measured, not guessed: filling a store with one-request clients (IPv4, and keyed
// with four keys per client) and comparing the heap after GC with what the store charged. With 200 and 40
// the real heap was 1.6× (per IP) and 1.9× (keyed) the budget; with these it is 0.99–1.04× at 8 and 32 MiB.
// Keys cost more than their characters: a key built by concatenation stays a cons string beside its
// flattened copy once a map has hashed it.
/** Estimated bytes per client of keyed counters: map entry and set, plus its name. */
const CLIENT_OVERHEAD_BYTES = 120;
/** Estimated bytes per key in a client's set (the key string is the log's; this is the set's entry and slack). */
const CLIENT_KEY_BYTES = 180;
/** Estimated bytes per tracked log beyond its timestamps: map entry, log object, typed array, key. */
const LOG_OVERHEAD_BYTES = 400;
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
  /** For a keyed counter, the client that made it (a key of MemoryRateLimitStore.clients); else null. */
  readonly client: string | null;

  constructor(capacity: number, windowMs: number, client: string | null) {
    this.times = new Float64Array(capacity);
    this.windowMs = windowMs;
    this.client = client;
  }

  newest(): number {
    const i = this.head + this.count - 1;
    return this.times[i >= this.times.length ? i - this.times.length : i]!; // count > 0: a slot of the ring
  }
}

export class MemoryRateLimitStore implements RateLimitStore {
  readonly maxBytes: number;
  readonly maxKeysPerClient: number;
  private readonly logs = new Map<string, RequestLog>();
  /** Per client, the keys of its keyed counters in the order they were made. */
  private readonly clients = new Map<string, Set<string>>();
  private bytes = 0;
  private evictions = 0;
  private evictedLive = 0;
  private clientCapEvictions = 0;
  private clientCapRefusals = 0;

  constructor(options: MemoryRateLimitOptions = {}) {
    const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
    if (typeof maxBytes !== 'number' || !(maxBytes > 0)) {
      throw new OptionError(`MemoryRateLimitStore: maxBytes must be a positive number, not ${String(maxBytes)}`);
    }
    this.maxBytes = maxBytes;
    const perClient = options.maxKeysPerClient ?? DEFAULT_MAX_KEYS_PER_CLIENT;
    if (!Number.isInteger(perClient) || perClient < 1) {
      throw new OptionError(`MemoryRateLimitStore: maxKeysPerClient must be a whole number of at least 1, not ${String(perClient)}`);
    }
    this.maxKeysPerClient = perClient;
  }

  get size(): number {
    return this.logs.size;
  }

  stats(): MemoryRateLimitStats {
    return {
      keys: this.logs.size, bytes: this.bytes, maxBytes: this.maxBytes, evictions: this.evictions, evictedLive: this.evictedLive,
      clientCapEvictions: this.clientCapEvictions, clientCapRefusals: this.clientCapRefusals,
    };
  }

  hit(key: string, limit: number, windowMs: number, now: number, client?: string): number {
    let log = this.logs.get(key);
    if (log === undefined) {
      // Nothing to remember for a limit that refuses everything (rules validation forbids it anyway).
      if (!(limit >= 1)) return windowMs;
      if (client !== undefined) {
        const wait = this.roomFor(client, now);
        if (wait > 0) return wait;
      }
      log = new RequestLog(Math.min(limit, FIRST_CAPACITY), windowMs, client ?? null);
      this.logs.set(key, log);
      this.bytes += log.times.byteLength + LOG_OVERHEAD_BYTES + key.length;
      if (client !== undefined) this.joinClient(client, key);
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
        // head and the slots after it are in the ring (count > 0 while newest > horizon): the `!`s.
        while (times[log.head]! <= horizon) {
          log.head = log.head + 1 === times.length ? 0 : log.head + 1;
          log.count--;
        }
      }
    }
    if (log.count >= limit) {
      // Refused: counted again once all but limit − 1 of the counted requests have left the window.
      let i = log.head + log.count - limit;
      if (i >= times.length) i -= times.length;
      return times[i]! + windowMs - now;
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
      this.drop(key, log);
      this.evictions++;
      if (live) this.evictedLive++;
    }
  }

  /**
   * 0 when `client` may make one more keyed counter (its oldest is dropped first if it is at the cap and
   * that counter has nothing left in its window), else the ms until its oldest counter empties.
   */
  private roomFor(client: string, now: number): number {
    const keys = this.clients.get(client);
    if (keys === undefined || keys.size < this.maxKeysPerClient) return 0;
    for (const oldest of keys) {
      const log = this.logs.get(oldest);
      const until = log === undefined || log.count === 0 ? 0 : log.newest() + log.windowMs - now;
      if (until > 0) {
        this.clientCapRefusals++;
        return until;
      }
      if (log !== undefined) {
        this.drop(oldest, log);
      } else {
        keys.delete(oldest);
        this.bytes -= CLIENT_KEY_BYTES;
      }
      this.clientCapEvictions++;
      return 0;
    }
    return 0;
  }

  /** Records `key` as one of `client`'s keyed counters (roomFor made room). */
  private joinClient(client: string, key: string): void {
    let keys = this.clients.get(client);
    if (keys === undefined) {
      keys = new Set();
      this.clients.set(client, keys);
      this.bytes += CLIENT_OVERHEAD_BYTES + client.length;
    }
    keys.add(key);
    this.bytes += CLIENT_KEY_BYTES;
  }

  /** Forgets one log, and its place among its client's keyed counters. */
  private drop(key: string, log: RequestLog): void {
    this.logs.delete(key);
    this.bytes -= log.times.byteLength + LOG_OVERHEAD_BYTES + key.length;
    if (log.client === null) return;
    const keys = this.clients.get(log.client);
    if (keys === undefined || !keys.delete(key)) return;
    this.bytes -= CLIENT_KEY_BYTES;
    if (keys.size === 0) {
      this.clients.delete(log.client);
      this.bytes -= CLIENT_OVERHEAD_BYTES + log.client.length;
    }
  }
}
