/**
 * A long form field judged on its raw text (raw-form-field.ts) must never pass what the full path —
 * decode the field (percentDecode with `+` as space), then detectAttack — would flag. Random fields
 * built from the pieces that decide it (quotes raw and escaped, mixed-case hex, invalid and overlong
 * escapes, `%u`, `%25` double encoding, escaped letters, `+` runs that push SQL past a decoding window,
 * anchors of every category) are checked against the full path for several category sets, and the
 * shortcut must still fire on ordinary prose (it is what makes a 64 KiB form body cheap).
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import fc from 'fast-check';
import { ALL_ATTACK_CATEGORIES, attackCategorySet, detectAttack } from '../src/attacks/index.js';
import { RAW_FIELD_FROM, rawBodyHints, rawFieldIsClean } from '../src/attacks/raw-form-field.js';
import { percentDecode } from '../src/http/percent-decode.js';
import { plainProse } from './helpers/plain-prose.js';

/** Plain sentences as a browser encodes them: letters, `+` for spaces, `%2C`, `%3F`, `%27` contractions. */
function encodedProse(length: number, seed: number, apostrophes: boolean): string {
  return new URLSearchParams({ v: plainProse(length, seed, apostrophes) }).toString().slice(2);
}

const PIECES = [
  "'", '%27', '%2527', '"', '%22', "''", '%27%27', '%2c', '%2C', '%3F', '%3f', '%21', '+', '+'.repeat(45), '+'.repeat(300), 'x', 'OR', 'or', 'UNION', 'SELECT', 'password', 'FROM',
  '1', '0', '=', '%3D', '%3d', '--', '%2D%2D', '%2d', '#', '%23', '(', '%28', '-', ')', '%29', ';', '%3B', '%0A', '%0a', '%00', '%09', '%zz', '%2', '%', '%u0027', '%U0027', '%25',
  '%C0%AE', '%c0%ae', '%e2%80%99', '.', '%2E', '..', 'proto', '__proto__', '%5F', '%5f', '%70', '%4F', '$ne', '%24', '<', '%3C', '%3c', '>', ':', '%3A', '/', '%2F', '\\', '%5C',
  '`', '{', '%7B', '@', 'é', 'TRUE', 'true', 'SLEEP', '(5)', 'AND', '&&', '||', '%7C%7C', '*', '/*', '*/', '%2A%2F', '+the+garden+', 'select', 'waitfor', 'delay',
  // Contractions, read without decoding when they are a field's first quote (`'t+`), and what looks like one but is not.
  "'t", "%27ll", "'s", "%27re", "'d", "'ve", "'m", "'tor", "'t.", "'s%2C", "%27d%3D", "'ll(", "'t%27",
  // What else opens SQL's numeric context at a field's start (NULL, `~`, a subquery), and backquoted names.
  'NULL', 'null', 'Nullable', '~', '%7E', '%7e', '(SELECT', '%28select', '(+select', '(CASE', 'case', 'WHEN', 'unicode(password)', 'users)', '%60', 'name`',
];

/** SQL that continues a statement once its quote closes, in pieces, with runs of spaces that cross a decoding window. */
const SQL_PIECES = ["'", '%27', '"', '%22', '+'.repeat(40), '+'.repeat(46), '+'.repeat(47), '+'.repeat(1600), 'or', 'OR', 'true', 'TRUE', '--', 'union', 'select', '1', '%3D', '=', '%3d1'];

/** Pieces joined as they come or with `+` (a space) between them, so words and operators form. */
const chunk = fc
  .tuple(fc.array(fc.oneof(fc.constantFrom(...PIECES), fc.constantFrom(...SQL_PIECES), fc.constantFrom('pr%6Fto', '__pr%6Fto__.x', '%5F_proto__.x', '.%2E/', '%2E./', '%55NION', '%4Fr')), { maxLength: 30 }), fc.constantFrom('', '+'))
  .map(([a, separator]) => a.join(separator));

