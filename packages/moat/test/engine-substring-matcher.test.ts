// The substring matcher remembers results per raw value; these tests make sure the memory never
// changes an answer: any case, long values, and far more distinct values than it keeps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { SubstringMatcher } from '../src/engine/substring-matcher.js';

const patterns = ['sqlmap', 'nikto', '/wp-admin', 'union select', 'ab'];
const matcher = () => new SubstringMatcher(patterns.map((pattern, rule) => ({ pattern, rule })));

/** What the answer must be, computed without the matcher. */
function expected(text: string): number[] | null {
  const lower = text.toLowerCase();
  const hits = patterns.map((p, i) => (lower.includes(p) ? i : -1)).filter((i) => i >= 0);
  return hits.length === 0 ? null : hits;
}
const sorted = (hits: readonly number[] | null) => (hits === null ? null : [...hits].sort((a, b) => a - b));

test('repeated values and case variants give the same answers as a fresh scan', () => {
  const m = matcher();
  for (let round = 0; round < 3; round++) {
    assert.deepEqual(sorted(m.match('sqlmap/1.8')), [0]);
    assert.deepEqual(sorted(m.match('SQLMap/1.8')), [0]);
    assert.deepEqual(sorted(m.match('Mozilla/5.0')), null);
    assert.deepEqual(sorted(m.match('/WP-ADMIN/?q=UNION SELECT')), [2, 3]);
  }
  assert.equal(m.match(''), null);
});

test('values longer than the cached length are still matched, near either end', () => {
  const m = matcher();
  const pad = 'x'.repeat(5000);
  assert.deepEqual(sorted(m.match(`${pad}NIKTO`)), [1]);
  assert.deepEqual(sorted(m.match(`nikto${pad}`)), [1]);
  assert.equal(m.match(pad), null);
});

test('answers stay right across many more distinct values than the cache holds', () => {
  const m = matcher();
  const values = fc.sample(fc.string({ unit: fc.constantFrom('a', 'b', 'S', 'q', 'l', 'm', 'p', ' ', '/'), maxLength: 40 }), { numRuns: 12_000, seed: 42 });
  for (const v of values) assert.deepEqual(sorted(m.match(v)), expected(v), v);
  // And once more, now that some are cached and some were evicted.
  for (const v of values.slice(0, 3000)) assert.deepEqual(sorted(m.match(v)), expected(v), v);
});

test('values that look alike to the matcher\'s first-level memory (same length, same sampled characters) keep their own answers', () => {
  const m = matcher();
  // 40 characters: the memory samples positions 39, 38, 37, 35, 30, 20, 10 and 5; these differ only at 1–2.
  const hit = 'x' + 'ab' + 'y'.repeat(37);
  const clean = 'x' + 'zz' + 'y'.repeat(37);
  assert.equal(hit.length, 40);
  for (let round = 0; round < 4; round++) {
    assert.deepEqual(sorted(m.match(hit)), [4]);
    assert.equal(m.match(clean), null);
    assert.deepEqual(sorted(m.match(hit.toUpperCase())), [4]);
  }
});

test('an empty matcher matches nothing', () => {
  assert.equal(new SubstringMatcher([]).match('anything'), null);
});
