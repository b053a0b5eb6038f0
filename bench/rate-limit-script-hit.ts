/**
 * Per-hit cost of the Redis rate-limit script, measured inside Redis (INFO commandstats: microseconds per
 * EVALSHA) and as a round trip from this process, on a throw-away redis-server (scripts/ensure-redis.sh).
 * Not part of the bench suite: a quick before/after figure for changes to ratelimit/sliding-window-script.ts.
 *   node --import tsx bench/rate-limit-script-hit.ts [path/to/sliding-window-script.ts]
 */
import { execFileSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';

const modulePath = process.argv[2] ?? new URL('../packages/moat/src/ratelimit/sliding-window-script.ts', import.meta.url).pathname;
const { SLIDING_WINDOW_SCRIPT } = (await import(pathToFileURL(modulePath).href)) as { SLIDING_WINDOW_SCRIPT: string };
const ensure = new URL('../scripts/ensure-redis.sh', import.meta.url).pathname;
const port = execFileSync('bash', [ensure], { encoding: 'utf8' }).trim().split('\n').pop()!;
const redis = new Redis(`redis://127.0.0.1:${port}`);
const sha = (await redis.script('LOAD', SLIDING_WINDOW_SCRIPT)) as string;
const T0 = 1_800_000_000_000;

async function scenario(name: string, limit: number, windowMs: number, clients: number, stepMs: number, ops: number): Promise<void> {
  const prefix = `bench:${Math.random().toString(36).slice(2)}:`;
  await redis.config('RESETSTAT');
  let now = T0;
  const started = process.hrtime.bigint();
  for (let i = 0; i < ops; i++) {
    now += stepMs;
    await redis.evalsha(sha, 1, `${prefix}{c${i % clients}}:r`, Math.floor(now), limit, windowMs, 1);
  }
  const roundTrip = Number(process.hrtime.bigint() - started) / ops / 1000;
  const stats = (await redis.info('commandstats')).split('\n').find((l) => l.startsWith('cmdstat_evalsha:')) ?? '';
  const inside = /usec_per_call=([\d.]+)/.exec(stats)?.[1];
  const memory = /used_memory:(\d+)/.exec(await redis.info('memory'))?.[1];
  console.log(`${name.padEnd(50)} ${inside} µs in Redis, ${roundTrip.toFixed(1)} µs round trip, used_memory ${(Number(memory) / 1048576).toFixed(1)} MiB`);
  await redis.flushdb();
}

console.log(`script: ${modulePath}`);
await scenario('5/min, 2k clients in turn, all under the limit', 5, 60_000, 2_000, 5, 20_000);
await scenario('5/min, one client flooding', 5, 60_000, 1, 1, 20_000);
await scenario('10000/h, one client at twice the limit rate', 10_000, 3_600_000, 1, 180, 20_000);
await scenario('10000/h, 100 clients at the limit rate', 10_000, 3_600_000, 100, 3.6, 20_000);
redis.disconnect();
execFileSync('bash', [ensure, 'stop', port]);
