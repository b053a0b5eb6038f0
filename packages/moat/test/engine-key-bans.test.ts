// Keyed bans (rule kind `key`: the hash of a header, a cookie or the app's user id) and reported keys
// (a rules file's `report_keys`): the engine blocks a banned key from any IP while allow rules still
// win, names the key kind and never its value, hashes only when a file has keys, and a decision carries
// the hashes a file asks to report; the file round trip (version 3 only with a keyed ban, report keys
// chained into the file's hash) and the report ring, which sends a keyed record whole.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import path from 'node:path';
import Database from 'better-sqlite3';
import { Engine, RuleError, normalizeRule, writeRulesFile } from '../src/index.js';
import type { MoatRequest, Rule } from '../src/index.js';
import { writeWafrisRulesFile } from '../src/wafris/write-wafris.js';
import { createRing } from '../src/report/ring-layout.js';
import { RingWriter } from '../src/report/ring-writer.js';
import { RingReader } from '../src/report/ring-reader.js';
import { PassedAggregator } from '../src/report/passed-aggregator.js';
import type { MoatHttpRequest } from '../src/http/normalized-request.js';
import type { QueuedRecord } from '../src/sync/report-record.js';
import { allow, block, engineFor, withTmpDir } from './helpers/engine-kit.js';

/** The hash Moat reports and bans by: 128 bits of SHA-256 over kind, name and value. */
function hashOf(by: string, name: string, value: string): string {
  return createHash('sha256').update(`${by}\0${name}\0${value}`).digest('hex').slice(0, 32);
}

function keyBan(text: string): Rule {
  return normalizeRule({ action: 'block', kind: 'key', value: text });
}

const SECRET = 'sk_live_5f3c9a0d1e';
const req = (ip: string, headers: Record<string, string> = {}, user?: string): MoatRequest =>
  ({ ip, method: 'GET', path: '/api/items', headers, ...(user === undefined ? {} : { user }) });

describe('keyed bans in the engine', () => {
  test('a banned x-api-key is blocked from any IP; another key, no key, and an allow-listed IP with the banned key pass', () => withTmpDir((dir) => {
    const engine = engineFor(dir, [keyBan(`header:X-Api-Key=${hashOf('header', 'x-api-key', SECRET)}`), allow('10.9.9.9')]);
    const banned = engine.evaluate(req('203.0.113.1', { 'x-api-key': SECRET }));
    assert.equal(banned.treatment, 'Blocked');
    assert.equal(banned.category, 'bkey');
    assert.equal(banned.rule, 'header:x-api-key', 'the decision names the key kind');
    assert.ok(!JSON.stringify(banned).includes(SECRET), 'never the value');
    assert.equal(engine.evaluate(req('198.51.100.7', { 'x-api-key': SECRET })).treatment, 'Blocked', 'from another IP too');
    assert.equal(engine.evaluate(req('203.0.113.1', { 'x-api-key': 'another-key' })).treatment, 'Passed');
    assert.equal(engine.evaluate(req('203.0.113.1')).treatment, 'Passed', 'no key is not a key');
    assert.equal(engine.evaluate(req('10.9.9.9', { 'x-api-key': SECRET })).treatment, 'Allowed', 'allow wins');
  }));

  test('cookie and user keys: the cookie as the app reads it (quotes, percent-encoding), the user id from the user option', () => withTmpDir((dir) => {
    const engine = engineFor(dir, [keyBan(`cookie:session=${hashOf('cookie', 'session', 'abc')}`), keyBan(`user=${hashOf('user', '', '42')}`)]);
    assert.equal(engine.rateLimitsByUser, true, 'the firewall is told to ask for the user id');
    for (const cookie of ['session=abc', 'a=1; session="abc"', 'session=%61bc']) {
      assert.equal(engine.evaluate(req('203.0.113.2', { cookie })).category, 'bkey', cookie);
    }
    assert.equal(engine.evaluate(req('203.0.113.2', { cookie: 'session=abd' })).treatment, 'Passed');
    const byUser = engine.evaluate(req('203.0.113.3', {}, '42'));
    assert.deepEqual([byUser.treatment, byUser.rule], ['Blocked', 'user']);
    assert.equal(engine.evaluate(req('203.0.113.3', {}, '43')).treatment, 'Passed');
  }));

  test('an expired or monitor-mode keyed ban blocks nothing; a file without keys has no key index (no hashing)', () => withTmpDir((dir) => {
    const hash = hashOf('header', 'x-api-key', SECRET);
    const engine = engineFor(dir, [
      normalizeRule({ action: 'block', kind: 'key', value: `header:x-api-key=${hash}`, expires: 1_000_000_000_000 }),
      normalizeRule({ action: 'block', kind: 'key', value: `header:x-api-key=${hash}`, mode: 'monitor', id: 'watch' }),
    ], { now: () => 1_000_000_002_000 });
    const d = engine.evaluate(req('203.0.113.4', { 'x-api-key': SECRET }));
    assert.equal(d.treatment, 'Passed');
    assert.deepEqual(d.monitored.map((m) => [m.category, m.ruleId]), [['bkey', 'watch']]);
    assert.equal(engineFor(dir, [block('path', '/x')]).rules.keys, null);
  }));

  test('key ban values are checked: a raw value, short or upper-case hex, "ip" or a client-address header is refused', () => {
    const hash = hashOf('header', 'x-api-key', SECRET);
    for (const bad of [`header:x-api-key=${SECRET}`, `header:x-api-key=${hash.slice(1)}`, `header:x-api-key=${hash.toUpperCase()}`,
      `ip=${hash}`, `header:x-forwarded-for=${hash}`, hash]) {
      assert.throws(() => keyBan(bad), RuleError, bad);
    }
    assert.throws(() => normalizeRule({ action: 'allow', kind: 'key', value: `user=${hash}` }), RuleError, 'a key cannot allow');
  });
});

