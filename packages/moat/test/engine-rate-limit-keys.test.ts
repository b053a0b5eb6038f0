// Rate limits keyed by a header, a cookie or the app's user id: the key's text form, the engine's
// counters (per key, IP fallback, hashes only), the rules document and file round trip (format version 2
// only when needed, older readers refuse it as too new), the Wafris export leaving keyed limits out, and
// the limiter's per-client cap on keyed counters.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import Database from 'better-sqlite3';
import {
  Engine, MemoryRateLimitStore, formatRateLimitKey, normalizeRule, parseRateLimitKey, parseRulesDocument, rulesToDocument,
  writeRulesFile, RuleError,
} from '../src/index.js';
import { writeWafrisRulesFile } from '../src/wafris/write-wafris.js';
import type { Rule, RuleInput } from '../src/index.js';
import { cookieValue } from '../src/engine/rate-limit-client.js';
import { engineFor, rateLimit, withTmpDir } from './helpers/engine-kit.js';

const W = 60_000;
const T0 = 1_000 * W;

function keyed(pathText: string, limit: number, key: string, extra: Partial<RuleInput> = {}): Rule {
  return normalizeRule({ action: 'block', kind: 'rateLimit', value: pathText, ...extra, rateLimit: { path: pathText, limit, window: '1m', key } });
}

describe('rate-limit key text', () => {
  test('ip, header, cookie and user parse and print back; header names fold to lower case, cookie names keep theirs', () => {
    assert.equal(parseRateLimitKey('ip'), undefined);
    assert.equal(parseRateLimitKey(undefined), undefined);
    assert.deepEqual(parseRateLimitKey('header:X-Api-Key'), { by: 'header', name: 'x-api-key' });
    assert.deepEqual(parseRateLimitKey('cookie:Session_ID'), { by: 'cookie', name: 'Session_ID' });
    assert.deepEqual(parseRateLimitKey(' user '), { by: 'user' });
    for (const text of ['header:x-api-key', 'cookie:sid', 'user']) assert.equal(formatRateLimitKey(parseRateLimitKey(text)), text);
    assert.equal(formatRateLimitKey(undefined), 'ip');
  });

  test('unknown kinds, bad names and client-address headers are refused with a RuleError naming the fix', () => {
    for (const bad of ['session', 'header:', 'header:x api', 'cookie:a;b', 'query:k', `header:${'x'.repeat(65)}`]) {
      assert.throws(() => parseRateLimitKey(bad), RuleError, bad);
    }
    assert.throws(() => parseRateLimitKey('header:X-Forwarded-For'), /trusted proxies only: use key "ip"/);
    assert.throws(() => parseRateLimitKey('header:cookie'), /cookie:<name>/);
  });

  test('a keyed rule gets another content id than the same per-IP rule; a per-IP rule keeps the id it always had', () => {
    const perIp = rateLimit('/api/*', 10, '1m');
    const byKey = keyed('/api/*', 10, 'header:x-api-key');
    assert.notEqual(perIp.id, byKey.id);
    assert.equal(perIp.rateLimit?.key, undefined);
    assert.equal('key' in perIp.rateLimit!, false, 'no key property at all: the content hash of old rules is unchanged');
    assert.equal(normalizeRule({ action: 'block', kind: 'rateLimit', value: '/api/*', rateLimit: { path: '/api/*', limit: 10, window: '1m', key: 'ip' } }).id, perIp.id);
  });
});

describe('cookie values as the app reads them', () => {
  test('first cookie of the name; quotes and percent-encoding removed; missing or empty is none', () => {
    assert.equal(cookieValue('a=1; session=abc; b=2', 'session'), 'abc');
    assert.equal(cookieValue('session="abc"', 'session'), 'abc');
    assert.equal(cookieValue('session=%61bc', 'session'), 'abc');
    assert.equal(cookieValue('session=%zz', 'session'), '%zz');
    assert.equal(cookieValue('session=first; session=second', 'session'), 'first');
    assert.equal(cookieValue('xsession=abc; Session=abc', 'session'), null, 'names are exact');
    assert.equal(cookieValue('session=', 'session'), null);
    assert.equal(cookieValue(null, 'session'), null);
  });
});

