// Attack settings from rules-as-code to the rules file and back: the document form and its errors, the
// file's backward compatibility both ways (an older file reads as "attacks off"; a newer file still passes
// an older reader's content-hash check), tampering refused, the CLI that edits them, and the per-request
// work cap with its visible `attack-cut` note.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { parseRulesSource, rulesToDocument } from '../src/rules/document.js';
import { RuleError } from '../src/rules/rule-error.js';
import { readRules } from '../src/format/read-rules.js';
import { rulesContentHash, writeRulesFile } from '../src/format/write-rules.js';
import { loadRulesFile } from '../src/format/load-files.js';
import { MoatFileError } from '../src/errors/moat-error.js';
import { Engine } from '../src/engine/engine.js';
import { cli } from './helpers/cli-in-process.js';
import { MAX_WORK_PER_REQUEST } from '../src/attacks/request-attacks.js';

const dir = mkdtempSync(join(tmpdir(), 'moat-attack-rules-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const YAML = `block:
  paths: [/wp-admin]
attacks:
  sqli: block
  xss: off
  exclude:
    - path: /admin/editor
      categories: [xss]
      params: [body.content]
`;

test('an attacks section: named categories take their mode, the others default to monitor', () => {
  const { rules, attacks } = parseRulesSource(YAML, 'rules.yaml');
  assert.equal(rules.length, 1);
  assert.equal(attacks!.modes.sqli, 'block');
  assert.equal(attacks!.modes.xss, 'off');
  assert.equal(attacks!.modes.shell, 'monitor');
  assert.deepEqual(attacks!.exclusions, [{ path: '/admin/editor', categories: ['xss'], params: ['body.content'] }]);
  // Round trip through the document form.
  const again = parseRulesSource(JSON.stringify(rulesToDocument(rules, attacks)));
  assert.deepEqual(again.attacks, attacks);
});

test('a document without attacks has detection off', () => {
  assert.equal(parseRulesSource('block: { paths: [/x] }').attacks, null);
});

test('bad attack settings are refused with the line and every problem', () => {
  const text = 'attacks:\n  sqli: blok\n  csrf: block\n  exclude:\n    - { path: admin, categories: [nope] }\n';
  assert.throws(() => parseRulesSource(text, 'rules.yaml'), (e: unknown) => {
    assert.ok(e instanceof RuleError);
    const msg = e.message;
    assert.match(msg, /rules\.yaml:2: attacks\.sqli: mode must be one of block, monitor, off/);
    assert.match(msg, /unknown key "csrf"/);
    assert.match(msg, /attacks\.exclude\[0\]: path must be a string starting with "\/"/);
    return true;
  });
});

test('a rules file keeps the settings; an older reader still verifies its content hash', () => {
  const { rules, attacks } = parseRulesSource(YAML);
  const file = join(dir, 'with-attacks.moat');
  const written = writeRulesFile(rules, file, { attacks });
  const set = loadRulesFile(file);
  assert.deepEqual(set.attackSettings, attacks);
  assert.ok(set.attacks !== null);
  assert.equal(set.info.hash, written.hash);
  // What a Moat from before attack detection checks: content_hash over the rules alone.
  const db = new Database(file, { readonly: true });
  const contentHash = (db.prepare("SELECT value FROM meta WHERE key = 'content_hash'").get() as { value: string }).value;
  assert.equal(contentHash, rulesContentHash(readRules(db)));
  db.close();
  // The file's identity changes with the settings, so clients download a new version.
  const other = writeRulesFile(rules, join(dir, 'other.moat'), { attacks: parseRulesSource('attacks: block').attacks });
  assert.notEqual(other.hash, written.hash);
});

test('an older rules file (no attack settings) loads with attack detection off', () => {
  const file = join(dir, 'old.moat');
  writeRulesFile(parseRulesSource('block: { paths: [/wp-admin] }').rules, file);
  const set = loadRulesFile(file);
  assert.equal(set.attackSettings, null);
  assert.equal(set.attacks, null);
  const engine = new Engine({ rules: set });
  const d = engine.evaluate({ ip: '192.0.2.1', path: '/search', url: "/search?q=x'%20OR%201=1--" });
  assert.equal(d.treatment, 'Passed');
  assert.deepEqual(d.monitored, []);
});

test('edited attack settings (sqli switched off in the file) are refused at load', () => {
  const { rules, attacks } = parseRulesSource(YAML);
  const file = join(dir, 'tampered.moat');
  writeRulesFile(rules, file, { attacks });
  const db = new Database(file);
  db.prepare("UPDATE meta SET value = replace(value, '\"sqli\":\"block\"', '\"sqli\":\"off\"') WHERE key = 'attacks'").run();
  db.close();
  assert.throws(() => loadRulesFile(file), (e: unknown) => e instanceof MoatFileError && /attack settings do not match/.test(e.message));
});


test('moat-waf rules attacks sets modes and exclusions, and rules add keeps them', async () => {
  const file = join(dir, 'cli.moat');
  assert.match((await cli(['rules', 'attacks', '--rules', file])).out, /off \(no settings/);
  let r = await cli(['rules', 'attacks', '--rules', file, 'sqli=block', 'xss=monitor']);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /sqli\s+block/);
  assert.match(r.out, /shell\s+monitor/);
  r = await cli(['rules', 'attacks', '--rules', file, '--exclude', '/admin/editor', '--categories', 'xss', '--params', 'body.content']);
  assert.equal(r.code, 0, r.err);
  r = await cli(['rules', 'add', '--rules', file, 'block', 'path', '/wp-admin']);
  assert.equal(r.code, 0, r.err);
  const set = loadRulesFile(file);
  assert.equal(set.attackSettings!.modes.sqli, 'block');
  assert.deepEqual(set.attackSettings!.exclusions, [{ path: '/admin/editor', categories: ['xss'], params: ['body.content'] }]);
  assert.equal(set.rules.length, 1);
  r = await cli(['rules', 'attacks', '--rules', file, 'sqli=sometimes']);
  assert.equal(r.code, 2);
  assert.match(r.err, /mode must be one of/);
  r = await cli(['rules', 'attacks', '--rules', file, '--remove']);
  assert.equal(r.code, 0, r.err);
  assert.equal(loadRulesFile(file).attackSettings, null);
});

test('moat-waf compile carries the attacks section into the file', async () => {
  const src = join(dir, 'rules.yaml');
  writeFileSync(src, YAML);
  const out = join(dir, 'compiled.moat');
  const r = await cli(['compile', src, '-o', out]);
  assert.equal(r.code, 0, r.err);
  assert.equal(loadRulesFile(out).attackSettings!.modes.sqli, 'block');
});

test('a request beyond the attack work cap passes with an attack-cut note, counted by the engine', () => {
  const file = join(dir, 'cap.moat');
  writeRulesFile([], file, { attacks: parseRulesSource('attacks: block').attacks });
  const engine = new Engine({ rules: loadRulesFile(file) });
  // Clean but quote-rich fields, so every one is read by the detectors; the attack sits after the cap.
  const field = `note=${encodeURIComponent("it's a 'quoted' word; (really) ".repeat(2000))}`;
  const fields = Math.ceil((2 * MAX_WORK_PER_REQUEST) / field.length);
  const text = `${Array.from({ length: fields }, () => field).join('&')}&q=${encodeURIComponent("x' OR 1=1--")}`;
  const d = engine.evaluate({ ip: '192.0.2.1', path: '/', url: '/', body: { kind: 'form', text } });
  assert.equal(d.treatment, 'Passed');
  assert.ok(d.monitored.some((m) => m.category === 'attack-cut'), JSON.stringify(d.monitored));
  assert.equal(engine.attackScansCut, 1);
  // The same attack alone is blocked: the cap, not the detector, let it through.
  assert.equal(engine.evaluate({ ip: '192.0.2.1', path: '/', url: '/', body: { kind: 'form', text: `q=${encodeURIComponent("x' OR 1=1--")}` } }).treatment, 'Blocked');
});

test('a repeated request target is judged as the first time: monitor matches on every repeat, headers still read, exclusions per input', () => {
  const file = join(dir, 'repeat.moat');
  writeRulesFile([], file, { attacks: parseRulesSource(`attacks:
  sqli: monitor
  xss: block
  exclude:
    - path: /editor
      categories: [xss]
      params: [query.content]
`).attacks });
  const engine = new Engine({ rules: loadRulesFile(file) });
  const ua = 'Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0';
  const judge = (url: string, userAgent = ua) => {
    const path = url.split('?')[0]!;
    return engine.evaluate({ ip: '192.0.2.1', method: 'GET', path, url, userAgent, headers: { 'user-agent': userAgent } });
  };
  const injected = `/search?q=${encodeURIComponent("x' OR 1=1--")}`;
  for (let k = 0; k < 3; k++) {
    const d = judge(injected);
    assert.equal(d.treatment, 'Passed', `repeat ${k}`);
    assert.deepEqual(d.monitored.map((m) => m.category), ['attack-sqli'], `repeat ${k}`);
  }
  for (let k = 0; k < 3; k++) {
    const d = judge('/search?q=shoes&page=2');
    assert.equal(d.treatment, 'Passed');
    assert.deepEqual(d.monitored, []);
  }
  // The clean target again, now with an attack in the User-Agent: the headers are read after the target.
  const viaHeader = judge('/search?q=shoes&page=2', '<script>alert(1)</script>');
  assert.equal(viaHeader.treatment, 'Blocked');
  assert.equal(viaHeader.category, 'attack-xss');
  for (let k = 0; k < 2; k++) {
    assert.equal(judge(`/editor?content=${encodeURIComponent('<script>alert(1)</script>')}`).treatment, 'Passed', `excluded field, repeat ${k}`);
    assert.equal(judge(`/editor?title=${encodeURIComponent('<script>alert(1)</script>')}`).treatment, 'Blocked', `other field, repeat ${k}`);
  }
});
