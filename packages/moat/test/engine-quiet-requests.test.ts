// The engine remembers whole requests that weighed no rule (engine/quiet-requests.ts) and answers their
// repeats without running the stages. A remembered request must never hide a rule: these tests repeat
// requests that differ from a quiet one in one field each, and run random request streams against an engine
// that remembers and a fresh engine per request, which cannot.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import fc from 'fast-check';
import { Engine, type MoatRequest, type Rule } from '../src/index.js';
import { tagOf } from '../src/text/recent-values.js';
import { allow, block, dataFileFor, engineFor, rateLimit, withTmpDir } from './helpers/engine-kit.js';

const QUIET: MoatRequest = {
  ip: '192.0.2.7', method: 'GET', host: 'shop.example.com', path: '/products/42', params: 'page=2',
  userAgent: 'Mozilla/5.0 (X11; Linux x86_64) Chrome/130.0',
};

const RULES: Rule[] = [
  allow('10.0.0.1', { id: 'allow-one' }),
  block('ip', '10.0.0.0/8', { id: 'block-ten' }),
  block('country', 'KP', { id: 'block-kp' }),
  block('userAgent', 'sqlmap', { id: 'block-ua' }),
  block('path', '/admin', { id: 'block-path' }),
  block('param', 'drop table', { id: 'block-param' }),
  block('host', 'internal.example.com', { id: 'block-host' }),
  block('method', 'TRACE', { id: 'block-method' }),
  block('path', '/watched', { id: 'monitor-path', mode: 'monitor' }),
  rateLimit('/login', 2, '60s', { id: 'limit-login' }),
];

function dataFile(dir: string): string {
  return dataFileFor(path.join(dir, 'data.db'), { countries: [['203.0.113.0/24', 'KP'], ['192.0.2.0/24', 'FR']] });
}

const summary = (d: ReturnType<Engine['evaluate']>) => ({ treatment: d.treatment, category: d.category, ruleId: d.ruleId, monitored: d.monitored.map((m) => m.ruleId) });

test('a quiet request is remembered, and a repeat that differs in any one field is judged afresh', () =>
  withTmpDir((dir) => {
    const engine = engineFor(dir, RULES, { data: dataFile(dir) });
    for (let k = 0; k < 3; k++) assert.equal(engine.evaluate({ ...QUIET }).treatment, 'Passed');
    const variants: [Partial<MoatRequest>, string][] = [
      [{ ip: '10.0.0.1' }, 'allow-one'], [{ ip: '10.9.9.9' }, 'block-ten'], [{ ip: '203.0.113.5' }, 'block-kp'],
      [{ userAgent: `${QUIET.userAgent} sqlmap/1.7` }, 'block-ua'], [{ path: '/admin/users' }, 'block-path'],
      [{ pathForms: ['/admin/..'] }, 'block-path'], [{ params: 'q=DROP TABLE x' }, 'block-param'],
      [{ host: 'internal.example.com' }, 'block-host'], [{ hostForms: ['internal.example.com'] }, 'block-host'],
      [{ method: 'TRACE' }, 'block-method'],
    ];
    for (const [change, rule] of variants) {
      assert.equal(engine.evaluate({ ...QUIET, ...change }).ruleId, rule, JSON.stringify(change));
      // And the quiet request itself is still quiet right after.
      assert.equal(engine.evaluate({ ...QUIET }).treatment, 'Passed');
    }
    engine.close();
  }));

/** `text` with `insert` written over it from `at`, keeping every code unit the memo's tag samples. */
function sameTag(text: string, insert: string, at: number): string {
  const out = text.slice(0, at) + insert + text.slice(at + insert.length);
  assert.equal(out.length, text.length);
  assert.equal(tagOf(out), tagOf(text), `${out} does not share ${text}'s tag: pick other positions`);
  return out;
}

