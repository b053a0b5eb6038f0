// `moat-waf check --ndjson --summary`: a real process replaying an NDJSON log through a compiled rules
// file, its summary checked against brute-force counts over the same lines (rate limits included, on the
// clock of each line's "ts").
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { block, engineFor, withTmpDir } from './helpers/engine-kit.js';
import { ROOT, runProcess, transpileClient } from './helpers/cli-build.js';
import { DistinctCounter, Replay, TopCounter, TrafficSummary, replayedRequest, type ReplayRecord } from '../src/cli/commands/check-summary.js';

const client = transpileClient();
after(() => fs.rmSync(client.dir, { recursive: true, force: true }));

function moat(args: string[], input: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return runProcess(process.execPath, [client.main, ...args], { input });
}

interface Line { ip: string; path: string; userAgent: string; method: string; ts: number; treatment: 'Passed' | 'Allowed' | 'Blocked' }

/** A deterministic log: a login flood from one address among ordinary visitors and a scanner. */
function log(): Line[] {
  const lines: Line[] = [];
  let seed = 7;
  const next = (n: number) => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return (seed >>> 8) % n; };
  const treatments = ['Passed', 'Passed', 'Allowed', 'Blocked'] as const;
  for (let i = 0; i < 3000; i++) {
    const flood = i % 5 === 0;
    lines.push({
      ip: flood ? '198.51.100.4' : `10.0.${next(3)}.${next(50)}`,
      path: flood ? '/login' : ['/', '/wp-admin/install.php', '/shop', '/login'][next(4)]!,
      userAgent: ['Mozilla/5.0', 'sqlmap/1.7', 'curl/8'][next(3)]!,
      method: 'GET', ts: 1_700_000_000 + Math.floor(i / 3), treatment: treatments[next(4)]!,
    });
  }
  return lines;
}