describe('keyed rate limits in the engine', () => {
  test('per header: two keys behind one IP get a budget each; no header counts by IP; decisions name the key kind', () =>
    withTmpDir((dir) => {
      const e = engineFor(dir, [keyed('/api/*', 2, 'header:x-api-key', { id: 'api' })], { now: () => T0 });
      const call = (headers: Record<string, string>) => e.evaluate({ ip: '203.0.113.9', path: '/api/items', method: 'GET', headers });
      for (const key of ['alice', 'bob']) {
        assert.equal(call({ 'x-api-key': key }).treatment, 'Passed');
        assert.equal(call({ 'x-api-key': key }).treatment, 'Passed');
        const third = call({ 'x-api-key': key });
        assert.deepEqual([third.treatment, third.ruleId, third.rateLimitKey], ['Blocked', 'api', 'header'], key);
      }
      assert.equal(call({}).treatment, 'Passed');
      assert.equal(call({ 'x-api-key': '' }).treatment, 'Passed', 'an empty header is no header: the same IP counter');
      const third = call({});
      assert.deepEqual([third.treatment, third.rateLimitKey], ['Blocked', 'ip']);
      assert.equal(e.evaluate({ ip: '198.51.100.1', path: '/api/items', method: 'GET' }).treatment, 'Passed', 'another IP without a key');
    }));

  test('per cookie and per user; the counters hold hashes, never the values', () =>
    withTmpDir((dir) => {
      const store = new MemoryRateLimitStore();
      const keysSeen: string[] = [];
      const spy = { get size() { return store.size; }, hit: (key: string, ...rest: [number, number, number, string?]) => { keysSeen.push(key); return store.hit(key, ...rest); } };
      const e = engineFor(dir, [keyed('/cart', 1, 'cookie:sid', { id: 'cart' }), keyed('/me', 1, 'user', { id: 'me' })], { now: () => T0, rateLimits: spy });
      assert.equal(e.rateLimitsByUser, true);
      const cart = (cookie: string) => e.evaluate({ ip: '203.0.113.9', path: '/cart', method: 'POST', headers: { cookie } });
      assert.equal(cart('sid=s3cr3t-one').treatment, 'Passed');
      assert.equal(cart('theme=dark; sid=s3cr3t-one').rateLimitKey, 'cookie');
      assert.equal(cart('sid=s3cr3t-two').treatment, 'Passed');
      const me = (user?: string) => e.evaluate({ ip: '203.0.113.9', path: '/me', method: 'GET', user });
      assert.equal(me('user-42').treatment, 'Passed');
      assert.equal(me('user-42').treatment, 'Blocked');
      assert.equal(me('user-43').treatment, 'Passed');
      assert.equal(me(undefined).treatment, 'Passed');
      assert.equal(me('').rateLimitKey, 'ip', 'an empty user id counts by IP');
      for (const k of keysSeen) assert.doesNotMatch(k, /s3cr3t|user-4/, `counter key ${k}`);
      assert.ok(keysSeen.some((k) => /^cart\|k:[A-Za-z0-9_-]{22}$/.test(k)), keysSeen.join(' '));
      assert.equal(engineFor(dir, [keyed('/cart', 1, 'cookie:sid')]).rateLimitsByUser, false);
    }));

  test('a per-IP rule beside a keyed one still stops a client rotating keys', () =>
    withTmpDir((dir) => {
      const e = engineFor(dir, [keyed('/api/*', 2, 'header:x-api-key', { id: 'per-key' }), rateLimit('/api/*', 5, '1m', { id: 'per-ip' })], { now: () => T0 });
      const outcomes = Array.from({ length: 8 }, (_, i) => e.evaluate({ ip: '203.0.113.9', path: '/api/x', method: 'GET', headers: { 'x-api-key': `k${i}` } }));
      assert.deepEqual(outcomes.map((d) => d.treatment), ['Passed', 'Passed', 'Passed', 'Passed', 'Passed', 'Blocked', 'Blocked', 'Blocked']);
      assert.deepEqual([outcomes[5].ruleId, outcomes[5].rateLimitKey], ['per-ip', 'ip']);
    }));
});

describe('keyed rate limits in documents and files', () => {
  test('the document key round-trips; the file is format version 2 only with a keyed limit', () =>
    withTmpDir((dir) => {
      const yaml = 'rateLimits:\n  - { path: /api/*, limit: 100, window: 1m, key: "header:X-Api-Key" }\n  - { path: /login, limit: 5, window: 1m }\n';
      const rules = parseRulesDocument(yaml, 'rules.yaml');
      const doc = rulesToDocument(rules);
      assert.deepEqual(doc.rateLimits?.map((r) => r.key), ['header:x-api-key', undefined]);
      const keyedFile = path.join(dir, 'keyed.db');
      const plainFile = path.join(dir, 'plain.db');
      assert.equal(writeRulesFile(rules, keyedFile).formatVersion, 2);
      assert.equal(writeRulesFile(rules.filter((r) => r.rateLimit?.key === undefined), plainFile).formatVersion, 1);
      const loaded = Engine.open({ rules: keyedFile }).rules.rules.find((r) => r.kind === 'rateLimit' && r.rateLimit.key !== undefined);
      assert.deepEqual(loaded?.rateLimit?.key, { by: 'header', name: 'x-api-key' });
    }));

  test('a key changed inside the file breaks its content hash; a file claiming version 1 with a keyed rule is refused', () =>
    withTmpDir((dir) => {
      const file = path.join(dir, 'rules.db');
      writeRulesFile([keyed('/api/*', 10, 'header:x-api-key', { id: 'api' })], file);
      const db = new Database(file);
      db.prepare("UPDATE rules SET rl_key = 'header:x-other'").run();
      db.close();
      assert.throws(() => Engine.open({ rules: file }), /content hash does not match/);
      writeRulesFile([keyed('/api/*', 10, 'header:x-api-key', { id: 'api' })], file);
      const db2 = new Database(file);
      db2.prepare("UPDATE meta SET value = '1' WHERE key = 'format_version'").run();
      db2.close();
      assert.throws(() => Engine.open({ rules: file }), /format version 1 cannot hold keyed rate limits/);
    }));

  test('the Wafris export leaves keyed limits out and says why (the gem counts per IP only)', () =>
    withTmpDir((dir) => {
      const rules = [keyed('/api', 10, 'header:x-api-key', { id: 'by-key' }), rateLimit('/login', 5, '1m', { id: 'by-ip' })];
      const out = writeWafrisRulesFile(rules, path.join(dir, 'custom_rules.db'));
      assert.deepEqual(out.skipped, [{ id: 'by-key', reason: 'Wafris counts rate limits per IP only' }]);
      const db = new Database(path.join(dir, 'custom_rules.db'), { readonly: true });
      const paths = db.prepare('SELECT DISTINCT path FROM blocked_rate_limits').pluck().all();
      db.close();
      assert.deepEqual(paths, ['/login']);
    }));
});

