// The `moat-waf` CLI as users run it: a real process (node on the current sources, transpiled once; the
// installed bin for --help), real files, exit codes, and one clear line without a stack trace for every user error.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { assertNoStack, createWafrisRulesSchema, dataFileFor, insertWafrisRange, v4Value, withTmpDir } from './helpers/engine-kit.js';

import { ROOT, runProcess, transpileClient } from './helpers/cli-build.js';

const client = transpileClient();
after(() => fs.rmSync(client.dir, { recursive: true, force: true }));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], opts: { input?: string; cwd?: string } = {}): Promise<Run> {
  return runProcess(cmd, args, { ...opts, env: { ...process.env, MOAT_DEBUG: '' } });
}

const moat = (args: string[], opts: { input?: string; cwd?: string } = {}) => run(process.execPath, [client.main, ...args], opts);

/** A user error: non-zero exit, one line on stderr naming what is wrong, no stack trace, nothing on stdout. */
function assertUserError(r: Run, code: number, message: RegExp): void {
  assert.equal(r.code, code, `exit code (stderr: ${r.stderr})`);
  assertNoStack(r.stderr);
  assert.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
  assert.match(r.stderr, /^moat-waf: /);
  assert.match(r.stderr, message);
  assert.equal(r.stdout, '');
}