describe('moat-waf check --ndjson --summary', () => {
  test('counts per treatment, per rule, distinct IPs and top lists equal a brute-force count of the same lines', () =>
    withTmpDir(async (dir) => {
      const json = path.join(dir, 'rules.json');
      fs.writeFileSync(json, JSON.stringify({
        block: { paths: [{ id: 'wp', value: '/wp-admin' }], userAgents: [{ id: 'sqlmap', value: 'sqlmap', mode: 'monitor' }] },
        rateLimits: [{ id: 'login', path: '/login', limit: 3, window: '10s' }],
      }));
      const rules = path.join(dir, 'rules.db');
      assert.equal((await moat(['compile', json, '-o', rules], '')).code, 0);
      const lines = log();
      const r = await moat(['check', '--rules', rules, '--ndjson', '--summary', '--json'], lines.map((l) => JSON.stringify(l)).join('\n'));
      assert.equal(r.code, 0, r.stderr);
      const s = JSON.parse(r.stdout);

      // Brute force, without the engine: path substring blocks first (the engine's order: user agent,
      // then path), monitor matches recorded, then a sliding log of 3 per 10 s per IP on /login.
      const counted = new Map<string, number[]>();
      let wp = 0;
      let monitored = 0;
      let limited = 0;
      const matchedIps = new Set<string>();
      const matchedPaths = new Map<string, number>();
      let recordedPassed = 0;
      for (const l of lines) {
        const ua = l.userAgent.includes('sqlmap');
        if (ua) monitored++;
        let decided = false;
        if (l.path.includes('/wp-admin')) { wp++; decided = true; }
        else if (l.path === '/login') {
          const times = (counted.get(l.ip) ?? []).filter((t) => t > l.ts * 1000 - 10_000);
          if (times.length >= 3) { limited++; decided = true; } else times.push(l.ts * 1000);
          counted.set(l.ip, times);
        }
        if (decided || ua) {
          matchedIps.add(l.ip);
          matchedPaths.set(l.path, (matchedPaths.get(l.path) ?? 0) + 1);
          if (l.treatment === 'Passed') recordedPassed++;
        }
      }
      assert.ok(limited > 50 && wp > 50 && monitored > 50, 'the log exercises every rule');
      assert.equal(s.requests, lines.length);
      assert.equal(s.distinctIps, new Set(lines.map((l) => l.ip)).size);
      assert.deepEqual(s.treatments, { Passed: lines.length - wp - limited, Allowed: 0, Blocked: wp + limited });
      const byRule = Object.fromEntries(s.rules.map((x: { ruleId: string }) => [x.ruleId, x]));
      assert.deepEqual(byRule.wp, { ruleId: 'wp', decided: wp, monitored: 0 });
      assert.deepEqual(byRule.login, { ruleId: 'login', decided: limited, monitored: 0 });
      assert.deepEqual(byRule.sqlmap, { ruleId: 'sqlmap', decided: 0, monitored });
      assert.equal(s.matched.distinctIps, matchedIps.size);
      assert.equal(s.matched.recorded.Passed, recordedPassed);
      const topPath = [...matchedPaths].sort((a, b) => b[1] - a[1])[0]!;
      assert.deepEqual(s.matched.topPaths.entries[0], { value: topPath[0], count: topPath[1] });
      assert.equal(s.matched.topPaths.exact, true);

      // The text form says the same.
      const text = await moat(['check', '--rules', rules, '--ndjson', '--summary'], lines.map((l) => JSON.stringify(l)).join('\n'));
      assert.equal(text.code, 0);
      assert.match(text.stdout, new RegExp(`^rule login: decided ${limited}$`, 'm'));
      assert.match(text.stdout, new RegExp(`^treatments: Passed ${lines.length - wp - limited}, Allowed 0, Blocked ${wp + limited}$`, 'm'));
    }));

  test('--summary without --ndjson is a usage error; a bad "ts" is an error line, the rest still summed', async () => {
    const usage = await moat(['check', '--rules', 'x.db', '--summary', '--ip', '192.0.2.1'], '');
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /--summary needs --ndjson/);
    await withTmpDir(async (dir) => {
      const json = path.join(dir, 'rules.json');
      fs.writeFileSync(json, JSON.stringify({ block: { paths: ['/admin'] } }));
      const rules = path.join(dir, 'rules.db');
      assert.equal((await moat(['compile', json, '-o', rules], '')).code, 0);
      const r = await moat(['check', '--rules', rules, '--ndjson', '--summary', '--json'],
        '{"ip":"192.0.2.1","path":"/admin","ts":"soon"}\n{"ip":"192.0.2.1","path":"/admin"}\n');
      assert.equal(r.code, 2);
      const [error, summary] = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
      assert.match(error.error, /"ts" must be Unix seconds/);
      assert.equal(summary.requests, 1);
      assert.equal(summary.treatments.Blocked, 1);
    });
  });
});

describe('summary memory bounds', () => {
  test('a top list over a million distinct values keeps at most 2 × its size, finds the heavy hitters, and says it is approximate', () => {
    const top = new TopCounter(100);
    for (let i = 0; i < 1_000_000; i++) {
      top.add(`/tail/${i}`);
      if (i % 10 === 0) top.add('/hot');
      if (i % 50 === 0) top.add('/warm');
    }
    const list = top.top(2);
    assert.deepEqual(list.entries.map((e) => e.value), ['/hot', '/warm']);
    assert.equal(list.entries[0]!.count, 100_000, 'a value never dropped is counted exactly');
    assert.equal(list.exact, false);
    assert.ok(list.maxError >= 1);
    assert.ok((top as unknown as { counts: Map<string, number> }).counts.size <= 200);
  });

  test('distinct counts are exact up to their cap, then a lower bound that says so', () => {
    const small = new DistinctCounter(1000);
    for (let i = 0; i < 999; i++) small.add(`10.0.${i >> 8}.${i & 255}`);
    small.add('10.0.0.0');
    assert.equal(small.count, 999);
    assert.equal(small.atLeast, false);
    for (let i = 0; i < 5000; i++) small.add(`192.0.2.${i}`);
    assert.equal(small.count, 1000);
    assert.equal(small.atLeast, true);
  });
});

