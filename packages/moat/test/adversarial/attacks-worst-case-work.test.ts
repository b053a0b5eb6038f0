/**
 * An attacker who cannot get an attack through can still try to make detection slow: a body that no
 * detector flags is read to its end, so its cost is the attacker's to choose. Values made of one short
 * unit repeated (every syntax character, every pair of them, and pieces of attacks) are judged by the
 * engine as a raw form, an encoded form, JSON, a query string, a path and headers, and the characters read from strings
 * meanwhile are counted by patching String and RegExp methods (helpers/string-reads.ts), not by the
 * detectors' own work counter: that counter missed the loops that made 64 KiB of newlines, `||` or
 * `&&` cost seconds (each separator rescanned the run after it), and the `=` search that made a form
 * of `a&a&a…` reread the rest of the body at every field. Counts, not time: the bound holds on any machine.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { Engine } from '../../src/engine/engine.js';
import { buildRuleSet } from '../../src/engine/rule-set.js';
import type { MoatRequest } from '../../src/engine/decision.js';
import { normalizeAttackSettings } from '../../src/rules/attack-settings.js';
import { stringReads } from '../helpers/string-reads.js';

/** Characters per value: large enough that a rescan per separator (n²/2 reads) is far past the bound. */
const SIZE = 8192;
/** Reads per input character allowed (the worst unit read ~107 when this was written; a rescan reads thousands). */
const READS_PER_CHAR = 256;

const SYNTAX = ["'", '"', '<', '>', '&', '|', ';', '\n', '\r', '\t', ' ', '$', '(', ')', '{', '}', '[', '`', '\\', '/', '.', '%', '#', '=', '-', '*', ':', '+', 'a', '1'];
const PIECES = ['&amp;', '%0a', '%26', '$(', '${', '{{', '<a ', '<a b=', 'http://', '\\u0022', '&#10;', '/*', ' or ', '../', '127.', '$ne', '__proto__', '; cat ', 'a\n', "a'b", 'javascript:', '; x', '\n x'];
const UNITS = [...SYNTAX, ...PIECES, ...SYNTAX.flatMap((a) => SYNTAX.map((b) => a + b))];

const info = { path: null, format: 'moat' as const, formatVersion: 1, builtAt: null, hash: '' };
const engine = new Engine({ rules: buildRuleSet([], info, undefined, normalizeAttackSettings('block')) });

function requests(value: string): [string, MoatRequest][] {
  const base = { ip: '192.0.2.1', method: 'POST', path: '/c', url: '/c', headers: { 'user-agent': 'Mozilla/5.0' } };
  const raw = `f=${value}`;
  const encoded = `f=${encodeURIComponent(value)}`;
  const oneLine = value.replace(/[\r\n]/g, ' ');
  return [
    ['raw form', { ...base, body: { kind: 'form', text: raw, bytes: Buffer.from(raw, 'latin1') } }],
    ['form', { ...base, body: { kind: 'form', text: encoded, bytes: Buffer.from(encoded, 'latin1') } }],
    ['JSON', { ...base, body: { kind: 'json', text: JSON.stringify({ f: value }) } }],
    ['query', { ...base, method: 'GET', url: `/c?${encoded}` }],
    ['path', { ...base, method: 'GET', path: `/${encodeURIComponent(value)}`, url: `/${encodeURIComponent(value)}` }],
    ['cookie and user agent', { ...base, method: 'GET', headers: { cookie: oneLine, 'user-agent': oneLine } }],
  ];
}

test('no repeated unit makes detection read more than a constant per character, in any part of the request', () => {
  const worst = { reads: 0, what: '' };
  for (const unit of UNITS) {
    const value = unit.repeat(Math.ceil(SIZE / unit.length)).slice(0, SIZE);
    for (const [where, request] of requests(value)) {
      const reads = stringReads(() => engine.evaluate(request)) / SIZE;
      if (reads > worst.reads) Object.assign(worst, { reads, what: `${JSON.stringify(unit)} as ${where}` });
      assert.ok(reads <= READS_PER_CHAR, `${JSON.stringify(unit)} as ${where}: ${reads.toFixed(0)} reads per character`);
    }
  }
  // The instrument sees the detectors' reads at all (a patch that stopped counting would pass anything).
  assert.ok(worst.reads >= 20, `the most read per character was ${worst.reads.toFixed(1)} (${worst.what})`);
});

