/**
 * A long JSON string value cleared by one byte scan (long-json-value.ts) must never be one detectAttack()
 * would flag. Random values built from the pieces that decide it (quotes, SQL words, `%` escapes, `+`,
 * `=`, `&`, backslashes, non-ASCII, anchors of every category) around plain prose are checked against
 * detectAttack() for several category sets; every attack payload of the corpus, set inside long prose,
 * must be left to detectAttack(); and through the engine a long JSON field with an attack is blocked.
 */
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import fc from 'fast-check';
import { ALL_ATTACK_CATEGORIES, ATTACK_CATEGORIES, attackCategorySet, detectAttack } from '../src/attacks/index.js';
import { sharedByteScanner } from '../src/attacks/byte-scan/byte-scanner.js';
import { longJsonValueIsClean } from '../src/attacks/long-json-value.js';
import { RAW_FIELD_FROM, rawFieldIsClean } from '../src/attacks/raw-form-field.js';
import { Engine } from '../src/engine/engine.js';
import { buildRuleSet } from '../src/engine/rule-set.js';
import { normalizeAttackSettings } from '../src/rules/attack-settings.js';
import { plainProse } from './helpers/plain-prose.js';

const scanner = sharedByteScanner();

/** The usual words and two starting with `r`: after a space, marks the byte scan makes and the field reading must pass. */
const WORDS = ['the', 'garden', 'letter', 'morning', 'we', 'often', 'walk', 'to', 'market', 'quiet', 'evening', 'because', 'friends', 'visit', 'really', 'remember'];
const prose = (length: number, seed: number, apostrophes: boolean) => plainProse(length, seed, apostrophes, WORDS);

const PIECES = [
  "'", '"', "''", '`', ' ', ' '.repeat(45), ' '.repeat(300), 'x', 'OR', 'or', 'UNION', 'SELECT', 'password', 'FROM', '1', '0', '=', '--', '#', '(', ')', '-', ';',
  '\n', '\t', '%27', '%2e%2e', '%3C', '%zz', '+', '+OR+1', '&', '&lt;', '&#x3c;', '\\', '\\u003c', '\\x27', '.', '..', '../', '..\\', 'proto', '__proto__', 'constructor',
  '$ne', '$where', '{"$gt":""}', '<', '>', '<svg', 'onload', 'ontoggle', 'javascript:', ':', '//', 'http://127.1', 'http://0x7f.1', '[::ffff:127.0.0.1]', '169.254.169.254',
  '|', '||', '&&', '$(', '`id`', '{{', '}}', '${', '#{', '${jndi:', '@', '*', '/*', '*/', 'é', '’', 'TRUE', 'SLEEP', '(5)', 'AND', 'waitfor', 'delay', 'cat /etc/passwd',
  "'t", "'ll", "'s", "'re", "'d", "'ve", "'m", "'tor", "'t.", "'d=", "'ll(",
];

const chunk = fc
  .tuple(fc.array(fc.constantFrom(...PIECES), { maxLength: 30 }), fc.constantFrom('', ' '))
  .map(([pieces, separator]) => pieces.join(separator));

/** How a value may open SQL's numeric context: spaces, brackets and signs before a number, then SQL words. */
const numericStart = fc
  .tuple(fc.constantFrom('', ' ', '  ', ' (', '( ', ' -', '\t', '\n', ' ( -'), fc.constantFrom('1', '0', '(1)', '12.5', 'x'),
    fc.array(fc.constantFrom(' ', 'or', 'OR', 'true', 'union', 'select', 'password', 'from', 'users', '--', '#', 'and', 'sleep(5)', ';'), { maxLength: 8 }))
  .map(([lead, number, words]) => lead + number + ' ' + words.join(' '));

/** A value over the scan's threshold: pieces, prose, pieces (attacks at the start, the end, or across the prose). */
const longValue = fc
  .tuple(fc.oneof(chunk, numericStart), fc.integer({ min: 0, max: 40 }), fc.boolean(), fc.integer({ min: 0, max: 3000 }), chunk)
  .map(([a, seed, apostrophes, extra, b]) => a + ' ' + prose(RAW_FIELD_FROM + extra, seed, apostrophes) + b);

const SETS = [
  ALL_ATTACK_CATEGORIES,
  attackCategorySet(['sqli']),
  attackCategorySet(['sqli', 'nosql']),
  attackCategorySet(['ssrf', 'prototype']),
  attackCategorySet(['xss', 'traversal', 'shell', 'template']),
];

test('the byte scanner runs here (the shortcut is tested, not skipped)', () => {
  assert.notEqual(scanner, null);
});

