/**
 * Properties: the detectors never throw, and their work (the step counter, not the clock) stays linear
 * in the input — for arbitrary strings up to 64 KiB, for worst-case repetitions of the syntax they read,
 * and for JSON nested far deeper than the walk limit.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import fc from 'fast-check';
import { ALL_ATTACK_CATEGORIES, detectAttack, detectInJson, resetWorkSteps, workSteps, type AttackLocation } from '../src/attacks/index.js';
import { FormValueDecoder, decodeFormValue } from '../src/attacks/decode/form-value.js';
import { jsonIsAscii } from '../src/attacks/detect-json.js';
import { percentDecode } from '../src/http/percent-decode.js';

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

/** Pieces a form field is made of: escapes of every byte (ASCII, UTF-8 leads and continuations, overlong, invalid), `+`, `%2B`, broken escapes, raw non-ASCII. */
const formPiece = fc.oneof(
  fc.constantFrom('%', '+', '%2', '%zz', '%2B', '%2b', '%25', '%C3%A9', '%E2%82%AC', '%F0%9F%98%80', '%80', '%BF', '%c0%ae', '%ED%A0%80', '%FF', '%0A', 'a', ' ', 'é', '€', '😀', "'", '<'),
  fc.integer({ min: 0, max: 255 }).map((b) => '%' + b.toString(16).padStart(2, '0')),
  fc.string({ maxLength: 6 }),
);

test('the attack scan\'s form decoder returns exactly what percentDecode(raw, true) returns, at every length and alignment', () => {
  const decoder = new FormValueDecoder();
  fc.assert(
    fc.property(fc.nat(300), fc.array(formPiece, { maxLength: 500 }), (pad, parts) => {
      // The padding moves every `+` and escape across the 32-bit words the decoder reads at once.
      const raw = 'p'.repeat(pad) + parts.join('');
      const decoded = decoder.decode(raw);
      assert.equal(decoded, percentDecode(raw, true));
      // "ASCII" is a promise detectAttack relies on to skip its non-ASCII search: it must never be wrong.
      if (decoder.ascii) assert.ok(!/[^\x00-\x7f]/.test(decoded), `claimed ASCII: ${JSON.stringify(decoded.slice(0, 80))}`);
    }),
    { numRuns: 3000 },
  );
  // Runs of escapes long enough for the byte loop and for cuts between whole characters, in every mix.
  const units = ['%E2%82%AC', '%80', '%C3%A9', '%41', '%F0%9F%98%80', '%C3', '+', '%2B'];
  for (let k = 0; k < 400; k++) {
    let raw = 'q'.repeat(k % 7) + 'a'.repeat(300);
    for (let j = 0; j < 900 + k; j++) raw += units[(j * 7 + k) % units.length];
    assert.equal(decodeFormValue(raw), percentDecode(raw, true), `run ${k}`);
  }
  // Escapes far apart (read by native searches), then past the count where the byte loop takes over:
  // literal `+` already turned to spaces must stay spaces there, and `%2B` must stay `+`.
  for (let gap = 60; gap < 200; gap += 13) {
    let raw = '';
    for (let j = 0; j < 70; j++) raw += 'b'.repeat(gap) + ['+', '%2B', '%C3%A9', '%zz', '+%2b+'][j % 5];
    assert.equal(decodeFormValue(raw), percentDecode(raw, true), `gap ${gap}`);
  }
  // Longer than the decoder's reusable buffer.
  const huge = 'x+y%2C%C3%A9'.repeat(12_000);
  assert.equal(decodeFormValue(huge), percentDecode(huge, true));
});

test('a JSON body judged all-ASCII yields only ASCII strings and keys, whatever characters or escapes it holds', () => {
  const strings = (v: unknown, out: string[] = []): string[] => {
    if (typeof v === 'string') out.push(v);
    else if (v !== null && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        out.push(k);
        strings(x, out);
      }
    }
    return out;
  };
  fc.assert(
    // Strings of any characters (the default would be ASCII only, which proves nothing here).
    fc.property(fc.jsonValue({ stringUnit: 'grapheme' }), fc.boolean(), (value, asciiOnly) => {
      // JSON.stringify leaves non-ASCII raw; escaping it (`\uXXXX`) gives an ASCII text whose strings are not ASCII.
      const text = asciiOnly ? JSON.stringify(value).replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`) : JSON.stringify(value);
      if (!jsonIsAscii(text)) return;
      for (const s of strings(JSON.parse(text))) assert.ok(!/[^\x00-\x7f]/.test(s), JSON.stringify(s));
    }),
    { numRuns: 2000 },
  );
});
