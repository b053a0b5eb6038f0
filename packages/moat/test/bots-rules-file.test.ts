// Bot settings from rules-as-code to the rules file and back: validation with line numbers, the file's
// meta rows and hashes (readers from before bots still verify the file), refusal of edited settings,
// the trip through the load worker, and the catalogue's own checks.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { parseRulesSource, rulesToDocument } from '../src/rules/document.js';
import { botsFileHash, rulesContentHash, rulesFileHash, writeRulesFile } from '../src/format/write-rules.js';
import { readRules } from '../src/format/read-rules.js';
import { loadRulesFile } from '../src/format/load-files.js';
import { loadRulesOffThread, offThreadLoadCounts } from '../src/loading/load-off-thread.js';
import { packRuleSet, unpackRuleSet } from '../src/loading/rules-transfer.js';
import { Engine } from '../src/engine/engine.js';
import { normalizeBotCatalogue, shippedBotCatalogue } from '../src/bots/catalogue.js';
import { normalizeBotSettings } from '../src/rules/bot-settings.js';
import { RuleError } from '../src/rules/rule-error.js';
import { buildDataFile } from '../src/data/build-data.js';
import { parseRange } from '../src/ip/range.js';
import { cli } from './helpers/cli-in-process.js';
import { writeFileSync } from 'node:fs';

