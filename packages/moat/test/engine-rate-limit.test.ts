// Rate limits: the sliding window (no double burst at a window edge) with an injected clock, retry times,
// the cap on tracked clients, per-rule and per-client keys, and IPv6 clients grouped by /64.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { MemoryRateLimitStore } from '../src/index.js';
import { engineFor, rateLimit, withTmpDir } from './helpers/engine-kit.js';

const W = 60_000;
const T0 = 1_000 * W; // a window boundary

describe('sliding window store', () => {
  test('no double burst at a window edge: a full window just before the edge still counts just after it', () => {
    const s = new MemoryRateLimitStore();
    for (let i = 0; i < 5; i++) assert.equal(s.hit('k', 5, W, T0 + W - 10 + i), 0, `request ${i}`);
    assert.ok(s.hit('k', 5, W, T0 + W - 1) > 0, 'sixth request in the window refused');
    // A fixed window would reset here and allow 5 more at once.
    for (let i = 0; i < 5; i++) assert.ok(s.hit('k', 5, W, T0 + W + 1 + i) > 0, `just after the edge, request ${i} refused`);
    // As the previous window slides out, capacity comes back gradually: one request per fifth of a window.
    assert.equal(s.hit('k', 5, W, T0 + W + W / 5 + 10), 0);
    assert.ok(s.hit('k', 5, W, T0 + W + W / 5 + 20) > 0);
    // Two windows after the burst, the client has its whole budget again.
    const later = new MemoryRateLimitStore();
    for (let i = 0; i < 5; i++) later.hit('k', 5, W, T0 + W - 5);
    for (let i = 0; i < 5; i++) assert.equal(later.hit('k', 5, W, T0 + 3 * W + i), 0);
  });

  test('steady flooding is held to the limit in every fixed window and (within one) in every sliding one', () => {
    const s = new MemoryRateLimitStore();
    const allowed: number[] = [];
    for (let t = T0; t < T0 + 10 * W; t += 250) if (s.hit('k', 20, W, t) === 0) allowed.push(t);
    for (let w = 0; w < 10; w++) {
      const n = allowed.filter((t) => t >= T0 + w * W && t < T0 + (w + 1) * W).length;
      assert.ok(n <= 20, `window ${w}: ${n}`);
      if (w > 0) assert.ok(n >= 8, `window ${w} still serves the client (${n})`);
    }
    for (const t of allowed) assert.ok(allowed.filter((u) => u > t - W && u <= t).length <= 20 + 1, `sliding window ending at ${t}`);
  });

  test('after a refusal, waiting the returned time is enough (property, injected clock)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.array(fc.integer({ min: 0, max: 30_000 }), { minLength: 1, maxLength: 40 }),
        (limit, gaps) => {
          const times: number[] = [];
          let t = T0 + 7;
          for (const g of gaps) times.push((t += g));
          const s = new MemoryRateLimitStore();
          for (let i = 0; i < times.length; i++) {
            const wait = s.hit('k', limit, W, times[i]);
            assert.ok(wait >= 0 && wait <= 2 * W, `wait ${wait}`);
            if (wait > 0) {
              // Replay the same history into a fresh store and ask again after the advertised wait.
              const replay = new MemoryRateLimitStore();
              for (let j = 0; j < i; j++) replay.hit('k', limit, W, times[j]);
              assert.equal(replay.hit('k', limit, W, times[i] + wait), 0, `allowed again after ${wait} ms`);
            }
          }
        },
      ),
      { numRuns: 150, seed: 7 },
    );
  });

  test('tracked keys are capped: the least recently started windows are evicted', () => {
    const s = new MemoryRateLimitStore(100);
    for (let i = 0; i < 1000; i++) s.hit(`client-${i}`, 1, W, T0 + i);
    assert.equal(s.size, 100);
    // The most recent clients are still tracked (refused), the oldest were forgotten (allowed again).
    assert.ok(s.hit('client-999', 1, W, T0 + 2000) > 0);
    assert.equal(s.hit('client-0', 1, W, T0 + 2000), 0);
    assert.equal(s.size, 100);
  });
});

describe('rate limits in the engine', () => {
  test('keys are per rule and per client; IPv6 clients share a /64 by default, or not with /128', () =>
    withTmpDir((dir) => {
      let now = T0;
      const rules = [rateLimit('/login', 2, '60s', { id: 'login', method: 'POST' })];
      const e = engineFor(dir, rules, { now: () => now });
      const login = (ip: string) => e.evaluate({ ip, path: '/login', method: 'POST' });
      assert.equal(login('2001:db8:1:2::1').treatment, 'Passed');
      assert.equal(login('2001:db8:1:2:ffff::9').treatment, 'Passed'); // same /64
      const d = login('2001:DB8:1:2::abcd');
      assert.deepEqual([d.treatment, d.category, d.rule, d.ruleId], ['Blocked', 'brl', 'login', 'login']);
      assert.ok(d.retryAfter! >= 1 && d.retryAfter! <= 120, `retryAfter ${d.retryAfter}`);
      assert.equal(login('2001:db8:1:3::1').treatment, 'Passed', 'the next /64 is another client');
      // IPv4, and the same IPv4 client written as IPv4-mapped IPv6, are one client.
      assert.equal(login('192.0.2.1').treatment, 'Passed');
      assert.equal(login('::ffff:192.0.2.1').treatment, 'Passed');
      assert.equal(login('::ffff:c000:201').treatment, 'Blocked');
      assert.equal(login('192.0.2.2').treatment, 'Passed');
      now += 2 * W;
      assert.equal(login('2001:db8:1:2::1').treatment, 'Passed', 'the window has slid past');

      const per128 = engineFor(dir, rules, { now: () => now, ipv6RateLimitPrefix: 128 });
      for (let i = 1; i <= 5; i++) assert.equal(per128.evaluate({ ip: `2001:db8::${i}`, path: '/login', method: 'POST' }).treatment, 'Passed');
    }));

  test('methods, exact and prefix paths; requests blocked earlier are not counted; monitor limits only report', () =>
    withTmpDir((dir) => {
      let now = T0;
      const e = engineFor(dir, [
        rateLimit('/api/*', 2, '1m', { id: 'api' }),
        rateLimit('/api/search', 1, '1m', { id: 'search-mon', mode: 'monitor' }),
      ], { now: () => now });
      const get = (p: string) => e.evaluate({ ip: '198.51.100.1', path: p, method: 'GET' });
      const first = get('/api/search');
      assert.equal(first.treatment, 'Passed');
      const second = get('/API/Search');
      assert.deepEqual([second.treatment, second.monitored.map((m) => m.ruleId)], ['Passed', ['search-mon']]);
      const third = get('/api/other');
      assert.deepEqual([third.treatment, third.ruleId], ['Blocked', 'api']);
      assert.equal(get('/apis').treatment, 'Passed', 'prefix /api/ does not cover /apis');
      assert.equal(get('/other').treatment, 'Passed');
    }));
});
