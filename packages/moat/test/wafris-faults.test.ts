// One test per known fault of the Wafris v2 gem that lives in the evaluator or the files, each against a
// real compiled rules file. Faults of the HTTP layer (client IP from
// spoofable headers, substring trusted proxies) are tested with the http helpers, not here.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Engine, MoatFileError, writeRulesFile } from '../src/index.js';
import { allow, block, engineFor, rateLimit, v4Text, v4Value, withTmpDir } from './helpers/engine-kit.js';

describe('Wafris fault 1: range lookups', () => {
  test('range first and last addresses match (inclusive bounds), neighbours do not', () =>
    withTmpDir((dir) => {
      const rules = [block('ip', '192.0.2.0/24'), block('ip', '198.51.100.7-198.51.100.9'), block('ip', '2001:db8:1::/48')];
      const e = engineFor(dir, rules);
      const hit = (ip: string) => e.evaluate({ ip }).treatment;
      for (const ip of ['192.0.2.0', '192.0.2.255', '198.51.100.7', '198.51.100.9', '2001:db8:1::', '2001:db8:1:ffff:ffff:ffff:ffff:ffff']) {
        assert.equal(hit(ip), 'Blocked', ip);
      }
      for (const ip of ['192.0.1.255', '192.0.3.0', '198.51.100.6', '198.51.100.10', '2001:db8:0:ffff:ffff:ffff:ffff:ffff', '2001:db8:2::']) {
        assert.equal(hit(ip), 'Passed', ip);
      }
    }));

  test('/32 and /128 ranges match their one address (category bi, not bc)', () =>
    withTmpDir((dir) => {
      const e = engineFor(dir, [block('ip', '203.0.113.5/32'), block('ip', '2001:db8::5/128'), allow('203.0.113.9/32')]);
      const d4 = e.evaluate({ ip: '203.0.113.5' });
      assert.deepEqual([d4.treatment, d4.category, d4.rule], ['Blocked', 'bi', '203.0.113.5']);
      const d6 = e.evaluate({ ip: '2001:db8::5' });
      assert.deepEqual([d6.treatment, d6.category, d6.rule], ['Blocked', 'bi', '2001:db8::5']);
      const a = e.evaluate({ ip: '203.0.113.9' });
      assert.deepEqual([a.treatment, a.category], ['Allowed', 'ai']);
      assert.equal(e.evaluate({ ip: '203.0.113.4' }).treatment, 'Passed');
      assert.equal(e.evaluate({ ip: '203.0.113.6' }).treatment, 'Passed');
      assert.equal(e.evaluate({ ip: '2001:db8::4' }).treatment, 'Passed');
      assert.equal(e.evaluate({ ip: '2001:db8::6' }).treatment, 'Passed');
    }));

  test('nested and overlapping ranges: the most specific rule is reported; removing the inner keeps the outer', () =>
    withTmpDir((dir) => {
      const outer = block('ip', '10.0.0.0/8');
      const inner = block('ip', '10.1.0.0/16');
      const overlap = block('ip', '10.1.128.0-10.2.0.255'); // crosses the inner's end
      const both = engineFor(dir, [outer, inner, overlap]);
      const ruleOf = (e: Engine, ip: string) => e.evaluate({ ip }).ruleId;
      assert.equal(ruleOf(both, '10.0.0.1'), outer.id);
      assert.equal(ruleOf(both, '10.1.0.0'), inner.id); // inner start, inside outer
      assert.equal(ruleOf(both, '10.1.127.255'), inner.id);
      // 10.1.128.0-10.2.0.255 holds 33 024 addresses, fewer than the inner /16: it is the more specific.
      assert.equal(ruleOf(both, '10.1.128.0'), overlap.id);
      assert.equal(ruleOf(both, '10.1.255.255'), overlap.id);
      assert.equal(ruleOf(both, '10.2.0.0'), overlap.id);
      assert.equal(ruleOf(both, '10.2.0.255'), overlap.id);
      assert.equal(ruleOf(both, '10.2.1.0'), outer.id);
      assert.equal(ruleOf(both, '10.255.255.255'), outer.id);
      assert.equal(ruleOf(both, '11.0.0.0'), null);

      const outerOnly = engineFor(dir, [outer]);
      for (const ip of ['10.1.0.0', '10.1.200.3', '10.1.255.255', '10.2.0.0']) {
        const d = outerOnly.evaluate({ ip });
        assert.deepEqual([d.treatment, d.ruleId], ['Blocked', outer.id], ip);
      }
    }));

  test('IPv4-mapped IPv6 clients (::ffff:1.2.3.4) match IPv4 rules and IPv4 CIDRs', () =>
    withTmpDir((dir) => {
      const single = block('ip', '1.2.3.4');
      const cidr = block('ip', '5.6.0.0/16');
      const ok = allow('9.9.9.9');
      const e = engineFor(dir, [single, cidr, ok]);
      for (const [ip, id, cat] of [
        ['::ffff:1.2.3.4', single.id, 'bi'],
        ['::FFFF:1.2.3.4', single.id, 'bi'],
        ['::ffff:102:304', single.id, 'bi'],
        ['0:0:0:0:0:ffff:0506:0000', cidr.id, 'bc'],
        ['::ffff:5.6.255.255', cidr.id, 'bc'],
        ['::ffff:9.9.9.9', ok.id, 'ai'],
      ] as const) {
        const d = e.evaluate({ ip });
        assert.deepEqual([d.ruleId, d.category], [id, cat], ip);
      }
      assert.equal(e.evaluate({ ip: '::ffff:1.2.3.5' }).treatment, 'Passed');
      assert.equal(e.evaluate({ ip: '::ffff:5.7.0.0' }).treatment, 'Passed');
    }));

  test('IPv6 rules match every textual form of the address (case, zeros, leading zeros, zone)', () =>
    withTmpDir((dir) => {
      const r = block('ip', '2001:DB8::1');
      const a = allow('2001:db8:0:0::a');
      const e = engineFor(dir, [r, a]);
      for (const ip of ['2001:db8::1', '2001:DB8::1', '2001:db8:0:0::1', '2001:0db8::0001', '2001:db8:0:0:0:0:0:1', '[2001:db8::1]', '2001:db8::1%eth0', ' 2001:db8::1 ']) {
        const d = e.evaluate({ ip });
        assert.deepEqual([d.treatment, d.category, d.ruleId], ['Blocked', 'bi', r.id], ip);
      }
      for (const ip of ['2001:DB8::A', '2001:0db8:0000:0000:0000:0000:0000:000a', '2001:db8::a%en0']) {
        assert.equal(e.evaluate({ ip }).ruleId, a.id, ip);
      }
      assert.equal(e.evaluate({ ip: '2001:db8::2' }).treatment, 'Passed');
    }));

  test('an IPv6-written rule ::ffff:10.0.0.0/104 blocks 10.x.x.x in every form, and nothing beside it', () =>
    withTmpDir((dir) => {
      const r = block('ip', '::ffff:10.0.0.0/104');
      const e = engineFor(dir, [r]);
      for (const ip of ['10.0.0.0', '10.123.45.67', '10.255.255.255', '::ffff:10.1.2.3', '::ffff:a01:203']) {
        const d = e.evaluate({ ip });
        assert.deepEqual([d.treatment, d.ruleId], ['Blocked', r.id], ip);
      }
      for (const ip of ['9.255.255.255', '11.0.0.0', '::a00:1', '2001:db8::a00:1']) assert.equal(e.evaluate({ ip }).treatment, 'Passed', ip);
    }));
});

