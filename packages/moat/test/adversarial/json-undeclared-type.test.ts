// Hono's c.req.json() and every Web request.json() parse a body whatever its Content-Type says, so JSON
// sent as text/plain (a fetch() with a string body sends that by default), as any other type
// (`application/octet-stream`, `text/html`, a made-up one) or with no Content-Type reached such apps
// unjudged while `body: { json: true }` read application/json only. Such a body is now judged when it
// reads as JSON. Real Hono on @hono/node-server, Express with express.json() taking every type, and
// handle() on a Web Request.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { connect } from 'node:net';
import { gzipSync } from 'node:zlib';
import type { Server } from 'node:http';
import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import { createAdaptorServer } from '@hono/node-server';
import { moat } from '../../src/adapters/hono.js';
import { moat as expressMoat } from '../../src/adapters/express.js';
import { moat as fastifyMoat } from '../../src/adapters/fastify.js';
import type { Firewall } from '../../src/firewall/firewall.js';
import { close, listen, firewallOn } from '../adapters-helpers.js';
import { sendOpen } from './request-apps.js';

const PAYLOAD = JSON.stringify({ comment: '<script>alert(1)</script>' });

async function honoApp(firewall: Firewall | null): Promise<{ port: number; server: Server }> {
  const app = new Hono();
  if (firewall !== null) app.use(moat(firewall));
  app.post('/echo', async (c) => c.text(JSON.stringify(await c.req.json())));
  const server = createAdaptorServer({ fetch: app.fetch }) as Server;
  return { port: await listen(server), server };
}

async function expressApp(firewall: Firewall | null): Promise<{ port: number; server: Server }> {
  const app = express();
  if (firewall !== null) app.use(expressMoat(firewall));
  app.use(express.json({ type: () => true }));
  app.post('/echo', (req, res) => { res.type('text/plain').send(JSON.stringify(req.body)); });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  return { port: (server.address() as { port: number }).port, server };
}

/** Content-Types an app's json() reads past: none, text, a list, uploads' types, markup, a made-up one. */
const UNDECLARED: readonly Record<string, string>[] = [
  { 'content-type': 'text/plain;charset=UTF-8' }, {}, { 'content-type': 'text/plain, text/html' },
  { 'content-type': 'application/octet-stream' }, { 'content-type': 'text/html' }, { 'content-type': 'application/xml' },
  { 'content-type': 'image/png' }, { 'content-type': 'x/y' }, { 'content-type': '' },
];

for (const [label, rules] of [['parameter rule <script', { block: { params: ['<script'] } }], ['attack detection', { attacks: 'block' }]] as const) {
  test(`${label}: JSON sent as another type or without a Content-Type is judged, as c.req.json() reads it`, async () => {
    const firewall = firewallOn(rules, { body: { json: true } });
    const plain = await honoApp(null);
    const guarded = await honoApp(firewall);
    const plainExpress = await expressApp(null);
    const guardedExpress = await expressApp(firewall);
    try {
      for (const headers of UNDECLARED) {
        for (const body of [PAYLOAD, `  \n${JSON.stringify([PAYLOAD])}`, `\ufeff${PAYLOAD}`]) {
          const request = { method: 'POST', path: '/echo', headers, body };
          for (const [name, open, shut] of [['Hono', plain, guarded], ['Express', plainExpress, guardedExpress]] as const) {
            assert.match((await sendOpen(open.port, request)).body, /<script>alert/, `${name} reads it (${JSON.stringify(headers)}, ${JSON.stringify(body.slice(0, 3))})`);
            assert.equal((await sendOpen(shut.port, request)).status, 403, `${name}, ${JSON.stringify(headers)}, ${JSON.stringify(body.slice(0, 3))}`);
          }
        }
      }
      const clean = { method: 'POST', path: '/echo', headers: { 'content-type': 'text/plain' }, body: JSON.stringify({ comment: 'hello' }) };
      assert.equal((await sendOpen(guarded.port, clean)).status, 200);
      const web = await firewall.handle(new Request('http://example.test/echo', { method: 'POST', body: PAYLOAD }), { ip: '192.0.2.1' });
      assert.equal(web?.status, 403, 'the Web path: a string body is sent as text/plain');
    } finally {
      for (const app of [plain, guarded, plainExpress, guardedExpress]) await close(app.server);
    }
  });
}

test('a long JSON string cut at body.limit is judged on its beginning, as the app reads it whole', async () => {
  const firewall = firewallOn({ attacks: 'block' }, { body: { json: true, limit: 1024 } });
  const body = JSON.stringify(`<script>alert(1)</script>${'x'.repeat(4096)}`);
  const answer = await firewall.handle(new Request('http://example.test/echo', { method: 'POST', body, headers: { 'content-type': 'application/octet-stream' } }), { ip: '192.0.2.1' });
  assert.equal(answer?.status, 403);
});

