// Attacks hidden in long form fields and long JSON strings, sent to real Express and Fastify apps on
// 127.0.0.1. Long form fields (from 256 characters) are decoded by the attack scan's own form decoder (a
// byte buffer, `+` turned to spaces a word at a time, escapes found natively), and values known to be
// ASCII skip the non-ASCII search (form fields by the decoder's word, JSON bodies by one check of the
// whole text): each test below buries an attack behind kilobytes of prose in the way those shortcuts
// could get wrong (`+` against `%2B`, escapes of UTF-8 characters, runs of escapes long enough to switch
// to the byte loop, raw UTF-8 bytes, overlong forms that decode to U+FFFD, JSON `\u` escapes, raw
// non-ASCII in JSON, long fields judged on their raw text: SQL whose words lie far past its quote, escaped
// letters) and requires a 403 before the handler runs. The same bodies without the attack must
// reach the app.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Server } from 'node:http';
import express from 'express';
import Fastify from 'fastify';
import { moat as expressMoat } from '../../src/adapters/express.js';
import { moat as fastifyMoat } from '../../src/adapters/fastify.js';
import { createFirewall } from '../../src/firewall/firewall.js';
import type { Decision } from '../../src/engine/decision.js';
import { parseRulesSource } from '../../src/rules/document.js';
import { writeRulesFile } from '../../src/format/write-rules.js';
import { close, listen, send } from '../adapters-helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'moat-long-form-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const BLOCK_ALL = (() => {
  const { rules, attacks } = parseRulesSource(JSON.stringify({ attacks: 'block' }));
  const path = join(dir, 'rules.moat');
  writeRulesFile(rules, path, { attacks });
  return path;
})();

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const JSON_TYPE = { 'content-type': 'application/json' };

interface App {
  port: number;
  served: number;
  decisions: Decision[];
}

type Framework = 'express' | 'fastify';

async function start(framework: Framework): Promise<App> {
  const app: App = { port: 0, served: 0, decisions: [] };
  // A body limit above the 64 KiB forms sent here, so every field is read.
  const firewall = createFirewall({ rules: BLOCK_ALL, logger: false, now: () => 0, body: { limit: 256 * 1024, json: true }, onDecision: (d) => app.decisions.push(d) });
  after(() => firewall.close());
  if (framework === 'express') {
    const server = express();
    server.use(expressMoat(firewall));
    server.use(express.urlencoded({ extended: false, limit: '1mb' }));
    server.use(express.json({ limit: '1mb' }));
    server.post('/{*rest}', (_req, res) => {
      app.served++;
      res.send('served');
    });
    const listening: Server = server.listen(0, '127.0.0.1');
    app.port = await listen(listening);
    after(() => close(listening));
    return app;
  }
  const server = Fastify({ bodyLimit: 1024 * 1024 });
  await server.register(fastifyMoat, { firewall });
  server.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => done(null, body));
  server.post('/*', async () => {
    app.served++;
    return 'served';
  });
  await server.listen({ port: 0, host: '127.0.0.1' });
  after(() => server.close());
  app.port = (server.server.address() as { port: number }).port;
  return app;
}

/**
 * Ordinary sentences, deterministic: commas, question marks and (with `apostrophes`) contractions;
 * nothing a detector reads as syntax. Text placed before a SQL payload has no apostrophe: in a real
 * query the first quote of a value is the one that closes its literal.
 */
function prose(length: number, seed: number, apostrophes = true): string {
  const words = ['the', 'garden', 'letter', 'morning', 'we', 'often', 'walk', 'to', 'market', 'quiet', 'evening', 'because', 'friends', 'visit'];
  const openings = apostrophes ? ["I don't think", "It's", 'My sister said', "They're sure", 'Honestly,'] : ['I think', 'It is', 'My sister said', 'They are sure', 'Honestly,'];
  let text = '';
  let k = seed;
  while (text.length < length) {
    text += openings[k % openings.length];
    for (let i = 0; i < 9; i++) text += ' ' + words[(k * 7 + i * 3) % words.length] + (i === 4 ? ',' : '');
    text += k % 5 === 0 ? '? ' : '. ';
    k++;
  }
  return text.slice(0, length);
}

/** Greek prose: every character is two percent escapes, so a field is a long run of escapes (the decoder's byte loop). */
function greek(length: number): string {
  const words = ['καλημέρα', 'φίλε', 'μου', 'σήμερα', 'ο', 'καιρός', 'είναι', 'ωραίος'];
  let text = '';
  for (let i = 0; text.length < length; i++) text += words[i % words.length] + ' ';
  return text.slice(0, length);
}

