// The in-process rate limiter promises a memory budget in bytes. Many clients making one request each
// (a botnet, a sweep of an IPv6 /64 per client, rotating API keys) fill it with counters: the heap they
// really take, measured after garbage collection, must stay near the budget, not 1.6–1.9× over it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { MemoryRateLimitStore } from '../../src/index.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function used(): number {
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

const BUDGET = 16 * 1024 * 1024;

for (const keyed of [false, true]) {
  test(`a ${BUDGET / 2 ** 20} MiB store filled by one-request clients${keyed ? ' (keyed, four keys per client IP)' : ''} takes at most 1.2× its budget`, () => {
    const before = used();
    const store = new MemoryRateLimitStore({ maxBytes: BUDGET });
    // Three times what fits, so the store evicts as it goes; keys built as the engine builds them.
    for (let i = 0; i < 300_000; i++) {
      if (keyed) store.hit(`rl-4f1c2a9e0b11|k:${i.toString(36).padStart(22, 'x')}`, 100, 60_000, 1_000 + i / 1000, `rl-4f1c2a9e0b11|${(i >>> 2) + 16777216}`);
      else store.hit(`rl-4f1c2a9e0b11|${16777216 + i}`, 100, 60_000, 1_000 + i / 1000);
    }
    const real = used() - before;
    const stats = store.stats();
    assert.ok(stats.evictions > 0, 'the budget was reached');
    assert.ok(stats.bytes <= BUDGET);
    assert.ok(real <= BUDGET * 1.2, `real ${real} bytes for a budget of ${BUDGET} (${(real / BUDGET).toFixed(2)}×, ${stats.keys} counters)`);
    assert.ok(store.size > 0); // keeps the store alive until measured
  });
}