test('a separator run leading to a command is still read as one: the run is skipped, not the command', () => {
  const block = (value: string) => engine.evaluate({ ip: '192.0.2.1', method: 'GET', path: '/c', url: `/c?q=${encodeURIComponent(value)}`, headers: {} }).category;
  // A weak separator (`;`, newline) needs the command used like one; a strong one (`|`, `&&`) later in
  // the same run accepts any known command: the run's word is read again when a stronger separator reaches it.
  assert.equal(block(`x${'\n'.repeat(5000)}cat /etc/passwd`), 'attack-shell');
  assert.equal(block(`x;${'|'.repeat(5000)}sleep well`), 'attack-shell');
  assert.equal(block(`x;${'\n'.repeat(5000)}|${' '.repeat(100)}sleep`), 'attack-shell');
  assert.equal(block(`x${'\n'.repeat(5000)} sleep well tonight`), 'passed');
  assert.equal(block(`x${'&'.repeat(5000)}(((id)))`), 'attack-shell');
  assert.equal(block(`x${'|'.repeat(5000)}`), 'passed');
  // A run is passed over at once only when nothing after it can be read past: here a newline inside the
  // run reads past `&` (an HTML reference, so no separator of its own) to `id;`.
  assert.equal(block(`x;${'\n'.repeat(50)}&id;`), 'attack-shell');
  assert.equal(block(`x${' '.repeat(50)}\n${'\n'.repeat(50)}id -u`), 'attack-shell');
  // Quoted words: `c'a't` after a run, and a long quoted word whose part after the last `/` is a command.
  assert.equal(block(`x;${'\n'.repeat(3000)}c'a't /etc/passwd`), 'attack-shell');
  assert.equal(block(`x;${'\t'.repeat(3000)}"$(x"/usr/bin/i'd'`), 'attack-shell');
  assert.equal(block(`x;${'\t'.repeat(3000)}"$(x$(x$(x$(x$(x$(x$(x$(x$(x"`), 'passed');
});

/**
 * Distinct words, not one unit repeated: a search for each word through the whole value ("was this word
 * written verbatim?") finds a repeated unit at once but scans half the value on average for words that
 * occur once, and a value of them cost 160 ms. Each shape also after an escape layer (`&amp;`, `%41`),
 * which makes the detectors compare the decoded view with the value as it arrived.
 */
test('values of distinct words stay within the same reads per character, with and without an escape layer', () => {
  const SHAPES: readonly [string, (i: number) => string][] = [
    ['../xN', (i) => `../x${i}`],
    ['..\\xN', (i) => `..\\x${i}`],
    ['docs/../xN', (i) => `d${i}/../x${i}`],
    ['http://xN@', (i) => `http://x${i}@`],
    ['http://xN@yN/', (i) => `http://x${i}@y${i}/`],
    ['$(xN', (i) => `$(x${i}`],
    ['; catN', (i) => `; cat${i}`],
    ['<aN onxN=', (i) => `<a${i} onx${i}=`],
    ["'xN' or", (i) => `'x${i}' or`],
    ['{{xN', (i) => `{{x${i}`],
    ['[$xN]', (i) => `[$x${i}]`],
  ];
  let worst = { reads: 0, what: '' };
  for (const [name, word] of SHAPES) {
    let words = '';
    for (let i = 0; words.length < SIZE; i++) words += word(i) + ' ';
    for (const layer of ['', '&amp; ', '%41 ']) {
      const value = (layer + words).slice(0, SIZE);
      for (const [where, request] of requests(value)) {
        const reads = stringReads(() => engine.evaluate(request)) / SIZE;
        if (reads > worst.reads) worst = { reads, what: `${name} after ${JSON.stringify(layer)} as ${where}` };
        assert.ok(reads <= READS_PER_CHAR, `${name} after ${JSON.stringify(layer)} as ${where}: ${reads.toFixed(0)} reads per character`);
      }
    }
  }
  assert.ok(worst.reads >= 5, `the most read per character was ${worst.reads.toFixed(1)} (${worst.what})`);
});
