// The `moat` CLI as users run it: a real process (node on the current sources, transpiled once; the
// installed bin for --help), real files, exit codes, and one clear line without a stack trace for every user error.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import Database from 'better-sqlite3';
import { assertNoStack, createWafrisRulesSchema, dataFileFor, insertWafrisRange, v4Value, withTmpDir } from './helpers/engine-kit.js';

import { ROOT, transpileClient } from './helpers/cli-build.js';

const client = transpileClient();
after(() => fs.rmSync(client.dir, { recursive: true, force: true }));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], opts: { input?: string; cwd?: string } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd ?? ROOT, stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, MOAT_DEBUG: '' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b) => (stdout += b));
    child.stderr.on('data', (b) => (stderr += b));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(opts.input ?? '');
  });
}

const moat = (args: string[], opts: { input?: string; cwd?: string } = {}) => run(process.execPath, [client.main, ...args], opts);

/** A user error: non-zero exit, one line on stderr naming what is wrong, no stack trace, nothing on stdout. */
function assertUserError(r: Run, code: number, message: RegExp): void {
  assert.equal(r.code, code, `exit code (stderr: ${r.stderr})`);
  assertNoStack(r.stderr);
  assert.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
  assert.match(r.stderr, /^moat: /);
  assert.match(r.stderr, message);
  assert.equal(r.stdout, '');
}

const RULES_JSON = `{
  "allow": { "ips": ["203.0.113.7", "10.0.0.0/8"] },
  "block": {
    "ips": ["198.51.100.0/24", "2001:db8::/32", "192.0.2.1-192.0.2.9"],
    "countries": ["KP"], "lists": ["tor"],
    "userAgents": ["sqlmap"], "paths": ["/wp-admin"], "params": ["<script"],
    "hosts": ["admin.example.com"], "methods": ["TRACE"]
  },
  "rateLimits": [{ "path": "/login", "method": "POST", "limit": 5, "window": "60s" }]
}
`;

const RULES_YAML = `# the same rules as YAML
allow:
  ips: [203.0.113.7, 10.0.0.0/8]
block:
  ips:
    - 198.51.100.0/24
    - 2001:db8::/32
    - 192.0.2.1-192.0.2.9
  countries: [KP]
  lists: [tor]
  userAgents: [sqlmap]
  paths: [/wp-admin]
  params: ["<script"]
  hosts: [admin.example.com]
  methods: [TRACE]
rateLimits:
  - { path: /login, method: POST, limit: 5, window: 60s }
`;

