// One app process for the shared rate-limit tests: a real node:http server behind the firewall, counting
// rate limits in Redis (or in process when no Redis URL is given). Tells its parent its port over IPC,
// answers {type:'stats'} with its counters and exits on {type:'close'}.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { createFirewall } from '../../src/index.js';
import { withMoat } from '../../src/adapters/node.js';
import { RATE_LIMIT_REDIS_OPTIONS, RedisRateLimitStore } from '../../src/ratelimit/redis.js';

const { rules, redisUrl, prefix, budgetMs } = JSON.parse(process.argv[2]) as {
  rules: string; redisUrl: string | null; prefix: string; budgetMs: number;
};

const redis = redisUrl === null ? null : new Redis(redisUrl, RATE_LIMIT_REDIS_OPTIONS);
if (redis !== null) await new Promise<void>((resolve, reject) => { redis.once('ready', resolve); redis.once('error', reject); });
const store = redis === null ? undefined : new RedisRateLimitStore({ redis, prefix, budgetMs });
const firewall = createFirewall({ rules, rateLimitStore: store, logger: false, trustedProxies: [] });
const server = http.createServer(withMoat((_req, res) => { res.end('ok'); }, firewall));
server.keepAliveTimeout = 100;
server.listen(0, '127.0.0.1', () => {
  process.send!({ type: 'ready', port: (server.address() as AddressInfo).port });
});

process.on('message', (m: { type: string }) => {
  if (m.type === 'stats') process.send!({ type: 'stats', firewall: firewall.stats(), store: store?.stats() ?? null });
  if (m.type === 'close') {
    server.closeAllConnections();
    server.close(() => {
      redis?.disconnect();
      process.disconnect();
    });
  }
});