test('a repeat whose tag collides with a quiet request is still told apart by its fields', () =>
  withTmpDir((dir) => {
    const engine = engineFor(dir, [...RULES, block('ip', '192.1.3.0/24', { id: 'block-192-1-3' }), block('path', 'proxy', { id: 'block-proxy' })], { data: dataFile(dir) });
    const quiet = { ...QUIET, ip: '192.0.2.17' };
    assert.equal(engine.evaluate({ ...quiet }).treatment, 'Passed');
    const colliding: [Partial<MoatRequest>, string][] = [
      [{ userAgent: sameTag(quiet.userAgent!, 'sqlmap', 12) }, 'block-ua'],
      [{ ip: sameTag(sameTag(quiet.ip, '1', 4), '3', 6) }, 'block-192-1-3'],
      [{ path: sameTag(quiet.path!, 'xy', 4) }, 'block-proxy'],
    ];
    for (const [change, rule] of colliding) {
      assert.equal(engine.evaluate({ ...quiet }).treatment, 'Passed');
      assert.equal(engine.evaluate({ ...quiet, ...change }).ruleId, rule, JSON.stringify(change));
    }
    engine.close();
  }));

test('requests that weigh a rule are never remembered: monitor matches recorded and rate limits counted on every repeat', () =>
  withTmpDir((dir) => {
    const engine = engineFor(dir, RULES, { data: dataFile(dir) });
    const watched = { ...QUIET, path: '/watched/page' };
    for (let k = 0; k < 4; k++) assert.deepEqual(summary(engine.evaluate({ ...watched })).monitored, ['monitor-path'], `repeat ${k}`);
    const login = { ...QUIET, path: '/login' };
    const treatments = Array.from({ length: 4 }, () => engine.evaluate({ ...login }).treatment);
    assert.deepEqual(treatments, ['Passed', 'Passed', 'Blocked', 'Blocked']);
    engine.close();
  }));

test('a rule that expires is weighed on every repeat: the repeat after its expiry passes, the ones before are blocked', () =>
  withTmpDir((dir) => {
    let now = Date.UTC(2026, 5, 1);
    const engine = engineFor(dir, [block('path', '/sale', { id: 'until-noon', expires: new Date(now + 1000).toISOString() })], { now: () => now });
    const sale = { ...QUIET, path: '/sale' };
    assert.equal(engine.evaluate({ ...sale }).treatment, 'Blocked');
    assert.equal(engine.evaluate({ ...sale }).treatment, 'Blocked');
    now += 2000;
    assert.equal(engine.evaluate({ ...sale }).treatment, 'Passed');
    engine.close();
  }));

test('random request streams: the engine that remembers decides as a fresh engine per request', () =>
  withTmpDir((dir) => {
    const data = dataFile(dir);
    // No rate limits here: a fresh engine per request would forget their counts. They are covered above.
    const rules = RULES.filter((r) => r.kind !== 'rateLimit');
    const engine = engineFor(dir, rules, { data });
    const field = <T>(...values: T[]) => fc.constantFrom(...values);
    const request = fc.record({
      ip: field('192.0.2.7', '192.0.2.8', '10.0.0.1', '10.2.3.4', '203.0.113.9', 'not-an-ip', '2001:db8::1'),
      method: field('GET', 'POST', 'TRACE', 'trace', undefined),
      host: field('shop.example.com', 'internal.example.com', undefined),
      path: field('/products/42', '/admin', '/watched/x', '/', undefined),
      params: field('page=2', 'q=drop table users', undefined),
      userAgent: field(QUIET.userAgent!, 'sqlmap/1.7', 'curl/8', undefined),
    }, { requiredKeys: ['ip'] });
    fc.assert(fc.property(fc.array(request, { minLength: 1, maxLength: 60 }), (stream) => {
      for (const req of stream) {
        const fresh = new Engine({ rules: engine.rules, data: engine.data });
        assert.deepEqual(summary(engine.evaluate({ ...req })), summary(fresh.evaluate({ ...req })), JSON.stringify(req));
      }
    }), { numRuns: 200, seed: 20261204 });
    engine.close();
  }));