// The cases are independent (each has its own directory) and mostly wait on child processes: run them together.
describe('moat CLI', { concurrency: 4 }, () => {
  test('compile JSON and YAML; inspect and check the result', () =>
    withTmpDir(async (dir) => {
      const json = path.join(dir, 'rules.json');
      const yaml = path.join(dir, 'rules.yaml');
      fs.writeFileSync(json, RULES_JSON);
      fs.writeFileSync(yaml, RULES_YAML);
      const [cj, cy] = await Promise.all([moat(['compile', json, '-o', path.join(dir, 'j.db')]), moat(['compile', yaml, '-o', path.join(dir, 'y.db')])]);
      assert.equal(cj.code, 0, cj.stderr);
      assert.equal(cy.code, 0, cy.stderr);
      assert.match(cj.stdout, /compiled 13 rules into .*j\.db/);
      const [ij, iy] = await Promise.all([moat(['inspect', path.join(dir, 'j.db'), '--json']), moat(['inspect', path.join(dir, 'y.db'), '--json'])]);
      const a = JSON.parse(ij.stdout);
      const b = JSON.parse(iy.stdout);
      assert.equal(a.format, 'moat');
      assert.equal(a.kind, 'rules');
      assert.equal(a.formatVersion, 1);
      assert.equal(a.rules, 13);
      assert.deepEqual(a.counts, {
        'allow:ip': 2, 'block:ip': 3, country: 1, list: 1, userAgent: 1, path: 1, param: 1, host: 1, method: 1, rateLimit: 1,
      });
      assert.match(a.hash, /^[0-9a-f]{64}$/);
      assert.equal(b.hash, a.hash, 'JSON and YAML give the same file content');
      const text = await moat(['inspect', path.join(dir, 'j.db')]);
      assert.match(text.stdout, /format\s+moat/);
      assert.match(text.stdout, new RegExp(`hash\\s+${a.hash}`));

      const check = await moat(['check', '--rules', path.join(dir, 'j.db'), '--ip', '198.51.100.4', '--path', '/wp-admin', '--json']);
      assert.equal(check.code, 0, check.stderr);
      const d = JSON.parse(check.stdout);
      assert.deepEqual([d.treatment, d.category, d.rule], ['Blocked', 'bc', '198.51.100.0/24']);
      assert.match(d.ruleId, /^b-/);
    }));

  test('bad rules documents: one line naming the file, line and entry; non-zero exit; no output file', () =>
    withTmpDir(async (dir) => {
      const put = (name: string, text: string) => {
        const f = path.join(dir, name);
        fs.writeFileSync(f, text);
        return f;
      };
      const badIp = put('bad-ip.json', RULES_JSON.replace('"2001:db8::/32"', '"2001:db8::/33x"'));
      const badYaml = put('bad.yaml', RULES_YAML.replace('  countries: [KP]', '  countries: [KP, "North Korea"]'));
      const syntax = put('syntax.json', '{\n  "block": {\n    "ips": ["1.2.3.4",]\n  ,\n}\n');
      const unknown = put('unknown.yaml', 'block:\n  ips: [1.2.3.4]\n  cookies: [x]\n');
      const badRate = put('rate.json', '{\n"rateLimits": [\n  { "path": "/a", "limit": 5, "window": "60s" },\n  { "path": "/b", "limit": -1, "window": "60s" }\n]}\n');
      const out = path.join(dir, 'never.db');
      const results = await Promise.all([badIp, badYaml, syntax, unknown, badRate].map((f) => moat(['compile', f, '-o', out])));
      assertUserError(results[0], 1, /bad-ip\.json:4: block\.ips\[1\]: invalid IP, CIDR or range "2001:db8::\/33x"/);
      assertUserError(results[1], 1, /bad\.yaml:9: block\.countries\[1\]: invalid country "North Korea"/);
      assertUserError(results[2], 1, /syntax\.json:\d+: /);
      assertUserError(results[3], 1, /unknown\.yaml:\d+: block: unknown key "cookies"/);
      assertUserError(results[4], 1, /rate\.json:4: rateLimits\[1\]: .*limit/);
      assert.equal(fs.existsSync(out), false);
      const [missing, usage, unknownCmd] = await Promise.all([
        moat(['compile', path.join(dir, 'nope.json'), '-o', out]), moat(['compile', badIp]), moat(['frobnicate']),
      ]);
      assertUserError(missing, 1, /cannot read .*nope\.json: ENOENT/);
      assertUserError(usage, 2, /usage: moat compile/);
      assertUserError(unknownCmd, 2, /unknown command "frobnicate"/);
    }));

  test('rules add, list and remove edit the file; mistakes are refused with one line', () =>
    withTmpDir(async (dir) => {
      const file = path.join(dir, 'rules.db');
      const add1 = await moat(['rules', 'add', '--rules', file, 'block', 'ip', '192.0.2.55', '--note', 'scanner', '--id', 'scan']);
      assert.equal(add1.code, 0, add1.stderr);
      const add2 = await moat(['rules', 'add', '--rules', file, 'rateLimit', '/api/*', '--limit', '100', '--window', '1m', '--method', 'get']);
      assert.equal(add2.code, 0, add2.stderr);
      const add3 = await moat(['rules', 'add', '--rules', file, 'block', 'userAgent', 'curl', '--mode', 'monitor', '--expires', '2030-01-01T00:00:00Z']);
      assert.equal(add3.code, 0, add3.stderr);
      const list = await moat(['rules', 'list', '--rules', file, '--json']);
      assert.deepEqual(JSON.parse(list.stdout), {
        block: { ips: [{ value: '192.0.2.55', id: 'scan', note: 'scanner' }], userAgents: [{ value: 'curl', mode: 'monitor', expires: '2030-01-01T00:00:00.000Z' }] },
        rateLimits: [{ path: '/api/*', method: 'GET', limit: 100, window: '1m' }],
      });
      const text = await moat(['rules', 'list', '--rules', file]);
      assert.equal(text.stdout.trim().split('\n').length, 3);
      assert.match(text.stdout, /scan\s+block\s+ip\s+192\.0\.2\.55/);
      const checked = await moat(['check', '--rules', file, '--ip', '192.0.2.55', '--json']);
      assert.equal(JSON.parse(checked.stdout).ruleId, 'scan');

      const [dup, badIp, badKind, wrongId] = await Promise.all([
        moat(['rules', 'add', '--rules', file, 'block', 'ip', '192.0.2.56', '--id', 'scan']),
        moat(['rules', 'add', '--rules', file, 'block', 'ip', '192.0.2.300']),
        moat(['rules', 'add', '--rules', file, 'block', 'cookie', 'x']),
        moat(['rules', 'remove', '--rules', file, 'nope']),
      ]);
      assertUserError(dup, 1, /already exists/);
      assertUserError(badIp, 1, /invalid IP, CIDR or range "192\.0\.2\.300"/);
      assertUserError(badKind, 1, /unknown rule kind "cookie"/);
      assertUserError(wrongId, 1, /no rule with id nope/);

      const rm = await moat(['rules', 'remove', '--rules', file, 'scan']);
      assert.equal(rm.code, 0, rm.stderr);
      assert.match(rm.stdout, /removed 1 rule\(s\); 2 left/);
      const after = await moat(['check', '--rules', file, '--ip', '192.0.2.55', '--json']);
      assert.equal(JSON.parse(after.stdout).treatment, 'Passed');
      assert.deepEqual(fs.readdirSync(dir), ['rules.db'], 'edits leave no temporary files');
    }));

  test('check --ndjson replays requests, one decision per line, in order; bad lines get an error line in place', () =>
    withTmpDir(async (dir) => {
      const json = path.join(dir, 'rules.json');
      fs.writeFileSync(json, RULES_JSON.replace('"lists": ["tor"],', '"lists": ["tor"], "asns": ["AS64500"],'));
      const rules = path.join(dir, 'rules.db');
      assert.equal((await moat(['compile', json, '-o', rules])).code, 0);
      const data = dataFileFor(path.join(dir, 'data.db'), { countries: [['175.45.176.0/22', 'KP']], lists: { tor: ['185.220.100.0/24'] } });
      const requests = [
        { ip: '203.0.113.7', path: '/wp-admin' },
        { ip: '10.1.2.3' },
        { ip: '198.51.100.1' },
        { ip: '192.0.2.5' },
        { ip: '175.45.177.1' },
        { ip: '::ffff:185.220.100.9' },
        { ip: '8.8.8.8', userAgent: 'sqlmap/1.7' },
        { ip: '8.8.8.8', path: '/a/../wp-admin/x' },
        { ip: '8.8.8.8', params: 'q=<SCRIPT>' },
        { ip: '8.8.8.8', host: 'ADMIN.example.com' },
        { ip: '8.8.8.8', method: 'trace' },
        { ip: '8.8.8.8', path: '/' },
      ];
      const login = Array.from({ length: 6 }, () => ({ ip: '2001:db9::1', path: '/login', method: 'POST' }));
      const lines = [...requests, ...login].map((r) => JSON.stringify(r));
      lines.splice(3, 0, 'this is not json', '');
      const r = await moat(['check', '--rules', rules, '--data', data, '--ndjson'], { input: `${lines.join('\n')}\n` });
      assert.equal(r.code, 1, 'a bad input line makes the exit code non-zero');
      const out = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
      assert.equal(out.length, requests.length + login.length + 1);
      assert.deepEqual(out[3], { line: 4, error: out[3].error });
      assert.match(out[3].error, /invalid request/);
      const cats = out.filter((_, i) => i !== 3).map((d) => d.category);
      assert.deepEqual(cats, [
        'ai', 'ac', 'bc', 'bc', 'bctry', 'brep', 'bu', 'bp', 'bparam', 'bh', 'bm', 'passed',
        'passed', 'passed', 'passed', 'passed', 'passed', 'brl',
      ]);
      const ok = await moat(['check', '--rules', rules, '--ndjson'], { input: `${JSON.stringify(requests[2])}\n${JSON.stringify(requests[11])}\n` });
      assert.equal(ok.code, 0);
      assert.deepEqual(ok.stdout.trim().split('\n').map((l) => JSON.parse(l).treatment), ['Blocked', 'Passed']);
    }));

  test('inspect tells Moat, Wafris and data files apart; wafris export writes a file Wafris reads', () =>
    withTmpDir(async (dir) => {
      const wafris = path.join(dir, 'custom_rules.db');
      const db = new Database(wafris);
      createWafrisRulesSchema(db);
      db.prepare('INSERT INTO blocked_ips (entries, rule_id) VALUES (?, ?)').run('203.0.113.5', 1);
      db.prepare('INSERT INTO blocked_paths (entries, rule_id) VALUES (?, ?)').run('/wp-admin', 2);
      insertWafrisRange(db, 'blocked_cidr_ranges', v4Value('10.0.0.0'), v4Value('10.255.255.255'), '3');
      db.close();
      const data = dataFileFor(path.join(dir, 'data.db'), { countries: [['175.45.176.0/22', 'KP']], lists: { tor: ['1.2.3.4'] } });
      const json = path.join(dir, 'rules.json');
      fs.writeFileSync(json, RULES_JSON);
      const rules = path.join(dir, 'rules.db');
      assert.equal((await moat(['compile', json, '-o', rules])).code, 0);
      const exported = path.join(dir, 'export.db');
      const [iw, idata, exp] = await Promise.all([
        moat(['inspect', wafris, '--json']), moat(['inspect', data, '--json']), moat(['wafris', 'export', '--rules', rules, '-o', exported]),
      ]);
      const w = JSON.parse(iw.stdout);
      assert.deepEqual([w.kind, w.format, w.formatVersion, w.rules], ['rules', 'wafris', 2, 4]); // 3 entries + the implicit reputation rule
      assert.equal(w.counts['block:ip'], 2);
      const dj = JSON.parse(idata.stdout);
      assert.deepEqual([dj.kind, dj.format, dj.countries, dj.lists], ['data', 'moat', 1, ['tor']]);
      assert.equal(exp.code, 0, exp.stderr);
      assert.match(exp.stderr, /not exported: .*: Wafris has no list rules/);
      const ie = JSON.parse((await moat(['inspect', exported, '--json'])).stdout);
      assert.equal(ie.format, 'wafris');
      const check = await moat(['check', '--rules', exported, '--ip', '::ffff:198.51.100.0', '--json']);
      assert.equal(JSON.parse(check.stdout).treatment, 'Blocked');
      const edb = new Database(exported, { readonly: true });
      assert.deepEqual(edb.prepare('SELECT entries FROM blocked_methods').pluck().all(), ['TRACE']);
      edb.close();
    }));

  test('bad files and options: one line, non-zero exit, no stack trace', () =>
    withTmpDir(async (dir) => {
      const garbage = path.join(dir, 'garbage.db');
      fs.writeFileSync(garbage, 'x'.repeat(4096));
      const [g, missing, noIp, badFlag] = await Promise.all([
        moat(['check', '--rules', garbage, '--ip', '1.2.3.4']),
        moat(['inspect', path.join(dir, 'none.db')]),
        moat(['check', '--rules', garbage]),
        moat(['check', '--rules', garbage, '--ipp', '1.2.3.4']),
      ]);
      assertUserError(g, 1, /garbage\.db: not a SQLite database/);
      assertUserError(missing, 1, /none\.db: file not found/);
      assertUserError(noIp, 2, /--ip is required/);
      assertUserError(badFlag, 2, /ipp/);
    }));

  test('npx moat --help works from the repository root (the installed bin)', async () => {
    const bin = path.join(ROOT, 'packages/moat/bin/moat.js');
    assert.match(fs.readFileSync(bin, 'utf8'), /^#!\/usr\/bin\/env node\n/);
    assert.ok((fs.statSync(bin).mode & 0o111) !== 0, 'the bin is executable');
    const r = await run('npx', ['--no-install', 'moat', '--help']);
    assert.equal(r.code, 0, r.stderr);
    for (const cmd of ['moat compile', 'moat rules add', 'moat check', 'moat inspect', 'moat data build', 'moat wafris export']) {
      assert.ok(r.stdout.includes(cmd), cmd);
    }
  });
});
