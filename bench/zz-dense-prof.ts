import { readFileSync } from 'node:fs';
import { Engine } from '../packages/moat/src/engine/engine.js';
import { buildRuleSet } from '../packages/moat/src/engine/rule-set.js';
import { normalizeAttackSettings } from '../packages/moat/src/rules/attack-settings.js';
import { ALL_ATTACK_CATEGORIES, detectAttack } from '../packages/moat/src/attacks/index.js';
import { rng } from './lib/measure.js';
const random = rng(20);
const benign = readFileSync(new URL('../packages/moat/test/fixtures/attacks/benign.txt', import.meta.url), 'utf8').split('\n').filter(Boolean);
const cleanLines = benign.filter((line) => detectAttack(line, 'body', ALL_ATTACK_CATEGORIES) === null);
const bodies: string[][] = [];
for (let b = 0; b < 8; b++) {
  const fields: string[] = [];
  while (fields.length < 16) {
    let text = '';
    while (text.length < 4096) text += cleanLines[Math.floor(random() * cleanLines.length)] + ' ';
    text = text.slice(0, 4096);
    if (detectAttack(text, 'body', ALL_ATTACK_CATEGORIES) === null) fields.push(text);
  }
  bodies.push(fields);
}
const info = { path: null, format: 'moat' as const, formatVersion: 1, builtAt: null, hash: '' };
const on = new Engine({ rules: buildRuleSet([], info, undefined, normalizeAttackSettings('block')) });
const headers = { 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0', referer: 'https://shop.example/cart' };
const reqs = bodies.map((fields) => { const text = fields.map((v, f) => `field${f}=${encodeURIComponent(v).replaceAll('%20', '+')}`).join('&'); return { ip: '192.0.2.1', method: 'POST', path: '/comment', url: '/comment', headers, body: { kind: 'form' as const, text, bytes: Buffer.from(text, 'latin1') } }; });
const mode = process.argv[2] ?? 'engine';
const t0 = process.hrtime.bigint();
let n = 0;
const N = Number(process.argv[3] ?? 2000);
for (let i = 0; i < N; i++) {
  if (mode === 'engine') { if (on.evaluate(reqs[i & 7]!).treatment === 'Blocked') n++; }
  else for (const v of bodies[i & 7]!) if (detectAttack(v, 'body', ALL_ATTACK_CATEGORIES)) n++;
}
const t1 = process.hrtime.bigint();
console.log(mode, 'per body µs', Number(t1 - t0) / N / 1000, 'blocked', n);