/** The log above as replay records, with some crafted to collide under a naive key join. */
function records(): ReplayRecord[] {
  const out: ReplayRecord[] = log().map((l, i) => ({
    ...l, params: l.ts % 7 === 0 ? 'q=1 union select 2' : '', method: i % 11 === 0 ? 'POST' : l.method, host: i % 13 === 0 ? 'shop.test' : 'www.test',
  }));
  // "/a" + "\u0000x" vs "/a\u0000" + "x": one tuple must not borrow the other's decision.
  out.push({ ip: '192.0.2.7', path: '/a', params: '\u0000union select', ts: 1_700_001_000, treatment: 'Passed' });
  out.push({ ip: '192.0.2.7', path: '/a\u0000union select', params: '', ts: 1_700_001_001, treatment: 'Passed' });
  return out;
}

describe('split and memoised replays', () => {
  test('a replay cut at any point and merged gives the summary one pass gives, top lists and examples included', () =>
    withTmpDir((dir) => {
      const rules = [block('path', '/wp-admin'), block('userAgent', 'sqlmap', { mode: 'monitor' })];
      const all = records();
      const whole = new Replay((now) => engineFor(dir, rules, { now }));
      for (const r of all) whole.add(r);
      for (const cut of [0, 1, 999, 1500, all.length - 1, all.length]) {
        const earlier = new Replay((now) => engineFor(dir, rules, { now }));
        const later = new Replay((now) => engineFor(dir, rules, { now }));
        all.slice(0, cut).forEach((r) => earlier.add(r));
        all.slice(cut).forEach((r) => later.add(r));
        // Through JSON, as the state crosses between workers.
        earlier.summary.merge(JSON.parse(JSON.stringify(later.summary.state())));
        assert.deepEqual(earlier.summary.result(), whole.summary.result(), `cut at ${cut}`);
      }
    }));

  test('merged top lists that were pruned stay honest: exact only when both were, the bound is the sum', () => {
    const a = new TrafficSummary();
    const b = new TrafficSummary();
    const hit = { treatment: 'Blocked' as const, category: 'bp' as const, rule: 'x', ruleId: 'x', monitored: [] };
    for (let i = 0; i < 5000; i++) a.add({ ip: `10.0.${i >> 8}.${i & 255}`, path: `/a/${i}`, userAgent: 'u' }, hit);
    for (let i = 0; i < 10; i++) b.add({ ip: '192.0.2.1', path: '/hot', userAgent: 'u' }, hit);
    const boundA = a.result().matched.topPaths.maxError;
    assert.ok(boundA >= 1);
    a.merge(b.state());
    const merged = a.result().matched;
    assert.equal(merged.topPaths.exact, false);
    assert.equal(merged.topPaths.maxError, boundA);
    assert.deepEqual(merged.topPaths.entries[0], { value: '/hot', count: 10 });
    assert.equal(merged.requests, 5010);
    assert.equal(merged.distinctIps, 5001);
  });

  test('memoised decisions equal the engine judging every record, for each rule kind and crafted look-alike tuples', () =>
    withTmpDir((dir) => {
      // The log moved to the near future, so a rule may expire halfway through it.
      const soon = Math.floor(Date.now() / 1000) + 3600;
      const shifted = records().map((r) => ({ ...r, ts: r.ts! - 1_700_000_000 + soon }));
      const sets = [
        [block('path', '/wp-admin')], [block('userAgent', 'sqlmap')], [block('ip', '10.0.1.0/24')], [block('param', 'union select')],
        [block('path', '/a'), block('param', 'union select')], [block('method', 'POST')], [block('host', 'shop.test')],
        // Expiring in the middle of the log: memoising would carry the old answer past the expiry.
        [block('path', '/login', { expires: (soon + 500) * 1000 })],
      ];
      for (const rules of sets) {
        const replay = new Replay((now) => engineFor(dir, rules, { now }));
        let clock = 0;
        const plain = engineFor(dir, rules, { now: () => clock });
        const expected = new TrafficSummary();
        for (const r of shifted) {
          replay.add(r);
          clock = (r.ts ?? 0) * 1000;
          expected.add(r, plain.evaluate(replayedRequest(r)));
        }
        assert.deepEqual(replay.summary.result(), expected.result(), JSON.stringify(rules.map((r) => r.kind)));
        const matched = expected.result().matched.requests;
        assert.ok(matched > 0 && matched < 3002, `${JSON.stringify(rules.map((r) => [r.kind, r.value]))} matches some records, not all: ${matched}`);
      }
    }));
});