const dir = mkdtempSync(join(tmpdir(), 'moat-bots-file-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const YAML = `
block:
  paths: [/wp-login.php]
bots:
  search-engine: allow
  ai-crawler: block
  spoofed: block
  unknown: monitor
  yandexbot: off
`;
const GOOGLEBOT = 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)';

test('a bots section parses, round-trips through rulesToDocument, and is null when absent', () => {
  const { rules, bots } = parseRulesSource(YAML, 'rules.yaml');
  assert.deepEqual(bots!.modes, { 'ai-crawler': 'block', 'search-engine': 'allow', spoofed: 'block', unknown: 'monitor', yandexbot: 'off' });
  const again = parseRulesSource(JSON.stringify(rulesToDocument(rules, null, bots)));
  assert.deepEqual(again.bots!.modes, bots!.modes);
  assert.equal(parseRulesSource('block: { paths: [/x] }').bots, null);
});

test('bad bot settings are refused with their line: allow for spoofed or for a bot without ranges, unknown keys, bad modes', () => {
  const text = 'bots:\n  spoofed: allow\n  yandexbot: allow\n  robots: block\n  seo: deny\n';
  assert.throws(() => parseRulesSource(text, 'rules.yaml'), (e: unknown) => {
    assert.ok(e instanceof RuleError);
    const all = e.problems.join('\n');
    assert.match(all, /^rules\.yaml:2: bots\.spoofed: cannot be allowed/m);
    assert.match(all, /bots\.yandexbot: cannot be allowed by user agent alone/);
    assert.match(all, /unknown key "robots"/);
    assert.match(all, /bots\.seo: mode must be one of allow, block, monitor, off/);
    return true;
  });
});

test('the file carries the settings and the catalogue; readers from before bots still verify it', () => {
  const { rules, bots } = parseRulesSource(YAML);
  const withBots = writeRulesFile(rules, join(dir, 'with.moat'), { bots });
  const without = writeRulesFile(rules, join(dir, 'without.moat'));
  assert.notEqual(withBots.hash, without.hash, 'the settings are part of the identity clients compare');
  const db = new Database(withBots.path, { readonly: true });
  const meta = new Map((db.prepare('SELECT key, value FROM meta').all() as { key: string; value: string }[]).map((r) => [r.key, r.value]));
  // What a reader from before bots checks: the content hash over the rules alone.
  assert.equal(meta.get('content_hash'), rulesContentHash(readRules(db)));
  assert.equal(meta.get('bots_hash'), botsFileHash(rulesFileHash(meta.get('content_hash')!, null), JSON.parse(JSON.stringify(bots))));
  assert.equal(JSON.parse(meta.get('bots')!).catalogue.bots.length, shippedBotCatalogue().bots.length);
  db.close();
  const set = loadRulesFile(withBots.path);
  assert.equal(set.info.hash, withBots.hash);
  assert.deepEqual(set.botSettings!.modes, bots!.modes);
  assert.equal(loadRulesFile(without.path).bots, null);
});

test('a rules file whose bot settings were edited (spoofed: block → off) is refused whole', () => {
  const { rules, bots } = parseRulesSource(YAML);
  const file = writeRulesFile(rules, join(dir, 'edited.moat'), { bots }).path;
  const db = new Database(file);
  const row = db.prepare("SELECT value FROM meta WHERE key = 'bots'").get() as { value: string };
  db.prepare("UPDATE meta SET value = ? WHERE key = 'bots'").run(row.value.replace('"spoofed":"block"', '"spoofed":"off"'));
  db.close();
  assert.throws(() => loadRulesFile(file), /bot settings do not match their hash/);
});

test('bot settings survive the load worker and decide the same', async () => {
  const { rules, bots } = parseRulesSource(YAML);
  const file = writeRulesFile(rules, join(dir, 'worker.moat'), { bots }).path;
  const before = offThreadLoadCounts.worker;
  const set = await loadRulesOffThread({ path: file, verify: null });
  assert.ok(offThreadLoadCounts.worker + offThreadLoadCounts.inlineFallback > before);
  // And through the packed form explicitly, as structured clone carries it between threads.
  const { packed } = packRuleSet(loadRulesFile(file));
  const cloned = await unpackRuleSet(structuredClone(packed));
  for (const rs of [set, cloned]) {
    assert.deepEqual(rs.botSettings!.modes, bots!.modes);
    const engine = new Engine({ rules: rs });
    assert.equal(engine.evaluate({ ip: '203.0.113.9', userAgent: 'GPTBot/1.2' }).category, 'bot-ai-crawler');
    assert.equal(engine.evaluate({ ip: '203.0.113.9', userAgent: 'python-requests/2.32' }).monitored[0]?.category, 'bot-unknown');
  }
});

test('without the verify list in the data file a crawler claim is neither allowed nor called spoofed, and is counted', () => {
  const { rules, bots } = parseRulesSource(YAML);
  const file = writeRulesFile(rules, join(dir, 'nolist.moat'), { bots }).path;
  const data = join(dir, 'other-lists.moat');
  buildDataFile({ lists: [{ name: 'tor', ranges: [parseRange('198.51.100.0/24')], summary: { name: 'tor', kind: 'list', ranges: 1, invalidLines: 0 } }] }, data);
  const engine = Engine.open({ rules: file, data });
  const d = engine.evaluate({ ip: '203.0.113.9', userAgent: GOOGLEBOT });
  assert.equal(d.treatment, 'Passed');
  assert.deepEqual(d.monitored, []);
  assert.equal(engine.bots!.unprovable, 1);
});

test('an engine on a file without bot settings has no bot stage', () => {
  const file = writeRulesFile(parseRulesSource('block: { paths: [/x] }').rules, join(dir, 'plain.moat')).path;
  assert.equal(Engine.open({ rules: file }).bots, null);
});

test('the shipped catalogue is valid; a catalogue with a shared or too short token is refused', () => {
  const shipped = JSON.parse(readFileSync(new URL('../data/bots.json', import.meta.url), 'utf8')) as { bots: unknown[] };
  assert.equal(normalizeBotCatalogue(shipped).bots.length, shipped.bots.length);
  assert.throws(() => normalizeBotCatalogue({ bots: [
    { id: 'a', category: 'seo', tokens: ['crawlerx'] }, { id: 'b', category: 'seo', tokens: ['CrawlerX'] },
  ] }), /token "crawlerx" is also a's/);
  assert.throws(() => normalizeBotCatalogue({ bots: [{ id: 'a', category: 'seo', tokens: ['ab'] }] }), /3 to 64 characters/);
  assert.throws(() => normalizeBotCatalogue({ bots: [{ id: 'seo', category: 'seo', tokens: ['abc'] }] }), /is a category name/);
  // Settings are checked against the catalogue they are compiled with.
  const own = normalizeBotCatalogue({ bots: [{ id: 'crawly', category: 'seo', tokens: ['crawly'], verify: 'crawly-ranges' }] });
  assert.deepEqual(normalizeBotSettings({ crawly: 'allow' }, own)!.modes, { crawly: 'allow' });
  assert.throws(() => normalizeBotSettings({ googlebot: 'allow' }, own), /unknown key "googlebot"/);
});


test('moat-waf compile carries the bots section; rules add and remove keep it; rules list --json shows it', async () => {
  const src = join(dir, 'rules.yaml');
  writeFileSync(src, YAML);
  const file = join(dir, 'cli.moat');
  let r = await cli(['compile', src, '-o', file]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /bot settings included/);
  r = await cli(['rules', 'add', '--rules', file, 'block', 'path', '/xmlrpc.php']);
  assert.equal(r.code, 0, r.err);
  assert.equal(loadRulesFile(file).botSettings!.modes['ai-crawler'], 'block');
  r = await cli(['rules', 'list', '--rules', file, '--json']);
  assert.equal(r.code, 0, r.err);
  assert.equal((JSON.parse(r.out) as { bots: Record<string, string> }).bots.spoofed, 'block');
});
