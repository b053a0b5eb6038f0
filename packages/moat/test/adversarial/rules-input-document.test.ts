// Rules documents that parse into something other than what their author meant, or that the YAML library
// chokes on: expiries read per machine time zone, rolled over or taken from seconds; nesting and aliases
// that end in a stack overflow or an internal error instead of a rule error naming the file.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { RuleError, loadRulesFile, normalizeRule, parseRulesDocument, rulesToDocument, writeRulesFile } from '../../src/index.js';
import type { Rule } from '../../src/index.js';
import { parseRulesSource } from '../../src/rules/document.js';
import { withTmpDir } from '../helpers/engine-kit.js';

function expiresOf(expires: unknown): number | undefined {
  return normalizeRule({ action: 'block', kind: 'path', value: '/x', expires: expires as string }).expires;
}

function refusedExpiry(expires: unknown, message: RegExp): void {
  assert.throws(() => expiresOf(expires), (e: unknown) => e instanceof RuleError && /invalid expiry/.test(e.message) && message.test(e.message), String(expires));
}

describe('expiries', () => {
  test('a date-time without Z or an offset is refused: it would be read in the compiling machine\'s time zone', () => {
    refusedExpiry('2026-12-31T00:00:00', /Z or an offset/);
    refusedExpiry('2026-06-01 10:00', /Z or an offset/);
  });

  test('the same instant whatever the form: Z, an offset, a date (UTC midnight)', () => {
    const midnight = Date.UTC(2026, 11, 31);
    assert.equal(expiresOf('2026-12-31'), midnight);
    assert.equal(expiresOf('2026-12-31T00:00:00Z'), midnight);
    assert.equal(expiresOf('2026-12-31T00:00Z'), midnight);
    assert.equal(expiresOf('2026-12-31T01:00:00+01:00'), midnight);
    assert.equal(expiresOf('2026-12-30 19:00:00.000-0500'), midnight);
    assert.equal(expiresOf(midnight), midnight);
  });

  test('dates and times that do not exist are refused, not rolled over', () => {
    for (const bad of ['2026-02-30', '2025-02-29', '2026-02-31T00:00:00Z', '2026-13-01', '2026-12-31T24:00:00Z', '2026-12-31T10:60Z', '2026-12-31T00:00:00+99:00']) {
      refusedExpiry(bad, /no such date or time/);
    }
    assert.equal(expiresOf('2028-02-29'), Date.UTC(2028, 1, 29));
    for (const bad of ['2026-12-31Z', '2026-06-01 PST', '2026-06-01 (note) 10:00', '20261-12-31']) refusedExpiry(bad, /use "2026-12-31T00:00:00Z"/);
  });

  test('a number that looks like Unix seconds is refused; numbers past the Date range or not whole are refused', () => {
    refusedExpiry(1798675200, /looks like Unix seconds.*1798675200000/);
    refusedExpiry(9e15, /use "2026/);
    refusedExpiry(1e300, /use "2026/);
    refusedExpiry(-5, /use "2026/);
    refusedExpiry(1798675200000.5, /use "2026/);
    assert.equal(expiresOf(8.64e15), 8.64e15);
  });

  test('a document entry names the entry and line', () => {
    assert.throws(() => parseRulesDocument('block:\n  ips:\n    - { value: 203.0.113.7, expires: 1798675200 }\n', 'rules.yaml'), (e: unknown) =>
      e instanceof RuleError && /^rules\.yaml:3: block\.ips\[0\]: invalid expiry "1798675200": it looks like Unix seconds/.test(e.problems[0]!));
  });

  test('a rules file from before the bound, with an expiry past the Date range, still lists as a document', () =>
    withTmpDir((dir) => {
      const old: Rule = { id: 'far', action: 'block', kind: 'path', value: '/wp-admin', mode: 'block', expires: 9e15 };
      const file = path.join(dir, 'old.db');
      writeRulesFile([old], file);
      const doc = rulesToDocument(loadRulesFile(file).rules);
      assert.deepEqual(doc.block?.paths, [{ value: '/wp-admin', id: 'far', expires: 9e15 }]);
    }));
});

describe('YAML the parser cannot take', () => {
  for (const [name, text] of [
    ['block sequences nested on one line (- - - … x)', `block:\n  paths:\n    ${'- '.repeat(20_000)}x\n`],
    ['block sequences nested by indentation', Array.from({ length: 3_000 }, (_, i) => `${' '.repeat(i)}-\n`).join('')],
    ['block mappings nested by indentation, with comments and blank lines between', Array.from({ length: 3_000 }, (_, i) => `${' '.repeat(i)}k${i}:\n\n# c\n`).join('')],
  ] as const) {
    test(`${name}: a RuleError naming the file, before parsing`, () => {
      assert.throws(() => parseRulesSource(text, 'rules.yaml'), (e: unknown) =>
        e instanceof RuleError && /^rules\.yaml: nested more than 64 levels deep/.test(e.message));
    });
  }

  test('a document nested a few levels, with comments and flow entries, still parses', () => {
    const source = parseRulesSource([
      '# rules', 'allow:', '  ips:', '    - 10.0.0.0/8   # office', '', '    - { value: 203.0.113.7, note: "x" }', 'block:', '  paths:',
      '# a comment at column 0', '    - /wp-admin', '    - value: /x', '      mode: monitor', '  userAgents: [sqlmap, "nikto"]', 'rateLimits:',
      '  - path: /login', '    limit: 5', '    window: 60s', '  - {path: /api/*, limit: 100, window: 1m, key: "header:x-api-key"}', '',
    ].join('\n'), 'rules.yaml');
    assert.equal(source.rules.length, 8);
  });

  test('too many aliases (a billion laughs) is a RuleError naming the file, not an internal error', () => {
    let text = 'x0: &a0 ["/a"]\n';
    for (let i = 1; i < 12; i++) text += `x${i}: &a${i} [${Array(10).fill(`*a${i - 1}`).join(',')}]\n`;
    assert.throws(() => parseRulesSource(text, 'rules.yaml'), (e: unknown) =>
      e instanceof RuleError && /^rules\.yaml: the document cannot be read: .*alias/i.test(e.message));
  });
});
