// The Moat rules file: deterministic content hash, atomic replacement (checked with a real concurrent
// reader process), a clear MoatFileError for every kind of bad file instead of a crash, and validation:
// every problem of a document reported, rules that block everything or that the rate limiter cannot
// honour refused when written, compiled and loaded.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import Database from 'better-sqlite3';
import { Engine, MoatFileError, RuleError, loadDataFile, loadRulesFile, normalizeRule, parseRulesDocument, rulesFromDocument, writeRulesFile } from '../src/index.js';
import type { Rule } from '../src/index.js';
import { writeSqliteAtomically } from '../src/format/atomic-file.js';
import { allow, block, dataFileFor, rateLimit, withTmpDir } from './helpers/engine-kit.js';
import { olderRulesFile } from './helpers/older-rules-file.js';

const BUILT_AT = new Date('2026-06-01T12:00:00Z');

function sampleRules(): Rule[] {
  return [
    allow('203.0.113.7'), allow('10.0.0.0/8', { note: 'office' }), block('ip', '198.51.100.0/24'), block('ip', '2001:db8::/32'),
    block('ip', '192.0.2.1-192.0.2.9', { mode: 'monitor' }), block('country', 'KP'), block('list', 'tor'),
    block('userAgent', 'sqlmap'), block('path', '/wp-admin', { expires: '2030-01-01T00:00:00Z' }), block('param', '<script'),
    block('host', 'admin.example.com'), block('method', 'TRACE'), rateLimit('/login', 5, '60s', { method: 'POST' }),
  ];
}

/** A deterministic shuffle (reverse interleave), so the test needs no randomness to be meaningful. */
function reorder<T>(xs: T[]): T[] {
  const out: T[] = [];
  for (let i = xs.length - 1; i >= 0; i -= 2) out.push(xs[i]);
  for (let i = xs.length - 2; i >= 0; i -= 2) out.push(xs[i]);
  return out;
}

describe('content hash', () => {
  test('same rules in another order: same hash and byte-identical files; other rules: another hash', () =>
    withTmpDir((dir) => {
      const rules = sampleRules();
      const a = writeRulesFile(rules, path.join(dir, 'a.db'), { builtAt: BUILT_AT });
      const b = writeRulesFile(reorder(rules), path.join(dir, 'b.db'), { builtAt: BUILT_AT });
      const c = writeRulesFile(rules, path.join(dir, 'c.db'), { builtAt: new Date('2027-01-01T00:00:00Z') });
      assert.notDeepEqual(reorder(rules), rules);
      assert.match(a.hash, /^[0-9a-f]{64}$/);
      assert.equal(b.hash, a.hash);
      assert.equal(c.hash, a.hash, 'build time is not part of the hash');
      assert.ok(fs.readFileSync(path.join(dir, 'a.db')).equals(fs.readFileSync(path.join(dir, 'b.db'))));
      assert.equal(loadRulesFile(path.join(dir, 'b.db')).info.hash, a.hash);
      const changed = writeRulesFile([...rules.slice(1), allow('203.0.113.8')], path.join(dir, 'd.db'), { builtAt: BUILT_AT });
      assert.notEqual(changed.hash, a.hash);
      const noted = writeRulesFile([{ ...rules[0], note: 'x' }, ...rules.slice(1)], path.join(dir, 'e.db'), { builtAt: BUILT_AT });
      assert.notEqual(noted.hash, a.hash, 'a note is content');
    }));

  test('the same document as JSON and as YAML, entries reordered, compiles to the same hash', () =>
    withTmpDir((dir) => {
      const json = `{"allow":{"ips":["10.0.0.0/8","203.0.113.7"]},"block":{"ips":["198.51.100.0/24","2001:DB8::/32"],"userAgents":["sqlmap"]},
        "rateLimits":[{"path":"/login","method":"POST","limit":5,"window":"60s"}]}`;
      const yaml = [
        'rateLimits:', '  - { path: /login, method: post, limit: 5, window: 1m }', 'block:', '  userAgents: [sqlmap]',
        '  ips:', '    - 2001:db8:0::/32', '    - 198.51.100.7/24', 'allow:', '  ips: [203.0.113.7, 10.1.2.3/8]',
      ].join('\n');
      const h1 = writeRulesFile(parseRulesDocument(json, 'r.json'), path.join(dir, 'j.db')).hash;
      const h2 = writeRulesFile(parseRulesDocument(yaml, 'r.yaml'), path.join(dir, 'y.db')).hash;
      assert.equal(h2, h1);
    }));
});

