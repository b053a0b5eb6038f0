// Wafris custom_rules files from anyone else, read as real SQLite files: a small file must not cost
// seconds and hundreds of MiB (tables are bounded before they are read), rows sharing a rule_id are
// each enforced unless they match alike, and one bad range pair costs that pair, not the file.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import Database from 'better-sqlite3';
import { Engine, MoatFileError, loadRulesFile, normalizeRule, writeRulesFile } from '../../src/index.js';
import { writeWafrisRulesFile } from '../../src/wafris/index.js';
import { MAX_WAFRIS_TABLE_CHARS, MAX_WAFRIS_TABLE_ROWS } from '../../src/wafris/read-wafris.js';
import { block, rateLimit, withTmpDir } from '../helpers/engine-kit.js';

const ENTRY_TABLES = ['allowed_ips', 'blocked_ips', 'blocked_user_agents', 'blocked_paths', 'blocked_parameters', 'blocked_hosts', 'blocked_methods'];

/** A custom_rules file laid out as the Wafris hub writes one, filled by `fill`. */
function wafrisFile(dir: string, name: string, fill: (db: Database.Database) => void): string {
  const file = path.join(dir, name);
  const db = new Database(file);
  for (const t of ENTRY_TABLES) db.exec(`CREATE TABLE ${t} (id INTEGER PRIMARY KEY, entries TEXT, rule_id INTEGER)`);
  db.exec('CREATE TABLE blocked_cidr_ranges (member TEXT)');
  db.exec('CREATE TABLE allowed_cidr_ranges (member TEXT)');
  db.exec('CREATE TABLE blocked_rate_limits (id INTEGER PRIMARY KEY, path TEXT, method TEXT, interval INTEGER, max_count INTEGER, rule_id INTEGER)');
  db.transaction(() => fill(db))();
  db.close();
  return file;
}

function skippedOf(set: unknown): number {
  return (set as { skipped: number }).skipped;
}

describe('Wafris tables are bounded before they are read', () => {
  test(`a user-agent table of ${MAX_WAFRIS_TABLE_ROWS + 1} rows is refused whole, naming the table and the bound`, () =>
    withTmpDir((dir) => {
      const file = wafrisFile(dir, 'rows.db', (db) => {
        const ins = db.prepare('INSERT INTO blocked_user_agents (entries, rule_id) VALUES (?, NULL)');
        for (let i = 0; i <= MAX_WAFRIS_TABLE_ROWS; i++) ins.run(`ua${i}`);
      });
      assert.throws(() => loadRulesFile(file), (e: unknown) =>
        e instanceof MoatFileError && e.code === 'MOAT_ERR_FILE_CORRUPT' && e.path === file &&
        e.message.includes(`blocked_user_agents holds ${MAX_WAFRIS_TABLE_ROWS + 1} rows`) && e.message.includes(String(MAX_WAFRIS_TABLE_ROWS)));
    }));

  test('a path table of few rows but more characters than the bound is refused whole', () =>
    withTmpDir((dir) => {
      // Rows of about 1,000 characters (each a valid rule value), just past the bound in all.
      const rows = Math.floor(MAX_WAFRIS_TABLE_CHARS / 1004) + 1;
      const file = wafrisFile(dir, 'chars.db', (db) => {
        const ins = db.prepare('INSERT INTO blocked_paths (entries, rule_id) VALUES (?, NULL)');
        for (let i = 0; i < rows; i++) ins.run(`/${'x'.repeat(999)}${String(i).padStart(4, '0')}`);
      });
      assert.ok(rows < MAX_WAFRIS_TABLE_ROWS);
      assert.throws(() => loadRulesFile(file), (e: unknown) =>
        e instanceof MoatFileError && e.code === 'MOAT_ERR_FILE_CORRUPT' && /blocked_paths holds \d+ characters/.test(e.message));
    }));

  test(`a blocked_cidr_ranges table of ${MAX_WAFRIS_TABLE_ROWS + 1} members is refused whole; one long suffix past the character bound too`, () =>
    withTmpDir((dir) => {
      const member = (value: number, suffix: string) => `${String(value).padStart(39, '0')}-${suffix}`;
      const rows = wafrisFile(dir, 'cidr-rows.db', (db) => {
        const ins = db.prepare('INSERT INTO blocked_cidr_ranges (member) VALUES (?)');
        for (let i = 0; i <= MAX_WAFRIS_TABLE_ROWS; i++) ins.run(member(16_777_216 + i, `r${i >> 1}`));
      });
      assert.throws(() => loadRulesFile(rows), (e: unknown) =>
        e instanceof MoatFileError && e.code === 'MOAT_ERR_FILE_CORRUPT' && e.message.includes(`blocked_cidr_ranges holds ${MAX_WAFRIS_TABLE_ROWS + 1} rows`));
      const chars = wafrisFile(dir, 'cidr-chars.db', (db) => {
        const ins = db.prepare('INSERT INTO allowed_cidr_ranges (member) VALUES (?)');
        const suffix = 'x'.repeat(6_000_000);
        ins.run(member(16_777_216, suffix));
        ins.run(member(16_777_471, suffix));
      });
      assert.throws(() => loadRulesFile(chars), (e: unknown) =>
        e instanceof MoatFileError && /allowed_cidr_ranges holds \d+ characters/.test(e.message));
    }));

  test('a table at the row bound with short entries still loads', () =>
    withTmpDir((dir) => {
      const file = wafrisFile(dir, 'at-bound.db', (db) => {
        const ins = db.prepare('INSERT INTO blocked_methods (entries, rule_id) VALUES (?, ?)');
        for (let i = 0; i < MAX_WAFRIS_TABLE_ROWS; i++) ins.run(i % 2 === 0 ? 'TRACE' : 'trace', 1);
      });
      const set = loadRulesFile(file);
      assert.deepEqual(set.rules.filter((r) => r.kind === 'method').map((r) => r.value), ['TRACE']);
    }));
});

