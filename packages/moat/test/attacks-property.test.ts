/**
 * Properties: the detectors never throw, and their work (the step counter, not the clock) stays linear
 * in the input — for arbitrary strings up to 64 KiB, for worst-case repetitions of the syntax they read,
 * and for JSON nested far deeper than the walk limit.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import fc from 'fast-check';
import { ALL_ATTACK_CATEGORIES, detectAttack, detectInJson, resetWorkSteps, workSteps, type AttackLocation } from '../src/attacks/index.js';

/** Generous constant: steps per input character across the feature scan, three decoding rounds and all detectors. */
const STEPS_PER_CHAR = 200;

const syntax = fc.constantFrom("'", '"', '<', '>', ';', '|', '&', '$', '{', '}', '(', ')', '%', '\\', '.', '/', ':', '=', '[', ']', '_', '#', '@', '`', ' ', '\t', '\n', 'a', 'O', 'R', '1', '%2', '&#', 'on', 'x', '..', '${', '{{', '<%', 'select', 'union', 'or', 'script', 'id');

test('detectAttack never throws and does linear work on arbitrary strings (the 64 KiB worst cases follow)', () => {
  const locations: AttackLocation[] = ['query', 'body', 'path', 'header', 'cookie'];
  fc.assert(
    fc.property(fc.oneof(fc.string({ maxLength: 2000 }), fc.array(syntax, { maxLength: 4000 }).map((a) => a.join('')), fc.string({ unit: 'binary', maxLength: 2000 })), fc.constantFrom(...locations), (s, where) => {
      resetWorkSteps();
      const hit = detectAttack(s, where, ALL_ATTACK_CATEGORIES);
      assert.ok(hit === null || hit.snippet.length <= 64);
      assert.ok(workSteps() <= STEPS_PER_CHAR * (s.length + 16), `work ${workSteps()} for ${s.length} chars`);
    }),
    { numRuns: 300 },
  );
});

test('worst-case repetitions of each syntax element stay linear at 64 KiB', () => {
  for (const unit of ["'", '<a ', '<a onx', '%25', '&#x25;', '../', '....//', ';x', '$(', '`', '{{', '${', '[[', '"', ' or ', 'http://', '[::', '\\u00', '/*', "' ", '<%']) {
    const s = unit.repeat(Math.ceil(65536 / unit.length)).slice(0, 65536);
    resetWorkSteps();
    assert.doesNotThrow(() => detectAttack(s, 'body', ALL_ATTACK_CATEGORIES));
    assert.ok(workSteps() <= STEPS_PER_CHAR * s.length, `${JSON.stringify(unit)}: ${workSteps()} steps for ${s.length} chars`);
  }
});

test('deeply nested and very wide JSON is walked within its node limit, without throwing', () => {
  let deep: unknown = 'x';
  for (let i = 0; i < 100_000; i++) deep = [deep];
  resetWorkSteps();
  assert.equal(detectInJson(deep, ALL_ATTACK_CATEGORIES), null);
  assert.ok(workSteps() <= 10_000 * STEPS_PER_CHAR, `deep: ${workSteps()}`);
  // The attack below the depth limit is not reached: the walk stops, bounded, rather than recursing.
  let hidden: unknown = { $ne: null };
  for (let i = 0; i < 64; i++) hidden = { a: hidden };
  assert.equal(detectInJson(hidden, ALL_ATTACK_CATEGORIES), null);
  assert.equal(detectInJson(hidden, ALL_ATTACK_CATEGORIES, 'json', { maxDepth: 100, maxNodes: 10_000 })?.category, 'nosql');
  const wide = Array.from({ length: 200_000 }, (_, i) => `v${i}`);
  resetWorkSteps();
  assert.equal(detectInJson(wide, ALL_ATTACK_CATEGORIES), null);
  assert.ok(workSteps() <= 10_000 * STEPS_PER_CHAR, `wide: ${workSteps()}`);
  fc.assert(
    fc.property(fc.json({ depthSize: 'large', maxDepth: 12 }), (text) => {
      assert.doesNotThrow(() => detectInJson(JSON.parse(text), ALL_ATTACK_CATEGORIES));
    }),
    { numRuns: 200 },
  );
});
