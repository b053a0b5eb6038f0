// The exact-value index skips keys of lengths no rule has; these tests make sure that shortcut never
// changes an answer, and that the evaluator's memo of the last parsed client IP never does either.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ExactIndex } from '../src/engine/exact-index.js';
import { block, engineFor, withTmpDir } from './helpers/engine-kit.js';

test('exact index: the same answers as the map, for keys of every length, including past the length bitmap', () => {
  const long = 'p'.repeat(1500);
  const keys = ['GET', 'TRACE', '/login', 'admin.example.com', 'a'.repeat(1024), 'b'.repeat(1025), long];
  const map = new Map(keys.map((k, i) => [k, [i]]));
  const index = new ExactIndex(map);
  assert.equal(index.size, keys.length);
  for (const k of keys) assert.deepEqual(index.get(k), map.get(k), k.slice(0, 20));
  // Same lengths as a key, different text: still no match.
  for (const miss of ['PUT', 'TRACX', '/logout'.slice(0, 6), 'c'.repeat(1024), 'c'.repeat(1025), 'q'.repeat(1500), '']) {
    assert.equal(index.get(miss), undefined, miss.slice(0, 20));
  }
  fc.assert(fc.property(fc.string({ maxLength: 30 }), (s) => index.get(s) === map.get(s)), { numRuns: 2000, seed: 7 });
  assert.equal(new ExactIndex(new Map()).get('anything'), undefined);
});

test('evaluator: alternating client IPs, repeated as keep-alive connections send them, keep their own decisions', async () => {
  await withTmpDir((dir) => {
    const engine = engineFor(dir, [block('ip', '203.0.113.7', { id: 'v4' }), block('ip', '2001:db8::/64', { id: 'v6' })]);
    const sequence = ['203.0.113.7', '203.0.113.7', '203.0.113.8', '2001:db8::1', '2001:db8::1', '2001:db9::1', 'not an ip', '203.0.113.7', '::ffff:203.0.113.7', ''];
    const expected = ['v4', 'v4', null, 'v6', 'v6', null, null, 'v4', 'v4', null];
    for (let round = 0; round < 3; round++) {
      sequence.forEach((ip, k) => assert.equal(engine.evaluate({ ip, path: '/' }).ruleId, expected[k], `${ip} (round ${round})`));
    }
    engine.close();
  });
});