describe('atomic replacement', () => {
  test('while a new file is built the old one is in place and whole; a failed build leaves it untouched', () =>
    withTmpDir((dir) => {
      const file = path.join(dir, 'rules.db');
      const old = writeRulesFile([block('ip', '10.0.0.0/8')], file);
      let seenDuringBuild = '';
      writeSqliteAtomically(file, (db) => {
        db.exec('CREATE TABLE t (x)');
        seenDuringBuild = loadRulesFile(file).info.hash;
        const temps = fs.readdirSync(dir).filter((n) => n.endsWith('.tmp'));
        assert.equal(temps.length, 1, 'the new file is built beside the old one, under another name');
        assert.match(temps[0], /^\.rules\.db\..*\.tmp$/);
      });
      assert.equal(seenDuringBuild, old.hash);

      writeRulesFile([block('ip', '10.0.0.0/8')], file);
      const before = fs.readFileSync(file);
      assert.throws(() => writeSqliteAtomically(file, (db) => {
        db.exec('CREATE TABLE t (x)');
        throw new Error('build failed half way');
      }), /half way/);
      assert.ok(fs.readFileSync(file).equals(before), 'old file unchanged');
      assert.deepEqual(fs.readdirSync(dir), ['rules.db'], 'no temporary file left behind');
      // A rule set that cannot be written (duplicate ids) also leaves the old file in place.
      assert.throws(() => writeRulesFile([block('ip', '1.1.1.1', { id: 'x' }), block('ip', '2.2.2.2', { id: 'x' })], file), { name: 'RuleError', code: 'MOAT_ERR_RULE_INVALID' });
      assert.ok(fs.readFileSync(file).equals(before));
    }));

  test('a reader process opening the file while it is replaced again and again only ever sees a whole file', () =>
    withTmpDir(async (dir) => {
      const file = path.join(dir, 'rules.db');
      const versions = [
        [block('ip', '10.0.0.0/8'), ...Array.from({ length: 300 }, (_, i) => block('path', `/a${i}`))],
        [block('ip', '10.0.0.1'), allow('192.0.2.0/24'), ...Array.from({ length: 300 }, (_, i) => block('userAgent', `bot${i}`))],
      ];
      const hashes = versions.map((v) => writeRulesFile(v, path.join(dir, `v.db`)).hash);
      writeRulesFile(versions[0], file);
      const child = spawn(process.execPath, ['--import', 'tsx', path.join(import.meta.dirname, 'helpers/rules-reader.ts'), file, '300'], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
      assert.equal((await lines.next()).value, 'ready');
      let done = false;
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => { done = true; resolve(code); }));
      let writes = 0;
      // Bounded: stops when the reader is done, or after 2000 replacements at most.
      while (!done && writes < 2000) {
        writeRulesFile(versions[writes % 2], file);
        writes++;
        await new Promise((r) => setImmediate(r));
      }
      const report = JSON.parse(String((await lines.next()).value)) as { opens: number; hashes: Record<string, number>; failures: string[]; failed: number };
      assert.equal(await exited, 0);
      assert.deepEqual(report.failures, []);
      assert.equal(report.failed, 0);
      for (const h of Object.keys(report.hashes)) assert.ok(hashes.includes(h), `unknown hash ${h}`);
      assert.ok(writes > 1, `the file was replaced while being read (${writes} writes)`);
      assert.deepEqual(fs.readdirSync(dir).filter((n) => n.endsWith('.tmp')), []);
    }));
});