/** Several user errors: exactly one `moat-waf: ` line per expected problem, in order; nothing on stdout. */
function assertUserErrors(r: Run, code: number, messages: RegExp[]): void {
  assert.equal(r.code, code, `exit code (stderr: ${r.stderr})`);
  assertNoStack(r.stderr);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, messages.length, `one line per problem: ${r.stderr}`);
  lines.forEach((line, i) => {
    assert.match(line, /^moat-waf: /);
    assert.match(line, messages[i]);
  });
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

  test('bad rules documents (a trailing comma in JSON included): one line naming the file, line and entry; exit 2; no output file', () =>
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
      assertUserError(results[0], 2, /bad-ip\.json:4: block\.ips\[1\]: invalid IP, CIDR or range "2001:db8::\/33x"/);
      assertUserError(results[1], 2, /bad\.yaml:9: block\.countries\[1\]: invalid country "North Korea"/);
      assertUserError(results[2], 2, /syntax\.json:\d+: /);
      assertUserError(results[3], 2, /unknown\.yaml:\d+: block: unknown key "cookies"/);
      assertUserError(results[4], 2, /rate\.json:4: rateLimits\[1\]: .*limit/);
      assert.equal(fs.existsSync(out), false);
      const [missing, usage, unknownCmd] = await Promise.all([
        moat(['compile', path.join(dir, 'nope.json'), '-o', out]), moat(['compile', badIp]), moat(['frobnicate']),
      ]);
      assertUserError(missing, 1, /cannot read .*nope\.json: ENOENT/);
      assertUserError(usage, 2, /usage: moat-waf compile/);
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
      assertUserError(dup, 2, /already exists/);
      assertUserError(badIp, 2, /invalid IP, CIDR or range "192\.0\.2\.300"/);
      assertUserError(badKind, 2, /unknown rule kind "cookie"/);
      assertUserError(wrongId, 2, /no rule with id nope/);

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
      assert.equal(r.code, 2, 'a bad input line is an invalid value: exit 2 once every line is judged');
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
      assert.match(exp.stdout, /\(Wafris custom_rules\): 12 rules, 1 of 13 not exported/);
      const ie = JSON.parse((await moat(['inspect', exported, '--json'])).stdout);
      assert.equal(ie.format, 'wafris');
      assert.equal(ie.rules, 12, 'inspect reports the rules the export wrote');
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

  test('a rules file with many mistakes: every one listed with its line and entry (section by section), exit 2, no output file', () =>
    withTmpDir(async (dir) => {
      const src = path.join(dir, 'rules.yaml');
      fs.writeFileSync(src, [
        'block:',
        '  ips: [1.2.3.4, 10.0.0.300]',
        '  hosts: ["*.example.com", ok.example.com]',
        '  paths: ["/", /wp-admin]',
        '  userAgents: ["   "]',
        '  params: [""]',
        'rateLimits:',
        '  - { path: /login, method: POST, limit: 5, window: 500ms }',
        '  - { path: /api/*, limit: 0.5, window: 0 }',
        '  - { path: /ok, limit: 5, window: 1m }',
      ].join('\n'));
      const out = path.join(dir, 'rules.db');
      const r = await moat(['compile', src, '-o', out]);
      assertUserErrors(r, 2, [
        /rules\.yaml:2: block\.ips\[1\]: invalid IP, CIDR or range "10\.0\.0\.300"/,
        /rules\.yaml:5: block\.userAgents\[0\]: value is only spaces/,
        /rules\.yaml:4: block\.paths\[0\]: a path rule of "\/" matches every request and would block the whole site/,
        /rules\.yaml:6: block\.params\[0\]: value is empty/,
        /rules\.yaml:3: block\.hosts\[0\]: wildcard hosts are not supported \("\*\.example\.com"\)/,
        /rules\.yaml:8: rateLimits\[0\]: rate limit window must be at least 1s, got "500ms"/,
        /rules\.yaml:9: rateLimits\[1\]: rate limit "limit" must be a whole number from 1 to 1000000, got "0\.5"/,
        /rules\.yaml:9: rateLimits\[1\]: rate limit window must be a positive number of seconds, got 0/,
      ]);
      assert.equal(fs.existsSync(out), false);
      // Monitor mode may watch every path: it never blocks.
      fs.writeFileSync(src, 'block:\n  paths: [{ value: "/", mode: monitor }]\n');
      assert.equal((await moat(['compile', src, '-o', out])).code, 0);
    }));

  test('compile keeps the spaces of substring rules: a "; " param rule does not block every semicolon', () =>
    withTmpDir(async (dir) => {
      const src = path.join(dir, 'rules.json');
      fs.writeFileSync(src, JSON.stringify({ block: { params: ['; '], userAgents: [' bot '], ips: ['  192.0.2.1  '], methods: [' trace '] } }));
      const rules = path.join(dir, 'rules.db');
      const compiled = await moat(['compile', src, '-o', rules]);
      assert.equal(compiled.code, 0, compiled.stderr);
      const check = async (args: string[]) => JSON.parse((await moat(['check', '--rules', rules, '--ip', '198.51.100.1', '--json', ...args])).stdout);
      assert.equal((await check(['--params', 'a=1;b=2'])).treatment, 'Passed');
      assert.deepEqual([(await check(['--params', 'a=1; b=2'])).treatment, (await check(['--params', 'a=1; b=2'])).rule], ['Blocked', '; ']);
      assert.equal((await check(['--ua', 'robot/1.0'])).treatment, 'Passed');
      assert.equal((await check(['--ua', 'a bot here'])).treatment, 'Blocked');
      // Spaces around IPs and methods mean nothing and are trimmed.
      assert.equal((await moat(['check', '--rules', rules, '--ip', '192.0.2.1', '--json'])).stdout.includes('"Blocked"'), true);
      assert.equal((await check(['--method', 'TRACE'])).treatment, 'Blocked');
      const listed = JSON.parse((await moat(['rules', 'list', '--rules', rules, '--json'])).stdout);
      assert.deepEqual(listed.block.params, ['; ']);
      assert.deepEqual(listed.block.userAgents, [' bot ']);
    }));

  test('invalid values on the command line: exit 2 with every problem listed', () =>
    withTmpDir(async (dir) => {
      const rules = path.join(dir, 'rules.db');
      assert.equal((await moat(['rules', 'add', '--rules', rules, 'block', 'ip', '192.0.2.1'])).code, 0);
      const [badIp, badIp6, badRate, wildcard, slash] = await Promise.all([
        moat(['check', '--rules', rules, '--ip', '192.0.2.300']),
        moat(['check', '--rules', rules, '--ip', '2001:db8::1::2', '--json']),
        moat(['rules', 'add', '--rules', rules, 'rateLimit', '/login', '--limit', '0', '--window', '500ms', '--method', 'P0ST']),
        moat(['rules', 'add', '--rules', rules, 'block', 'host', '*.example.com']),
        moat(['rules', 'add', '--rules', rules, 'block', 'path', '/']),
      ]);
      assertUserErrors(badIp, 2, [/--ip "192\.0\.2\.300" is not an IPv4 or IPv6 address/]);
      assertUserErrors(badIp6, 2, [/--ip "2001:db8::1::2" is not an IPv4 or IPv6 address/]);
      assertUserErrors(badRate, 2, [
        /rate limit "limit" must be a whole number from 1 to 1000000, got "0"/, /invalid method "P0ST"/, /rate limit window must be at least 1s, got "500ms"/,
      ]);
      assertUserErrors(wildcard, 2, [/wildcard hosts are not supported/]);
      assertUserErrors(slash, 2, [/a path rule of "\/" matches every request/]);
      const [fraction, words] = await Promise.all([
        moat(['rules', 'add', '--rules', rules, 'rateLimit', '/a', '--limit', '5.5', '--window', '1m']),
        moat(['rules', 'add', '--rules', rules, 'rateLimit', '/a', '--limit', 'ten', '--window', 'soon']),
      ]);
      assertUserErrors(fraction, 2, [/got "5\.5"/]);
      assertUserErrors(words, 2, [/got "ten"/, /window must look like "60s".*got "soon"/]);
      // Nothing was added by the refused commands; a bad IP in a replay is an error line in its place.
      assert.equal((await moat(['rules', 'list', '--rules', rules])).stdout.trim().split('\n').length, 1);
      const replay = await moat(['check', '--rules', rules, '--ndjson'], { input: '{"ip":"192.0.2.1"}\n{"ip":"192.0.2.999"}\n' });
      assert.equal(replay.code, 2);
      const lines = replay.stdout.trim().split('\n').map((l) => JSON.parse(l));
      assert.equal(lines[0].treatment, 'Blocked');
      assert.deepEqual(lines[1], { line: 2, error: 'invalid request: "ip" "192.0.2.999" is not an IPv4 or IPv6 address' });
    }));

  test('--help on every command and subcommand prints its usage and the exit codes, exit 0', async () => {
    const cases: [string[], string][] = [
      [['compile', '--help'], 'moat-waf compile <rules.json|rules.yaml>'],
      [['compile', 'rules.json', '-h'], 'moat-waf compile <rules.json|rules.yaml>'],
      [['rules', '--help'], 'moat-waf rules add'],
      [['rules', 'add', '--help'], 'moat-waf rules add    --rules <file> rateLimit'],
      [['rules', 'list', '-h'], 'moat-waf rules list'],
      [['rules', 'remove', '--rules', 'x.db', '--help'], 'moat-waf rules remove'],
      [['check', '--help'], 'moat-waf check --rules <file>'],
      [['check', '--ip', 'not-an-ip', '--help'], 'moat-waf check --rules <file>'],
      [['inspect', '--help'], 'moat-waf inspect <file>'],
      [['data', '--help'], 'moat-waf data build'],
      [['data', 'build', '--help'], 'moat-waf data build'],
      [['wafris', '--help'], 'moat-waf wafris export'],
      [['wafris', 'export', '--help'], 'moat-waf wafris export'],
      [['help', 'rules'], 'moat-waf rules add'],
      [['--help'], 'moat-waf data build'],
    ];
    const runs = await Promise.all(cases.map(([args]) => moat(args)));
    runs.forEach((r, i) => {
      const [args, usage] = cases[i];
      assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
      assert.equal(r.stderr, '', args.join(' '));
      assert.ok(r.stdout.includes(usage), `${args.join(' ')} shows ${usage}`);
      assert.match(r.stdout, /Exit codes:\n {2}0 {2}done\n {2}1 .*\n {2}2 {2}invalid usage or value/, args.join(' '));
    });
    // Help for one command is that command's, not everything.
    assert.ok(!runs[0].stdout.includes('moat-waf data build'));
  });

  test('unknown options, invalid values and a rule that could never match (country XX, method FOO): one line each, exit 2, nothing written', () =>
    withTmpDir(async (dir) => {
      const rules = path.join(dir, 'rules.db');
      assert.equal((await moat(['rules', 'add', '--rules', rules, 'block', 'ip', '192.0.2.1', '--id', 'one'])).code, 0);
      const before = fs.readFileSync(rules);
      const put = (name: string, text: string) => {
        fs.writeFileSync(path.join(dir, name), text);
        return path.join(dir, name);
      };
      const trailing = put('trailing.json', '{ "block": { "ips": ["192.0.2.1"], } }\n');
      const xx = put('xx.json', '{\n  "block": {\n    "countries": ["XX"]\n  }\n}\n');
      const foo = put('foo.yaml', 'block:\n  methods: [GET, FOO]\n');
      const out = path.join(dir, 'never.db');
      const cases: [string[], RegExp][] = [
        [['compile', trailing, '-o', out, '--force'], /unknown option --force for moat-waf compile; run "moat-waf compile --help"/],
        [['rules', 'add', '--rules', rules, 'block', 'ip', '192.0.2.2', '--colour', 'red'], /unknown option --colour for moat-waf rules add/],
        [['rules', 'list', '--rules', rules, '--limit', '5'], /--limit does not go with "moat-waf rules list"/],
        [['rules', 'add', '--rules', rules, 'block', 'ip', '192.0.2.2', '--window', '1m'], /--window goes with "moat-waf rules add \.\.\. rateLimit <path>" only/],
        [['rules', 'frobnicate', '--rules', rules], /unknown subcommand "frobnicate": use add, list, remove or attacks/],
        [['rules', '--rules', rules], /missing subcommand/],
        [['check', '--rules', rules, '--ip', '1.2.3'], /--ip "1\.2\.3" is not an IPv4 or IPv6 address/],
        [['check', '--rules', rules, '--ip'], /--ip/],
        [['inspect', rules, '--verbose'], /unknown option --verbose for moat-waf inspect/],
        [['data', 'build', '--contry', 'default', '-o', out], /unknown option --contry for moat-waf data build/],
        [['wafris', 'export', '--rules', rules, '-o', out, '--gem'], /unknown option --gem for moat-waf wafris export/],
        [['help', 'nope'], /unknown command "nope"/],
        [['rules', 'add', '--rules', rules, 'block', 'country', 'XX'], /invalid country "XX": use an ISO 3166-1 alpha-2 country code/],
        [['rules', 'add', '--rules', rules, 'block', 'country', 'continent:XX'], /invalid country "continent:XX"/],
        [['rules', 'add', '--rules', rules, 'block', 'method', 'FOO'], /invalid method "FOO"/],
        [['rules', 'add', '--rules', rules, 'rateLimit', '/login', '--limit', '5', '--window', '1m', '--method', 'FOO'], /invalid method "FOO"/],
        [['compile', trailing, '-o', out], /trailing\.json:1: invalid JSON: trailing comma before a closing bracket/],
        [['compile', xx, '-o', out], /xx\.json:3: block\.countries\[0\]: invalid country "XX"/],
        [['compile', foo, '-o', out], /foo\.yaml:2: block\.methods\[1\]: invalid method "FOO"/],
      ];
      const runs = await Promise.all(cases.map(([args]) => moat(args)));
      runs.forEach((r, i) => assertUserError(r, 2, cases[i][1]));
      assert.equal(fs.existsSync(out), false);
      assert.deepEqual(fs.readFileSync(rules), before, 'refused commands leave the rules file as it was');
      // Real codes and methods are taken: every ISO code (GB, with the G the Wafris parse trips on), XK, a WebDAV method.
      for (const args of [['block', 'country', 'gb'], ['block', 'country', 'XK'], ['block', 'method', 'propfind'], ['block', 'method', 'M-SEARCH']]) {
        const r = await moat(['rules', 'add', '--rules', rules, ...args]);
        assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
      }
    }));

  test('I/O failures exit 1 with one line: an output folder that is a file, a folder given as the rules document', () =>
    withTmpDir(async (dir) => {
      const src = path.join(dir, 'rules.json');
      fs.writeFileSync(src, RULES_JSON);
      const [noDir, dirAsFile] = await Promise.all([
        moat(['compile', src, '-o', path.join(src, 'rules.db')]),
        moat(['compile', dir, '-o', path.join(dir, 'rules.db')]),
      ]);
      assertUserError(noDir, 1, /EEXIST|ENOTDIR/);
      assert.doesNotMatch(noDir.stderr, /internal error/);
      assertUserError(dirAsFile, 1, /cannot read .*: EISDIR/);
    }));

  test('wafris export and inspect report the same rule count: case forms, mapped copies, merged ranges and continents are rows, not rules', () =>
    withTmpDir(async (dir) => {
      const src = path.join(dir, 'rules.json');
      fs.writeFileSync(src, JSON.stringify({
        allow: { ips: ['203.0.113.7', '10.0.0.0/8', '2001:db8:1::/48'] },
        block: {
          // Two touching halves are merged into one Wafris range; IPv4 ranges also get IPv4-mapped copies.
          ips: ['198.51.100.0/25', '198.51.100.128/25', '192.0.2.1-192.0.2.9', '2001:db8::/32'],
          countries: ['continent:OC', 'GB'], userAgents: ['sqlmap', { value: 'curl', mode: 'monitor' }], paths: ['/wp-admin'],
          params: ['<script'], hosts: ['admin.example.com'], methods: ['TRACE', 'PURGE'], asns: ['AS64500'],
        },
        rateLimits: [{ path: '/login', limit: 5, window: '60s' }, { path: '/api/*', limit: 100, window: '1m' }],
      }));
      const rules = path.join(dir, 'rules.db');
      assert.equal((await moat(['compile', src, '-o', rules])).code, 0);
      const exported = path.join(dir, 'custom_rules.db');
      const exp = await moat(['wafris', 'export', '--rules', rules, '-o', exported]);
      assert.equal(exp.code, 0, exp.stderr);
      const m = /\(Wafris custom_rules\): (\d+) rules, 3 of 19 not exported/.exec(exp.stdout);
      assert.ok(m, exp.stdout);
      assert.equal(exp.stderr.trim().split('\n').length, 3, 'the monitor rule, the ASN rule and the prefix rate limit are named');
      const [json, text] = await Promise.all([moat(['inspect', exported, '--json']), moat(['inspect', exported])]);
      const report = JSON.parse(json.stdout);
      assert.equal(report.rules, Number(m[1]));
      assert.equal(report.rules, 16);
      assert.deepEqual(report.counts, {
        'allow:ip': 3, 'block:ip': 4, country: 2, userAgent: 1, path: 1, param: 1, host: 1, method: 2, rateLimit: 1,
      });
      assert.equal(Object.values(report.counts as Record<string, number>).reduce((a, b) => a + b, 0), report.rules);
      assert.equal(typeof report.evaluatedRules, 'number', 'what Moat evaluates from the rows is reported beside it');
      assert.match(text.stdout, /^rules\s+16$/m);
      // The file still judges as the rules do.
      const check = JSON.parse((await moat(['check', '--rules', exported, '--ip', '::ffff:198.51.100.200', '--json'])).stdout);
      assert.equal(check.treatment, 'Blocked');
    }));

  test('npx moat-waf --help works from the repository root (the installed bin)', async () => {
    const bin = path.join(ROOT, 'packages/moat/bin/moat.js');
    assert.match(fs.readFileSync(bin, 'utf8'), /^#!\/usr\/bin\/env node\n/);
    assert.ok((fs.statSync(bin).mode & 0o111) !== 0, 'the bin is executable');
    const r = await run('npx', ['--no-install', 'moat-waf', '--help']);
    assert.equal(r.code, 0, r.stderr);
    for (const cmd of ['moat-waf compile', 'moat-waf rules add', 'moat-waf check', 'moat-waf inspect', 'moat-waf data build', 'moat-waf wafris export']) {
      assert.ok(r.stdout.includes(cmd), cmd);
    }
  });
});
