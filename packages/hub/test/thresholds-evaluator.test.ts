// The auto-ban counting on its own: sliding windows under a deterministic clock (record times), the
// conditions Wafris and Moat records can meet, keys by IP and IPv6 /64, and the hard cap on counters.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { banKeyOf } from '../src/thresholds/ban-key.js';
import { SlidingCounters } from '../src/thresholds/sliding-counters.js';
import { ThresholdEvaluator, type ThresholdRecord } from '../src/thresholds/threshold-evaluator.js';
import type { ThresholdCondition, ThresholdRule } from '../src/thresholds/threshold-types.js';

let nextId = 1;
function rule(overrides: Omit<Partial<ThresholdRule>, 'condition'> & { condition?: Partial<ThresholdCondition> } = {}): ThresholdRule {
  const { condition, ...rest } = overrides;
  return {
    id: nextId++, siteId: 1, name: 'test', windowSeconds: 60, threshold: 3, key: 'ip', banSeconds: 3600, mode: 'enforce',
    maxBansPerMinute: 60, createdAt: 0, updatedAt: 0,
    ...rest,
    condition: { requests: 'any', method: null, path: null, pathMatch: 'exact', status: null, ...condition },
  };
}

function rec(overrides: Partial<ThresholdRecord> = {}): ThresholdRecord {
  return { ts: 1_000_000, ip: '203.0.113.7', method: 'GET', path: '/', treatment: 'Passed', ...overrides };
}

function evaluator(rules: ThresholdRule[], maxKeys = 1000): ThresholdEvaluator {
  const e = new ThresholdEvaluator(new SlidingCounters(maxKeys));
  e.setRules(1, rules);
  return e;
}