describe('bad files are refused with a clear MoatFileError', () => {
  function expectFileError(file: string, message: RegExp): void {
    assert.throws(() => Engine.open({ rules: file }), (e: unknown) => {
      assert.ok(e instanceof MoatFileError, `MoatFileError expected, got ${(e as Error).name}: ${(e as Error).message}`);
      assert.ok(e.message.startsWith(file), 'the message names the file');
      assert.match(e.message, message);
      return true;
    });
  }

  test('missing, empty, not SQLite, truncated and corrupt files', () =>
    withTmpDir((dir) => {
      const good = path.join(dir, 'good.db');
      const rules = [...sampleRules(), ...Array.from({ length: 2000 }, (_, i) => block('ip', `10.${i >> 8}.${i & 255}.0/24`))];
      writeRulesFile(rules, good);
      const bytes = fs.readFileSync(good);
      assert.ok(bytes.length > 64 * 1024, 'the sample is several pages long');
      const put = (name: string, data: Buffer | string) => {
        const f = path.join(dir, name);
        fs.writeFileSync(f, data);
        return f;
      };
      expectFileError(path.join(dir, 'missing.db'), /not found/);
      expectFileError(put('empty.db', ''), /too small|truncated/);
      expectFileError(put('text.db', 'allow:\n  ips: [1.2.3.4]\n'.repeat(100)), /not a SQLite database/);
      expectFileError(put('cut-header.db', bytes.subarray(0, 600)), /truncated|corrupt|malformed|unreadable|cannot open/);
      expectFileError(put('half.db', bytes.subarray(0, Math.floor(bytes.length / 2))), /truncated|corrupt|malformed|unreadable|cannot open/);
      const mangled = Buffer.from(bytes);
      for (let i = 4096; i < mangled.length; i += 7) mangled[i] ^= 0x5a; // every page after the first damaged
      expectFileError(put('mangled.db', mangled), /corrupt|malformed|unreadable|not a database|cannot open/);
      const other = put('other.sqlite', '');
      fs.rmSync(other);
      const db = new Database(other);
      db.exec('CREATE TABLE notes (x TEXT)');
      db.close();
      expectFileError(other, /neither a Moat nor a Wafris/);
    }));

  test('newer format version, unknown format, edited rules and edited ranges', () =>
    withTmpDir((dir) => {
      const edit = (name: string, sql: string | ((db: Database.Database) => void)) => {
        const f = path.join(dir, name);
        writeRulesFile(sampleRules(), f);
        const db = new Database(f);
        if (typeof sql === 'string') db.exec(sql);
        else sql(db);
        db.close();
        return f;
      };
      expectFileError(edit('newer.db', "UPDATE meta SET value = '99' WHERE key = 'format_version'"), /format version 99 is newer.*upgrade/);
      expectFileError(edit('noversion.db', "DELETE FROM meta WHERE key = 'format_version'"), /format version/);
      expectFileError(edit('format.db', "UPDATE meta SET value = 'moat-future' WHERE key = 'format'"), /unknown format "moat-future"/);
      expectFileError(edit('value.db', "UPDATE rules SET value = '0.0.0.0/0' WHERE value = '198.51.100.0/24'"), /content hash does not match/);
      expectFileError(edit('dropped.db', "DELETE FROM rules WHERE kind = 'host'"), /content hash does not match|numbered/);
      expectFileError(edit('hash.db', "UPDATE meta SET value = 'ab' WHERE key = 'content_hash'"), /content hash does not match/);
      // A range blob edited so it stays sorted and non-overlapping: only the checksum can tell.
      const shrinkFirstRange = (db: Database.Database) => {
        const row = db.prepare("SELECT data FROM packed_ranges WHERE set_name = 'block' AND part = 'v4Ends'").get() as { data: Buffer };
        assert.ok(row.data.length >= 4);
        row.data.writeUInt32LE(row.data.readUInt32LE(0) - 1, 0); // the first range ends one address earlier
        db.prepare("UPDATE packed_ranges SET data = ? WHERE set_name = 'block' AND part = 'v4Ends'").run(row.data);
      };
      expectFileError(edit('ranges.db', shrinkFirstRange), /compiled IP ranges do not match their checksum/);
      expectFileError(edit('labels.db', "UPDATE label_sets SET members = '[999]'"), /label set refers to rule 999/);
      const data = dataFileFor(path.join(dir, 'data.db'), { lists: { tor: ['1.2.3.4'] } });
      expectFileError(data, /data file, not a rules file/);
    }));

  test('an engine already open keeps answering when its file is replaced by garbage', () =>
    withTmpDir((dir) => {
      const file = path.join(dir, 'r.db');
      writeRulesFile([block('ip', '10.0.0.0/8')], file);
      const e = Engine.open({ rules: file });
      fs.writeFileSync(file, Buffer.alloc(4096, 1));
      assert.throws(() => Engine.open({ rules: file }), MoatFileError);
      assert.equal(e.evaluate({ ip: '10.1.1.1' }).treatment, 'Blocked');
    }));
});

