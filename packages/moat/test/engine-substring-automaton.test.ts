// The hand-written Aho-Corasick automaton against the obvious answer (String.indexOf per pattern), on
// random pattern sets made to overlap: shared prefixes, patterns inside patterns, repeated letters,
// non-ASCII code units.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { distinctPatterns, SubstringAutomaton } from '../src/engine/substring-automaton.js';

/** Ids in the order match() promises: by the end of each pattern's first occurrence, longer first. */
function expected(patterns: readonly string[], text: string): number[] | null {
  const found = patterns
    .map((p, id) => ({ id, at: text.indexOf(p), length: p.length }))
    .filter((f) => f.at >= 0)
    .sort((a, b) => a.at + a.length - (b.at + b.length) || b.length - a.length);
  return found.length === 0 ? null : found.map((f) => f.id);
}

const unit = fc.constantFrom('a', 'b', 'c', '/', '-', 'é', '\u4e2d', '\ud83d');

test('property: matches and their order equal a search for each pattern', () => {
  fc.assert(fc.property(
    fc.array(fc.string({ unit, minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 40 }),
    fc.array(fc.string({ unit, maxLength: 30 }), { minLength: 1, maxLength: 20 }),
    (patterns, texts) => {
      const automaton = new SubstringAutomaton(patterns);
      const unique = distinctPatterns(patterns);
      assert.equal(automaton.size, unique.length);
      assert.deepEqual([...unique].sort(), [...new Set(patterns)].sort());
      for (const text of texts) {
        assert.deepEqual(automaton.match(text), expected(unique, text), `${JSON.stringify(unique)} in ${JSON.stringify(text)}`);
        assert.equal(automaton.test(text), expected(unique, text) !== null);
      }
    },
  ), { numRuns: 400, seed: 11 });
});

test('nested and overlapping patterns, repeats, and the classic he/she/his/hers set', () => {
  const aPatterns = ['he', 'she', 'his', 'hers'];
  const a = new SubstringAutomaton(aPatterns);
  assert.deepEqual(a.match('ushers')?.map((id) => aPatterns[id]), ['she', 'he', 'hers']);
  assert.equal(a.match('hi, tiny'), null);
  assert.deepEqual(a.match('this')?.map((id) => aPatterns[id]), ['his']);
  const bPatterns = ['aaa', 'aa', 'a', '/wp-admin', '/wp'];
  const b = new SubstringAutomaton(bPatterns);
  assert.deepEqual(b.match('aaaa')?.map((id) => bPatterns[id]), ['a', 'aa', 'aaa']);
  assert.deepEqual(b.match('/x/wp-admin/')?.map((id) => bPatterns[id]), ['/wp', 'a', '/wp-admin']);
});

test('empty input: no patterns, empty patterns, empty text', () => {
  const none = new SubstringAutomaton([]);
  assert.equal(none.match('anything'), null);
  assert.equal(none.test('anything'), false);
  const onlyEmpty = new SubstringAutomaton(['']);
  assert.equal(onlyEmpty.match('x'), null, 'an empty pattern would match everything; it is ignored');
  assert.equal(new SubstringAutomaton(['x']).match(''), null);
});

test('10 k patterns: built once, every pattern found in a text around it', () => {
  const patterns = Array.from({ length: 10_000 }, (_, i) => `/p${(i * 7919) % 100_003}-x${i}`);
  const a = new SubstringAutomaton(patterns);
  for (let i = 0; i < patterns.length; i += 97) {
    const ids = a.match(`/prefix${patterns[i]}/suffix`);
    assert.ok(ids !== null && ids.map((id) => patterns[id]).includes(patterns[i]), patterns[i]);
  }
  assert.equal(a.match('/products/42'), null);
});
