/**
 * An attacker who cannot get past the rules can still try to make matching them slow, with attack
 * detection off: one request whose parameters or path hold the value of every rule at once, a cookie
 * header of pairs without `=` where a keyed rule reads one cookie, a JSON body whose flattening repeats
 * a long key for every element of a long array. Work is counted, not timed, so the bounds hold on any
 * machine: elements searched by Array `includes`/`some` (the "found already?" lists of the matcher and
 * of monitor records, which searched the whole list at every match: 40–300 ms per 64 KiB form body with
 * 10 000 rules), characters read from strings (helpers/string-reads.ts: the cookie reader searched for
 * `=` from every pair to the end of the header), and the length of the flattened JSON (~450 million
 * characters, seconds of matching, from a 64 KiB body).
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { Engine } from '../../src/engine/engine.js';
import { buildRuleSet } from '../../src/engine/rule-set.js';
import type { MoatRequest } from '../../src/engine/decision.js';
import { normalizeRule } from '../../src/rules/normalize-rule.js';
import type { Rule } from '../../src/rules/types.js';
import { jsonToParams } from '../../src/http/request-params.js';
import { stringReads } from '../helpers/string-reads.js';

const info = { path: null, format: 'moat' as const, formatVersion: 1, builtAt: null, hash: '' };
/** Distinct parameter rules: enough that one search of the list per match is far past the bounds below. */
const RULES = 4000;
/** Array elements searched per character of the value allowed (the fixed code searches fewer than one). */
const SEARCHED_PER_CHAR = 8;

/** `p0001x`, `p0002x`, …: distinct values, none inside another. */
const values = Array.from({ length: RULES }, (_, i) => `p${String(i).padStart(4, '0')}x`);

function engineWith(mode: 'block' | 'monitor'): Engine {
  const rules: Rule[] = values.map((value) => normalizeRule({ action: 'block', kind: 'param', value, mode }));
  rules.push(normalizeRule({ action: 'block', kind: 'path', value: '/never-sent' }));
  return new Engine({ rules: buildRuleSet(rules, info) });
}

/** Elements Array.prototype.includes and .some passed over while `run` ran. */
function arraySearches(run: () => void): number {
  const proto = Array.prototype as unknown as Record<'includes' | 'some', (...args: unknown[]) => unknown>;
  const saved = { includes: proto.includes, some: proto.some };
  let searched = 0;
  try {
    proto.includes = function (this: unknown[], ...args: unknown[]) {
      const found = saved.includes.apply(this, args);
      searched += found ? this.indexOf(args[0]) + 1 : this.length;
      return found;
    };
    proto.some = function (this: unknown[], ...args: unknown[]) {
      let visited = 0;
      const test = args[0] as (v: unknown, i: number, a: unknown[]) => boolean;
      const found = saved.some.call(this, (v: unknown, i: number, a: unknown[]) => (visited++, test(v, i, a)));
      searched += visited;
      return found;
    };
    run();
  } finally {
    proto.includes = saved.includes;
    proto.some = saved.some;
  }
  return searched;
}

/** Every rule's value, twice over (so values found early are met again after thousands of others). */
const everyValue = `${values.join('&')}&${values.join('&')}`;
const request: MoatRequest = { ip: '192.0.2.1', method: 'POST', path: '/submit', params: everyValue, headers: {} };

test('parameters holding every rule value are matched in one pass, not a search of the found list per match', () => {
  const engine = engineWith('block');
  const searched = arraySearches(() => assert.equal(engine.evaluate(request).category, 'bparam'));
  assert.ok(searched / everyValue.length <= SEARCHED_PER_CHAR, `${(searched / everyValue.length).toFixed(0)} elements searched per character`);
});

test('thousands of monitor-mode rules matching one request are each recorded once, without a search of the records per rule', () => {
  const engine = engineWith('monitor');
  let decision = engine.evaluate(request);
  const searched = arraySearches(() => { decision = engine.evaluate({ ...request }); });
  assert.equal(decision.treatment, 'Passed');
  assert.equal(decision.monitored.length, RULES, 'every monitor rule recorded, each once');
  assert.equal(new Set(decision.monitored.map((m) => m.ruleId)).size, RULES);
  assert.ok(searched / everyValue.length <= SEARCHED_PER_CHAR, `${(searched / everyValue.length).toFixed(0)} elements searched per character`);
  // A rule met again through another reading of the path is still recorded once.
  const paths = new Engine({ rules: buildRuleSet([normalizeRule({ action: 'block', kind: 'path', value: '/admin', mode: 'monitor' })], info) });
  const twice = paths.evaluate({ ip: '192.0.2.1', method: 'GET', path: '/admin', pathForms: ['/admin/..', '/x/admin'] });
  assert.equal(twice.monitored.length, 1);
});

test('a cookie header of pairs without `=` is read once where a keyed rule reads one cookie', () => {
  const rules = [normalizeRule({ action: 'block', kind: 'key', value: `cookie:sid=${'0'.repeat(32)}` })];
  const engine = new Engine({ rules: buildRuleSet(rules, info) });
  for (const unit of [';', 'a;', ' ;', 'a=;', ';=']) {
    const cookie = unit.repeat(Math.ceil(16_384 / unit.length)) + 'sid=1';
    const reads = stringReads(() => engine.evaluate({ ip: '192.0.2.1', method: 'GET', path: '/', headers: { cookie } })) / cookie.length;
    assert.ok(reads <= 16, `${JSON.stringify(unit)}: ${reads.toFixed(0)} characters read per character of the header`);
  }
});

test('a JSON body repeating a long key over a long array flattens to a bounded text that still holds every value', () => {
  const n = 16_384;
  const elements = Math.floor(n * 0.15);
  const body = `{"${'k'.repeat(n - 2 * elements - 40)}":[${'0,'.repeat(elements - 1)}0],"last":"evil-marker"}`;
  const flat = jsonToParams(body);
  assert.ok(flat.length <= 9 * body.length + 65_536, `flattened to ${flat.length} characters from ${body.length}`);
  assert.ok(flat.includes('evil-marker'), 'a value past the budget is still judged');
  // Ordinary documents are flattened as before.
  assert.equal(jsonToParams('{"user":{"name":"\\u003cscript\\u003e","tags":["a","b"]},"n":1}'), 'user.name=<script>&user.tags.0=a&user.tags.1=b&n=1');
});