describe('validation', () => {
  function problemsOf(fn: () => unknown): readonly string[] {
    try {
      fn();
    } catch (e) {
      assert.ok(e instanceof RuleError, `RuleError expected, got ${(e as Error).name}: ${(e as Error).message}`);
      assert.equal(e.message, e.problems.join('\n'));
      return e.problems;
    }
    assert.fail('no error');
  }

  test('every problem of a document is reported, each with its line and entry, not only the first', () => {
    const text = [
      '{',
      '  "allow": { "ips": ["10.0.0.0/8", "nope"] },',
      '  "block": { "hosts": ["*.example.com"], "paths": ["/", " "], "methods": ["G E T"], "cookies": [] },',
      '  "rateLimits": [',
      '    { "path": "/a", "limit": 0, "window": "0.5s" },',
      '    { "path": "b", "limit": 2.5, "window": "1m", "method": "P0ST" },',
      '    { "path": "/c", "limit": 3, "window": "1s", "id": "same" },',
      '    { "path": "/d", "limit": 3, "window": "1s", "id": "same" }',
      '  ]',
      '}',
    ].join('\n');
    assert.deepEqual(problemsOf(() => parseRulesDocument(text, 'r.json')), [
      'r.json:2: allow.ips[1]: invalid IP, CIDR or range "nope"',
      'r.json:3: block: unknown key "cookies" (expected ips, countries, asns, lists, userAgents, paths, params, hosts, methods, keys)',
      'r.json:3: block.paths[0]: a path rule of "/" matches every request and would block the whole site; use mode "monitor" to watch all traffic, or a longer path',
      'r.json:3: block.paths[1]: value is only spaces, which (nearly) every request contains',
      'r.json:3: block.hosts[0]: wildcard hosts are not supported ("*.example.com"): a host rule matches one host exactly, so list each host',
      'r.json:3: block.methods[0]: invalid method "G E T"',
      'r.json:5: rateLimits[0]: rate limit "limit" must be a whole number from 1 to 1000000, got "0"',
      'r.json:5: rateLimits[0]: rate limit window must be at least 1s, got "0.5s"',
      'r.json:6: rateLimits[1]: rate limit path must start with "/", got "b"',
      'r.json:6: rateLimits[1]: rate limit "limit" must be a whole number from 1 to 1000000, got "2.5"',
      'r.json:6: rateLimits[1]: invalid method "P0ST"',
      'r.json:8: rateLimits[3]: duplicate id "same"',
    ]);
    // YAML syntax errors: all of them too.
    assert.equal(problemsOf(() => parseRulesDocument('block:\n  ips: [1.2.3.4\n  paths: {\n', 'r.yaml')).length >= 2, true);
    // A document wrong everywhere lists the first hundred and counts the rest.
    const many = problemsOf(() => rulesFromDocument({ block: { ips: Array.from({ length: 250 }, (_, i) => `bad-${i}`) } }));
    assert.equal(many.length, 101);
    assert.equal(many[100], '… and 150 more problems');
  });

  test('substring values keep their spaces; only values where spaces cannot matter are trimmed', () => {
    const rules = rulesFromDocument({
      block: { params: ['; '], userAgents: [' bot'], paths: ['/admin '], ips: [' 192.0.2.1 '], countries: [' kp'], hosts: [' Example.COM. '], methods: [' get '] },
      rateLimits: [{ path: ' /login ', method: ' post ', limit: 5, window: ' 60s ' }],
    });
    const value = (kind: string) => rules.find((r) => r.kind === kind)!.value;
    assert.deepEqual(['param', 'userAgent', 'path'].map(value), ['; ', ' bot', '/admin ']);
    assert.deepEqual(['ip', 'country', 'host', 'method', 'rateLimit'].map(value), ['192.0.2.1', 'KP', 'example.com', 'GET', '/login']);
    assert.equal(rules.find((r) => r.kind === 'rateLimit')!.rateLimit!.method, 'POST');
    assert.notEqual(normalizeRule({ action: 'block', kind: 'param', value: '; ' }).id, normalizeRule({ action: 'block', kind: 'param', value: ';' }).id);
  });

  test('a "/" path rule may monitor; rate limits of exactly 1 s and up to 1 000 000 are fine', () => {
    assert.equal(normalizeRule({ action: 'block', kind: 'path', value: '/', mode: 'monitor' }).value, '/');
    assert.equal(rateLimit('/a', 1_000_000, '1s').rateLimit!.windowMs, 1_000);
    assert.equal(rateLimit('/a', 1, 1).rateLimit!.windowMs, 1_000);
    assert.deepEqual(problemsOf(() => rateLimit('/a', 1_000_001, 0.999)), [
      'rate limit "limit" must be a whole number from 1 to 1000000, got "1000001"',
      'rate limit window must be at least 1s, got "0.999"',
    ]);
  });

  test('rules made without normalizeRule (by hand, from a store) are refused when compiled, each named; the old file stays', () =>
    withTmpDir((dir) => {
      const file = path.join(dir, 'rules.db');
      writeRulesFile([block('ip', '10.0.0.0/8')], file);
      const before = fs.readFileSync(file);
      const handMade: Rule[] = [
        { id: 'everything', action: 'block', kind: 'path', value: '/', mode: 'block' },
        { id: 'blank', action: 'block', kind: 'userAgent', value: '  ', mode: 'block' },
        { id: 'fast', action: 'block', kind: 'rateLimit', value: '/x', mode: 'block', rateLimit: { method: null, path: '/x', match: 'exact', limit: 0, windowMs: 500 } },
        block('path', '/fine'),
      ];
      assert.deepEqual(problemsOf(() => writeRulesFile(handMade, file)), [
        'rule "everything": a path rule of "/" matches every request and would block the whole site; use mode "monitor" to watch all traffic, or a longer path',
        'rule "blank": a userAgent rule needs a value that is not empty or only spaces',
        'rule "fast": rate limit "limit" must be a whole number from 1 to 1000000, got 0',
        'rule "fast": rate limit window must be at least 1s, got 500 ms',
      ]);
      assert.ok(fs.readFileSync(file).equals(before));
    }));

  test('a file from an older Moat holding such a rule is refused at load with a MoatFileError naming it', () =>
    withTmpDir((dir) => {
      const slash = olderRulesFile(path.join(dir, 'slash.db'), [block('path', '/x', { id: 'p' })], "UPDATE rules SET value = '/' WHERE id = 'p'");
      assert.throws(() => Engine.open({ rules: slash }), (e: unknown) =>
        e instanceof MoatFileError && /rule "p": a path rule of "\/" matches every request.*recompile/.test(e.message));
      const fast = olderRulesFile(path.join(dir, 'fast.db'), [rateLimit('/login', 5, '1m', { id: 'l' })], "UPDATE rules SET rl_window_ms = 500, rl_limit = 0 WHERE id = 'l'");
      assert.throws(() => Engine.open({ rules: fast }), (e: unknown) =>
        e instanceof MoatFileError && /rule "l": rate limit "limit" must be .*got 0; rate limit window must be at least 1s, got 500 ms/.test(e.message));
    }));
});

