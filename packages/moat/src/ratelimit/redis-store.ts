// Rate-limit counters in Redis, shared by every process and instance of an app (the `rateLimitStore`
// option; entry point `moat/ratelimit/redis`). One script call per rate-limited request, bounded by a
// time budget: when Redis is slow, down or failing, this process's own limiter answers instead (fail
// open to local limiting), and after a failure Redis is left alone for a cool-down so an outage costs
// requests no waiting at all. When Redis answers again after falling back, the store says so once.
// The error a fallback carries and the time budget itself are defined here, beside their only user.
import { MemoryRateLimitStore, type RateLimitStore } from '../engine/rate-limiter.js';
import type { RateLimitHit, SharedRateLimitOutcome, SharedRateLimitStore } from '../engine/shared-rate-limit-store.js';
import { consoleLogger, silentLogger, type MoatLogger } from '../firewall/logger.js';
import { RateBoundedLog } from '../firewall/rate-bounded-log.js';
import type { RedisScriptClient } from './redis-client.js';
import { SLIDING_WINDOW_SCRIPT, SLIDING_WINDOW_SHA1 } from './sliding-window-script.js';
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
  /** An ioredis client (`new Redis(url, RATE_LIMIT_REDIS_OPTIONS)`) or cluster; the app owns and closes it. */
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
    this.local = options.local ?? new MemoryRateLimitStore();
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
    if (this.coolError !== null) {
      if (this.now() < this.coolUntil) {
        this.counts.skipped++;
        return this.countLocally(hits, now, this.coolError);
      }
      this.coolError = null;
    }
    const keys = hits.map((h) => this.keyOf(h));
    const args: (string | number)[] = [this.serverClock ? -1 : now];
    for (const h of hits) args.push(h.limit, h.windowMs, h.stop ? 1 : 0);
    let error: RateLimitStoreError;
    try {
      const reply = await withinBudget(this.run(keys, args), this.budgetMs);
      if (reply !== OUT_OF_TIME) {
        const waits = parseWaits(reply, hits.length);
        this.counts.answered++;
        if (this.fallingBackSince !== null) this.recovered();
        return { waits, fallback: null };
      }
      this.counts.timeouts++;
      error = new RateLimitStoreError('timeout', `Redis did not answer within ${this.budgetMs} ms`);
    } catch (cause) {
      this.counts.errors++;
      error = new RateLimitStoreError('error', `Redis failed: ${(cause as Error)?.message ?? String(cause)}`, { cause });
    }
    if (this.cooldownMs > 0) {
      this.coolUntil = this.now() + this.cooldownMs;
      this.coolError = new RateLimitStoreError('cooldown', `${error.message}; counting locally for ${this.cooldownMs} ms`, { cause: error });
    }
    return this.countLocally(hits, now, error);
  }

  /** EVALSHA, and EVAL when Redis does not hold the script (first use, restart, SCRIPT FLUSH). */
  private async run(keys: string[], args: (string | number)[]): Promise<unknown> {
    try {
      return await this.redis.evalsha(SLIDING_WINDOW_SHA1, keys.length, ...keys, ...args);
    } catch (error) {
      if (!String((error as Error)?.message).startsWith('NOSCRIPT')) throw error;
      this.counts.scriptLoads++;
      return this.redis.eval(SLIDING_WINDOW_SCRIPT, keys.length, ...keys, ...args);
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

function parseWaits(reply: unknown, max: number): number[] {
  if (!Array.isArray(reply) || reply.length > max || reply.some((w) => typeof w !== 'number' || !(w >= 0))) {
    throw new MoatError('MOAT_ERR_RATE_LIMIT_STORE', `unexpected reply from the rate-limit script: ${JSON.stringify(reply)?.slice(0, 100)}`);
  }
  return reply as number[];
}

function positive(value: number | undefined, fallback: number, name: string, zeroOk = false): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (value === 0 && !zeroOk)) {
    throw new OptionError(`RedisRateLimitStore: ${name} must be a ${zeroOk ? 'non-negative' : 'positive'} number of milliseconds, not ${String(value)}`);
  }
  return value;
}
