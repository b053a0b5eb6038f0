/**
 * Per-hit cost of the in-process rate limiter (MemoryRateLimitStore.hit), on a deterministic clock.
 * Not part of the bench suite: a quick before/after figure for changes to engine/rate-limiter.ts.
 *   node --import tsx bench/rate-limiter-hit.ts [path/to/rate-limiter.ts]
 * The optional argument loads another implementation (e.g. a saved copy of the previous one).
 */
import { pathToFileURL } from 'node:url';
import { measure, fmtNs } from './lib/measure.js';

interface Store { hit(key: string, limit: number, windowMs: number, now: number): number }
const modulePath = process.argv[2] ?? new URL('../packages/moat/src/engine/rate-limiter.ts', import.meta.url).pathname;
const { MemoryRateLimitStore } = (await import(pathToFileURL(modulePath).href)) as { MemoryRateLimitStore: new () => Store };

const OPS = 1_000_000;
const ROUNDS = 7;
const T0 = 1_800_000_000_000;
const keys = (n: number) => Array.from({ length: n }, (_, i) => `rl-login|${(0xc0000200 + i) >>> 0}`);

function scenario(name: string, limit: number, windowMs: number, clients: number, stepMs: number): void {
  const store = new MemoryRateLimitStore();
  const ks = keys(clients);
  let now = T0;
  let allowed = 0;
  const m = measure((i) => {
    now += stepMs;
    const wait = store.hit(ks[i % clients], limit, windowMs, Math.floor(now));
    if (wait === 0) allowed++;
    return wait;
  }, OPS, ROUNDS);
  const share = ((allowed / (OPS * (ROUNDS + 1))) * 100).toFixed(1);
  console.log(`${name.padEnd(58)} ${fmtNs(m.ns).padStart(10)} /hit (min ${fmtNs(m.min)}, max ${fmtNs(m.max)}), ${share}% allowed`);
}

console.log(`implementation: ${modulePath}`);
scenario('5/min, 20k clients in turn, all under the limit', 5, 60_000, 20_000, 1);
scenario('5/min, one client flooding (nearly all refused)', 5, 60_000, 1, 1);
scenario('5/min, 1k clients flooding (nearly all refused)', 5, 60_000, 1_000, 1);
scenario('10000/h, one client at the limit rate (ring full)', 10_000, 3_600_000, 1, 360);
scenario('10000/h, one client at twice the limit rate', 10_000, 3_600_000, 1, 180);
scenario('10000/h, 100 clients in turn at the limit rate', 10_000, 3_600_000, 100, 3.6);