describe('reported keys', () => {
  test('a file listing report keys makes each decision carry the hashes of the keys the request has, and nothing else', () => withTmpDir((dir) => {
    const file = path.join(dir, 'rules.db');
    const written = writeRulesFile([block('path', '/wp-admin')], file, { reportKeys: [{ by: 'header', name: 'x-api-key' }, { by: 'user' }] });
    assert.equal(written.formatVersion, 1, 'report keys alone need no new format: older readers load the file and report none');
    const engine = Engine.open({ rules: file });
    const d = engine.evaluate(req('203.0.113.5', { 'x-api-key': SECRET }, '7'));
    assert.equal(d.treatment, 'Passed');
    assert.equal(d.reportKeys, `header:x-api-key=${hashOf('header', 'x-api-key', SECRET)} user=${hashOf('user', '', '7')}`);
    assert.equal(engine.evaluate(req('203.0.113.5')).reportKeys, undefined, 'a request without the keys reports none');
    const blocked = engine.evaluate({ ...req('203.0.113.5', { 'x-api-key': SECRET }), path: '/wp-admin' });
    assert.equal(blocked.treatment, 'Blocked');
    assert.ok(blocked.reportKeys?.startsWith('header:x-api-key='), 'blocked requests carry their keys too');
    // The key list is part of the file's identity, and an edited list is refused.
    const plain = writeRulesFile([block('path', '/wp-admin')], path.join(dir, 'plain.db'));
    assert.notEqual(plain.hash, written.hash);
    const db = new Database(file);
    db.prepare("UPDATE meta SET value = ? WHERE key = 'report_keys'").run('["header:x-other"]');
    db.close();
    assert.throws(() => Engine.open({ rules: file }), /report keys do not match their hash/);
  }));

  test('a keyed ban makes the file version 3 (older readers refuse it as too new); the Wafris export leaves it out', () => withTmpDir((dir) => {
    const rules = [keyBan(`header:x-api-key=${hashOf('header', 'x-api-key', SECRET)}`), block('path', '/wp-admin')];
    assert.equal(writeRulesFile(rules, path.join(dir, 'keyed.db')).formatVersion, 3);
    const wafris = writeWafrisRulesFile(rules, path.join(dir, 'wafris.db'), Date.now());
    assert.deepEqual(wafris.skipped.map((s) => s.id), [rules[0]!.id]);
    const db = new Database(path.join(dir, 'keyed.db'));
    db.prepare("UPDATE meta SET value = '2' WHERE key = 'format_version'").run();
    db.close();
    assert.throws(() => Engine.open({ rules: path.join(dir, 'keyed.db') }), /cannot hold keyed bans/);
  }));

  test('in the report ring a keyed Passed record is sent whole with its keys, while a plain one is folded into a count', () => {
    const sab = createRing(64 * 1024);
    const writer = new RingWriter(sab);
    const reader = new RingReader(sab, 'x'.repeat(24));
    const request = {
      ip: '203.0.113.6', ipSource: 'socket', method: 'GET', host: 'app', hostForms: undefined, path: '/api/items', pathForms: undefined,
      params: undefined, userAgent: 'ua', headers: {}, url: '/api/items',
    } as unknown as MoatHttpRequest;
    const passed = { treatment: 'Passed', category: 'passed', rule: '-', ruleId: null, monitored: [] } as const;
    const keys = `header:x-api-key=${hashOf('header', 'x-api-key', SECRET)}`;
    const counters = new Float64Array(32);
    const aggregator = new PassedAggregator(60_000, 0, reader.stringOf, counters, () => undefined);
    const out: QueuedRecord[] = [];
    for (let i = 0; i < 3; i++) assert.ok(writer.write({ ...passed, reportKeys: keys }, request, 1_000_000 + i));
    for (let i = 0; i < 3; i++) assert.ok(writer.write(passed, request, 1_000_000 + i));
    reader.drain((r) => out.push(r), Infinity, aggregator);
    assert.deepEqual(out.map((r) => r.keys), [keys, keys, keys, undefined], 'three keyed records whole, the plain ones: the first whole, the rest counted');
  });
});
