// The evaluator against real rules and data files: the Wafris order with every category code, what is
// reported (rule, ruleId, monitored), monitor mode, expiry, allow over block, and the matching semantics
// of each rule kind.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import type { MoatRequest, Rule } from '../src/index.js';
import { allow, block, dataFileFor, engineFor, rateLimit, withTmpDir } from './helpers/engine-kit.js';

const NOW = Date.UTC(2026, 5, 1);

/** One rule of every kind, each matching REQUEST, listed in the order the evaluator consults them. */
function layeredRules(extra: { mode?: 'monitor'; expires?: string } = {}): { rules: Rule[]; expected: [string, string][] } {
  const rules = [
    allow('10.1.2.3', { id: 'r-ai', ...extra }),
    allow('10.1.0.0/16', { id: 'r-ac', ...extra }),
    block('ip', '10.1.2.3', { id: 'r-bi', ...extra }),
    block('ip', '10.1.2.0/24', { id: 'r-bc', ...extra }),
    block('country', 'kp', { id: 'r-bctry', ...extra }),
    block('asn', '64500', { id: 'r-basn', ...extra }),
    block('list', 'tor', { id: 'r-blist', ...extra }),
    block('userAgent', 'SQLMap', { id: 'r-bu', ...extra }),
    block('path', '/wp-admin', { id: 'r-bp', ...extra }),
    block('param', '<script', { id: 'r-bparam', ...extra }),
    block('host', 'Admin.Example.com', { id: 'r-bh', ...extra }),
    block('method', 'trace', { id: 'r-bm', ...extra }),
    rateLimit('/wp-admin/*', 1, '60s', { id: 'r-brl', ...extra }),
  ];
  // [category, rule] reported when each rule decides.
  const expected: [string, string][] = [
    ['ai', '10.1.2.3'], ['ac', '10.1.0.0/16'], ['bi', '10.1.2.3'], ['bc', '10.1.2.0/24'], ['bctry', 'KP'], ['brep', 'AS64500'],
    ['brep', 'tor'], ['bu', 'SQLMap'], ['bp', '/wp-admin'], ['bparam', '<script'], ['bh', 'admin.example.com'], ['bm', 'TRACE'],
    ['brl', 'r-brl'],
  ];
  return { rules, expected };
}

const REQUEST: MoatRequest = {
  ip: '10.1.2.3', userAgent: 'Mozilla/5.0 sqlmap/1.7', path: '/wp-admin/setup.php', params: 'q=<SCRIPT>alert(1)',
  host: 'ADMIN.example.com', method: 'TRACE',
};

function dataFile(dir: string): string {
  return dataFileFor(path.join(dir, 'data.db'), {
    countries: [['10.1.0.0/16', 'KP'], ['10.9.0.0/16', 'FR'], ['2001:db8::/32', 'DE']],
    asns: [['10.1.2.0/24', 'AS64500']],
    lists: { tor: ['10.1.2.3', '2001:db8::/48'], other: ['10.1.2.0/24'] },
  });
}

