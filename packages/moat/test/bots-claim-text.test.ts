// The text a bot claim is read from: disguises are folded at the start of a value, and the work is
// bounded whatever the value holds (a 16 KB user agent of a character NFKD expands 18-fold took 7 ms a
// request when all of it was folded). Work is measured by what the fold produced, not by time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { claimText, FOLDED_CHARACTERS } from '../src/bots/claim-text.js';

/** A header value as Node hands it over: the UTF-8 bytes as latin1 characters. */
const asReceived = (text: string) => Buffer.from(text, 'utf8').toString('latin1');

test('disguises at the start are folded: zero-width, Cyrillic, full-width, accents; ASCII is only lower-cased', () => {
  assert.equal(claimText('Mozilla/5.0 (compatible; Googlebot/2.1)'), 'mozilla/5.0 (compatible; googlebot/2.1)');
  assert.match(claimText(asReceived('B\u0131ngbot/2.0')), /bingbot/, 'dotless i');
  assert.match(claimText('Mozilla/5.0 (compatible; Goog\tlebot/2.1)'), /googlebot/, 'a tab (or DEL) inside a pure-ASCII value');
  assert.match(claimText('Goog\x7flebot/2.1'), /googlebot/);
  for (const disguise of ['Google\u200Bbot', 'G\u043Eoglebot', '\uFF27\uFF4F\uFF4F\uFF47\uFF4C\uFF45bot', 'Googlebo\u0308t',
    '\u0262ooglebot', '\u050Dooglebot', '\u13C0ooglebot', 'Goog\u029Febot', 'Googl\u1D07bot']) {
    assert.match(claimText(asReceived(`x ${disguise}/2.1`)), /googlebot\/2\.1/, disguise);
  }
});

test('a long non-ASCII value folds only its first characters; the rest is lower-cased, so a plain token anywhere still reads', () => {
  const padding = '\uFDFA'.repeat(5000); // 15 KB as UTF-8: near Node's 16 KB header limit
  const text = claimText(asReceived(`${padding} GoogleBot/2.1`));
  assert.ok(text.endsWith(' googlebot/2.1'), 'the token after the folded part still counts');
  // Folding every character would give 18 x 5000 = 90,000; bounded, at most 18 per folded character plus the rest as it is.
  assert.ok(text.length <= 18 * FOLDED_CHARACTERS + 5000 + 14, `claim text of ${text.length} characters`);
  // Invalid UTF-8 (read as latin1) and accents: the same bound.
  const latin = claimText('x' + '\xe9'.repeat(16_000));
  assert.ok(latin.length <= 2 * FOLDED_CHARACTERS + 16_001, `claim text of ${latin.length} characters`);
});

test('past the folded part, invisible characters and look-alikes still fold: a cut through "e\u0301" or a zero-width space hides no claim', () => {
  // The 256th character is the "e" of "Googl" + "e\u0301bot": the cut parts it from its combining mark.
  const before = 'x'.repeat(FOLDED_CHARACTERS - 'Googl'.length - 1 - 2) + '\u00e9 ';
  for (const disguise of ['Googl' + 'e\u0301bot/2.1', 'Googl' + 'e\u0301' + ' Goo\u200Bglebot/2.1', 'Googl' + 'e\u0301 G\u043Eoglebot/2.1']) {
    const value = asReceived(before + disguise);
    assert.equal([...value].length > FOLDED_CHARACTERS, true);
    assert.match(claimText(value), /googlebot\/2\.1/, JSON.stringify(disguise));
  }
});
