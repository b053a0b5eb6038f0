// Rate limits: the exact sliding log with an injected clock (never more than N in any window, never a
// refusal while fewer than N were counted, Retry-After exact), the byte budget and its counted evictions,
// per-rule and per-client keys, and IPv6 clients grouped by /64.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { MemoryRateLimitStore } from '../src/index.js';
import { engineFor, rateLimit, withTmpDir } from './helpers/engine-kit.js';
import { arrivals, SlidingLogOracle } from './helpers/sliding-log-oracle.js';

const W = 60_000;
const T0 = 1_000 * W; // a window boundary

describe('sliding log store', () => {
  test('a full window just before a fixed-window edge still counts after it: N in one window length, never 2N-1', () => {
    const s = new MemoryRateLimitStore();
    for (let i = 0; i < 5; i++) assert.equal(s.hit('k', 5, W, T0 + W - 10 + i), 0, `request ${i}`);
    assert.equal(s.hit('k', 5, W, T0 + W - 1), W - 9, 'the sixth is refused until the first leaves the window');
    // A fixed window would reset at the edge; a weighted two-window estimate would let 4 more in before
    // the first burst is a window old. The log refuses everything until then, then counts them one by one.
    for (let t = T0 + W; t < T0 + 2 * W - 10; t += 997) assert.ok(s.hit('k', 5, W, t) > 0, `refused at +${t - T0 - W}`);
    assert.equal(s.hit('k', 5, W, T0 + 2 * W - 11), 1, 'one millisecond before the first request is a window old');
    assert.equal(s.hit('k', 5, W, T0 + 2 * W - 10), 0, 'the first request has left the window');
    assert.equal(s.hit('k', 5, W, T0 + 2 * W - 10), 1, 'the second leaves one millisecond later');
  });

  test('never more than N counted in any window; counted whenever fewer than N before it; Retry-After exact (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1_000, max: 90_000 }), arrivals(3, 120, 20_000), (limit, windowMs, steps) => {
        const s = new MemoryRateLimitStore();
        const oracle = new SlidingLogOracle(limit, windowMs);
        for (const { client, t } of steps) oracle.record(client, t, s.hit(`r|${client}`, limit, windowMs, t));
        oracle.assertNeverOver();
      }),
      { numRuns: 300, seed: 12 },
    );
  });

  test('limits in the thousands: the ring grows to the limit and stays exact (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 100, max: 2_000 }), arrivals(1, 6_000, 2_000, 6_000), (limit, steps) => {
        const s = new MemoryRateLimitStore();
        const oracle = new SlidingLogOracle(limit, 3_600_000);
        for (const { client, t } of steps) oracle.record(client, t, s.hit(`r|${client}`, limit, 3_600_000, t));
        oracle.assertNeverOver();
      }),
      { numRuns: 12, seed: 5 },
    );
  });

  test('a clock that steps back counts the request at the newest time, so the guarantee holds', () => {
    const s = new MemoryRateLimitStore();
    assert.equal(s.hit('k', 2, W, T0 + 5_000), 0);
    assert.equal(s.hit('k', 2, W, T0 + 1_000), 0, 'counted as at +5000');
    assert.equal(s.hit('k', 2, W, T0 + 2_000), W, 'refused; both leave at +65000');
    assert.equal(s.hit('k', 2, W, T0 + 65_000), 0);
  });

  test('memory is bounded in bytes; evictions are counted, and those that forgot live requests apart', () => {
    const s = new MemoryRateLimitStore({ maxBytes: 64 * 1024 });
    for (let i = 0; i < 5_000; i++) s.hit(`client-${i}`, 5, W, T0 + i);
    const st = s.stats();
    assert.ok(st.bytes <= 64 * 1024, `bytes ${st.bytes}`);
    assert.equal(st.keys + st.evictions, 5_000);
    assert.ok(st.evictions > 4_000, `evictions ${st.evictions}`);
    assert.equal(st.evictedLive, st.evictions, 'every evicted client still had a request in its window');
    // The most recent clients are remembered, the oldest were forgotten.
    for (let i = 0; i < 4; i++) s.hit('client-4999', 5, W, T0 + 5_000);
    assert.ok(s.hit('client-4999', 5, W, T0 + 5_000) > 0);
    // Clients whose requests have all left the window are evicted without counting as live.
    const later = new MemoryRateLimitStore({ maxBytes: 16 * 1024 });
    for (let i = 0; i < 1_000; i++) later.hit(`client-${i}`, 5, 1_000, T0 + i * 2_000);
    assert.ok(later.stats().evictions > 900);
    assert.equal(later.stats().evictedLive, 0);
    // One client at a large limit grows its ring and the others make room for it.
    const big = new MemoryRateLimitStore({ maxBytes: 100 * 1024 });
    for (let i = 0; i < 100; i++) big.hit(`small-${i}`, 5, W, T0);
    for (let i = 0; i < 10_000; i++) assert.equal(big.hit('heavy', 10_000, 3_600_000, T0 + i), 0);
    assert.ok(big.hit('heavy', 10_000, 3_600_000, T0 + 10_000) > 0);
    assert.ok(big.stats().bytes >= 80_000 && big.stats().bytes <= 100 * 1024, `bytes ${big.stats().bytes}`);
    assert.ok(big.stats().evictions > 0);
    assert.throws(() => new MemoryRateLimitStore({ maxBytes: 0 }), /maxBytes must be a positive number/);
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