describe('threshold evaluator', () => {
  it('crosses at the threshold within the window, then counts again from zero', () => {
    const e = evaluator([rule({ threshold: 3, windowSeconds: 60 })]);
    assert.equal(e.evaluate(1, [rec(), rec()]).length, 0);
    const crossed = e.evaluate(1, [rec({ ts: 1_000_010 })]);
    assert.equal(crossed.length, 1);
    assert.equal(crossed[0]!.key, '203.0.113.7');
    assert.equal(crossed[0]!.count, 3);
    // Counting starts again: two more are not a second crossing, the third is.
    assert.equal(e.evaluate(1, [rec(), rec()]).length, 0);
    assert.equal(e.evaluate(1, [rec()]).length, 1);
  });

  it('forgets requests older than the window (sliding, by record time)', () => {
    const e = evaluator([rule({ threshold: 3, windowSeconds: 60 })]);
    assert.equal(e.evaluate(1, [rec({ ts: 1_000_000 }), rec({ ts: 1_000_001 })]).length, 0);
    // Two minutes later the old two have slid out: two new ones are not three.
    assert.equal(e.evaluate(1, [rec({ ts: 1_000_120 }), rec({ ts: 1_000_121 })]).length, 0);
    assert.equal(e.evaluate(1, [rec({ ts: 1_000_122 })]).length, 1);
  });

  it('counts only blocked requests for a "blocked by any rule" rule', () => {
    const e = evaluator([rule({ threshold: 2, condition: { requests: 'blocked' } })]);
    assert.equal(e.evaluate(1, [rec(), rec(), rec(), rec({ treatment: 'Allowed' })]).length, 0);
    assert.equal(e.evaluate(1, [rec({ treatment: 'Blocked' }), rec({ treatment: 'Blocked' })]).length, 1);
  });

  it('counts no request a ban blocked: a Moat client names the ban rule, a Wafris client an address rule', () => {
    const e = evaluator([rule({ threshold: 2, condition: { requests: 'any' } })]);
    const byBan = rec({ treatment: 'Blocked', category: 'bi', ruleId: 'auto-ban-12' });
    const byWafrisAddress = rec({ treatment: 'Blocked', category: 'bc', ruleId: null });
    assert.equal(e.evaluate(1, [byBan, byBan, byWafrisAddress, byWafrisAddress, rec({ treatment: 'Blocked', category: 'bi' })]).length, 0);
    // Blocked by any other rule, or by an address rule a Moat client names, it counts.
    const byPath = rec({ treatment: 'Blocked', category: 'bp', ruleId: '7' });
    const byMoatAddress = rec({ treatment: 'Blocked', category: 'bi', ruleId: '8' });
    assert.equal(e.evaluate(1, [byPath, byMoatAddress]).length, 1);
    // Passed with a stray category is never taken for a ban's block.
    assert.equal(e.evaluate(1, [rec({ category: 'bi' }), rec({ category: 'bi' })]).length, 1);
  });

  it('matches method and path exactly or by prefix, case-insensitively and without the query', () => {
    const exact = rule({ threshold: 1, condition: { method: 'POST', path: '/login' } });
    const prefix = rule({ threshold: 1, condition: { path: '/admin', pathMatch: 'prefix' } });
    const e = evaluator([exact, prefix]);
    assert.deepEqual(e.evaluate(1, [rec({ method: 'GET', path: '/login' })]).map((c) => c.rule.id), []);
    assert.deepEqual(e.evaluate(1, [rec({ method: 'post', path: '/LOGIN?next=/' })]).map((c) => c.rule.id), [exact.id]);
    assert.deepEqual(e.evaluate(1, [rec({ path: '/login/x', method: 'POST' })]).map((c) => c.rule.id), []);
    assert.deepEqual(e.evaluate(1, [rec({ path: '/admin/users' })]).map((c) => c.rule.id), [prefix.id]);
    assert.deepEqual(e.evaluate(1, [rec({ path: '/administrator' })]).map((c) => c.rule.id), []);
  });

  it('matches a status only on records that carry it', () => {
    const e = evaluator([rule({ threshold: 2, condition: { method: 'POST', path: '/login', status: 401 } })]);
    assert.equal(e.evaluate(1, [rec({ method: 'POST', path: '/login' }), rec({ method: 'POST', path: '/login', status: 200 })]).length, 0);
    assert.equal(e.evaluate(1, [rec({ method: 'POST', path: '/login', status: 401 }), rec({ method: 'POST', path: '/login', status: 401 })]).length, 1);
  });

  it('keys IPv6 by /64 under ip64, IPv4 by address, IPv4-mapped IPv6 as IPv4', () => {
    const e = evaluator([rule({ threshold: 2, key: 'ip64' })]);
    const crossed = e.evaluate(1, [rec({ ip: '2001:db8:1:2::1' }), rec({ ip: '2001:DB8:1:2:ffff::9' })]);
    assert.equal(crossed.length, 1);
    assert.equal(crossed[0]!.key, '2001:db8:1:2::/64');
    assert.equal(banKeyOf('::ffff:198.51.100.4', 'ip'), '198.51.100.4');
    assert.equal(banKeyOf('198.51.100.4', 'ip64'), '198.51.100.4');
    assert.equal(banKeyOf('010.1.1.1', 'ip'), null, 'leading zeros are not an address to key');
    assert.equal(banKeyOf('0.0.0.0/0', 'ip'), null);
    assert.equal(banKeyOf('not an ip', 'ip'), null);
    // Under 'ip' two addresses of one /64 are two keys.
    const perAddress = evaluator([rule({ threshold: 2, key: 'ip' })]);
    assert.equal(perAddress.evaluate(1, [rec({ ip: '2001:db8:1:2::1' }), rec({ ip: '2001:db8:1:2::2' })]).length, 0);
  });

  it('counts an aggregated record as the requests it stands for', () => {
    const e = evaluator([rule({ threshold: 30 })]);
    assert.equal(e.evaluate(1, [rec({ aggregateCount: 29 })]).length, 0);
    const crossed = e.evaluate(1, [rec({ aggregateCount: 2 })]);
    assert.equal(crossed[0]?.count, 31);
  });

  it('counts each site by its own rules only', () => {
    const e = evaluator([rule({ threshold: 1 })]);
    assert.equal(e.evaluate(2, [rec(), rec(), rec()]).length, 0);
  });

  it('keeps at most maxKeys counters, evicting the least recently seen and counting each eviction', () => {
    const e = evaluator([rule({ threshold: 1000 })], 100);
    for (let i = 0; i < 1000; i++) e.evaluate(1, [rec({ ip: `10.0.${i >> 8}.${i & 255}` })]);
    const stats = e.counters.stats();
    assert.equal(stats.keys, 100);
    assert.equal(stats.evictions, 900);
  });

  it('drops the counts of a changed rule (its window may differ)', () => {
    const r = rule({ threshold: 2 });
    const e = evaluator([r]);
    assert.equal(e.evaluate(1, [rec()]).length, 0);
    e.setRules(1, [{ ...r, updatedAt: 5 }]);
    assert.equal(e.evaluate(1, [rec()]).length, 0, 'the earlier count is gone');
    assert.equal(e.evaluate(1, [rec()]).length, 1);
  });
});