test('a long JSON value cleared by the byte scan is one detectAttack finds clean, for every category set', () => {
  let shortcuts = 0;
  fc.assert(
    fc.property(longValue, fc.constantFrom(...SETS), (value, enabled) => {
      if (!longJsonValueIsClean(value, enabled, scanner!)) return;
      shortcuts++;
      assert.equal(detectAttack(value, 'json', enabled), null, `${enabled}: ${JSON.stringify(value.slice(0, 200))} … ${JSON.stringify(value.slice(-200))}`);
    }),
    { numRuns: 3000 },
  );
  // Worth something only if the shortcut is taken on a good share of the values.
  assert.ok(shortcuts > 150, `shortcut taken ${shortcuts} times`);
});

test('a value with spaces is read as the same field with `+` for them would be (both are one decoded text)', () => {
  let cleared = 0;
  fc.assert(
    fc.property(longValue, fc.constantFrom(...SETS), (value, enabled) => {
      if (/[%+=\u0080-\uffff]/.test(value)) return;
      const json = longJsonValueIsClean(value, enabled, scanner!);
      if (json) cleared++;
      assert.equal(json, rawFieldIsClean(value.replaceAll(' ', '+'), enabled), `${enabled}: ${JSON.stringify(value.slice(0, 200))}`);
    }),
    { numRuns: 2000 },
  );
  assert.ok(cleared > 100, `cleared ${cleared} times`);
});

test('every attack payload of the corpus, at the start, the middle or the end of long prose, is left to detectAttack', () => {
  const padding = prose(RAW_FIELD_FROM + 200, 7, true);
  let checked = 0;
  for (const category of ATTACK_CATEGORIES) {
    const payloads = readFileSync(new URL(`./fixtures/attacks/${category}.txt`, import.meta.url), 'utf8').split('\n').filter((l) => l.length > 0);
    for (const payload of payloads) {
      for (const value of [payload + ' ' + padding, padding.slice(0, 700) + ' ' + payload + ' ' + padding.slice(700), padding + ' ' + payload]) {
        if (detectAttack(value, 'json', ALL_ATTACK_CATEGORIES) === null) continue;
        checked++;
        assert.equal(longJsonValueIsClean(value, ALL_ATTACK_CATEGORIES, scanner!), false, `${category}: ${payload}`);
      }
    }
  }
  assert.ok(checked > 1000, `${checked} flagged values checked`);
});

test('a number after leading spaces opens the numeric SQL context in a JSON value, as after `+` in a form', () => {
  const text = prose(3000, 2, false);
  for (const head of [' 1 or true -- ', '  ( 1 union select password from users ', ' 1 union select password from users ']) {
    assert.equal(detectAttack(head + text, 'json', ALL_ATTACK_CATEGORIES)?.category, 'sqli', head);
    assert.equal(longJsonValueIsClean(head + text, ALL_ATTACK_CATEGORIES, scanner!), false, head);
  }
});

test('ordinary prose is cleared without the detectors, and `%`, `+`, `=`, `&`, a backslash or non-ASCII send a value to them', () => {
  for (let seed = 0; seed < 20; seed++) {
    assert.equal(longJsonValueIsClean(prose(4096, seed, true), ALL_ATTACK_CATEGORIES, scanner!), true, `seed ${seed}`);
  }
  const text = prose(4096, 3, true);
  for (const tail of [' 100%', ' a+b', ' x=1', ' fish & chips', ' C:\\temp', ' café']) {
    assert.equal(longJsonValueIsClean(text + tail, ALL_ATTACK_CATEGORIES, scanner!), false, tail);
  }
  // Shorter than the threshold: always left to detectAttack, which reads short values both ways.
  assert.equal(longJsonValueIsClean(prose(RAW_FIELD_FROM - 1, 3, true), ALL_ATTACK_CATEGORIES, scanner!), false);
});

test('through the engine, a long JSON field of prose passes and the same field with an attack inside it is blocked', () => {
  const info = { path: null, format: 'moat' as const, formatVersion: 1, builtAt: null, hash: '' };
  const engine = new Engine({ rules: buildRuleSet([], info, undefined, normalizeAttackSettings('block')) });
  // No apostrophes in this prose: after an earlier quote, SQL after a later one is no working injection (detect-sqli.ts).
  const text = prose(8192, 11, false);
  const request = (value: string) => ({
    ip: '192.0.2.1', method: 'POST', path: '/comment', url: '/comment', headers: {},
    body: { kind: 'json' as const, text: JSON.stringify({ post: { title: 'hello', text: value } }) },
  });
  assert.equal(engine.evaluate(request(text)).treatment, 'Passed');
  for (const [attack, category] of [["' UNION SELECT password FROM users--", 'sqli'], ['<svg onload=alert(1)>', 'xss'], ['../../../../etc/passwd', 'traversal'], ['${jndi:ldap://x/a}', 'template']] as const) {
    const decision = engine.evaluate(request(text.slice(0, 4000) + ' ' + attack + ' ' + text.slice(4000)));
    assert.equal(decision.treatment, 'Blocked', attack);
    assert.equal(decision.category, `attack-${category}`, attack);
  }
});
