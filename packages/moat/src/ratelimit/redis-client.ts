// The two commands the Redis store needs, as a structural type: an ioredis `Redis` or `Cluster` fits,
// and `moat-waf` itself never imports ioredis (it is an optional peer dependency).
export interface RedisScriptClient {
  evalsha(sha1: string, numKeys: number, ...args: (string | number)[]): Promise<unknown>;
  eval(script: string, numKeys: number, ...args: (string | number)[]): Promise<unknown>;
}

/**
 * ioredis options for a rate-limit connection: with no offline queue a command fails at once while the
 * connection is down (instead of waiting for a reconnect), and a failed command is not retried, so a
 * dead Redis costs a request nothing and the local limiter answers.
 */
export const RATE_LIMIT_REDIS_OPTIONS = Object.freeze({
  enableOfflineQueue: false,
  maxRetriesPerRequest: 1,
  connectTimeout: 2_000,
});
