// A flood of distinct user agents against the bot stage: an attacker rotating the User-Agent on every
// request (100,000 of them, bot-like and browser-like) must not grow the per-user-agent memo past its
// bound, and must not change what a remembered user agent decides. The engine is the real one on a real
// rules file; the HTTP part of the same attack is in bots-verified.test.ts (long and disguised values).

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseRulesSource } from '../../src/rules/document.js';
import { writeRulesFile } from '../../src/format/write-rules.js';
import { Engine } from '../../src/engine/engine.js';
import { buildDataFile } from '../../src/data/build-data.js';
import { parseRange } from '../../src/ip/range.js';

const dir = mkdtempSync(join(tmpdir(), 'moat-bots-flood-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** 2 generations × 2048 user agents (bots/bot-detector.ts). */
const MEMO_BOUND = 4096;

test('100,000 distinct user agents leave the bot memo bounded, and decisions unchanged for a remembered one', () => {
  const { rules, bots } = parseRulesSource('bots: { ai-crawler: block, unknown: block, spoofed: block }');
  const file = writeRulesFile(rules, join(dir, 'rules.moat'), { bots }).path;
  const engine = new Engine({ rules: Engine.open({ rules: file }).rules });
  const detector = engine.rules.bots!.detector;
  let largest = 0;
  let blocked = 0;
  for (let i = 0; i < 100_000; i++) {
    const ua = i % 2 === 0
      ? `Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/${i}.0 Safari/537.36`
      : `scraper-${i}-bot/1.0 (+https://example.test/bot)`;
    if (engine.evaluate({ ip: '203.0.113.9', userAgent: ua }).treatment === 'Blocked') blocked++;
    if (detector.memoSize > largest) largest = detector.memoSize;
    // A user agent the attacker keeps sending is answered from the memo, the same way each time.
    if (i % 10_000 === 0) {
      const scans = detector.scans;
      assert.equal(engine.evaluate({ ip: '203.0.113.9', userAgent: 'GPTBot/1.2' }).category, 'bot-ai-crawler');
      assert.equal(engine.evaluate({ ip: '203.0.113.9', userAgent: 'GPTBot/1.2' }).category, 'bot-ai-crawler');
      assert.ok(detector.scans - scans <= 1, 'a repeated user agent is scanned at most once');
    }
  }
  assert.ok(largest <= MEMO_BOUND, `memo held ${largest} user agents`);
  assert.ok(largest >= MEMO_BOUND / 2, 'the memo is in use');
  // Every bot-like one was refused as unknown (isbot), no browser was.
  assert.equal(blocked, 50_000);
});

test('an 8 KiB user agent is still judged whole: a claim at its end is spoofed, a bot-like start is unknown', () => {
  const { rules, bots } = parseRulesSource('bots: { unknown: block, spoofed: block }');
  const file = writeRulesFile(rules, join(dir, 'long.moat'), { bots }).path;
  const data = join(dir, 'crawlers.moat');
  buildDataFile({ lists: [{ name: 'googlebot', ranges: [parseRange('66.249.64.0/19')], summary: { name: 'googlebot', kind: 'cloud', ranges: 1, invalidLines: 0 } }] }, data);
  const engine = Engine.open({ rules: file, data });
  const padding = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) '.repeat(200);
  assert.ok(padding.length > 8000);
  // Past the memo's length and past what isbot is given: the claim scan still reads to the end.
  assert.equal(engine.evaluate({ ip: '203.0.113.9', userAgent: `${padding}Googlebot/2.1` }).category, 'bot-spoofed');
  assert.equal(engine.evaluate({ ip: '66.249.66.1', userAgent: `${padding}Googlebot/2.1` }).treatment, 'Passed');
  assert.equal(engine.evaluate({ ip: '203.0.113.9', userAgent: `python-requests/2.32 ${padding}` }).category, 'bot-unknown');
  assert.equal(engine.evaluate({ ip: '203.0.113.9', userAgent: padding }).treatment, 'Passed');
});
