// Rate-limit counters in Redis, shared by every process and instance of an app (the `rateLimitStore`
// option; entry point `moat/ratelimit/redis`). One script call per hash slot a request's hits touch
// (hit-groups.ts), bounded by one time budget: when Redis is slow, down or failing, this process's own
// limiter answers instead (fail open to local limiting). After a timeout or a Redis error, Redis is left
// alone for a cool-down, then one request probes it while the others stay local, so a frozen Redis costs
// requests no waiting and collects no pile of commands; and no more than MAX_PENDING_CALLS wait at once.
// Failures that are not Redis being slow (not connected yet, CROSSSLOT) start no cool-down. When Redis
// answers again after falling back, the store says so once. Local counts are not replayed into Redis.
import { MemoryRateLimitStore, type RateLimitStore } from '../engine/rate-limiter.js';
import type { RateLimitHit, SharedRateLimitOutcome, SharedRateLimitStore } from '../engine/shared-rate-limit-store.js';
import { consoleLogger, silentLogger, type MoatLogger } from '../firewall/logger.js';
import { RateBoundedLog } from '../firewall/rate-bounded-log.js';
import type { RedisScriptClient } from './redis-client.js';
import {
  REMOVE_SCRIPT, REMOVE_SCRIPT_BEFORE_7, SLIDING_WINDOW_SCRIPT, SLIDING_WINDOW_SCRIPT_BEFORE_7, SLIDING_WINDOW_SHA1, SLIDING_WINDOW_SHA1_BEFORE_7,
} from './sliding-window-script.js';
import { decide, NOT_EVALUATED, planCalls, type ScriptCall } from './hit-groups.js';
import { randomBytes } from 'node:crypto';
import { MoatError, OptionError } from '../errors/moat-error.js';

/** Why the shared rate-limit store did not answer a request (the local limiter answered instead). */
export type RateLimitFallbackReason = 'timeout' | 'error' | 'cooldown';

export class RateLimitStoreError extends MoatError {
  override readonly name = 'RateLimitStoreError';
  constructor(readonly reason: RateLimitFallbackReason, message: string, options?: { cause?: unknown }) {
    super('MOAT_ERR_RATE_LIMIT_STORE', message, options);
  }
}

/** Marker for "the budget ran out first". */
const OUT_OF_TIME: unique symbol = Symbol('out of time');

/**
 * Settles with `work`'s value, or with OUT_OF_TIME after `budgetMs`, whichever comes first; a later
 * rejection of `work` is absorbed (race already listens to it), so nothing goes unhandled.
 */