test('an upload that cannot be JSON is left alone and reaches the app byte for byte', async () => {
  const firewall = firewallOn({ attacks: 'block' }, { body: { json: true } });
  const app = express();
  app.use(expressMoat(firewall));
  app.post('/upload', express.raw({ type: () => true, limit: '1mb' }), (req, res) => {
    res.type('text/plain').send(createHash('sha256').update(req.body as Buffer).digest('hex'));
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const port = (server.address() as { port: number }).port;
  try {
    // A PNG's signature, then bytes that would be attacks if read as text; and 200 KiB of such bytes.
    const png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.from("' OR 1=1 -- <script>alert(1)</script>".repeat(6000))]);
    const prose = Buffer.from("it's O'Brien's -- note <b>bold</b>");
    for (const [type, bytes] of [['image/png', png], ['text/html', prose], ['application/octet-stream', png.subarray(0, 100)]] as const) {
      const answer = await fetch(`http://127.0.0.1:${port}/upload`, { method: 'POST', headers: { 'content-type': type }, body: bytes });
      assert.equal(answer.status, 200, type);
      assert.equal(await answer.text(), createHash('sha256').update(bytes).digest('hex'), `${type}: every byte reaches the app`);
    }
    assert.equal(firewall.stats().bodiesInspected, 0, 'none of them read as JSON');
  } finally {
    await close(server);
  }
});

test('text/plain that is not JSON is judged as the string Fastify and express.text() hand the route', async () => {
  const firewall = firewallOn({ attacks: 'block' });
  const route = async (guarded: boolean) => {
    const app = Fastify();
    if (guarded) await app.register(fastifyMoat, { firewall });
    // Fastify parses text/plain into a string by default: the route uses it as it is.
    app.post('/note', async (request) => `note: ${String(request.body)}`);
    await app.listen({ port: 0, host: '127.0.0.1' });
    return app;
  };
  const open = await route(false);
  const guarded = await route(true);
  try {
    const send = (app: typeof open, body: string) =>
      sendOpen((app.server.address() as { port: number }).port, { method: 'POST', path: '/note', headers: { 'content-type': 'text/plain; charset=utf-8' }, body });
    const attack = "x' UNION SELECT password FROM users--";
    assert.equal((await send(open, attack)).body, `note: ${attack}`, 'the route has the text');
    assert.equal((await send(guarded, attack)).status, 403);
    assert.equal((await send(guarded, '<script>alert(1)</script>')).status, 403);
    const prose = await send(guarded, "it's O'Brien's -- note, see <b>this</b> & that");
    assert.equal(prose.status, 200, 'prose with look-alikes passes');
    // Compressed text is judged inflated, as express.text() inflates it, never its compressed bytes as text.
    const gzipped = (text: string) => new Request('http://example.test/note', {
      method: 'POST', headers: { 'content-type': 'text/plain', 'content-encoding': 'gzip' }, body: new Uint8Array(gzipSync(text)) });
    assert.equal((await firewall.handle(gzipped(attack), { ip: '192.0.2.1' }))?.status, 403, 'gzipped attack');
    for (let i = 0; i < 200; i++) {
      assert.equal(await firewall.handle(gzipped(`note ${i}: ${'lorem ipsum dolor '.repeat(i % 7 + 1)}${i * 7919}`), { ip: '192.0.2.1' }), null, `gzipped prose ${i}`);
    }
    // Undeclared bodies that are not JSON are still left alone (no parser hands them over as text).
    const before = firewall.stats().bodiesInspected;
    assert.equal(await firewall.handle(new Request('http://example.test/note', { method: 'POST', body: new Uint8Array(Buffer.from("x' UNION SELECT 1--")) }), { ip: '192.0.2.1' }), null);
    assert.equal(firewall.stats().bodiesInspected, before);
  } finally {
    await open.close();
    await guarded.close();
  }
});

test('a body under another type that cannot open JSON reaches the app as it comes, not held for body.limit bytes', async () => {
  // JSON is read by default while attacks are detected, so bodies of other types are looked at too.
  const firewall = firewallOn({ attacks: 'block' });
  const app = express();
  app.use(expressMoat(firewall));
  // Answers as soon as the first bytes of the stream arrive, while the client holds the rest back.
  app.post('/stream', (req, res) => { req.once('data', (chunk: Buffer) => { res.send(`first: ${chunk.toString()}`); }); });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const port = (server.address() as { port: number }).port;
  try {
    for (const [type, first] of [['application/octet-stream', 'PK\u0003\u0004'], ['text/html', 'hello'], ['application/x-ndjson', ' \n<tag>']] as const) {
      const socket = connect(port, '127.0.0.1');
      await new Promise((resolve) => socket.once('connect', resolve));
      let answer = '';
      let restSent = false;
      const answered = new Promise<boolean>((resolve) => socket.on('data', (data: Buffer) => {
        answer += data.toString('latin1');
        if (answer.includes('first: ')) resolve(restSent);
      }));
      socket.write(`POST /stream HTTP/1.1\r\nHost: a\r\nContent-Type: ${type}\r\nTransfer-Encoding: chunked\r\n\r\n${first.length.toString(16)}\r\n${first}\r\n`);
      // Only if the app has not answered long after: the rest, so a held body ends the test instead of hanging it.
      const guard = setTimeout(() => { restSent = true; socket.write(`10000\r\n${'x'.repeat(0x10000)}\r\n0\r\n\r\n`); }, 30_000);
      const answeredAfterRest = await answered;
      clearTimeout(guard);
      socket.destroy();
      assert.equal(answeredAfterRest, false, `${type}: the app answered on the first bytes, before the rest was sent`);
    }
    assert.equal(firewall.stats().bodiesInspected, 0);
  } finally {
    await close(server);
  }
});
