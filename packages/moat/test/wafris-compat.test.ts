// Wafris v2 compatibility: reading custom_rules and data_subscriptions files built here with the documented
// Wafris v2 layout gives correct semantics; exporting Moat rules gives a file that the
// documented Wafris lookup (emulated here, from its description) answers exactly as Moat does.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { Engine, loadRulesFile, writeRulesFile } from '../src/index.js';
import { writeWafrisRulesFile } from '../src/wafris/index.js';
import { parseRange } from '../src/ip/index.js';
import { WAFRIS_RATE_LIMIT_METHODS } from '../src/wafris/rule-rows.js';
import type { Rule } from '../src/index.js';
import {
  MAPPED_FIRST, allow, block, boundaryAddrs, createWafrisRulesSchema, insertWafrisRange, rateLimit, v4Text, v4Value,
  wafrisLookup, withTmpDir,
} from './helpers/engine-kit.js';
import type { Addr } from './helpers/engine-kit.js';

const NOW = Date.UTC(2026, 5, 1);
const v6 = (text: string) => parseRange(text).start;

/** A custom_rules file with one of everything, nested ranges, a /32 and entries in odd text forms. */
function wafrisRules(file: string): void {
  const db = new Database(file);
  createWafrisRulesSchema(db);
  const entry = (table: string, value: string, ruleId: number) =>
    db.prepare(`INSERT INTO ${table} (entries, rule_id) VALUES (?, ?)`).run(value, ruleId);
  entry('allowed_ips', '2001:DB8::A', 1);
  insertWafrisRange(db, 'allowed_cidr_ranges', v4Value('192.0.2.0'), v4Value('192.0.2.255'), '2');
  entry('blocked_ips', '203.0.113.5', 3);
  insertWafrisRange(db, 'blocked_cidr_ranges', v4Value('10.0.0.0'), v4Value('10.255.255.255'), '4');
  insertWafrisRange(db, 'blocked_cidr_ranges', v4Value('10.1.0.0'), v4Value('10.1.255.255'), '5'); // nested in 4
  insertWafrisRange(db, 'blocked_cidr_ranges', v4Value('198.51.100.7'), v4Value('198.51.100.7'), '6'); // a /32
  insertWafrisRange(db, 'blocked_cidr_ranges', v6('2001:db8:1::'), v6('2001:db8:1:ffff:ffff:ffff:ffff:ffff'), '7');
  db.prepare('INSERT INTO blocked_cidr_ranges (member) VALUES (?)').run('not-a-member');
  entry('blocked_user_agents', 'SQLMap', 8);
  entry('blocked_paths', '/wp-admin', 9);
  entry('blocked_parameters', '<script', 10);
  entry('blocked_hosts', 'Admin.Example.com', 11);
  entry('blocked_methods', 'TRACE', 12);
  db.prepare('INSERT INTO blocked_country_codes (entries) VALUES (?)').run('KP');
  db.prepare('INSERT INTO blocked_country_codes (entries) VALUES (?)').run('FR');
  db.prepare('INSERT INTO blocked_rate_limits (path, method, interval, max_count, rule_id) VALUES (?, ?, ?, ?, ?)').run('/login', 'POST', 60, 2, 14);
  db.close();
}

function wafrisData(file: string): void {
  const db = new Database(file);
  db.exec('CREATE TABLE country_ip_ranges (member TEXT); CREATE INDEX c_member ON country_ip_ranges (member)');
  db.exec('CREATE TABLE reputation_ip_ranges (member TEXT); CREATE INDEX r_member ON reputation_ip_ranges (member)');
  insertWafrisRange(db, 'country_ip_ranges', v4Value('175.45.176.0'), v4Value('175.45.179.255'), 'GKP_1');
  // Two FR ranges sharing one suffix: the gap between them is not France.
  insertWafrisRange(db, 'country_ip_ranges', v4Value('2.0.0.0'), v4Value('2.15.255.255'), 'GFR');
  insertWafrisRange(db, 'country_ip_ranges', v4Value('2.20.0.0'), v4Value('2.20.255.255'), 'GFR');
  insertWafrisRange(db, 'country_ip_ranges', v4Value('100.0.0.0'), v4Value('100.0.0.255'), 'GZZ_9');
  insertWafrisRange(db, 'reputation_ip_ranges', v4Value('185.220.100.0'), v4Value('185.220.100.255'), '1');
  db.close();
}