describe('Wafris fault 3: no table reads or connections per request', () => {
  test('after open, deleting the rules file does not change any decision', () =>
    withTmpDir((dir) => {
      const file = path.join(dir, 'r.db');
      writeRulesFile([block('ip', '10.0.0.0/8'), block('userAgent', 'sqlmap'), block('path', '/wp-admin')], file);
      const e = Engine.open({ rules: file });
      const reqs = [{ ip: '10.0.0.1' }, { ip: '1.1.1.1', userAgent: 'SQLMap/1.0' }, { ip: '1.1.1.1', path: '/x/wp-admin/y' }, { ip: '1.1.1.1' }];
      const before = reqs.map((r) => e.evaluate(r));
      fs.rmSync(file);
      const after = reqs.map((r) => e.evaluate(r));
      assert.deepEqual(after, before);
      assert.deepEqual(before.map((d) => d.category), ['bc', 'bu', 'bp', 'passed']);
    }));
});

describe('Wafris fault 4: rate limits keyed by IP alone, exact path only', () => {
  test('two rules on one path count separately, and prefix rules cover the paths below them', () =>
    withTmpDir((dir) => {
      let now = 1_000_000;
      const tight = rateLimit('/login', 1, '60s', { id: 'tight', method: 'POST' });
      const loose = rateLimit('/api/*', 3, '60s', { id: 'loose' });
      const e = engineFor(dir, [tight, loose], { now: () => now });
      // POST /login: 1 per minute; GET /login is not counted by the POST-only rule.
      assert.equal(e.evaluate({ ip: '1.1.1.1', path: '/login', method: 'POST' }).treatment, 'Passed');
      assert.equal(e.evaluate({ ip: '1.1.1.1', path: '/login', method: 'GET' }).treatment, 'Passed');
      assert.equal(e.evaluate({ ip: '1.1.1.1', path: '/login', method: 'POST' }).ruleId, 'tight');
      // The same client still has its own budget on /api/ paths, counted across different paths.
      for (const p of ['/api/a', '/api/b/c', '/API/d']) assert.equal(e.evaluate({ ip: '1.1.1.1', path: p }).treatment, 'Passed', p);
      assert.equal(e.evaluate({ ip: '1.1.1.1', path: '/api/zzz' }).ruleId, 'loose');
      now += 1; // keep the clock moving
      assert.equal(e.evaluate({ ip: '1.1.1.1', path: '/apiother' }).treatment, 'Passed');
    }));
});

describe('Wafris fault 5: files pointed to before they are checked', () => {
  test('a bad file is refused with MoatFileError before use; an engine already open keeps answering', () =>
    withTmpDir((dir) => {
      const file = path.join(dir, 'r.db');
      writeRulesFile([block('ip', v4Text(v4Value('10.0.0.0')) + '/8')], file);
      const e = Engine.open({ rules: file });
      fs.writeFileSync(file, Buffer.alloc(8192, 0x41)); // replaced by garbage
      assert.throws(() => Engine.open({ rules: file }), MoatFileError);
      assert.equal(e.evaluate({ ip: '10.9.9.9' }).treatment, 'Blocked');
    }));
});
