// A long ASCII form body is scanned once by a SIMD byte scan (attacks/byte-scan) that marks, 32 bytes
// at a time, where the characters a check needs are; each long field is then judged from those marks.
// An attacker who knows this places the attack where such a scan could lose it: across the edge of a
// 32-byte step, as a pair (`..`, the `pr` of `__proto__`) split between two steps or two 16-byte
// blocks, an escape cut by a step's edge, in a middle field with clean fields after it. Each attack
// below is sent at all 32 offsets of a step, in the eighth of sixteen 4 KiB fields, to a real Express
// app on 127.0.0.1, and must be answered 403 before the handler; the same forms with a benign twin
// (an ellipsis, the word "prototype", an apostrophe, "svg and onload") must reach the app.

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

const dir = mkdtempSync(join(tmpdir(), 'moat-byte-scan-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

async function start(): Promise<{ port: number; served: () => number; decisions: Decision[] }> {
  const { rules, attacks } = parseRulesSource(JSON.stringify({ attacks: 'block' }));
  const path = join(dir, 'rules.moat');
  writeRulesFile(rules, path, { attacks });
  const decisions: Decision[] = [];
  let served = 0;
  const firewall = createFirewall({ rules: path, logger: false, now: () => 0, body: { limit: 256 * 1024 }, onDecision: (d) => decisions.push(d) });
  after(() => firewall.close());
  const app = express();
  app.use(expressMoat(firewall));
  app.use(express.urlencoded({ extended: false, limit: '1mb' }));
  app.post('/comment', (_req, res) => {
    served++;
    res.send('served');
  });
  const server: Server = app.listen(0, '127.0.0.1');
  const port = await listen(server);
  after(() => close(server));
  return { port, served: () => served, decisions };
}

/** 4,000 characters of prose as a browser encodes it, without apostrophes (a field's first quote is then the attack's). */
const PROSE = new URLSearchParams({ v: 'I think the garden, my friend, is quiet? We walk to market in the evening. '.repeat(60) }).toString().slice(2).slice(0, 4000);

/** Sixteen fields of prose; the eighth carries `payload` after `offset` letters and a space, so it starts at each offset of a 32-byte step in turn. */
function form(payload: string, offset: number): string {
  return Array.from({ length: 16 }, (_, i) => `field${i}=${i === 7 ? `${PROSE}+${'y'.repeat(offset)}+${payload}+${PROSE.slice(0, 60)}` : PROSE}`).join('&');
}

const ATTACKS = [
  { name: 'a word of four dots (....), a traversal only the `..` pairs reveal', category: 'traversal', payload: '....', benign: '...' },
  { name: '__proto__.isAdmin, found from the `pr` pair', category: 'prototype', payload: '__proto__.isAdmin', benign: 'prototype+of+it' },
  { name: "x%27+OR+%271%27%3D%271, SQL behind an escaped quote", category: 'sqli', payload: 'x%27+OR+%271%27%3D%271', benign: 'x%27s+or+one' },
  { name: '%3Csvg+onload%3Dalert(1)%3E, XSS in escapes', category: 'xss', payload: '%3Csvg+onload%3Dalert(1)%3E', benign: 'svg+and+onload' },
  { name: '..%2F..%2F..%2Fetc%2Fpasswd, traversal with escaped slashes', category: 'traversal', payload: '..%2F..%2F..%2Fetc%2Fpasswd', benign: 'etc+and+passwd' },
];

test('Express: attacks in a middle field of a 64 KiB form, at every offset of a 32-byte scan step, are blocked', async () => {
  const app = await start();
  for (const a of ATTACKS) {
    for (let offset = 0; offset < 32; offset++) {
      const res = await send(app.port, { method: 'POST', path: '/comment', headers: FORM, body: form(a.payload, offset) });
      assert.equal(res.status, 403, `${a.name} at offset ${offset}: ${res.status}`);
      const d = app.decisions.at(-1)!;
      assert.equal(d.category, `attack-${a.category}`, `${a.name} at offset ${offset}: ${d.category}`);
      assert.ok(d.rule.startsWith('body.field7: '), `${a.name} at offset ${offset}: ${d.rule}`);
    }
  }
  assert.equal(app.served(), 0, 'no attack reached the handler');
});

test('Express: the same forms with a benign twin at every offset reach the app', async () => {
  const app = await start();
  for (const a of ATTACKS) {
    for (let offset = 0; offset < 32; offset++) {
      const res = await send(app.port, { method: 'POST', path: '/comment', headers: FORM, body: form(a.benign, offset) });
      assert.equal(res.status, 200, `${a.name} twin at offset ${offset} was blocked: ${app.decisions.at(-1)?.rule}`);
    }
  }
  assert.equal(app.served(), ATTACKS.length * 32);
});