describe('reading Wafris files', () => {
  test('custom_rules and data_subscriptions evaluate with correct semantics', () =>
    withTmpDir((dir) => {
      const rulesFile = path.join(dir, 'custom_rules.db');
      const dataFile = path.join(dir, 'data_subscriptions.db');
      wafrisRules(rulesFile);
      wafrisData(dataFile);
      const e = Engine.open({ rules: rulesFile, data: dataFile, now: () => NOW });
      assert.equal(e.rules.info.format, 'wafris');
      assert.equal((e.rules as unknown as { skipped: number }).skipped, 1, 'the garbage member is skipped and counted');
      const cases: [string, string, string?][] = [
        ['2001:db8::a', 'ai', '2001:db8::a'], ['2001:0DB8:0:0::000A', 'ai'],
        ['192.0.2.0', 'ac', '192.0.2.0/24'], ['192.0.2.255', 'ac'], ['::ffff:192.0.2.0', 'ac'], ['192.0.1.255', 'passed'],
        ['203.0.113.5', 'bi', '203.0.113.5'], ['::ffff:203.0.113.5', 'bi'],
        ['10.0.0.0', 'bc', '10.0.0.0/8'], ['10.1.0.0', 'bc', '10.1.0.0/16'], ['10.1.255.255', 'bc', '10.1.0.0/16'],
        ['10.2.0.0', 'bc', '10.0.0.0/8'], ['10.255.255.255', 'bc', '10.0.0.0/8'], ['11.0.0.0', 'passed'],
        ['198.51.100.7', 'bi', '198.51.100.7'], ['198.51.100.6', 'passed'], ['198.51.100.8', 'passed'],
        ['2001:db8:1::', 'bc', '2001:db8:1::/48'], ['2001:DB8:1:FFFF:FFFF:FFFF:FFFF:FFFF', 'bc'], ['2001:db8:2::', 'passed'],
        ['175.45.176.0', 'bctry', 'KP'], ['175.45.179.255', 'bctry'], ['175.45.180.0', 'passed'],
        ['2.0.0.0', 'bctry', 'FR'], ['2.15.255.255', 'bctry'], ['2.16.0.0', 'passed'], ['2.19.255.255', 'passed'], ['2.20.0.0', 'bctry'],
        ['100.0.0.1', 'passed'],
        ['185.220.100.0', 'brep', 'reputation'], ['::ffff:185.220.100.255', 'brep'], ['185.220.101.0', 'passed'],
      ];
      for (const [ip, category, rule] of cases) {
        const d = e.evaluate({ ip });
        assert.equal(d.category, category, ip);
        if (rule) assert.equal(d.rule, rule, ip);
      }
      const cat = (r: object) => e.evaluate({ ip: '198.18.0.1', ...r }).category;
      assert.equal(cat({ userAgent: 'python sqlmap/1' }), 'bu');
      assert.equal(cat({ path: '/x/WP-ADMIN/' }), 'bp');
      assert.equal(cat({ params: 'a=<Script>' }), 'bparam');
      assert.equal(cat({ host: 'admin.example.COM' }), 'bh');
      assert.equal(cat({ host: 'x.admin.example.com' }), 'passed');
      assert.equal(cat({ method: 'trace' }), 'bm');
      // Rate limit: 2 POSTs per 60 s per client; GETs are not counted; another client has its own budget.
      const login = (ip: string, method = 'POST') => e.evaluate({ ip, path: '/login', method }).category;
      assert.deepEqual([login('198.18.0.9'), login('198.18.0.9', 'GET'), login('198.18.0.9'), login('198.18.0.9'), login('198.18.0.10')],
        ['passed', 'passed', 'passed', 'brl', 'passed']);
      e.close();
    }));
});

// ---------- export ----------

interface WafrisView {
  db: Database.Database;
  exact: (table: string, text: string) => boolean;
}

function openWafris(file: string): WafrisView {
  const db = new Database(file, { readonly: true });
  return { db, exact: (table, text) => db.prepare(`SELECT 1 FROM ${table} WHERE entries = ?`).get(text) !== undefined };
}

/**
 * The Wafris client's IP checks as documented: allowed_ips (exact text), allowed_cidr_ranges, blocked_ips,
 * blocked_cidr_ranges, first hit wins. `value` is what Wafris computes from the address text: IPv4 as a
 * 32-bit number, IPv6 (IPv4-mapped included) as 128 bits.
 */
function wafrisIpDecision(w: WafrisView, text: string, value: bigint): 'Allowed' | 'Blocked' | 'Passed' {
  if (w.exact('allowed_ips', text) || wafrisLookup(w.db, 'allowed_cidr_ranges', value) !== null) return 'Allowed';
  if (w.exact('blocked_ips', text) || wafrisLookup(w.db, 'blocked_cidr_ranges', value) !== null) return 'Blocked';
  return 'Passed';
}

const B4 = v4Value('10.0.0.0');
const B6 = 0x2001_0db8n << 96n;
const POOL = 512;