describe('the limiter under attacker-chosen keys', () => {
  test('one IP sending 1 000 000 distinct keys is refused past its cap: memory bounded, another client keeps its count', () => {
    const s = new MemoryRateLimitStore({ maxBytes: 256 * 1024, maxKeysPerClient: 64 });
    // A victim behind another IP with its own key, 3 of 5 used.
    for (let i = 0; i < 3; i++) assert.equal(s.hit('api|k:victim', 5, W, T0, 'api|1'), 0);
    let refused = 0;
    for (let i = 0; i < 1_000_000; i++) if (s.hit(`api|k:attacker-${i}`, 5, W, T0 + 1, 'api|2') > 0) refused++;
    const st = s.stats();
    assert.ok(st.bytes <= 256 * 1024, `bytes ${st.bytes}`);
    assert.ok(st.keys <= 64 + 1, `keys ${st.keys}`);
    assert.equal(refused, 1_000_000 - 64);
    assert.deepEqual([st.clientCapRefusals, st.clientCapEvictions], [1_000_000 - 64, 0], 'nothing live was dropped to make room');
    assert.equal(st.evictedLive, 0, 'the byte budget never had to drop a live counter');
    assert.equal(s.hit('api|k:victim', 5, W, T0 + 2, 'api|1'), 0);
    assert.equal(s.hit('api|k:victim', 5, W, T0 + 2, 'api|1'), 0);
    assert.ok(s.hit('api|k:victim', 5, W, T0 + 2, 'api|1') > 0, 'the victim\'s sixth is refused: its count survived');
    assert.throws(() => new MemoryRateLimitStore({ maxKeysPerClient: 0 }), /maxKeysPerClient/);
  });

  test('an IP that made a victim\'s counter itself cannot reset it by rotating keys; a window later its old keys make room', () => {
    const s = new MemoryRateLimitStore({ maxKeysPerClient: 4 });
    for (let i = 0; i < 3; i++) assert.equal(s.hit('login|k:victim', 5, W, T0 + i, 'login|attacker'), 0);
    for (let i = 0; i < 100; i++) s.hit(`login|k:user${i}`, 5, W, T0 + 10 + i, 'login|attacker');
    assert.equal(s.hit('login|k:victim', 5, W, T0 + 200, 'login|elsewhere'), 0);
    assert.equal(s.hit('login|k:victim', 5, W, T0 + 201, 'login|elsewhere'), 0);
    assert.ok(s.hit('login|k:victim', 5, W, T0 + 202, 'login|elsewhere') > 0, 'the three guesses still count: five in all');
    // Refused with the wait until the IP's oldest counter (the victim's, last counted at T0 + 201) empties;
    // once it has, it is dropped to make room (dropping it then loses nothing).
    assert.equal(s.hit('login|k:another', 5, W, T0 + 300, 'login|attacker'), W - 99);
    assert.equal(s.hit('login|k:another', 5, W, T0 + W + 205, 'login|attacker'), 0);
    assert.deepEqual([s.stats().clientCapEvictions, s.stats().clientCapRefusals], [1, 98]);
  });

  test('per-IP counters are never capped by client, and dropped keyed counters leave no bookkeeping behind', () => {
    const s = new MemoryRateLimitStore({ maxBytes: 1024 * 1024, maxKeysPerClient: 2 });
    for (let i = 0; i < 100; i++) s.hit(`r|${i}`, 5, W, T0);
    assert.equal(s.stats().keys, 100);
    for (let i = 0; i < 10; i++) s.hit(`r|k:${i}`, 5, W, T0, 'r|client');
    assert.equal(s.stats().keys, 102);
    const small = new MemoryRateLimitStore({ maxBytes: 8 * 1024 });
    for (let i = 0; i < 10_000; i++) small.hit(`r|k:${i}`, 5, 1_000, T0 + i * 2_000, `r|c${i % 500}`);
    assert.ok(small.stats().bytes <= 8 * 1024, `bytes ${small.stats().bytes}`);
    assert.ok(small.stats().bytes >= 0);
  });
});
