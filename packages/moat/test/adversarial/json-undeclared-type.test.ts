// Hono's c.req.json() and every Web request.json() parse a body whatever its Content-Type says, so JSON
// sent as text/plain (a fetch() with a string body sends that by default) or with no Content-Type
// reached such apps unjudged while `body: { json: true }` read application/json only. Such a body is
// now judged when it reads as JSON. Real Hono on @hono/node-server, and handle() on a Web Request.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import { Hono } from 'hono';
import { createAdaptorServer } from '@hono/node-server';
import { moat } from '../../src/adapters/hono.js';
import { createFirewall, type Firewall } from '../../src/firewall/firewall.js';
import { close, listen, rulesFile } from '../adapters-helpers.js';
import { sendOpen } from './request-apps.js';

const PAYLOAD = JSON.stringify({ comment: '<script>alert(1)</script>' });

async function honoApp(firewall: Firewall | null): Promise<{ port: number; server: Server }> {
  const app = new Hono();
  if (firewall !== null) app.use(moat(firewall));
  app.post('/echo', async (c) => c.text(JSON.stringify(await c.req.json())));
  const server = createAdaptorServer({ fetch: app.fetch }) as Server;
  return { port: await listen(server), server };
}

for (const [label, rules] of [['parameter rule <script', { block: { params: ['<script'] } }], ['attack detection', { attacks: 'block' }]] as const) {
  test(`${label}: JSON sent as text/plain or without a Content-Type is judged, as c.req.json() reads it`, async () => {
    const file = rulesFile(rules);
    after(() => file.cleanup());
    const firewall = createFirewall({ rules: file.path, logger: false, body: { json: true } });
    const plain = await honoApp(null);
    const guarded = await honoApp(firewall);
    try {
      for (const headers of [{ 'content-type': 'text/plain;charset=UTF-8' }, {}, { 'content-type': 'text/plain, text/html' }] as Record<string, string>[]) {
        const request = { method: 'POST', path: '/echo', headers, body: PAYLOAD };
        assert.match((await sendOpen(plain.port, request)).body, /<script>alert/, `the app reads it (${JSON.stringify(headers)})`);
        assert.equal((await sendOpen(guarded.port, request)).status, 403, JSON.stringify(headers));
      }
      const clean = { method: 'POST', path: '/echo', headers: { 'content-type': 'text/plain' }, body: JSON.stringify({ comment: 'hello' }) };
      assert.equal((await sendOpen(guarded.port, clean)).status, 200);
      const web = await firewall.handle(new Request('http://example.test/echo', { method: 'POST', body: PAYLOAD }), { ip: '192.0.2.1' });
      assert.equal(web?.status, 403, 'the Web path: a string body is sent as text/plain');
    } finally {
      await close(plain.server);
      await close(guarded.server);
      firewall.close();
    }
  });
}

test('a text/plain body that is not JSON is left alone, as before', async () => {
  const file = rulesFile({ attacks: 'block' });
  after(() => file.cleanup());
  const firewall = createFirewall({ rules: file.path, logger: false, body: { json: true } });
  try {
    const answer = await firewall.handle(new Request('http://example.test/note', { method: 'POST', body: "it's O'Brien's -- note" }), { ip: '192.0.2.1' });
    assert.equal(answer, null);
    assert.equal(firewall.stats().bodiesInspected, 0);
  } finally {
    firewall.close();
  }
});