const ipRule = fc.record({
  family: fc.constantFrom('v4', 'v6', 'mapped'),
  a: fc.integer({ min: 0, max: POOL - 1 }),
  b: fc.integer({ min: 0, max: POOL - 1 }),
  shape: fc.constantFrom('single', 'cidr', 'range'),
  bits: fc.integer({ min: 0, max: 8 }),
  action: fc.constantFrom('allow', 'block', 'block'),
  mode: fc.constantFrom('block', 'block', 'block', 'monitor'),
  expired: fc.constantFrom(false, false, false, true),
});
type IpRuleSpec = typeof ipRule extends fc.Arbitrary<infer T> ? T : never;

function ruleOf(s: IpRuleSpec, i: number): Rule {
  const lo = Math.min(s.a, s.b);
  const hi = Math.max(s.a, s.b);
  const t4 = (o: number) => v4Text(B4 + BigInt(o));
  const t6 = (o: number) => (B6 + BigInt(o)).toString(16).replace(/(.{4})(?=.)/g, '$1:');
  const t = s.family === 'v4' ? t4 : s.family === 'mapped' ? (o: number) => `::ffff:${t4(o)}` : t6;
  const width = s.family === 'v4' ? 32 : 128;
  const value = s.shape === 'single' ? t(s.a) : s.shape === 'cidr' ? `${t(s.a)}/${width - s.bits}` : `${t(lo)}-${t(hi)}`;
  const extra = { id: `r${i}`, mode: s.mode as 'block' | 'monitor', ...(s.expired ? { expires: NOW - 1 } : {}) };
  return s.action === 'allow' ? allow(value, extra) : block('ip', value, extra);
}