describe('rows sharing a rule_id', () => {
  test('/admin, /wp-login.php and /.env under rule_id 7 are three rules, each enforced; /ADMIN folds into /admin', () =>
    withTmpDir((dir) => {
      const file = wafrisFile(dir, 'shared.db', (db) => {
        const ins = db.prepare('INSERT INTO blocked_paths (entries, rule_id) VALUES (?, ?)');
        for (const p of ['/admin', '/wp-login.php', '/ADMIN', '/.env']) ins.run(p, 7);
        const ip = db.prepare('INSERT INTO blocked_ips (entries, rule_id) VALUES (?, ?)');
        ip.run('198.51.100.1', 9);
        ip.run('198.51.100.2', 9);
        const rl = db.prepare('INSERT INTO blocked_rate_limits (path, method, interval, max_count, rule_id) VALUES (?, ?, ?, ?, ?)');
        rl.run('/login', 'POST', 60, 1, 5);
        rl.run('/signup', 'POST', 60, 1, 5);
      });
      const set = loadRulesFile(file);
      assert.equal(skippedOf(set), 0);
      assert.deepEqual(set.rules.filter((r) => r.kind === 'path').map((r) => r.value).sort(), ['/.env', '/admin', '/wp-login.php']);
      const ids = set.rules.map((r) => r.id);
      assert.equal(new Set(ids).size, ids.length, 'every rule has its own id');
      let now = 1_000_000;
      const engine = new Engine({ rules: set, now: () => (now += 1) });
      for (const p of ['/admin', '/wp-login.php', '/.env', '/Admin']) assert.equal(engine.evaluate({ ip: '192.0.2.1', path: p }).treatment, 'Blocked', p);
      for (const ip of ['198.51.100.1', '198.51.100.2']) assert.equal(engine.evaluate({ ip, path: '/' }).treatment, 'Blocked', ip);
      for (const p of ['/login', '/signup']) {
        assert.equal(engine.evaluate({ ip: '192.0.2.5', method: 'POST', path: p }).treatment, 'Passed', p);
        assert.equal(engine.evaluate({ ip: '192.0.2.5', method: 'POST', path: p }).treatment, 'Blocked', `${p} is rate limited`);
      }
    }));

  test('a Moat export read back: the case and encoding forms of a rule are still one rule', () =>
    withTmpDir((dir) => {
      const rules = [
        block('path', '/Café <x>', { id: '7' }), block('param', '<script x', { id: 'p1' }), block('userAgent', 'SQLMap', { id: 'u1' }),
        block('host', 'Admin.Example.com', { id: 'h1' }), block('ip', '203.0.113.0/24', { id: 'i1' }), rateLimit('/login', 5, '60s', { id: 'r1' }),
      ];
      const file = path.join(dir, 'export.db');
      writeWafrisRulesFile(rules, file);
      const set = loadRulesFile(file);
      assert.equal(skippedOf(set), 0);
      const byKind = (kind: string) => set.rules.filter((r) => r.kind === kind).map((r) => r.value);
      assert.deepEqual(byKind('path'), ['/Café <x>']);
      assert.deepEqual(byKind('param'), ['<script x']);
      assert.deepEqual(byKind('userAgent'), ['SQLMap']);
      assert.deepEqual(byKind('host'), ['admin.example.com']);
      assert.deepEqual(byKind('rateLimit'), ['/login']);
    }));
});