/** A field over the raw-path threshold: pieces, plain encoded prose, pieces (attacks at the start, the end, or around a window's edge). */
const field = fc.tuple(chunk, fc.integer({ min: 0, max: 40 }), fc.boolean(), chunk).map(([a, seed, apostrophes, b]) => a + encodedProse(RAW_FIELD_FROM + 64, seed, apostrophes) + b);

const SETS = [
  ALL_ATTACK_CATEGORIES,
  attackCategorySet(['sqli']),
  attackCategorySet(['sqli', 'nosql']),
  attackCategorySet(['ssrf', 'prototype']),
  attackCategorySet(['nosql']),
  attackCategorySet(['prototype']),
  attackCategorySet(['ssrf']),
  attackCategorySet(['xss', 'traversal', 'shell', 'template']),
];

test('a long form field found clean on its raw text is clean when decoded and examined in full, for every category set', () => {
  let shortcuts = 0;
  fc.assert(
    fc.property(field, fc.constantFrom(...SETS), chunk, (raw, enabled, other) => {
      // What the body around the field holds only spares searches: it never changes the answer.
      const hinted = rawFieldIsClean(raw, enabled, rawBodyHints(`a=${other}&comment=${raw}`, ALL_ATTACK_CATEGORIES));
      assert.equal(hinted, rawFieldIsClean(raw, enabled), JSON.stringify(raw.slice(0, 200)));
      if (!hinted) return;
      shortcuts++;
      const decoded = percentDecode(raw, true);
      assert.equal(detectAttack(decoded, 'body', enabled), null, `${enabled}: ${JSON.stringify(raw.slice(0, 200))} … ${JSON.stringify(raw.slice(-200))}`);
    }),
    { numRuns: 4000 },
  );
  // The property is only worth something if the shortcut is taken on a good share of the fields.
  assert.ok(shortcuts > 150, `shortcut taken ${shortcuts} times`);
});

/** A quote (raw, escaped, doubled), then a run of spaces ending around a decoding window's edge, then SQL words: the window must be read far enough. */
const sqlField = fc
  .tuple(
    fc.integer({ min: 0, max: 300 }),
    fc.constantFrom("'", '%27', '"', '%22', "''", '%27%27', "x'", '1'),
    fc.oneof(fc.integer({ min: 0, max: 60 }), fc.integer({ min: 1490, max: 1560 }), fc.integer({ min: 0, max: 1700 })),
    fc.array(fc.constantFrom(...SQL_PIECES, 'from', 'users', 'sleep', '(5)', ';', 'drop', 'table', 'x'), { minLength: 1, maxLength: 8 }),
    fc.integer({ min: 0, max: 40 }),
  )
  .map(([lead, quote, spaces, words, seed]) => encodedProse(lead, seed, false).slice(0, lead) + quote + '+'.repeat(spaces) + words.join('+') + '+' + encodedProse(RAW_FIELD_FROM + 64, seed, true));

/**
 * Over random fields of `field`, for SQL alone and with the anchor-only categories: a field cleared raw is
 * clean when decoded and read whole, and the property is worth something (shortcuts and attacks both seen).
 */
function assertWindowsAgree(field: fc.Arbitrary<string>, minFlagged: number): void {
  let shortcuts = 0;
  let flagged = 0;
  fc.assert(
    fc.property(field, fc.constantFrom(attackCategorySet(['sqli']), attackCategorySet(['sqli', 'nosql', 'ssrf', 'prototype'])), (raw, enabled) => {
      const full = detectAttack(percentDecode(raw, true), 'body', enabled);
      if (full !== null) flagged++;
      if (!rawFieldIsClean(raw, enabled)) return;
      shortcuts++;
      assert.equal(full, null, `${enabled}: ${JSON.stringify(raw.slice(0, 300))}`);
    }),
    { numRuns: 3000 },
  );
  assert.ok(shortcuts > 300 && flagged > minFlagged, `shortcut taken ${shortcuts} times, ${flagged} attacks`);
}

