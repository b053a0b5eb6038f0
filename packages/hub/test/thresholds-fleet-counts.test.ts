// What one hub shares with the fleet, on its own (no database): nothing for a key below its share of the
// threshold, then the key's whole window once, then each new request; nothing for a record older than
// the window; a key that crossed on this hub is reset fleet-wide and its pending counts withdrawn.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { FleetCounts } from '../src/thresholds/fleet-counts.js';
import { BUCKETS, SlidingCounters } from '../src/thresholds/sliding-counters.js';
import { ThresholdEvaluator, type ThresholdRecord } from '../src/thresholds/threshold-evaluator.js';
import type { ThresholdRule } from '../src/thresholds/threshold-types.js';

const RULE: ThresholdRule = {
  id: 7, siteId: 1, name: 'scanner', windowSeconds: 120, threshold: 30, key: 'ip', banSeconds: 3600, mode: 'enforce', maxBansPerMinute: 60,
  createdAt: 0, updatedAt: 55, condition: { requests: 'any', method: null, path: null, pathMatch: 'exact', status: null },
};
const T0 = 1_200_000; // a bucket boundary: 120 s / 12 buckets = 10 s each
const bucketOf = (ts: number) => Math.floor((ts * BUCKETS) / RULE.windowSeconds);

function setUp(maxPendingCounts = 100) {
  const fleet = new FleetCounts({ fleetHubs: 10, maxPendingCounts });
  const evaluator = new ThresholdEvaluator(new SlidingCounters(100), fleet);
  evaluator.setRules(1, [RULE]);
  const at = (ts: number, ip = '203.0.113.5', n = 1): ThresholdRecord[] => Array.from({ length: n }, () => ({ ts, ip, method: 'GET', path: '/', treatment: 'Passed' }));
  return { fleet, evaluator, at };
}

describe('fleet counts of one hub', () => {
  it('shares nothing below threshold / fleetHubs, then the window so far, then each request', () => {
    const { fleet, evaluator, at } = setUp();
    assert.equal(fleet.bar(RULE), 3);
    evaluator.evaluate(1, [...at(T0), ...at(T0 + 10)]);
    assert.deepEqual(fleet.take().increments, [], 'two requests: below the share of 3');
    evaluator.evaluate(1, at(T0 + 20));
    const first = fleet.take();
    assert.deepEqual(first.increments.map((i) => [i.bucket, i.count]), [[bucketOf(T0), 1], [bucketOf(T0 + 10), 1], [bucketOf(T0 + 20), 1]]);
    assert.deepEqual(first.increments.map((i) => [i.ruleId, i.ruleVersion, i.key]), Array(3).fill([7, 55, '203.0.113.5']));
    assert.deepEqual(first.windows.map((w) => [w.key, w.head]), [['203.0.113.5', bucketOf(T0 + 20)]]);
    evaluator.evaluate(1, [...at(T0 + 21, undefined, 4), ...at(T0 - 500)]);
    assert.deepEqual(fleet.take().increments.map((i) => [i.bucket, i.count]), [[bucketOf(T0 + 20), 4]], 'new requests summed per bucket; the stale one not at all');
  });

  it('a key that crosses on this hub is reset fleet-wide, and its pending counts are withdrawn', () => {
    const { fleet, evaluator, at } = setUp();
    evaluator.evaluate(1, at(T0, '198.51.100.1', 5));
    assert.equal(fleet.stats().pending, 1);
    assert.equal(evaluator.evaluate(1, at(T0 + 1, '198.51.100.1', 25)).length, 1, 'crossed here alone');
    const batch = fleet.take();
    assert.deepEqual(batch.resets, [{ ruleId: 7, key: '198.51.100.1' }]);
    assert.deepEqual(batch.increments, []);
    assert.deepEqual(batch.windows, []);
  });

  it('holds at most maxPendingCounts increments; the rest are dropped and counted', () => {
    const { fleet, evaluator, at } = setUp(10);
    for (let i = 0; i < 25; i++) evaluator.evaluate(1, at(T0, `192.0.2.${i}`, 3));
    assert.deepEqual({ pending: fleet.stats().pending, dropped: fleet.stats().dropped }, { pending: 10, dropped: 15 });
    assert.equal(fleet.take().increments.length, 10);
    assert.equal(fleet.stats().pending, 0);
  });
});
