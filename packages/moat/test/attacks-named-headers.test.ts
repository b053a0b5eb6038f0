// `attacks.headers`: more request headers for attack detection to judge, named by the operator (a search
// box sent as `X-Search`, a tenant id an app logs into SQL). From rules-as-code to the rules file and back
// (their own meta row, so that older readers still load the file), tampering refused, the CLI that sets
// them, and the engine and the Web front door judging them, the memo of quiet requests included.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { parseRulesSource, rulesToDocument } from '../src/rules/document.js';
import { RuleError } from '../src/rules/rule-error.js';
import { MAX_ATTACK_HEADERS, attackSettingsJson } from '../src/rules/attack-settings.js';
import { rulesFileHash, writeRulesFile } from '../src/format/write-rules.js';
import { loadRulesFile } from '../src/format/load-files.js';
import { MoatFileError } from '../src/errors/moat-error.js';
import { Engine } from '../src/engine/engine.js';
import type { MoatRequest } from '../src/engine/decision.js';
import { createFirewall } from '../src/firewall/firewall.js';
import { cli } from './helpers/cli-in-process.js';

const dir = mkdtempSync(join(tmpdir(), 'moat-attack-headers-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;

const YAML = `attacks:
  sqli: block
  xss: block
  headers: [X-Search, x-tenant, x-search]
`;

function compiled(source: string): string {
  const { rules, attacks } = parseRulesSource(source);
  const file = join(dir, `rules-${files++}.moat`);
  writeRulesFile(rules, file, { attacks });
  return file;
}

function meta(file: string): Map<string, string> {
  const db = new Database(file, { readonly: true });
  const rows = db.prepare('SELECT key, value FROM meta').all() as { key: string; value: string }[];
  db.close();
  return new Map(rows.map((r) => [r.key, r.value]));
}

test('attacks.headers: names are lower-cased, sorted and unique, and round-trip through the document form', () => {
  const { rules, attacks } = parseRulesSource(YAML, 'rules.yaml');
  assert.deepEqual(attacks!.headers, ['x-search', 'x-tenant']);
  const again = parseRulesSource(JSON.stringify(rulesToDocument(rules, attacks)));
  assert.deepEqual(again.attacks, attacks);
  // Absent, empty or null: none.
  assert.deepEqual(parseRulesSource('attacks: { sqli: block }').attacks!.headers, []);
  assert.deepEqual(parseRulesSource('attacks: { headers: null }').attacks!.headers, []);
});

test('attacks.headers: every bad name is refused with the line, and the always-judged headers are named as such', () => {
  const text = 'attacks:\n  headers: ["x search", "", 7, "cookie", "User-Agent", "x-ok", "' + 'a'.repeat(65) + '", "x:y"]\n';
  assert.throws(() => parseRulesSource(text, 'rules.yaml'), (e: unknown) => {
    assert.ok(e instanceof RuleError);
    assert.match(e.message, /rules\.yaml:2: attacks\.headers: "x search" is not a header name/);
    assert.match(e.message, /"" is not a header name/);
    assert.match(e.message, /7 is not a header name/);
    assert.match(e.message, /"cookie" is judged already/);
    assert.match(e.message, /"User-Agent" is judged already/);
    assert.match(e.message, /"aaaa+" is not a header name/);
    assert.match(e.message, /"x:y" is not a header name/);
    assert.doesNotMatch(e.message, /x-ok/);
    return true;
  });
  assert.throws(() => parseRulesSource('attacks: { headers: x-search }'), /attacks\.headers: must be a list of header names/);
  const many = Array.from({ length: MAX_ATTACK_HEADERS + 1 }, (_, i) => `x-h${i}`);
  assert.throws(() => parseRulesSource(JSON.stringify({ attacks: { headers: many } })), /at most 32 header names/);
  // An object is named, not echoed: an imported document's entry may be large.
  assert.throws(() => parseRulesSource(JSON.stringify({ attacks: { headers: [{ name: 'x'.repeat(100_000) }, ['x-a']] } })), (e: unknown) => {
    assert.ok(e instanceof RuleError);
    assert.match(e.message, /an object is not a header name/);
    assert.match(e.message, /a list is not a header name/);
    assert.ok(e.message.length < 1000, `${e.message.length} characters`);
    return true;
  });
});

test('the rules file: the names have a row of their own; the attacks row and its hash are what an older reader checks, unchanged', () => {
  const withNames = compiled(YAML);
  const without = compiled('attacks:\n  sqli: block\n  xss: block\n');
  const a = meta(withNames);
  const b = meta(without);
  // An older reader refuses an unknown key in the attacks row: the row never names headers.
  assert.equal(a.get('attacks'), b.get('attacks'));
  assert.equal(a.get('attacks_hash'), b.get('attacks_hash'));
  assert.deepEqual(Object.keys(JSON.parse(a.get('attacks')!)).sort(), ['nosql', 'prototype', 'shell', 'sqli', 'ssrf', 'template', 'traversal', 'xss']);
  assert.equal(a.get('attack_headers'), '["x-search","x-tenant"]');
  assert.equal(b.get('attack_headers'), undefined);
  // The identity covers the names: a client downloads a new version when they change.
  const loaded = loadRulesFile(withNames);
  assert.equal(loaded.info.hash, a.get('attack_headers_hash'));
  assert.notEqual(loaded.info.hash, loadRulesFile(without).info.hash);
  assert.deepEqual(loaded.attackSettings!.headers, ['x-search', 'x-tenant']);
  assert.deepEqual(loaded.attacks!.headers, ['x-search', 'x-tenant']);
  assert.equal(a.get('attacks_hash'), rulesFileHash(a.get('content_hash')!, loaded.attackSettings));
  assert.equal(attackSettingsJson(loaded.attackSettings!), a.get('attacks'));
});

test('an edited rules file is refused: names changed, the hash row removed, names in the attacks row, names without settings', () => {
  const edits: [string, (db: Database.Database) => void, RegExp][] = [
    ['a name dropped', (db) => db.prepare("UPDATE meta SET value = '[\"x-tenant\"]' WHERE key = 'attack_headers'").run(), /attack headers do not match their hash/],
    ['the names emptied', (db) => db.prepare("UPDATE meta SET value = '[]' WHERE key = 'attack_headers'").run(), /attack_headers is empty/],
    ['the hash row deleted', (db) => db.prepare("DELETE FROM meta WHERE key = 'attack_headers_hash'").run(), /attack headers do not match their hash/],
    ['not a list', (db) => db.prepare("UPDATE meta SET value = '{\"a\":1}' WHERE key = 'attack_headers'").run(), /attack_headers is not a JSON array/],
    ['a bad name', (db) => db.prepare("UPDATE meta SET value = '[\"x y\"]' WHERE key = 'attack_headers'").run(), /not a header name/],
    ['names moved into the attacks row', (db) => {
      db.prepare("UPDATE meta SET value = replace(value, '}', ',\"headers\":[\"x-search\"]}') WHERE key = 'attacks'").run();
      db.prepare("DELETE FROM meta WHERE key IN ('attack_headers', 'attack_headers_hash')").run();
    }, /the attacks row names headers/],
    ['names without attack settings', (db) => db.prepare("DELETE FROM meta WHERE key IN ('attacks', 'attacks_hash')").run(), /attack_headers without attack settings/],
  ];
  for (const [name, edit, expected] of edits) {
    const file = compiled(YAML);
    const db = new Database(file);
    edit(db);
    db.close();
    assert.throws(() => loadRulesFile(file), (e: unknown) => e instanceof MoatFileError && expected.test(e.message), name);
  }
});

const QUIET: MoatRequest = {
  ip: '192.0.2.1', method: 'GET', path: '/search', url: '/search?q=shoes', params: 'q=shoes',
  userAgent: 'Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0',
  headers: { 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0', 'x-search': 'red shoes' },
};

test('the engine judges a named header for every category, under its own name; other headers are not read', () => {
  const engine = new Engine({ rules: loadRulesFile(compiled(YAML)) });
  const judge = (headers: Record<string, string | string[] | undefined>) =>
    engine.evaluate({ ...QUIET, headers: { ...QUIET.headers, ...headers } });
  const sql = judge({ 'x-search': "shoes' UNION SELECT password FROM users-- " });
  assert.equal(sql.treatment, 'Blocked');
  assert.equal(sql.category, 'attack-sqli');
  assert.ok(sql.rule.startsWith('header.x-search: '), sql.rule);
  assert.equal(judge({ 'x-tenant': '<img src=x onerror=alert(1)>' }).category, 'attack-xss');
  // A framework that hands a repeated header over as a list: each value is judged.
  assert.equal(judge({ 'x-tenant': ['acme', "1' OR '1'='1"] }).treatment, 'Blocked');
  // Look-alikes pass, and a header nobody named is not read.
  assert.equal(judge({ 'x-search': "O'Brien's shop, 1-2 pm" }).treatment, 'Passed');
  assert.equal(judge({ 'x-other': "shoes' UNION SELECT password FROM users-- " }).treatment, 'Passed');
});

test('a named header that is also a name on Object.prototype is only a header', () => {
  const engine = new Engine({ rules: loadRulesFile(compiled('attacks: { sqli: block, headers: [constructor] }')) });
  // A plain header object (as Node's is) inherits `constructor`: not sent, it must not count as a value.
  const headers: Record<string, string> = { 'user-agent': 'curl/8.5.0' };
  assert.equal(engine.evaluate({ ...QUIET, headers }).treatment, 'Passed');
  assert.equal(engine.evaluate({ ...QUIET, headers: { ...headers, constructor: "1' OR '1'='1" } }).treatment, 'Blocked');
});

test('exclusions name a named header like any input', () => {
  const engine = new Engine({ rules: loadRulesFile(compiled(`attacks:
  sqli: block
  headers: [x-search]
  exclude:
    - { path: /search, params: [header.x-search] }
`)) });
  const attack = { ...QUIET.headers, 'x-search': "shoes' UNION SELECT password FROM users-- " };
  assert.equal(engine.evaluate({ ...QUIET, headers: attack }).treatment, 'Passed');
  assert.equal(engine.evaluate({ ...QUIET, path: '/other', url: '/other?q=shoes', headers: attack }).treatment, 'Blocked');
});

test('the memo of quiet requests never answers for a request carrying a named header', () => {
  const engine = new Engine({ rules: loadRulesFile(compiled(YAML)) });
  const clean = { ...QUIET, headers: { 'user-agent': QUIET.userAgent } };
  // The same quiet request many times over, so the memo holds it; then that request with an attack in a
  // named header, which the memo's key does not hold.
  for (let i = 0; i < 50; i++) assert.equal(engine.evaluate({ ...clean }).treatment, 'Passed');
  const attacked = engine.evaluate({ ...clean, headers: { ...clean.headers, 'x-search': "x' OR '1'='1" } });
  assert.equal(attacked.treatment, 'Blocked');
  // Clean values in a named header, repeated, and then an attack in it.
  for (let i = 0; i < 50; i++) assert.equal(engine.evaluate({ ...clean, headers: { ...clean.headers, 'x-search': 'red shoes' } }).treatment, 'Passed');
  assert.equal(engine.evaluate({ ...clean, headers: { ...clean.headers, 'x-search': "x' OR '1'='1" } }).treatment, 'Blocked');
});

test('the Web front door judges a named header of a Request', async () => {
  const firewall = createFirewall({ rules: compiled(YAML), logger: false, trustedProxies: [] });
  after(() => firewall.close());
  const request = (search: string) => new Request('http://127.0.0.1/search?q=shoes', { headers: { 'X-Search': search } });
  const blocked = await firewall.handle(request("x' UNION SELECT password FROM users-- "), { ip: '192.0.2.1' });
  assert.equal(blocked?.status, 403);
  assert.equal(await firewall.handle(request("O'Brien"), { ip: '192.0.2.1' }), null);
});


test('moat-waf rules attacks --headers sets, shows and clears the names; bad names exit 2', async () => {
  const file = join(dir, 'cli.moat');
  let r = await cli(['rules', 'attacks', '--rules', file, 'sqli=block', '--headers', 'X-Search, x-tenant']);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /headers\s+x-search, x-tenant/);
  assert.deepEqual(loadRulesFile(file).attackSettings!.headers, ['x-search', 'x-tenant']);
  // Other edits keep them.
  r = await cli(['rules', 'attacks', '--rules', file, 'xss=block']);
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(loadRulesFile(file).attackSettings!.headers, ['x-search', 'x-tenant']);
  r = await cli(['rules', 'attacks', '--rules', file, '--json']);
  assert.deepEqual(JSON.parse(r.out).headers, ['x-search', 'x-tenant']);
  r = await cli(['rules', 'attacks', '--rules', file, '--headers', 'referer']);
  assert.equal(r.code, 2);
  assert.match(r.err, /"referer" is judged already/);
  assert.deepEqual(loadRulesFile(file).attackSettings!.headers, ['x-search', 'x-tenant'], 'a refused change leaves the file as it was');
  r = await cli(['rules', 'attacks', '--rules', file, '--headers', '']);
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(loadRulesFile(file).attackSettings!.headers, []);
  assert.equal(meta(file).get('attack_headers'), undefined);
  r = await cli(['rules', 'attacks', '--rules', file, '--remove', '--headers', 'x-a']);
  assert.equal(r.code, 2);
});