test('a rules or data file holding a view, a trigger or a virtual table is refused before anything is read from it', () =>
  withTmpDir((dir) => {
    const endless = 'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x FROM c';
    const rulesPath = path.join(dir, 'rules.moat');
    const dataPath = dataFileFor(path.join(dir, 'data.moat'), { countries: [['192.0.2.0/24', 'NL']] });
    writeRulesFile([block('path', '/x')], rulesPath);
    const edits: [string, string, (p: string) => unknown][] = [
      // Views named like the tables the loaders read, never finishing: read, they hung the loader.
      [rulesPath, `ALTER TABLE rules RENAME TO kept; CREATE VIEW rules AS SELECT * FROM kept WHERE (SELECT count(*) FROM (${endless})) > 0`, loadRulesFile],
      [dataPath, `ALTER TABLE data_labels RENAME TO kept; CREATE VIEW data_labels AS SELECT * FROM kept WHERE (SELECT count(*) FROM (${endless})) > 0`, loadDataFile],
      [rulesPath, 'CREATE TRIGGER t AFTER INSERT ON meta BEGIN SELECT 1; END', loadRulesFile],
      [rulesPath, 'CREATE VIRTUAL TABLE v USING fts5(x)', loadRulesFile],
    ];
    for (const [source, sql, load] of edits) {
      const edited = path.join(dir, `edited-${path.basename(source)}`);
      fs.copyFileSync(source, edited);
      const db = new Database(edited);
      db.exec(sql);
      db.close();
      assert.throws(() => load(edited), (e: unknown) => e instanceof MoatFileError && e.code === 'MOAT_ERR_FILE_CORRUPT' &&
        /plain tables only/.test(e.message), sql);
      fs.rmSync(edited);
    }
    assert.equal(loadRulesFile(rulesPath).rules.length, 1, 'the untouched file still loads');
  }));