/** A browser's form encoding: spaces as `+`, everything but letters, digits and `*-._` escaped (so `+` itself is %2B). */
function formEncode(value: string): string {
  return new URLSearchParams({ v: value }).toString().slice(2);
}

/** Fifteen 4 KiB fields of prose, then `last` (already encoded): a 64 KiB form whose attack, if any, is at the very end. */
function longForm(last: string): string {
  const fields: string[] = [];
  for (let i = 0; i < 15; i++) fields.push(`field${i}=${formEncode(prose(4096, i))}`);
  fields.push(`comment=${last}`);
  return fields.join('&');
}

interface LongAttack {
  name: string;
  category: string;
  /** The last field, encoded as sent. */
  field: string;
  /** The same field without the attack, which must pass. */
  benign: string;
}

const before = formEncode(prose(4000, 99, false));
const ATTACKS: LongAttack[] = [
  {
    name: "SQL injection with + for spaces (1'+UNION+SELECT) at the end of a 4 KiB field of prose",
    category: 'sqli', field: `${before}+1'+UNION+SELECT+password+FROM+users--`, benign: `${before}+1+union+of+friends`,
  },
  {
    name: 'SQL injection closing a literal (x%27+OR+%271%27%3D%271) after prose, every quote and = escaped',
    category: 'sqli', field: `${before}%0Ax%27+OR+%271%27%3D%271`, benign: `${before}%0Ax%27s+or+one`,
  },
  {
    name: 'XSS written in fullwidth characters (%EF%BC%9Cscript%EF%BC%9E) after prose: escapes of UTF-8 characters, folded by NFKC',
    category: 'xss', field: `${before}+%EF%BC%9Cscript%EF%BC%9Ealert(1)%EF%BC%9C/script%EF%BC%9E`, benign: `${before}+%EF%BD%93%EF%BD%83%EF%BD%92%EF%BD%89%EF%BD%90%EF%BD%94+in+fullwidth+letters`,
  },
  {
    name: 'XSS <svg onload> after 4 KiB of Greek prose (a run of thousands of escapes)',
    category: 'xss', field: `${formEncode(greek(2000))}+${formEncode('<svg onload=alert(1)>')}`, benign: `${formEncode(greek(2000))}+${formEncode('svg and onload are words')}`,
  },
  {
    name: 'shell injection ;cat /etc/passwd sent as raw UTF-8 bytes (not escaped) after prose with accents',
    category: 'shell', field: `${before}+café+crème;cat+/etc/passwd`, benign: `${before}+café+crème+and+a+cat`,
  },
  {
    name: 'traversal with overlong UTF-8 dots (%c0%ae%c0%ae/) after prose, which decode to U+FFFD and are read raw again',
    category: 'traversal', field: `${before}+%c0%ae%c0%ae/%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd`, benign: `${before}+%c3%a9t%c3%a9+in+Paris`,
  },
  // Long fields of prose are judged on their raw text when nothing in it can matter (raw-form-field.ts):
  // SQL then reads decoded windows after each quote, which must reach as far as the SQL does.
  {
    name: 'SQL injection whose escaped quote is followed by 300 spaces (+) before UNION SELECT, at the start of a 4 KiB field of prose',
    category: 'sqli', field: `x%27${'+'.repeat(300)}UNION+SELECT+password+FROM+users--+${before}`, benign: `x%27s${'+'.repeat(300)}union+of+friends+${before}`,
  },
  {
    name: 'SQL injection in the numeric context (1+UNION+SELECT) opening a 4 KiB field of prose',
    category: 'sqli', field: `1+UNION+SELECT+password+FROM+users--+${before}`, benign: `1+union+of+friends+${before}`,
  },
  {
    name: 'prototype pollution with an escaped letter (__pr%6Fto__.isAdmin) after prose',
    category: 'prototype', field: `${before}+__pr%6Fto__.isAdmin`, benign: `${before}+pr%6Fto+type+of+the+garden`,
  },
  {
    name: 'template injection ${7*7} split as %24%7B7*7%7D after prose',
    category: 'template', field: `${before}+%24%7B7*7%7D`, benign: `${before}+%24%7Bname%7D+placeholder`,
  },
];

