/**
 * Attack-detection cost (issue 20): added nanoseconds per request for the syntax detectors, against
 * the existing substring matcher (Aho-Corasick, as a "scary words" list would run in the engine today)
 * over the same values in the same run. Cases: a clean request of three short query parameters, and a
 * 64 KiB form body of corpus prose in 16 fields (benign corpus lines, dense with look-alikes), through
 * the engine also as JSON, and the same two bodies made of ordinary prose (plain sentences; the form
 * both as encodeURIComponent and as a browser encodes it, apostrophes as `%27`). Also
 * shown: the detectors without their prefilter, which is what the feature scan saves, and the request scan
 * on the ordinary-prose forms with and without its SIMD byte scan (WebAssembly), and the ordinary
 * prose sent as multipart/form-data (its parts read out, then judged). Values are drawn
 * from a pool larger than the matcher's memo, so neither side is flattered by caching.
 */
import { readFileSync } from 'node:fs';
import { SubstringMatcher } from '../packages/moat/src/engine/substring-matcher.js';
import { ALL_ATTACK_CATEGORIES, detectAttack } from '../packages/moat/src/attacks/index.js';
import { detectSqli } from '../packages/moat/src/attacks/sqli/detect-sqli.js';
import { detectXss } from '../packages/moat/src/attacks/xss/detect-xss.js';
import { detectTraversal } from '../packages/moat/src/attacks/traversal/detect-traversal.js';
import { detectShell } from '../packages/moat/src/attacks/shell/detect-shell.js';
import { detectSsrf } from '../packages/moat/src/attacks/ssrf/detect-ssrf.js';
import { detectNosql } from '../packages/moat/src/attacks/nosql/detect-nosql.js';
import { detectPrototypePollution } from '../packages/moat/src/attacks/prototype/detect-prototype-pollution.js';
import { detectTemplateInjection } from '../packages/moat/src/attacks/template/detect-template-injection.js';
import { fmtNs, measure, rng, type Measurement } from './lib/measure.js';
import { Engine } from '../packages/moat/src/engine/engine.js';
import { buildRuleSet } from '../packages/moat/src/engine/rule-set.js';
import { normalizeAttackSettings } from '../packages/moat/src/rules/attack-settings.js';
import type { MoatRequest } from '../packages/moat/src/engine/decision.js';
import { RequestAttackScan, compileAttackPolicy } from '../packages/moat/src/attacks/request-attacks.js';
import { multipartAsForm } from '../packages/moat/src/http/multipart-form.js';

export interface AttacksBenchOptions {
  quick?: boolean;
  log?: (s: string) => void;
}

export interface AttacksBenchRow {
  case: string;
  approach: string;
  m: Measurement;
  /** This approach's ns minus the baseline's, per request. */
  addedNs?: number;
}

/** A broad substring list of the kind the issue compares against (lower case). */
const SUBSTRINGS = [
  "' or", '" or', 'union select', 'select ', 'sleep(', 'benchmark(', 'pg_sleep', 'waitfor delay', '--', '/*', ';drop', '; drop', '<script', 'javascript:', 'onerror=', 'onload=', '<svg', '<iframe',
  '../', '..\\', '%2e%2e', '/etc/passwd', 'win.ini', ';id', '|id', '$(', '`', '${ifs}', '/bin/sh', 'cmd.exe', '127.0.0.1', 'localhost', '169.254.169.254', '[::1]', '$ne', '$where', '$gt',
  '__proto__', 'constructor[prototype]', '${jndi', '{{', '#{', '<%=',
];

