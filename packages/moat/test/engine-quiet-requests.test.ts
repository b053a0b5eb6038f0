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
import { writeRulesFile } from '../src/format/write-rules.js';
import { normalizeAttackSettings } from '../src/rules/attack-settings.js';
import { QUIET_REST, QUIET_WINDOW } from '../src/engine/quiet-requests.js';

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
    const ua = quiet.userAgent!;
    const colliding: [Partial<MoatRequest>, string][] = [
      [{ userAgent: sameTag(ua, 'sqlmap', 12) }, 'block-ua'],
      // The memo's own tag reads only the user agent's length and three characters (shortTag): any change
      // away from them collides, e.g. at the start.
      [{ userAgent: `sqlmap${ua.slice(6)}` }, 'block-ua'],
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

/** Counts the engine's full judgements (every evaluation the memo does not answer). */
function countJudgements(engine: Engine): () => number {
  const inner = engine as unknown as { judge: (req: MoatRequest) => unknown };
  const judge = inner.judge.bind(engine);
  let n = 0;
  inner.judge = (req) => { n++; return judge(req); };
  return () => n;
}

test('the memo rests while too few lookups hit to repay its misses, and counts again after the rest', () =>
  withTmpDir((dir) => {
    const engine = engineFor(dir, RULES, { data: dataFile(dir) });
    const judged = countJudgements(engine);
    // Repeating traffic keeps it on across window boundaries: one judgement for two windows of repeats.
    for (let k = 0; k < 2 * QUIET_WINDOW; k++) assert.equal(engine.evaluate({ ...QUIET }).treatment, 'Passed');
    assert.equal(judged(), 1);
    // A window of quiet requests that never repeat (they share the quiet one's slot, so each evicts the last).
    for (let k = 0; k < QUIET_WINDOW; k++) assert.equal(engine.evaluate({ ...QUIET, params: `page=${k}` }).treatment, 'Passed');
    assert.equal(judged(), 1 + QUIET_WINDOW);
    // Resting: every request is judged, repeats included, and rules still decide.
    let before = judged();
    for (let k = 0; k < 100; k++) assert.equal(engine.evaluate({ ...QUIET }).treatment, 'Passed');
    assert.equal(engine.evaluate({ ...QUIET, path: '/admin' }).ruleId, 'block-path');
    assert.equal(judged() - before, 101);
    for (let k = 101; k < QUIET_REST; k++) engine.evaluate({ ...QUIET });
    // The rest is over: the memo is consulted again and the repeats are answered from it.
    before = judged();
    for (let k = 0; k < 100; k++) assert.equal(engine.evaluate({ ...QUIET }).treatment, 'Passed');
    assert.equal(judged() - before, 1);
    engine.close();
  }));

/** Random streams of `request`: `engine` (which remembers) decides each as a fresh engine on the same files does. */
function decidesAsFresh(engine: Engine, request: fc.Arbitrary<MoatRequest>, seed: number): void {
  fc.assert(fc.property(fc.array(request, { minLength: 1, maxLength: 60 }), (stream) => {
    for (const req of stream) {
      const fresh = new Engine({ rules: engine.rules, data: engine.data });
      assert.deepEqual(summary(engine.evaluate({ ...req })), summary(fresh.evaluate({ ...req })), JSON.stringify(req));
    }
  }), { numRuns: 200, seed });
}

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
    decidesAsFresh(engine, request, 20261204);
    engine.close();
  }));

// With attack detection on, the memo's key holds detection's own inputs too: the raw target and the
// User-Agent, Referer and Cookie headers as sent, and no body. Each variant below changes only one of
// them (even where a real normaliser would change another field with it), so a key that missed any one
// would answer the attack from the memo.

/** An engine with every attack category blocking, besides RULES. */
function attackEngine(dir: string, rules: readonly Rule[] = RULES): Engine {
  const file = path.join(dir, `attacks-${process.pid}-${attackFiles++}.moat`);
  writeRulesFile(rules, file, { attacks: normalizeAttackSettings('block') });
  return Engine.open({ rules: file, data: dataFile(dir) });
}
let attackFiles = 0;

const QUIET_WEB: MoatRequest = {
  ...QUIET, url: '/products/42?page=2',
  headers: { 'user-agent': QUIET.userAgent, referer: 'https://shop.example.com/', cookie: 'session=abc123; theme=dark' },
};
const ATTACK_VARIANTS: [string, Partial<MoatRequest>][] = [
  ['the raw target', { url: "/products/42?page=2%27%20OR%201%3D1--" }],
  ['the User-Agent header', { headers: { ...QUIET_WEB.headers, 'user-agent': "Mozilla/5.0' AND SLEEP(5)-- " } }],
  ['the Referer header', { headers: { ...QUIET_WEB.headers, referer: 'https://x.example/?q=<script>alert(1)</script>' } }],
  ['the Cookie header', { headers: { ...QUIET_WEB.headers, cookie: "session=' OR '1'='1'--" } }],
  ['the X-Forwarded-For header', { headers: { ...QUIET_WEB.headers, 'x-forwarded-for': "1.2.3.4'; DROP TABLE visits--" } }],
  ['the Forwarded header', { headers: { ...QUIET_WEB.headers, forwarded: 'for="<script>alert(1)</script>"' } }],
  ['a form body', { body: { kind: 'form', text: 'comment=%27%20UNION%20SELECT%20password%20FROM%20users--' } }],
  ['a JSON body', { body: { kind: 'json', text: '{"user":{"$ne":null}}' } }],
];