test('SQL read from decoded windows answers as SQL read from the whole decoded field, wherever the quote and the words after it fall', () => {
  assertWindowsAgree(sqlField, 150);
});

/** A field that starts where SQL's numeric context or a backquoted name would (NULL, `~`, a subquery, white space before a number, a backtick), then SQL words, then prose. */
const startField = fc
  .tuple(
    fc.constantFrom('', '(', '((', '+', '-', '~', '%7E', '%28', '%28+', '(+', '%0A', '%09', '%20'),
    fc.constantFrom('NULL', 'null', 'Nullable', 'SELECT', 'select', 'CASE', 'case', '1', '0x1', '`', '%60', 'name`', 'x'),
    fc.oneof(fc.integer({ min: 0, max: 60 }), fc.integer({ min: 1490, max: 1560 })),
    fc.array(fc.constantFrom(...SQL_PIECES, 'from', 'users', 'unicode(password)', 'FROM', 'WHEN', 'THEN', ')', ')-64', 'UNION', '`', ';', 'x'), { minLength: 1, maxLength: 8 }),
    fc.integer({ min: 0, max: 40 }),
  )
  .map(([prefix, start, spaces, words, seed]) => prefix + start + '+'.repeat(spaces) + words.join('+') + '+' + encodedProse(RAW_FIELD_FROM + 64, seed, true));

test('a field that opens a numeric slot, a subquery or a backquoted name is read as the whole decoded field reads it', () => {
  assertWindowsAgree(startField, 75);
});

test('SQL is read past the first decoding window: a quote followed by 300 spaces and UNION SELECT is not clean raw', () => {
  const sqli = attackCategorySet(['sqli']);
  const prose = encodedProse(RAW_FIELD_FROM + 64, 3, false);
  for (const raw of [`x'${'+'.repeat(300)}UNION+SELECT+password+FROM+users--+${prose}`, `x%27${'+'.repeat(45)}or+TRUE--+${prose}`, `${prose}+x%22+oR+TRUE--`, `1+UNION+SELECT+password+FROM+users--+${prose}`, `%28-+1+or+TRUE--+${prose}`]) {
    assert.equal(rawFieldIsClean(raw, sqli), false, raw.slice(0, 80));
    assert.equal(detectAttack(percentDecode(raw, true), 'body', sqli)?.category, 'sqli', raw.slice(0, 80));
  }
});

test('evasions send the field to decoding: escaped letters, double encoding, invalid escapes, %u, overlong and raw UTF-8', () => {
  const prose = encodedProse(RAW_FIELD_FROM + 64, 5, true);
  for (const tail of ['+__pr%6Fto__.isAdmin', '+%2527', '+%zz', '+%u003c', '+%c0%ae%c0%ae', '+café', '+%2B1', '+%26lt;script', '+%5Cu003c']) {
    assert.equal(rawFieldIsClean(prose + tail, ALL_ATTACK_CATEGORIES), false, tail);
  }
});

test('ordinary prose, as browsers encode it and as encodeURIComponent does, is found clean without decoding', () => {
  for (let seed = 0; seed < 20; seed++) {
    const browser = encodedProse(4096, seed, true);
    assert.equal(rawFieldIsClean(browser, ALL_ATTACK_CATEGORIES), true, browser.slice(0, 80));
    const component = encodeURIComponent(percentDecode(browser, true)).replaceAll('%20', '+');
    assert.equal(rawFieldIsClean(component, ALL_ATTACK_CATEGORIES), true, component.slice(0, 80));
  }
});

test('a field of 1,024 decoded characters or fewer is never judged raw (detectAttack reads short values both ways)', () => {
  // 992 letters and 32 escapes: 1,088 raw characters, exactly 1,024 decoded.
  assert.equal(rawFieldIsClean('a'.repeat(992) + '%2C'.repeat(32), ALL_ATTACK_CATEGORIES), false);
  assert.equal(rawFieldIsClean('a'.repeat(993) + '%2C'.repeat(32), ALL_ATTACK_CATEGORIES), true);
});
