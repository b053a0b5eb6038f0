// A JSON body is walked whole by attack detection. The walk stopped after 32 levels or 10,000 nodes and
// called the rest clean, silently: 33 levels of `{"a": …}` around a payload (239 bytes), or 10,000 zeros
// before it, reached an Express app with express.json() unjudged. Object keys were also walked last to
// first. Now a body's walk is bounded by its length (one node per character at most), not by a count.
// Real Express app on 127.0.0.1 with express.json(); the engine directly for the order of the walk.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import express from 'express';
import { moat } from '../../src/adapters/express.js';
import { createFirewall } from '../../src/firewall/firewall.js';
import { detectInJson } from '../../src/attacks/detect-json.js';
import { ALL_ATTACK_CATEGORIES } from '../../src/attacks/types.js';
import { close, listen, rulesFile } from '../adapters-helpers.js';
import { sendOpen } from './request-apps.js';

const rules = rulesFile({ attacks: 'block' });
after(() => rules.cleanup());

const XSS = '<script>alert(document.cookie)</script>';

function nested(levels: number, inner: unknown): unknown {
  let doc = inner;
  for (let i = 0; i < levels; i++) doc = { a: doc };
  return doc;
}

const PADDED: readonly (readonly [string, unknown])[] = [
  ['33 levels of nesting', nested(33, { q: XSS })],
  ['200 levels of nesting', nested(200, { q: XSS })],
  ['10,000 zeros before it', { pad: new Array(10_000).fill(0), q: XSS }],
  ['the payload first, 10,000 zeros after', { q: XSS, pad: new Array(10_000).fill(0) }],
  ['an array of 10,000 zeros, then it', [...new Array(10_000).fill(0), XSS]],
  ['20,000 empty objects, then it', [...Array.from({ length: 20_000 }, () => ({})), { q: XSS }]],
];

test('Express with express.json(): a payload behind padding or deep nesting is blocked, and the app would have read it', async () => {
  const firewall = createFirewall({ rules: rules.path, logger: false, body: { json: true, limit: 256 * 1024 } });
  const seen: string[] = [];
  const app = express();
  app.use(moat(firewall));
  app.use(express.json({ limit: '1mb' }));
  app.post('/api', (req, res) => { seen.push(JSON.stringify(req.body)); res.send('app'); });
  const plain = express();
  plain.use(express.json({ limit: '1mb' }));
  plain.post('/api', (req, res) => { res.send(JSON.stringify(req.body).includes(XSS) ? 'payload read' : 'no payload'); });
  const server = createServer(app);
  const plainServer = createServer(plain);
  const port = await listen(server);
  const plainPort = await listen(plainServer);
  try {
    for (const [name, doc] of PADDED) {
      const request = { method: 'POST', path: '/api', headers: { 'content-type': 'application/json' }, body: JSON.stringify(doc) };
      assert.equal((await sendOpen(plainPort, request)).body, 'payload read', `${name}: the app reads the payload`);
      const res = await sendOpen(port, request);
      assert.equal(res.status, 403, name);
    }
    assert.deepEqual(seen, []);
    const clean = { pad: new Array(10_000).fill(0), nested: nested(100, { note: 'hello' }) };
    assert.equal((await sendOpen(port, { method: 'POST', path: '/api', headers: { 'content-type': 'application/json' }, body: JSON.stringify(clean) })).status, 200, 'a clean padded body passes');
  } finally {
    await close(server);
    await close(plainServer);
    firewall.close();
  }
});

test('the walk reads keys in document order: the first matching field is the one reported', () => {
  const hit = detectInJson({ first: XSS, second: "1' OR '1'='1' --" }, ALL_ATTACK_CATEGORIES);
  assert.equal(hit?.field, 'first');
  assert.equal(hit?.category, 'xss');
  const nestedHit = detectInJson({ a: { x: 'fine', y: XSS }, b: "1' OR '1'='1' --" }, ALL_ATTACK_CATEGORIES);
  assert.equal(nestedHit?.field, 'a.y');
});