test('with attack detection on, a clean request is remembered and an attack in any input detection reads is still blocked', () =>
  withTmpDir((dir) => {
    const engine = attackEngine(dir);
    const scans = () => (engine as unknown as { attackScan: { run: (...args: unknown[]) => unknown } }).attackScan;
    let runs = 0;
    const scan = scans();
    const run = scan.run.bind(scan) as (...args: unknown[]) => unknown;
    scan.run = (...args: unknown[]) => { runs++; return run(...args); };
    for (let k = 0; k < 3; k++) assert.equal(engine.evaluate({ ...QUIET_WEB }).treatment, 'Passed');
    assert.equal(runs, 1, 'the repeats of the clean request were answered from the memo, not scanned again');
    for (const [where, change] of ATTACK_VARIANTS) {
      const d = engine.evaluate({ ...QUIET_WEB, ...change });
      assert.equal(d.treatment, 'Blocked', `an attack in ${where}`);
      assert.ok(d.category.startsWith('attack-'), `${where}: ${d.category}`);
      assert.equal(engine.evaluate({ ...QUIET_WEB }).treatment, 'Passed');
    }
    // A clean body is judged every time: a request with a body is never remembered.
    const withBody: MoatRequest = { ...QUIET_WEB, body: { kind: 'form', text: 'comment=hello' } };
    runs = 0;
    for (let k = 0; k < 3; k++) assert.equal(engine.evaluate({ ...withBody }).treatment, 'Passed');
    assert.equal(runs, 3);
    // A header sent twice (a list) is never remembered either.
    const twice: MoatRequest = { ...QUIET_WEB, headers: { ...QUIET_WEB.headers, cookie: ['a=1', "b=' OR '1'='1'--"] } };
    runs = 0;
    for (let k = 0; k < 2; k++) engine.evaluate({ ...twice });
    assert.equal(runs, 2);
    engine.close();
  }));

test('with attack detection on, monitor-mode attacks are recorded on every repeat, never remembered as quiet', () =>
  withTmpDir((dir) => {
    const file = path.join(dir, 'monitor.moat');
    writeRulesFile(RULES, file, { attacks: normalizeAttackSettings('monitor') });
    const engine = Engine.open({ rules: file, data: dataFile(dir) });
    const attack = { ...QUIET_WEB, ...ATTACK_VARIANTS[0]![1] };
    for (let k = 0; k < 3; k++) {
      const d = engine.evaluate({ ...attack });
      assert.equal(d.treatment, 'Passed');
      assert.deepEqual(d.monitored.map((m) => m.ruleId), ['attacks.sqli'], `repeat ${k}`);
    }
    engine.close();
  }));

test('random request streams with attack detection on: the engine that remembers decides as a fresh engine per request', () =>
  withTmpDir((dir) => {
    const rules = RULES.filter((r) => r.kind !== 'rateLimit');
    const engine = attackEngine(dir, rules);
    const field = <T>(...values: T[]) => fc.constantFrom(...values);
    const headers = fc.record({
      'user-agent': field<string | string[] | undefined>(QUIET.userAgent!, "x' AND SLEEP(5)-- ", ['a', 'b'], undefined),
      referer: field('https://shop.example.com/', 'javascript:alert(1)', 'https://x.example/?q=<script>alert(1)</script>', undefined),
      cookie: field('session=abc123', "session=' OR '1'='1'--", undefined),
      'x-forwarded-for': field('203.0.113.9, 10.0.0.1', "1.2.3.4' OR '1'='1", undefined),
      forwarded: field('for=192.0.2.60;proto=https', 'for="<img src=x onerror=alert(1)>"', undefined),
    }, { requiredKeys: [] });
    const request = fc.record({
      ip: field('192.0.2.7', '192.0.2.8', '10.0.0.1', '203.0.113.9'),
      method: field('GET', 'POST', undefined),
      host: field('shop.example.com', undefined),
      path: field('/products/42', '/admin', '/watched/x', undefined),
      params: field('page=2', 'q=drop table users', undefined),
      userAgent: field(QUIET.userAgent!, 'sqlmap/1.7', undefined),
      url: field('/products/42?page=2', "/products/42?page=2%27%20OR%201%3D1--", '/products/..%2f..%2fetc/passwd', undefined),
      headers: fc.option(headers, { nil: undefined }),
      body: fc.option(field<MoatRequest['body']>(
        { kind: 'form', text: 'comment=hello' }, { kind: 'form', text: 'q=%3Cscript%3Ealert(1)%3C%2Fscript%3E' },
        { kind: 'json', text: '{"user":{"$ne":null}}' }), { nil: undefined }),
    }, { requiredKeys: ['ip'] });
    decidesAsFresh(engine, request, 20261205);
    engine.close();
  }));