describe('evaluation order and categories', () => {
  test('each rule decides in Wafris order: removing the deciding rule hands the request to the next', () =>
    withTmpDir((dir) => {
      const data = dataFile(dir);
      const { rules, expected } = layeredRules();
      for (let k = 0; k < rules.length; k++) {
        const e = engineFor(dir, rules.slice(k), { data, now: () => NOW });
        const [category, rule] = expected[k];
        const d = category === 'brl' ? (e.evaluate(REQUEST), e.evaluate(REQUEST)) : e.evaluate(REQUEST);
        const treatment = category.startsWith('a') ? 'Allowed' : 'Blocked';
        assert.deepEqual(
          { treatment: d.treatment, category: d.category, rule: d.rule, ruleId: d.ruleId, monitored: d.monitored },
          { treatment, category, rule, ruleId: rules[k].id, monitored: [] },
          `with rules from ${rules[k].id}`,
        );
        e.close();
      }
      const none = engineFor(dir, [], { data });
      assert.deepEqual(none.evaluate(REQUEST), { treatment: 'Passed', category: 'passed', rule: '-', ruleId: null, monitored: [] });
    }));

  test('the same decisions with the data file in memory-light (SQLite seek) mode', () =>
    withTmpDir((dir) => {
      const data = dataFile(dir);
      const rules = [block('country', 'FR'), block('country', 'DE'), block('list', 'tor'), block('asn', 'AS64500'), block('list', 'other')];
      const mem = engineFor(dir, rules, { data, dataMode: 'memory' });
      const light = engineFor(dir, rules, { data, dataMode: 'light' });
      const ips = ['10.1.2.3', '10.1.2.4', '10.1.1.1', '10.9.0.0', '10.9.255.255', '10.10.0.0', '2001:db8::1', '2001:db8:1::1', '2001:db9::', '::ffff:10.1.2.3', 'nonsense'];
      for (const ip of ips) assert.deepEqual(light.evaluate({ ip }), mem.evaluate({ ip }), ip);
      assert.deepEqual(['10.1.2.3', '10.9.0.0', '2001:db8:1::1', '10.1.2.200', '2001:db8::1'].map((ip) => mem.evaluate({ ip }).rule),
        ['AS64500', 'FR', 'DE', 'AS64500', 'DE']);
      mem.close();
      light.close();
    }));

  test('continent groups match the countries of the continent', () =>
    withTmpDir((dir) => {
      const data = dataFile(dir);
      const e = engineFor(dir, [block('country', 'continent:AS', { id: 'asia' })], { data });
      assert.deepEqual([e.evaluate({ ip: '10.1.9.9' }).category, e.evaluate({ ip: '10.1.9.9' }).ruleId], ['bctry', 'asia']);
      assert.equal(e.evaluate({ ip: '10.9.0.1' }).treatment, 'Passed'); // FR is in Europe
    }));

  test('an allow rule beats every block rule, including a more specific block range', () =>
    withTmpDir((dir) => {
      const e = engineFor(dir, [allow('192.0.2.0/24'), block('ip', '192.0.2.7'), block('path', '/x'), block('method', 'GET')]);
      const d = e.evaluate({ ip: '192.0.2.7', path: '/x', method: 'GET' });
      assert.deepEqual([d.treatment, d.category, d.rule], ['Allowed', 'ac', '192.0.2.0/24']);
      assert.deepEqual(e.evaluate({ ip: '192.0.3.7', path: '/x', method: 'GET' }).category, 'bp');
    }));

  test('the most specific allow range is reported', () =>
    withTmpDir((dir) => {
      const e = engineFor(dir, [allow('10.0.0.0/8', { id: 'wide' }), allow('10.5.0.0/16', { id: 'mid' }), allow('10.5.5.5', { id: 'one' })]);
      assert.deepEqual(['10.1.1.1', '10.5.0.0', '10.5.5.5', '10.5.5.6'].map((ip) => e.evaluate({ ip }).ruleId), ['wide', 'mid', 'one', 'mid']);
      assert.equal(e.evaluate({ ip: '10.5.5.5' }).category, 'ai');
    }));

  test('an unparseable client IP skips the IP checks but not the others', () =>
    withTmpDir((dir) => {
      const e = engineFor(dir, [block('ip', '0.0.0.0/0'), block('ip', '::/0'), block('userAgent', 'curl')]);
      assert.equal(e.evaluate({ ip: 'not-an-ip', userAgent: 'x' }).treatment, 'Passed');
      assert.equal(e.evaluate({ ip: '', userAgent: 'curl/8' }).category, 'bu');
      assert.equal(e.evaluate({ ip: '1.2.3.4' }).category, 'bc');
    }));
});

