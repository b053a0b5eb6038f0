// The Redis connection of the rate-limit store: the two commands the store needs, as a structural type
// (an ioredis `Redis` or `Cluster` fits, and `moat-waf` itself never imports ioredis, an optional peer
// dependency), the ioredis options it wants, and createRedisClient, which builds such a client quiet
// during an outage. A bare ioredis client with no `error` listener prints a stack trace for every failed
// reconnect attempt, forever; this one reports connection errors through Moat's logger at most once per
// interval (with the number left out), and the store itself reports the fallback and the recovery.
// ioredis is loaded by createRedisClient when called, never when the entry point is imported.
import { createRequire } from 'node:module';
import type { Redis, RedisOptions } from 'ioredis';
import { consoleLogger, silentLogger, type MoatLogger } from '../firewall/logger.js';
import { RateBoundedLog } from '../firewall/rate-bounded-log.js';
import { MoatError } from '../errors/moat-error.js';

export interface RedisScriptClient {
  evalsha(sha1: string, numKeys: number, ...args: (string | number)[]): Promise<unknown>;
  eval(script: string, numKeys: number, ...args: (string | number)[]): Promise<unknown>;
  /** ioredis's connection state (`ready` when connected); when present and not `ready`, the store counts locally without asking. */
  readonly status?: string;
  /** ioredis's connect(): the store calls it once for a client made with `lazyConnect` (status `wait`). */
  connect?(): Promise<void>;
}

/**
 * ioredis options for a rate-limit connection: with no offline queue a command fails at once while the
 * connection is down (instead of waiting for a reconnect), and a failed command is not retried, so a
 * dead Redis costs a request nothing and the local limiter answers. A command unanswered after 1 s is
 * given up (`commandTimeout`): a frozen Redis keeps the connection open, and without it every command
 * sent meanwhile would be held in the client, with its arguments, for as long as the freeze lasts.
 * For an ioredis `Cluster` pass them as `redisOptions` (a Cluster ignores them at its top level) and set
 * the cluster's own `enableOfflineQueue: false`.
 */
export const RATE_LIMIT_REDIS_OPTIONS = Object.freeze({
  enableOfflineQueue: false,
  maxRetriesPerRequest: 1,
  connectTimeout: 2_000,
  commandTimeout: 1_000,
});

export interface CreateRedisClientOptions extends RedisOptions {
  /** Where connection errors go (default the console; false: nowhere, the store still reports fallbacks). */
  logger?: MoatLogger | false;
  /** At most one connection-error line per this interval (default 60 s). */
  logIntervalMs?: number;
  /** Clock of the log bound (default Date.now). */
  now?: () => number;
}

/**
 * Reconnect delay: doubling from 100 ms up to 2 s, so a Redis that is back is used again within about
 * two seconds, and a long outage costs one connection attempt every two seconds.
 */
export function rateLimitRetryDelay(attempt: number): number {
  return Math.min(2_000, 100 * 2 ** Math.min(Math.max(attempt - 1, 0), 5));
}

const requireFromHere = createRequire(import.meta.url);

/**
 * `new Redis(url, …)` with the rate-limit settings (no offline queue, one try per command, 2 s connect
 * timeout, 1 s command timeout, capped reconnect backoff) and a rate-bounded `error` listener. Options override the defaults.
 * Throws when ioredis is not installed.
 */
export function createRedisClient(url: string, options: CreateRedisClientOptions = {}): Redis {
  const { logger: loggerOption, logIntervalMs, now, ...redisOptions } = options;
  let ioredis: { Redis: new (url: string, options: RedisOptions) => Redis };
  try {
    ioredis = requireFromHere('ioredis') as typeof ioredis;
  } catch (error) {
    throw new MoatError('MOAT_ERR_DEPENDENCY_MISSING', 'createRedisClient needs ioredis, an optional peer dependency of moat-waf: npm install ioredis', { cause: error });
  }
  const client = new ioredis.Redis(url, { ...RATE_LIMIT_REDIS_OPTIONS, retryStrategy: rateLimitRetryDelay, ...redisOptions });
  const logger = loggerOption === false ? silentLogger : loggerOption ?? consoleLogger;
  const log = new RateBoundedLog(logIntervalMs ?? 60_000, now ?? Date.now);
  client.on('error', (error: Error) => {
    // The message only ("connect ECONNREFUSED 10.0.0.5:6379"): never the URL, which may hold a password.
    log.report('redis', (suppressed) => {
      logger.error({ err: error.message, code: (error as { code?: unknown }).code, suppressed },
        'moat: the rate-limit Redis connection failed; rate limits are counted in each process until it answers again');
    });
  });
  return client;
}
