// Entry point `moat-waf/ratelimit/redis`: rate limits shared by every process through Redis (ioredis is
// an optional peer dependency: only createRedisClient loads it, when called).
export { RedisRateLimitStore } from './redis-store.js';
export type { RedisRateLimitStoreOptions, RedisRateLimitStats } from './redis-store.js';
export { RateLimitStoreError } from './redis-store.js';
export type { RateLimitFallbackReason } from './redis-store.js';
export { RATE_LIMIT_REDIS_OPTIONS, createRedisClient, rateLimitRetryDelay } from './redis-client.js';
export type { CreateRedisClientOptions, RedisScriptClient } from './redis-client.js';
export { SLIDING_WINDOW_SCRIPT, SLIDING_WINDOW_SHA1 } from './sliding-window-script.js';
