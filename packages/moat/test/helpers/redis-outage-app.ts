// One app process of the Redis outage test, set up the way docs/deploy.md tells users to: an ioredis
// client from createRedisClient() and a RedisRateLimitStore, both with their default loggers (the
// console), so what the test counts on stderr/stdout is exactly what an operator would see. Trusts
// X-Forwarded-For from 127.0.0.1, so the test can play many clients. Tells its parent its port over IPC,
// answers {type:'stats'}, exits on {type:'close'}.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createFirewall } from '../../src/index.js';
import { withMoat } from '../../src/adapters/node.js';
import { createRedisClient, RedisRateLimitStore } from '../../src/ratelimit/redis.js';

const { rules, redisUrl, prefix } = JSON.parse(process.argv[2]!) as { rules: string; redisUrl: string; prefix: string };

const redis = createRedisClient(redisUrl);
let connectionErrors = 0;
redis.on('error', () => { connectionErrors++; });
await new Promise<void>((resolve) => redis.once('ready', resolve));
// A budget a loaded test machine does not miss while Redis answers; an outage makes it run out regardless.
const store = new RedisRateLimitStore({ redis, prefix, budgetMs: 1_000 });
const firewall = createFirewall({ rules, rateLimitStore: store, trustedProxies: ['127.0.0.1'] });
const server = http.createServer(withMoat((_req, res) => { res.end('ok'); }, firewall));
server.keepAliveTimeout = 100;
server.listen(0, '127.0.0.1', () => {
  process.send!({ type: 'ready', port: (server.address() as AddressInfo).port });
});

process.on('message', (m: { type: string }) => {
  if (m.type === 'stats') {
    process.send!({ type: 'stats', store: store.stats(), firewall: firewall.stats(), connectionErrors, redisStatus: redis.status });
  }
  if (m.type === 'close') {
    server.closeAllConnections();
    server.close(() => {
      redis.disconnect();
      firewall.close();
      process.disconnect();
    });
  }
});