describe('monitor mode and expiry', () => {
  test('monitor rules of every kind never block; each is reported, in evaluation order', () =>
    withTmpDir((dir) => {
      const data = dataFile(dir);
      const { rules, expected } = layeredRules({ mode: 'monitor' });
      const e = engineFor(dir, rules, { data, now: () => NOW });
      const first = e.evaluate(REQUEST);
      assert.equal(first.treatment, 'Passed');
      assert.deepEqual(first.monitored, expected.slice(0, -1).map(([category, rule], k) => ({ category, rule, ruleId: rules[k].id })));
      const second = e.evaluate(REQUEST); // over the monitor rate limit now: reported, not blocked
      assert.equal(second.treatment, 'Passed');
      assert.deepEqual(second.monitored.at(-1), { category: 'brl', rule: 'r-brl', ruleId: 'r-brl' });
      assert.equal(second.monitored.length, rules.length);
    }));

  test('a monitor rule is reported alongside the block rule that decides', () =>
    withTmpDir((dir) => {
      const e = engineFor(dir, [allow('192.0.2.0/24', { mode: 'monitor', id: 'trial' }), block('path', '/admin', { id: 'adm' })]);
      const d = e.evaluate({ ip: '192.0.2.1', path: '/admin' });
      assert.deepEqual([d.treatment, d.category, d.ruleId], ['Blocked', 'bp', 'adm']);
      assert.deepEqual(d.monitored, [{ category: 'ac', rule: '192.0.2.0/24', ruleId: 'trial' }]);
      // A monitor block range inside a live one: the live one decides, the monitor one is reported first.
      const n = engineFor(dir, [block('ip', '10.0.0.0/8', { id: 'live' }), block('ip', '10.1.0.0/16', { id: 'mon', mode: 'monitor' })]);
      const d2 = n.evaluate({ ip: '10.1.0.1' });
      assert.deepEqual([d2.ruleId, d2.monitored], ['live', [{ category: 'bc', rule: '10.1.0.0/16', ruleId: 'mon' }]]);
    }));

  test('expired rules of every kind are ignored; the same rules before expiry decide', () =>
    withTmpDir((dir) => {
      const data = dataFile(dir);
      const { rules } = layeredRules({ expires: '2026-01-01T00:00:00Z' });
      const expiry = Date.parse('2026-01-01T00:00:00Z');
      let now = expiry;
      const e = engineFor(dir, rules, { data, now: () => now });
      for (let i = 0; i < 3; i++) assert.deepEqual(e.evaluate(REQUEST), { treatment: 'Passed', category: 'passed', rule: '-', ruleId: null, monitored: [] });
      now = expiry - 1;
      assert.deepEqual([e.evaluate(REQUEST).category, e.evaluate(REQUEST).ruleId], ['ai', 'r-ai']);
      // An expired allow rule no longer shields the client from a live block rule.
      const mixed = engineFor(dir, [allow('10.1.2.3', { expires: '2026-01-01T00:00:00Z' }), block('ip', '10.1.2.0/24')], { now: () => NOW });
      assert.equal(mixed.evaluate({ ip: '10.1.2.3' }).category, 'bc');
    }));
});

describe('matching semantics per kind', () => {
  test('user agent, path and parameters: case-insensitive substrings', () =>
    withTmpDir((dir) => {
      const e = engineFor(dir, [block('userAgent', 'BadBot'), block('path', '/.GIT'), block('param', 'union select')]);
      const cat = (r: Partial<MoatRequest>) => e.evaluate({ ip: '192.0.2.1', ...r }).category;
      assert.equal(cat({ userAgent: 'x badbot/2' }), 'bu');
      assert.equal(cat({ userAgent: 'BADBOT' }), 'bu');
      assert.equal(cat({ userAgent: 'bad bot' }), 'passed');
      assert.equal(cat({ path: '/repo/.git/config' }), 'bp');
      assert.equal(cat({ path: '/.gi' }), 'passed');
      assert.equal(cat({ params: 'id=1 UNION SELECT pw' }), 'bparam');
      assert.equal(cat({ params: 'id=1 union  select' }), 'passed');
      assert.equal(cat({}), 'passed');
    }));

  test('host and method: exact and case-insensitive, never substrings', () =>
    withTmpDir((dir) => {
      const e = engineFor(dir, [block('host', 'admin.example.com'), block('method', 'TRACE')]);
      const cat = (r: Partial<MoatRequest>) => e.evaluate({ ip: '192.0.2.1', ...r }).category;
      assert.equal(cat({ host: 'ADMIN.Example.Com' }), 'bh');
      for (const host of ['x.admin.example.com', 'admin.example.com.evil.net', 'admin.example.co']) assert.equal(cat({ host }), 'passed', host);
      assert.equal(cat({ method: 'trace' }), 'bm');
      for (const method of ['TRACEX', 'TRAC', 'GET']) assert.equal(cat({ method }), 'passed', method);
    }));

  test('substring rules: many patterns, overlapping ones, and the first live one reported', () =>
    withTmpDir((dir) => {
      const rules = Array.from({ length: 2000 }, (_, i) => block('path', `/p${i}/`, { id: `p${i}` }));
      rules.push(block('path', '/admin', { id: 'adm-mon', mode: 'monitor' }), block('path', '/admin/x', { id: 'adm-x' }));
      const e = engineFor(dir, rules);
      assert.equal(e.evaluate({ ip: '1.1.1.1', path: '/a/p1999/b' }).ruleId, 'p1999');
      assert.equal(e.evaluate({ ip: '1.1.1.1', path: '/a/p2000/b' }).treatment, 'Passed');
      const d = e.evaluate({ ip: '1.1.1.1', path: '/ADMIN/X' });
      assert.deepEqual([d.ruleId, d.monitored.map((m) => m.ruleId)], ['adm-x', ['adm-mon']]);
    }));
});