/** Returns the rows; logs a short table. */
export async function runAttacksBench(o: AttacksBenchOptions = {}): Promise<{ rows: AttacksBenchRow[] }> {
  const log = o.log ?? (() => {});
  const ops = o.quick ? 20_000 : 200_000;
  const rounds = o.quick ? 3 : 7;
  const random = rng(20);
  const benign = readFileSync(new URL('../packages/moat/test/fixtures/attacks/benign.txt', import.meta.url), 'utf8').split('\n').filter(Boolean);
  const matcher = new SubstringMatcher(SUBSTRINGS.map((pattern, rule) => ({ pattern, rule })));

  // 1. Clean request: three short parameters, e.g. ?q=running+shoes&page=2&sort=price_asc.
  const words = ['running shoes', 'blue', 'winter jacket', 'laptop stand', 'garden hose', 'coffee', 'tent', 'kids bike', 'desk lamp', 'yoga mat'];
  const pool = Array.from({ length: 8192 }, (_, i) => [`${words[i % words.length]} ${i}`, String(1 + (i % 40)), ['price_asc', 'price_desc', 'newest', 'rating'][i % 4]]);
  const requests = pool;

  const rows: AttacksBenchRow[] = [];
  const clean = (name: string, fn: (v: string) => unknown) =>
    measure((i) => {
      const r = requests[i & 8191];
      return (fn(r[0]) ? 1 : 0) + (fn(r[1]) ? 1 : 0) + (fn(r[2]) ? 1 : 0);
    }, ops, rounds);

  // Interleave baseline and candidate rounds so machine noise hits both alike.
  const base1 = clean('matcher', (v) => matcher.match(v));
  const det1 = clean('detect', (v) => detectAttack(v, 'query', ALL_ATTACK_CATEGORIES));
  const base1b = clean('matcher', (v) => matcher.match(v));
  const nopre1 = clean('no prefilter', allDetectors);
  const baseline1 = base1.ns <= base1b.ns ? base1 : base1b;
  rows.push({ case: 'clean request, 3 short params', approach: 'substring matcher (baseline)', m: baseline1 });
  rows.push({ case: 'clean request, 3 short params', approach: 'attack detectors', m: det1, addedNs: det1.ns });
  rows.push({ case: 'clean request, 3 short params', approach: 'detectors without prefilter', m: nopre1 });

  // 2. A 64 KiB urlencoded form body, as parsed: 16 fields of 4 KiB of prose from the benign corpus.
  // Only lines the detectors pass, and only fields they pass as a whole (joined lines can form a
  // pipeline or a relative link two levels up): a flagged field would stop the scan early and flatter
  // the figure. The fields rejected are counted in the log.
  const cleanLines = benign.filter((line) => detectAttack(line, 'body', ALL_ATTACK_CATEGORIES) === null);
  const bodies: string[][] = [];
  let rejected = 0;
  for (let b = 0; b < 8; b++) {
    const fields: string[] = [];
    while (fields.length < 16) {
      let text = '';
      while (text.length < 4096) text += cleanLines[Math.floor(random() * cleanLines.length)] + ' ';
      text = text.slice(0, 4096);
      if (detectAttack(text, 'body', ALL_ATTACK_CATEGORIES) === null) fields.push(text);
      else rejected++;
    }
    bodies.push(fields);
  }
  log(`  (64 KiB bodies: ${cleanLines.length} of ${benign.length} corpus lines pass alone; ${rejected} joined 4 KiB fields were flagged and left out)`);
  const bodyOps = o.quick ? 200 : 2000;
  const body = (fn: (v: string) => unknown) =>
    measure((i) => {
      let hits = 0;
      for (const v of bodies[i & 7]) if (fn(v)) hits++;
      return hits;
    }, bodyOps, rounds);
  const base2 = body((v) => matcher.match(v));
  const det2 = body((v) => detectAttack(v, 'body', ALL_ATTACK_CATEGORIES));
  const nopre2 = body(allDetectors);
  rows.push({ case: '64 KiB form body, 16 fields', approach: 'substring matcher (baseline)', m: base2 });
  rows.push({ case: '64 KiB form body, 16 fields', approach: 'attack detectors', m: det2, addedNs: det2.ns });
  rows.push({ case: '64 KiB form body, 16 fields', approach: 'detectors without prefilter', m: nopre2 });

  // 3. Through the engine, as a request arrives (raw target, raw form body, JSON text): the engine
  // with every category in block mode against the same engine without attack settings.
  const info = { path: null, format: 'moat' as const, formatVersion: 1, builtAt: null, hash: '' };
  const off = new Engine({ rules: buildRuleSet([], info) });
  const on = new Engine({ rules: buildRuleSet([], info, undefined, normalizeAttackSettings('block')) });
  const headers = { 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0', referer: 'https://shop.example/cart' };
  const cleanRequests: MoatRequest[] = pool.map((p, i) => ({
    ip: `192.0.2.${i & 255}`, method: 'GET', path: '/search',
    url: `/search?q=${encodeURIComponent(p[0]!).replaceAll('%20', '+')}&page=${p[1]}&sort=${p[2]}`, headers,
  }));
  const engineCase = (engine: Engine, list: MoatRequest[], n: number) => measure((i) => engine.evaluate(list[i % list.length]!).treatment === 'Blocked', n, rounds);
  const cleanOff = engineCase(off, cleanRequests, ops);
  const cleanOn = engineCase(on, cleanRequests, ops);
  rows.push({ case: 'engine: clean request, 3 params', approach: 'attacks off', m: cleanOff });
  rows.push({ case: 'engine: clean request, 3 params', approach: 'attacks on (all block)', m: cleanOn, addedNs: cleanOn.ns - cleanOff.ns });
  const formRequests: MoatRequest[] = bodies.map((fields) => ({
    ip: '192.0.2.1', method: 'POST', path: '/comment', url: '/comment', headers,
    body: formBody(fields.map((v, f) => `field${f}=${encodeURIComponent(v).replaceAll('%20', '+')}`).join('&')),
  }));
  const jsonRequests: MoatRequest[] = bodies.map((fields) => ({
    ip: '192.0.2.1', method: 'POST', path: '/comment', url: '/comment', headers,
    body: { kind: 'json', text: JSON.stringify({ post: { fields: fields.map((v, f) => ({ name: `field${f}`, text: v })) } }) },
  }));
  const formOff = engineCase(off, formRequests, bodyOps);
  const formOn = engineCase(on, formRequests, bodyOps);
  const jsonOn = engineCase(on, jsonRequests, bodyOps);
  // The figures below mean a whole body was read only if none of these requests is blocked.
  for (const r of [...formRequests, ...jsonRequests]) if (on.evaluate(r).treatment === 'Blocked') throw new Error('a bench body was flagged: its figure would cover part of the body only');
  rows.push({ case: 'engine: 64 KiB form body', approach: 'attacks on (all block)', m: formOn, addedNs: formOn.ns - formOff.ns });
  rows.push({ case: 'engine: 64 KiB JSON body', approach: 'attacks on (all block)', m: jsonOn, addedNs: jsonOn.ns - formOff.ns });

  // 4. The same 64 KiB shapes made of ordinary prose instead of corpus lines: plain sentences with commas,
  // question marks and contractions, none of the corpus's look-alikes (quotes around code, `&`, `..`,
  // URLs, markup). What a comment or message form usually carries; the corpus case above is the hard one.
  const ordinaryBodies = Array.from({ length: 8 }, () => Array.from({ length: 16 }, () => ordinaryProse(4096, random)));
  const ordinaryForm: MoatRequest[] = ordinaryBodies.map((fields) => ({
    ip: '192.0.2.1', method: 'POST', path: '/comment', url: '/comment', headers,
    body: formBody(fields.map((v, f) => `field${f}=${encodeURIComponent(v).replaceAll('%20', '+')}`).join('&')),
  }));
  const ordinaryJson: MoatRequest[] = ordinaryBodies.map((fields) => ({
    ip: '192.0.2.1', method: 'POST', path: '/comment', url: '/comment', headers,
    body: { kind: 'json', text: JSON.stringify({ post: { fields: fields.map((v, f) => ({ name: `field${f}`, text: v })) } }) },
  }));
  // As a browser's form encoding sends it: apostrophes and every other punctuation escaped (`%27`, `%2C`).
  const ordinaryBrowserForm: MoatRequest[] = ordinaryBodies.map((fields) => ({
    ip: '192.0.2.1', method: 'POST', path: '/comment', url: '/comment', headers,
    body: formBody(fields.map((v, f) => `field${f}=${new URLSearchParams({ v }).toString().slice(2)}`).join('&')),
  }));
  for (const r of [...ordinaryForm, ...ordinaryBrowserForm, ...ordinaryJson]) if (on.evaluate(r).treatment === 'Blocked') throw new Error('an ordinary-prose bench body was flagged');
  const ordinaryOff = engineCase(off, ordinaryForm, bodyOps);
  const ordinaryFormOn = engineCase(on, ordinaryForm, bodyOps);
  const ordinaryBrowserOn = engineCase(on, ordinaryBrowserForm, bodyOps);
  const ordinaryJsonOn = engineCase(on, ordinaryJson, bodyOps);
  rows.push({ case: 'engine: 64 KiB form, ordinary prose', approach: 'attacks on (all block)', m: ordinaryFormOn, addedNs: ordinaryFormOn.ns - ordinaryOff.ns });
  rows.push({ case: 'engine: 64 KiB form, ordinary, browser', approach: 'attacks on (all block)', m: ordinaryBrowserOn, addedNs: ordinaryBrowserOn.ns - ordinaryOff.ns });
  rows.push({ case: 'engine: 64 KiB JSON, ordinary prose', approach: 'attacks on (all block)', m: ordinaryJsonOn, addedNs: ordinaryJsonOn.ns - ordinaryOff.ns });
  // The same fields as a browser's multipart/form-data: the parts read out as a form (the firewall does
  // this before the engine), then judged. Added against the urlencoded form with attacks off.
  const boundary = '----MoatBenchBoundary7MA4YWxkTrZu0gW';
  const multipartBodies = ordinaryBodies.map((fields) =>
    Buffer.from(`${fields.map((v, f) => `--${boundary}\r\nContent-Disposition: form-data; name="field${f}"\r\n\r\n${v}\r\n`).join('')}--${boundary}--\r\n`));
  const multipartOn = measure((i) => {
    const form = multipartAsForm(multipartBodies[i & 7]!, [boundary])!;
    return on.evaluate({ ip: '192.0.2.1', method: 'POST', path: '/comment', url: '/comment', headers, body: { kind: 'form', text: form.toString('latin1'), bytes: form } }).treatment === 'Blocked';
  }, bodyOps, rounds);
  rows.push({ case: 'engine: 64 KiB multipart, ordinary prose', approach: 'parts read + attacks on (all block)', m: multipartOn, addedNs: multipartOn.ns - ordinaryOff.ns });

  // 5. Hostile bodies: 64 KiB that no detector flags, built to make detection slow (a separator or its
  // look-alike every character or two). The worst of them is the most an attacker can make one body cost.
  const hostileOps = o.quick ? 5 : 40;
  for (const [name, unit, kind] of HOSTILE_BODIES) {
    const value = unit.repeat(Math.ceil(64000 / unit.length)).slice(0, 64000);
    const text = kind === 'json' ? JSON.stringify({ f: value }) : `f=${value}`;
    const request: MoatRequest = {
      ip: '192.0.2.1', method: 'POST', path: '/comment', url: '/comment', headers,
      body: kind === 'json' ? { kind: 'json', text } : formBody(text),
    };
    if (on.evaluate(request).treatment === 'Blocked') throw new Error(`the hostile body ${name} was flagged: its figure would cover part of it only`);
    rows.push({ case: `engine: 64 KiB hostile, ${name}`, approach: 'attacks on (all block)', m: engineCase(on, [request], hostileOps) });
  }
  // Distinct climbing words after an escape (`&amp; ../x0 ../x1 …` as JSON): not one unit repeated, so a
  // search per word for where it was written went through half the value each time (160 ms before 2026-12-07).
  {
    let words = '&amp; ';
    for (let i = 0; words.length < 64000; i++) words += `../x${i} `;
    const request: MoatRequest = { ip: '192.0.2.1', method: 'POST', path: '/comment', url: '/comment', headers, body: { kind: 'json', text: JSON.stringify({ f: words.slice(0, 64000) }) } };
    if (on.evaluate(request).treatment === 'Blocked') throw new Error('the hostile body of distinct words was flagged');
    rows.push({ case: 'engine: 64 KiB hostile, distinct `../xN` (JSON)', approach: 'attacks on (all block)', m: engineCase(on, [request], hostileOps) });
  }

  // 6. The attack scan alone on the ordinary-prose forms: with the SIMD byte scan (what runs) and without
  // it (what runs where WebAssembly is unavailable: native searches per character and field), interleaved.
  const policy = compileAttackPolicy(normalizeAttackSettings('block'))!;
  const withScan = new RequestAttackScan();
  const withoutScan = new RequestAttackScan(null);
  const bothForms = [...ordinaryForm, ...ordinaryBrowserForm];
  const scanCase = (scan: RequestAttackScan) => measure((i) => scan.run(policy, bothForms[i & 15]!).block !== null, bodyOps, rounds);
  const searched = scanCase(withoutScan);
  const scanned = scanCase(withScan);
  const searchedAgain = scanCase(withoutScan);
  const searchedBest = searched.ns <= searchedAgain.ns ? searched : searchedAgain;
  rows.push({ case: 'attack scan: 64 KiB form, ordinary prose', approach: 'native searches (no WebAssembly)', m: searchedBest });
  rows.push({ case: 'attack scan: 64 KiB form, ordinary prose', approach: 'SIMD byte scan', m: scanned });

  for (const r of rows) log(`  ${r.case.padEnd(42)} ${r.approach.padEnd(30)} ${fmtNs(r.m.ns).padStart(10)} per request (min ${fmtNs(r.m.min)}, max ${fmtNs(r.m.max)})`);
  return { rows };
}

/** Hostile bodies: name, the unit repeated to 64 KiB, and how it is sent (a raw form field or a JSON string). */
const HOSTILE_BODIES: readonly (readonly [string, string, 'form' | 'json'])[] = [
  ['newlines (JSON)', '\n', 'json'],
  ['`||` (form)', '||', 'form'],
  ['`a&` (form, fields without =)', 'a&', 'form'],
  ['`&amp;` (JSON)', '&amp;', 'json'],
  ['`$|` (form)', '$|', 'form'],
  ['`$(` (form)', '$(', 'form'],
  // Found by a fuzzer over repeated units (2026-12-07): each climbing word or URL cost microseconds before.
  ['`.. ` (form)', '.. ', 'form'],
  ['`http://@` (form)', 'http://@', 'form'],
];

const ORDINARY_WORDS = (
  'the a we you it our team weather garden morning river book friend dinner train city week plan idea letter music coffee window ' +
  'street evening school market walk read write bring open close think know visit enjoy remember quickly slowly really always ' +
  'never often today tomorrow yesterday because although while after before however beautiful quiet busy small large warm cold early late happy tired'
).split(' ');
const ORDINARY_OPENINGS = ["I don't think", "It's", 'We', 'My sister', "You'll see that", 'Last week', 'In the evening', 'Honestly,', "They're sure"];

/** `length` characters of plain sentences: words, commas, full stops, question marks, contractions. */
function ordinaryProse(length: number, random: () => number): string {
  const pick = (list: readonly string[]) => list[Math.floor(random() * list.length)]!;
  let text = '';
  while (text.length < length) {
    text += pick(ORDINARY_OPENINGS);
    const words = 6 + Math.floor(random() * 12);
    for (let i = 0; i < words; i++) text += ' ' + pick(ORDINARY_WORDS) + (i === 4 && random() < 0.5 ? ',' : '');
    text += random() < 0.15 ? '? ' : random() < 0.06 ? '! ' : '. ';
  }
  return text.slice(0, length);
}

/** A form body as the firewall passes it (firewall/body-reading.ts): the latin1 text and the bytes it was read from. */
function formBody(text: string): { kind: 'form'; text: string; bytes: Uint8Array } {
  return { kind: 'form', text, bytes: Buffer.from(text, 'latin1') };
}

/** Every detector on the raw value, no feature scan, no decoding: what the prefilter saves. */
function allDetectors(v: string): unknown {
  return detectSqli(v) ?? detectXss(v) ?? detectTraversal(v, null) ?? detectShell(v) ?? detectSsrf(v) ?? detectNosql(v) ?? detectPrototypePollution(v) ?? detectTemplateInjection(v);
}

// Run directly: node --import tsx bench/attacks-bench.ts [--quick]
if (import.meta.url === `file://${process.argv[1]}`) {
  await runAttacksBench({ quick: process.argv.includes('--quick'), log: console.log });
}