describe('exporting to Wafris', () => {
  test('the emulated Wafris lookup on the export decides every boundary address as Moat does (property)', () =>
    withTmpDir((dir) => {
      let run = 0;
      fc.assert(
        fc.property(fc.array(ipRule, { minLength: 1, maxLength: 12 }), (specs) => {
          const rules = specs.map(ruleOf);
          const out = path.join(dir, `export-${run}.db`);
          const rulesFile = path.join(dir, `rules-${run++}.db`);
          writeWafrisRulesFile(rules, out, NOW);
          writeRulesFile(rules, rulesFile);
          const moat = Engine.open({ rules: rulesFile, now: () => NOW });
          const w = openWafris(out);
          // Moat reading its own export back decides exactly as the rules it came from.
          const roundTrip = new Engine({ rules: loadRulesFile(out), now: () => NOW });
          try {
            // Every suffix names one range: exactly two members each.
            for (const table of ['allowed_cidr_ranges', 'blocked_cidr_ranges']) {
              const counts = w.db.prepare(`SELECT count(*) AS n FROM ${table} GROUP BY substr(member, instr(member, '-') + 1)`).pluck().all() as number[];
              assert.ok(counts.every((n) => n === 2), `${table}: suffixes unique`);
            }
            const addrs = new Map<string, Addr>();
            for (const r of rules) for (const a of boundaryAddrs(parseRange(r.value))) addrs.set(`${a.family}/${a.value}`, a);
            for (const o of [0, 1, POOL - 1, POOL, POOL + 1]) {
              addrs.set(`4/${B4 + BigInt(o)}`, { family: 4, value: B4 + BigInt(o) });
              addrs.set(`6/${B6 + BigInt(o)}`, { family: 6, value: B6 + BigInt(o) });
            }
            for (const a of addrs.values()) {
              const text = a.family === 4 ? v4Text(a.value) : moatText(a.value);
              const expected = moat.evaluate({ ip: text }).treatment;
              const where = `${text} in ${rules.map((r) => `${r.action}:${r.value}:${r.mode}`).join(' ')}`;
              assert.equal(wafrisIpDecision(w, text, a.value), expected, where);
              assert.equal(roundTrip.evaluate({ ip: text }).treatment, expected, `read back: ${where}`);
              if (a.family === 4) {
                // A Wafris client sees ::ffff:a.b.c.d as a 128-bit value; the export covers that too.
                assert.equal(wafrisIpDecision(w, `::ffff:${text}`, MAPPED_FIRST + a.value), expected, `::ffff:${text}`);
              }
            }
          } finally {
            w.db.close();
          }
        }),
        { numRuns: 40, seed: 42 },
      );
    }));

  test('every other kind is exported to its table in the forms the gem compares; what Wafris cannot express is reported, not written', () =>
    withTmpDir((dir) => {
      const rules = [
        block('userAgent', 'sqlmap', { id: '101' }), block('path', '/wp-admin'), block('param', '<script'), block('host', 'admin.example.com'),
        block('method', 'TRACE'), block('country', 'KP'), block('country', 'continent:OC'), block('country', 'GB'),
        rateLimit('/login', 5, '60s', { method: 'POST', id: 'login' }), rateLimit('/search', 30, '10s', { id: 'search' }),
        block('list', 'tor', { id: 'tor' }), block('asn', 'AS64500', { id: 'asn' }), rateLimit('/api/*', 100, '1m', { id: 'api' }),
        block('path', '/mon', { mode: 'monitor', id: 'mon' }), block('path', '/old', { expires: NOW - 1, id: 'old' }),
      ];
      const out = path.join(dir, 'custom_rules.db');
      const written = writeWafrisRulesFile(rules, out, NOW);
      assert.deepEqual(written.skipped.map((s) => s.id).sort(), ['api', 'asn', 'mon', 'old', 'tor']);
      const db = new Database(out, { readonly: true });
      const entries = (t: string) => db.prepare(`SELECT entries FROM ${t} ORDER BY entries`).pluck().all();
      // Case forms, because the gem's comparisons are case-sensitive and Moat's are not.
      assert.deepEqual(entries('blocked_user_agents'), ['SQLMAP', 'sqlmap']);
      assert.deepEqual(db.prepare('SELECT DISTINCT rule_id FROM blocked_user_agents').pluck().all(), [101]);
      assert.deepEqual(entries('blocked_paths'), ['/WP-ADMIN', '/wp-admin']);
      // Parameters also as Rack re-encodes them for the gem.
      assert.deepEqual(entries('blocked_parameters'), ['%3CSCRIPT', '%3Cscript', '<SCRIPT', '<script']);
      assert.deepEqual(entries('blocked_hosts'), ['ADMIN.EXAMPLE.COM', 'admin.example.com']);
      assert.deepEqual(entries('blocked_methods'), ['TRACE']);
      const cc = entries('blocked_country_codes') as string[];
      // GB as the G-free token `gb`, which the gem's country parse yields; a continent as its countries.
      assert.ok(cc.includes('KP') && cc.includes('AU') && cc.includes('NZ') && cc.includes('gb') && cc.includes('pg') && !cc.includes('FR'));
      assert.ok(!cc.includes('GB') && !cc.includes('PG'));
      const limits = db.prepare('SELECT path, method, interval, max_count FROM blocked_rate_limits ORDER BY rule_id, method').all() as { path: string; method: string }[];
      assert.deepEqual(limits.filter((l) => l.path === '/login'), [{ path: '/login', method: 'POST', interval: 60, max_count: 5 }]);
      // A limit on any method: one row per method the gem can meet, so POSTs are limited too.
      const search = limits.filter((l) => l.path === '/search');
      assert.deepEqual(search.map((l) => l.method).sort(), [...WAFRIS_RATE_LIMIT_METHODS].sort());
      assert.ok(search.every((l) => JSON.stringify(l) === JSON.stringify({ path: '/search', method: l.method, interval: 10, max_count: 30 })));
      for (const t of ['blocked_threats', 'allowed_ips', 'blocked_ips', 'allowed_cidr_ranges', 'blocked_cidr_ranges']) {
        assert.equal(db.prepare(`SELECT count(*) FROM ${t}`).pluck().get(), 0, t);
      }
      db.close();
      // Moat reads its own export back as a Wafris file, with the same decisions for what was exported.
      const back = loadRulesFile(out);
      assert.equal(back.info.format, 'wafris');
      const kinds = back.rules.map((r) => `${r.kind}:${r.kind === 'rateLimit' ? `${r.rateLimit!.method ?? '*'} ${r.value}` : r.value}`);
      assert.equal(kinds.filter((k) => k.startsWith('userAgent')).length, 1, 'case forms read back as one rule');
      assert.ok(kinds.includes('param:<script') && kinds.includes('country:GB') && kinds.includes('country:KP'));
      assert.ok(kinds.includes('rateLimit:* /search') && kinds.includes('rateLimit:POST /login'), kinds.join(' '));
      const e = new Engine({ rules: back, now: () => NOW });
      assert.equal(e.evaluate({ ip: '1.1.1.1', userAgent: 'SQLMAP' }).category, 'bu');
      assert.equal(e.evaluate({ ip: '1.1.1.1', path: '/mon' }).category, 'passed');
      assert.equal(e.evaluate({ ip: '1.1.1.1', method: 'trace' }).category, 'bm');
      assert.equal(e.evaluate({ ip: '1.1.1.1', params: 'q=<script>' }).category, 'bparam');
    }));
});

/** IPv6 text in the compressed form a Wafris client would receive from a proxy. */
function moatText(value: bigint): string {
  return value.toString(16).padStart(32, '0').replace(/(.{4})(?=.)/g, '$1:').replace(/(^|:)0{1,3}/g, '$1');
}