describe('every form of the request the app may act on', () => {
  test('path rules judge each path form; any match blocks, reported like a match on the path', () =>
    withTmpDir((dir) => {
      const e = engineFor(dir, [block('path', '/wp-admin', { id: 'wp' })]);
      // What the normaliser hands over for `/wp-admin/%2e%2e`: resolved to `/`, decoded as written.
      const d = e.evaluate({ ip: '192.0.2.1', path: '/', pathForms: ['/wp-admin/..'] });
      assert.deepEqual([d.category, d.rule, d.ruleId], ['bp', '/wp-admin', 'wp']);
      assert.equal(e.evaluate({ ip: '192.0.2.1', path: '/', pathForms: ['/x/..'] }).category, 'passed');
      assert.equal(e.evaluate({ ip: '192.0.2.1', pathForms: ['/WP-ADMIN;x'] }).category, 'bp', 'forms alone, any case');
    }));

  test('host rules judge each host form, so neither the target nor the Host header can dodge them', () =>
    withTmpDir((dir) => {
      const e = engineFor(dir, [block('host', 'admin.example.com', { id: 'adm' })]);
      assert.equal(e.evaluate({ ip: '192.0.2.1', host: 'public.example', hostForms: ['Admin.Example.com'] }).category, 'bh');
      assert.equal(e.evaluate({ ip: '192.0.2.1', host: 'admin.example.com', hostForms: ['public.example'] }).category, 'bh');
      assert.equal(e.evaluate({ ip: '192.0.2.1', host: 'public.example', hostForms: ['other.example'] }).category, 'passed');
    }));

  test('HEAD is judged as GET by method rules and counted by GET rate limits', () =>
    withTmpDir((dir) => {
      const e = engineFor(dir, [block('method', 'GET', { id: 'no-get' })]);
      const d = e.evaluate({ ip: '192.0.2.1', method: 'head' });
      assert.deepEqual([d.category, d.rule], ['bm', 'GET']);
      assert.equal(e.evaluate({ ip: '192.0.2.1', method: 'POST' }).category, 'passed');
      const limited = engineFor(dir, [rateLimit('/feed', 2, '60s', { id: 'feed', method: 'GET' })], { now: () => NOW });
      const r = (method: string) => limited.evaluate({ ip: '192.0.2.7', method, path: '/feed' }).category;
      assert.deepEqual([r('GET'), r('HEAD'), r('HEAD'), r('POST')], ['passed', 'passed', 'brl', 'passed']);
    }));

  test('rate limits: a trailing slash counts for the path without it, a prefix rule counts its bare path', () =>
    withTmpDir((dir) => {
      const e = engineFor(dir, [rateLimit('/login', 2, '60s', { id: 'login' }), rateLimit('/api/*', 1, '60s', { id: 'api' })], { now: () => NOW });
      const r = (path: string, ip = '192.0.2.8') => e.evaluate({ ip, path }).category;
      assert.deepEqual([r('/login'), r('/login/'), r('/LOGIN/')], ['passed', 'passed', 'brl']);
      assert.deepEqual([r('/api', '192.0.2.9'), r('/api/x', '192.0.2.9')], ['passed', 'brl']);
      assert.equal(r('/loginx', '192.0.2.10'), 'passed');
    }));

  test('rate limits count a request once per rule, however many of its forms match', () =>
    withTmpDir((dir) => {
      const e = engineFor(dir, [rateLimit('/login', 3, '60s', { id: 'login' })], { now: () => NOW });
      // `/login;x/..` resolves to `/login/`, is `/login;x/..` as written and `/login` cut at `;`.
      const attack = { ip: '192.0.2.11', path: '/login/', pathForms: ['/login;x/..', '/login'] };
      assert.deepEqual([1, 2, 3, 4].map(() => e.evaluate(attack).category), ['passed', 'passed', 'passed', 'brl']);
      const other = { ip: '192.0.2.12', path: '/', pathForms: ['/login;x/..', '/login'] };
      assert.equal(e.evaluate(other).category, 'passed', 'a form alone counts too: the cut-at-semicolon reading is /login');
      assert.deepEqual([e.evaluate(other).category, e.evaluate(other).category, e.evaluate(other).category], ['passed', 'passed', 'brl']);
    }));

  test('a monitor rule matched by several forms is reported once', () =>
    withTmpDir((dir) => {
      const e = engineFor(dir, [block('path', '/admin', { id: 'mon', mode: 'monitor' })]);
      const d = e.evaluate({ ip: '192.0.2.1', path: '/admin/', pathForms: ['/admin/x/..', '/admin'] });
      assert.equal(d.treatment, 'Passed');
      assert.deepEqual(d.monitored.map((m) => m.ruleId), ['mon']);
    }));
});
