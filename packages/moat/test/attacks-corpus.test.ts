/**
 * The labelled corpus (fixtures/attacks, see its README): per category, the share of attack payloads
 * caught with only that category enabled; over benign.txt, the share of (line, location) pairs any
 * category flags. Prints the confusion table (true category × detected as) for docs/attacks.md.
 */
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { ALL_ATTACK_CATEGORIES, ATTACK_CATEGORIES, attackCategorySet, detectAttack, detectInJson, type AttackCategory, type AttackLocation } from '../src/attacks/index.js';

const DIR = new URL('./fixtures/attacks/', import.meta.url);
const lines = (name: string) => readFileSync(new URL(name, DIR), 'utf8').split('\n').filter((l) => l.length > 0);

const MIN_DETECTION = 0.95;
const MAX_FALSE_POSITIVES = 0.003;

test('every attack category is caught at ≥ 95 % of its corpus, and the confusion table is printed', () => {
  const rows: string[] = [];
  const header = ['category', 'n', 'caught alone', ...ATTACK_CATEGORIES, 'none'];
  const row = (cells: (string | number)[]) => cells.map((c, i) => String(c).padStart(i === 0 ? 0 : 6).padEnd(i === 0 ? 10 : 0)).join(' ');
  rows.push(row(header.map((h) => (h === 'caught alone' ? 'alone' : (h === 'category' ? h : h.slice(0, 6))))));
  const failures: string[] = [];
  for (const category of ATTACK_CATEGORIES) {
    const payloads = lines(`${category}.txt`);
    assert.ok(payloads.length >= 200, `${category}.txt has ${payloads.length} payloads, want ≥ 200`);
    const only = attackCategorySet([category]);
    let caught = 0;
    const missed: string[] = [];
    const detectedAs = new Map<string, number>();
    for (const p of payloads) {
      if (detectAttack(p, 'query', only)) caught++;
      else missed.push(p);
      const any = detectAttack(p, 'query', ALL_ATTACK_CATEGORIES);
      const key = any ? any.category : 'none';
      detectedAs.set(key, (detectedAs.get(key) ?? 0) + 1);
    }
    const rate = caught / payloads.length;
    rows.push(row([category, payloads.length, `${(rate * 100).toFixed(1)}%`, ...ATTACK_CATEGORIES.map((c) => detectedAs.get(c) ?? 0), detectedAs.get('none') ?? 0]));
    if (rate < MIN_DETECTION) failures.push(`${category}: ${(rate * 100).toFixed(1)} % — missed e.g. ${missed.slice(0, 8).map((m) => JSON.stringify(m)).join(', ')}`);
  }
  console.log(rows.join('\n'));
  assert.deepEqual(failures, []);
});

/** Where each benign line plausibly arrives: every line as a query and form value and a JSON string; short single-line ones also as a header and a cookie value. */
function locationsOf(line: string): AttackLocation[] {
  const where: AttackLocation[] = ['query', 'body', 'json'];
  if (line.length <= 200) where.push('header', 'cookie');
  return where;
}

test('false positives stay ≤ 0.3 % over the benign corpus in every plausible location', () => {
  const benign = lines('benign.txt');
  assert.ok(benign.length >= 2000, `benign.txt has ${benign.length} lines, want ≥ 2000`);
  let checks = 0;
  const flagged: string[] = [];
  const byCategory = new Map<AttackCategory, number>();
  for (const line of benign) {
    for (const location of locationsOf(line)) {
      checks++;
      const hit = location === 'json' ? detectInJson({ value: line }, ALL_ATTACK_CATEGORIES) : detectAttack(line, location, ALL_ATTACK_CATEGORIES);
      if (hit) {
        flagged.push(`${location} ${hit.category} (${hit.reason}): ${JSON.stringify(line)}`);
        byCategory.set(hit.category, (byCategory.get(hit.category) ?? 0) + 1);
      }
    }
  }
  const rate = flagged.length / checks;
  console.log(`benign: ${benign.length} lines, ${checks} checks, ${flagged.length} flagged (${(rate * 100).toFixed(3)} %) ${JSON.stringify(Object.fromEntries(byCategory))}`);
  for (const f of [...new Set(flagged.map((f) => f.replace(/^\w+ /, '')))]) console.log('  flagged:', f);
  assert.ok(rate <= MAX_FALSE_POSITIVES, `false positives ${(rate * 100).toFixed(3)} % > ${MAX_FALSE_POSITIVES * 100} %`);
});

/**
 * Short posts from a text area: five benign lines joined by newlines. A newline is a shell separator and
 * quotes pair across lines, so this is harder than the lines alone (docs/attacks.md, "Multi-line text");
 * the bound holds what was measured (1.7 % on 2026-12-07, the lines the corpus test flags alone included) against a regression; it is not a target.
 */
test('multi-line posts of five benign lines: at most 3 % are flagged', () => {
  const benign = lines('benign.txt');
  let seed = 7;
  const random = () => {
    // mulberry32: a seeded, repeatable draw.
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const posts = 3000;
  const byCategory = new Map<string, number>();
  let flagged = 0;
  for (let p = 0; p < posts; p++) {
    const post = Array.from({ length: 5 }, () => benign[Math.floor(random() * benign.length)]!).join('\n');
    const hit = detectAttack(post, 'body', ALL_ATTACK_CATEGORIES);
    if (hit === null) continue;
    flagged++;
    byCategory.set(hit.category, (byCategory.get(hit.category) ?? 0) + 1);
  }
  const rate = flagged / posts;
  console.log(`multi-line posts: ${flagged} of ${posts} flagged (${(rate * 100).toFixed(2)} %) ${JSON.stringify(Object.fromEntries(byCategory))}`);
  assert.ok(rate <= 0.03, `multi-line posts flagged ${(rate * 100).toFixed(2)} % > 3 %`);
});