for (const framework of ['express', 'fastify'] as const) {
  test(`${framework}: an attack at the end of a 64 KiB form of prose is blocked before the handler, whatever encoding the long field uses`, async () => {
    const app = await start(framework);
    for (const a of ATTACKS) {
      app.decisions.length = 0;
      // Raw UTF-8 stays raw bytes on the wire (a client that does not escape them).
      const res = await send(app.port, { method: 'POST', path: '/comment', headers: FORM, body: Buffer.from(longForm(a.field), 'utf8') });
      assert.equal(res.status, 403, `${a.name}: ${res.status}`);
      const d = app.decisions.at(-1)!;
      assert.equal(d.category, `attack-${a.category}`, `${a.name}: ${d.category} ${d.rule}`);
      assert.ok(d.rule.startsWith('body.comment: '), `${a.name}: ${d.rule}`);
    }
    assert.equal(app.served, 0, 'no attack reached the handler');
  });

  test(`${framework}: the same 64 KiB forms without the attack reach the app`, async () => {
    const app = await start(framework);
    for (const a of ATTACKS) {
      const res = await send(app.port, { method: 'POST', path: '/comment', headers: FORM, body: Buffer.from(longForm(a.benign), 'utf8') });
      assert.equal(res.status, 200, `${a.name} (benign twin) was blocked: ${app.decisions.at(-1)?.rule}`);
      assert.equal(app.decisions.at(-1)!.monitored.length, 0, 'nothing monitored either');
    }
    assert.equal(app.served, ATTACKS.length);
  });
}

/** Sixteen 4 KiB strings of prose as a JSON document, the last one ending in `tail` (raw JSON text, already escaped). */
function longJson(tail: string): string {
  const fields = Array.from({ length: 16 }, (_, i) => JSON.stringify(prose(4096, i)));
  fields[15] = JSON.stringify(prose(4000, 15, false)).slice(0, -1) + tail + '"';
  return `{"post":{"fields":[${fields.join(',')}]}}`;
}

const JSON_ATTACKS: LongAttack[] = [
  { name: 'XSS in plain ASCII at the end of a 64 KiB JSON body (the body is all ASCII: no non-ASCII search)', category: 'xss', field: ' <svg onload=alert(1)>', benign: ' svg and onload are words' },
  // The JSON text stays ASCII; the string it decodes to does not (fullwidth brackets), so the body-wide check must see the escapes.
  { name: 'XSS in fullwidth brackets written as JSON \\u escapes (\\uff1csvg onload=…\\uff1e) after prose', category: 'xss', field: ' \\uff1csvg onload=alert(1)\\uff1e', benign: ' \\u00e9t\\u00e9 in Paris' },
  { name: 'XSS in fullwidth characters, raw in the JSON text, after prose', category: 'xss', field: ' ＜script＞alert(1)＜/script＞', benign: ' ｓｃｒｉｐｔ in fullwidth letters' },
  { name: 'template injection ${7*7} at the end of a 64 KiB JSON body', category: 'template', field: ' ${7*7}', benign: ' ${name} placeholder' },
];

for (const framework of ['express', 'fastify'] as const) {
  test(`${framework}: an attack at the end of a 64 KiB JSON body of prose is blocked, whether the body is ASCII, \\u-escaped or raw UTF-8`, async () => {
    const app = await start(framework);
    for (const a of JSON_ATTACKS) {
      const body = longJson(a.field);
      const res = await send(app.port, { method: 'POST', path: '/post', headers: JSON_TYPE, body: Buffer.from(body, 'utf8') });
      assert.equal(res.status, 403, `${a.name}: ${res.status}`);
      const d = app.decisions.at(-1)!;
      assert.equal(d.category, `attack-${a.category}`, `${a.name}: ${d.category} ${d.rule}`);
      assert.ok(d.rule.startsWith('json.post.fields.15: '), `${a.name}: ${d.rule}`);
    }
    assert.equal(app.served, 0, 'no attack reached the handler');
  });

  test(`${framework}: the same 64 KiB JSON bodies without the attack reach the app`, async () => {
    const app = await start(framework);
    for (const a of JSON_ATTACKS) {
      const res = await send(app.port, { method: 'POST', path: '/post', headers: JSON_TYPE, body: Buffer.from(longJson(a.benign), 'utf8') });
      assert.equal(res.status, 200, `${a.name} (benign twin) was blocked: ${app.decisions.at(-1)?.rule}`);
    }
    assert.equal(app.served, JSON_ATTACKS.length);
  });
}