async function withinBudget<T>(work: Promise<T>, budgetMs: number): Promise<T | typeof OUT_OF_TIME> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<typeof OUT_OF_TIME>((resolve) => {
    timer = setTimeout(resolve, budgetMs, OUT_OF_TIME);
    timer.unref();
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export interface RedisRateLimitStoreOptions {
  /**
   * An ioredis client (`new Redis(url, RATE_LIMIT_REDIS_OPTIONS)`) or cluster (`new Cluster(nodes,
   * { enableOfflineQueue: false, redisOptions: RATE_LIMIT_REDIS_OPTIONS })`); the app owns and closes it.
   */
  redis: RedisScriptClient;
  /** Longest a request waits for Redis before the local limiter answers (default 50 ms). */
  budgetMs?: number;
  /** After a timeout or error, count locally for this long before asking Redis again (default 1000 ms; 0: always ask). */
  cooldownMs?: number;
  /** Key prefix (default `moat:rl:`). Keys are `<prefix>{<client>}:<rule id>`: one client's keys share a cluster slot. */
  prefix?: string;
  /**
   * Whose clock places the windows: `server` (default) uses Redis's, so instances with skewed clocks
   * still agree; `client` uses the engine's clock (tests with an injected clock).
   */
  clock?: 'server' | 'client';
  /** The fallback limiter (default a MemoryRateLimitStore of this process). */
  local?: RateLimitStore;
  /** Clock for the budget's cool-down and the log bound (default Date.now). */
  now?: () => number;
  /** Where the recovery line goes (default the console; false: nowhere). Fallbacks are the firewall's to log. */
  logger?: MoatLogger | false;
  /** At most one recovery line per this interval, however often Redis comes and goes (default 60 s). */
  logIntervalMs?: number;
  /**
   * Keyed counters (header, cookie, user) one client IP may use per rule within its window (default 1024,
   * as in process); a new key beyond them is refused until the IP's oldest leaves the window, so one
   * address rotating keys cannot fill Redis, nor delete a counter other addresses share.
   */
  maxKeysPerClient?: number;
}

export interface RedisRateLimitStats {
  /** Requests counted (hitAll calls). */
  calls: number;
  /** Of those, answered by Redis. */
  answered: number;
  /** Answered locally because Redis took longer than the budget, failed, or was cooling down. */
  timeouts: number;
  errors: number;
  skipped: number;
  /** Times the script had to be sent in full (NOSCRIPT: first use, or after a Redis restart / SCRIPT FLUSH). */
  scriptLoads: number;
  /** Times Redis answered again after requests had been counted locally (each outage once). */
  recoveries: number;
}

const DEFAULT_BUDGET_MS = 50;
const DEFAULT_COOLDOWN_MS = 1_000;
const DEFAULT_MAX_KEYS_PER_CLIENT = 1024;
/**
 * Script calls of this store that may wait for Redis at once; beyond it requests count locally. A healthy
 * Redis answers in well under a millisecond, so even a burst of a few hundred requests in one tick stays
 * below it; it bounds what piles up in the client (a few KB a held command) until commandTimeout.
 */
const MAX_PENDING_CALLS = 1_000;

export class RedisRateLimitStore implements SharedRateLimitStore {
  readonly budgetMs: number;
  readonly local: RateLimitStore;
  private readonly redis: RedisScriptClient;
  private readonly cooldownMs: number;
  private readonly prefix: string;
  private readonly serverClock: boolean;
  private readonly now: () => number;
  private readonly counts: RedisRateLimitStats = { calls: 0, answered: 0, timeouts: 0, errors: 0, skipped: 0, scriptLoads: 0, recoveries: 0 };
  private coolUntil = 0;
  private coolError: RateLimitStoreError | null = null;
  /** A request is asking Redis after a cool-down; the rest count locally until it has its answer. */
  private probing = false;
  /** Script calls sent and not yet settled (including those past their budget). */
  private pending = 0;
  /** A lazyConnect client was told to connect (see hitAll). */
  private connectAsked = false;
  private readonly maxKeysPerClient: number;
  /** Member names: unique per call across processes (random prefix), so a count can be taken back. */
  private readonly idPrefix = randomBytes(6).toString('base64url');
  /** False once Redis refused to compile a shebang (before 7.0): the scripts without one are sent from then on. */
  private shebang = true;
  private nextId = 0;
  /** Since when requests have been counted locally (null while Redis answers), and how many. */
  private fallingBackSince: number | null = null;
  private localSince = 0;
  private readonly logger: MoatLogger;
  private readonly log: RateBoundedLog;

  constructor(options: RedisRateLimitStoreOptions) {
    if (options === null || typeof options !== 'object' || options.redis === null || typeof options.redis !== 'object'
      || typeof options.redis.evalsha !== 'function' || typeof options.redis.eval !== 'function') {
      throw new OptionError('RedisRateLimitStore needs { redis }: an ioredis client (or anything with evalsha and eval)');
    }
    this.redis = options.redis;
    this.budgetMs = positive(options.budgetMs, DEFAULT_BUDGET_MS, 'budgetMs');
    this.cooldownMs = positive(options.cooldownMs, DEFAULT_COOLDOWN_MS, 'cooldownMs', true);
    this.prefix = options.prefix ?? 'moat:rl:';
    if (options.clock !== undefined && options.clock !== 'server' && options.clock !== 'client') {
      throw new OptionError(`RedisRateLimitStore: clock must be 'server' or 'client', not ${String(options.clock)}`);
    }
    this.serverClock = options.clock !== 'client';
    const perClient = options.maxKeysPerClient ?? DEFAULT_MAX_KEYS_PER_CLIENT;
    if (!Number.isInteger(perClient) || perClient < 1) {
      throw new OptionError(`RedisRateLimitStore: maxKeysPerClient must be a whole number of at least 1, not ${String(perClient)}`);
    }
    this.maxKeysPerClient = perClient;
    this.local = options.local ?? new MemoryRateLimitStore({ maxKeysPerClient: perClient });
    this.now = options.now ?? Date.now;
    this.logger = options.logger === false ? silentLogger : options.logger ?? consoleLogger;
    this.log = new RateBoundedLog(positive(options.logIntervalMs, 60_000, 'logIntervalMs', true), this.now);
  }

  /** A snapshot of the counters. */
  stats(): RedisRateLimitStats {
    return { ...this.counts };
  }

  /** The Redis key of one client's counter for one rule. */
  keyOf(hit: Pick<RateLimitHit, 'rule' | 'client'>): string {
    return `${this.prefix}{${hit.client}}:${hit.rule}`;
  }

  async hitAll(hits: readonly RateLimitHit[], now: number): Promise<SharedRateLimitOutcome> {
    this.counts.calls++;
    if (hits.length === 0) return { waits: [], fallback: null };
    const status = this.redis.status;
    if (status !== undefined && status !== 'ready') {
      // `wait`: a client made with lazyConnect, which would connect on its first command; the store
      // sends none while not ready, so it asks for the connection itself, once (a failure comes back
      // as the client's error events and reconnects).
      if (status === 'wait' && !this.connectAsked && typeof this.redis.connect === 'function') {
        this.connectAsked = true;
        this.redis.connect().catch(() => {});
      }
      // Not connected (starting, reconnecting): a command would fail at once (no offline queue), so it
      // costs nothing to ask again next time. No cool-down: the first requests after start stay shared.
      this.counts.errors++;
      return this.countLocally(hits, now, new RateLimitStoreError('error', `Redis is not connected (${status}); counted in this process, no cool-down`));
    }
    // A Redis that takes commands but does not answer (frozen, overloaded): no more than this many wait.
    if (this.pending >= MAX_PENDING_CALLS) {
      this.counts.skipped++;
      return this.countLocally(hits, now, new RateLimitStoreError('cooldown', `${this.pending} calls to Redis are still unanswered; counted in this process until they are`));
    }
    if (this.probing) {
      this.counts.skipped++;
      return this.countLocally(hits, now, new RateLimitStoreError('cooldown', 'Redis failed before; counted in this process until one request finds it answering again'));
    }
    if (this.coolError !== null) {
      if (this.now() < this.coolUntil) {
        this.counts.skipped++;
        return this.countLocally(hits, now, this.coolError);
      }
      // One request asks Redis after a cool-down; the others stay local until it has its answer, so a
      // Redis still frozen gets one more command per cool-down, not one per request.
      this.coolError = null;
      this.probing = true;
    }
    let error: RateLimitStoreError;
    let coolDown = this.cooldownMs > 0;
    const request = { abandoned: false };
    try {
      const waits = await withinBudget(this.count(hits, now, request), this.budgetMs);
      if (waits !== OUT_OF_TIME) {
        this.probing = false;
        this.counts.answered++;
        if (this.fallingBackSince !== null) this.recovered();
        return { waits, fallback: null };
      }
      request.abandoned = true;
      this.counts.timeouts++;
      error = new RateLimitStoreError('timeout', `Redis did not answer within ${this.budgetMs} ms`);
    } catch (cause) {
      const message = (cause as Error)?.message ?? String(cause);
      if (message === 'Command timed out') {
        // ioredis's commandTimeout ran out before the budget did (a budget above it): still a timeout.
        this.counts.timeouts++;
        error = new RateLimitStoreError('timeout', `Redis did not answer within ${this.budgetMs} ms`, { cause });
        return this.fellBack(hits, now, error, this.cooldownMs > 0);
      }
      this.counts.errors++;
      // CROSSSLOT is a bug of ours (keys of two slots in one call), and "not writeable" a connection not
      // up yet: neither is a slow or failing Redis, so neither sends every other request to local counting.
      if (message.startsWith('CROSSSLOT') || message.startsWith("Stream isn't writeable")) coolDown = false;
      error = new RateLimitStoreError('error', `Redis failed: ${message}`, { cause });
    }
    return this.fellBack(hits, now, error, coolDown);
  }

  /** Counts locally after a failed attempt, and starts a cool-down when the failure was Redis's. */
  private fellBack(hits: readonly RateLimitHit[], now: number, error: RateLimitStoreError, coolDown: boolean): SharedRateLimitOutcome {
    this.probing = false;
    if (coolDown) {
      this.coolUntil = this.now() + this.cooldownMs;
      const cooling = `${error.message}; counting in this process for ${this.cooldownMs} ms (cool-down)`;
      this.coolError = new RateLimitStoreError('cooldown', cooling, { cause: error });
      error = new RateLimitStoreError(error.reason, cooling, { cause: error.cause });
    }
    return this.countLocally(hits, now, error);
  }

  /** The Redis key of a client IP's index of the keyed counters it used for one rule (same slot as the IP's counters). */
  indexKeyOf(rule: string, ip: string): string {
    return `${this.prefix}{${ip}}#keyed:${rule}`;
  }

  /**
   * Counts the hits in Redis, one script call per hash slot (hit-groups.ts: per-IP calls first, keyed
   * calls only if they did not refuse), and returns the waits in rule order. A keyed hit whose IP is at
   * its cap of keyed counters is refused by the per-IP call and sent no further. Counts taken back are
   * removed afterwards, without waiting.
   */
  private async count(hits: readonly RateLimitHit[], now: number, request: { abandoned: boolean }): Promise<number[]> {
    const plan = planCalls(hits, (rule, ip) => this.indexKeyOf(rule, ip), (h) => this.keyOf(h));
    const waits: number[] = new Array<number>(hits.length).fill(NOT_EVALUATED);
    const members: string[] = new Array<string>(hits.length).fill('');
    const capped = new Set<number>();
    const clock = this.serverClock ? -1 : now;
    const run = (call: ScriptCall) => {
      const id = `${this.idPrefix}${(this.nextId++).toString(36)}`;
      const keys = call.hits.map((i) => this.keyOf(hits[i]!));
      const args: (string | number)[] = [clock, id, call.hits.length, this.maxKeysPerClient];
      for (const i of call.hits) args.push(hits[i]!.limit, hits[i]!.windowMs, hits[i]!.stop ? 1 : 0);
      for (const entry of call.index) {
        keys.push(entry.key);
        args.push(entry.windowMs, entry.name);
      }
      return this.script(keys, args).then((reply) => {
        const [callWaits, full] = parseReply(reply, call.hits.length, call.index.length);
        callWaits.forEach((w, k) => {
          waits[call.hits[k]!] = w;
          members[call.hits[k]!] = `${id}:${k + 1}`;
        });
        let refused = callWaits.some((w, k) => w > 0 && hits[call.hits[k]!]!.stop);
        for (let f = 0; f < full.length; f += 2) {
          const hit = call.index[full[f]! - 1]!.hit;
          capped.add(hit);
          waits[hit] = full[f + 1]!;
          if (hits[hit]!.stop) refused = true;
        }
        return refused;
      });
    };
    const refusedPerIp = (await Promise.all(plan.perIp.map(run))).some(Boolean);
    if (!refusedPerIp && !request.abandoned) {
      const keyed = capped.size === 0 ? plan.keyed : plan.keyed
        .map((call) => ({ ...call, hits: call.hits.filter((i) => !capped.has(i)) }))
        .filter((call) => call.hits.length > 0);
      await Promise.all(keyed.map(run));
    }
    const outcome = decide(hits, waits);
    for (const i of outcome.counted) this.remove(this.keyOf(hits[i]!), members[i]!);
    return outcome.waits;
  }

  /**
   * Takes one count back; a failure only leaves it to expire. Plain EVAL (the script is short): sent at
   * once, so it runs before this connection's next command.
   */
  private remove(key: string, member: string): void {
    this.pending++;
    this.redis.eval(this.shebang ? REMOVE_SCRIPT : REMOVE_SCRIPT_BEFORE_7, 1, key, member).catch(() => {}).finally(() => { this.pending--; });
  }

  /** EVALSHA, and EVAL when Redis does not hold the script (first use, restart, SCRIPT FLUSH); counted while pending. */
  private async script(keys: string[], args: (string | number)[]): Promise<unknown> {
    this.pending++;
    try {
      const sha1 = this.shebang ? SLIDING_WINDOW_SHA1 : SLIDING_WINDOW_SHA1_BEFORE_7;
      try {
        return await this.redis.evalsha(sha1, keys.length, ...keys, ...args);
      } catch (error) {
        if (!String((error as Error)?.message).startsWith('NOSCRIPT')) throw error;
      }
      this.counts.scriptLoads++;
      if (this.shebang) {
        try {
          return await this.redis.eval(SLIDING_WINDOW_SCRIPT, keys.length, ...keys, ...args);
        } catch (error) {
          // Redis 6 and older read `#!lua` as Lua and fail to compile it; nothing ran.
          if (!/Error compiling script/i.test(String((error as Error)?.message))) throw error;
          this.shebang = false;
        }
      }
      return await this.redis.eval(SLIDING_WINDOW_SCRIPT_BEFORE_7, keys.length, ...keys, ...args);
    } finally {
      this.pending--;
    }
  }

  /** Redis answers again: counted, and logged once per outage (at most once per log interval). */
  private recovered(): void {
    const downMs = Math.max(0, this.now() - this.fallingBackSince!);
    const local = this.localSince;
    this.fallingBackSince = null;
    this.localSince = 0;
    this.counts.recoveries++;
    this.log.report('recovered', (suppressed) => {
      (this.logger.info ?? this.logger.warn).call(this.logger, { downMs, countedLocally: local, suppressed },
        `moat: the rate-limit Redis answers again after ${Math.round(downMs / 1000)} s; ` +
        `${local} rate-limited requests were counted in this process meanwhile; shared counting resumed`);
    });
  }

  private countLocally(hits: readonly RateLimitHit[], now: number, fallback: Error): SharedRateLimitOutcome {
    this.fallingBackSince ??= this.now();
    this.localSince++;
    const waits: number[] = [];
    for (const h of hits) {
      const wait = this.local.hit(`${h.rule}|${h.client}`, h.limit, h.windowMs, now, h.by === undefined || h.by === 'ip' || h.ip === undefined ? undefined : `${h.rule}|${h.ip}`);
      waits.push(wait);
      if (wait > 0 && h.stop) break;
    }
    return { waits, fallback };
  }
}

/**
 * The script's reply: at most `max` waits, and (place, wait) pairs of the index entries its cap refused,
 * each place within 1…`entries`. Anything else is an error, never a decision.
 */
function parseReply(reply: unknown, max: number, entries: number): [number[], number[]] {
  const [waits, full] = Array.isArray(reply) ? reply as unknown[] : [];
  const isWait = (w: unknown) => typeof w === 'number' && w >= 0;
  if (!Array.isArray(reply) || reply.length !== 2 || !Array.isArray(waits) || waits.length > max || !waits.every(isWait)
    || !Array.isArray(full) || full.length % 2 !== 0
    || !full.every((v, k) => (k % 2 === 0 ? Number.isInteger(v) && (v as number) >= 1 && (v as number) <= entries : isWait(v) && (v as number) > 0))) {
    throw new MoatError('MOAT_ERR_RATE_LIMIT_STORE', `unexpected reply from the rate-limit script: ${JSON.stringify(reply)?.slice(0, 100)}`);
  }
  return [waits as number[], full as number[]];
}

function positive(value: number | undefined, fallback: number, name: string, zeroOk = false): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (value === 0 && !zeroOk)) {
    throw new OptionError(`RedisRateLimitStore: ${name} must be a ${zeroOk ? 'non-negative' : 'positive'} number of milliseconds, not ${String(value)}`);
  }
  return value;
}