describe('one bad range pair', () => {
  test('a start member equal to its end member under one-below starts is skipped and counted; the file loads', () =>
    withTmpDir((dir) => {
      const enc = (v: bigint) => v.toString().padStart(39, '0');
      const file = wafrisFile(dir, 'pair.db', (db) => {
        db.exec("CREATE TABLE moat_export (key TEXT PRIMARY KEY, value TEXT)");
        db.exec("INSERT INTO moat_export VALUES ('range_starts', 'one_below')");
        const ins = db.prepare('INSERT INTO blocked_cidr_ranges (member) VALUES (?)');
        ins.run(`${enc(3405803777n)}-x1`);
        ins.run(`${enc(3405803777n)}-x1`); // names no address
        ins.run(`${enc(3221225984n - 1n)}-ok`); // 192.0.2.0/24, start one below
        ins.run(`${enc(3221226239n)}-ok`);
        db.prepare('INSERT INTO blocked_paths (entries, rule_id) VALUES (?, ?)').run('/admin', 1);
      });
      const set = loadRulesFile(file);
      assert.equal(skippedOf(set), 1);
      const engine = new Engine({ rules: set });
      assert.equal(engine.evaluate({ ip: '192.0.2.0', path: '/' }).treatment, 'Blocked');
      assert.equal(engine.evaluate({ ip: '192.0.2.255', path: '/' }).treatment, 'Blocked');
      assert.equal(engine.evaluate({ ip: '203.0.113.1', path: '/' }).treatment, 'Passed');
      assert.equal(engine.evaluate({ ip: '203.0.113.1', path: '/admin' }).treatment, 'Blocked');
    }));
});

// Not a Wafris input, but the same automaton: a Moat rules file of many distinct user agents loads.
test('a Moat rules file of 20,000 distinct user-agent rules loads and matches each', () =>
  withTmpDir((dir) => {
    const rules = Array.from({ length: 20_000 }, (_, i) => normalizeRule({ action: 'block', kind: 'userAgent', value: `bot-${(i * 7919) % 100_003}-${i}` }));
    const file = path.join(dir, 'ua.db');
    writeRulesFile(rules, file);
    const engine = new Engine({ rules: loadRulesFile(file) });
    for (let i = 0; i < rules.length; i += 997) assert.equal(engine.evaluate({ ip: '192.0.2.1', userAgent: `x ${rules[i]!.value} y` }).treatment, 'Blocked');
    assert.equal(engine.evaluate({ ip: '192.0.2.1', userAgent: 'curl/8' }).treatment, 'Passed');
  }));
