// Moat mounted after a middleware that awaits something (a session store, an auth lookup, a feature flag)
// is called when the body has already arrived: Node's parser went on pushing it into the request stream
// meanwhile, where it waits, unread, for the app's body parser. Moat used to see bytes in the buffer and
// count the body `unreadable`, unjudged, so `q=<script>` reached the route past a parameter rule and
// attack detection. Now the waiting bytes are looked at where they lie (never taken; decoded ones as the
// bytes they were sent as), and the rest, if any is still to come, is peeked as before. Real Express, Fastify, Koa and Hono (node-server) apps on 127.0.0.1.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { IncomingMessage, Server } from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import express from 'express';
import Koa from 'koa';
import { bodyParser } from '@koa/bodyparser';
import { serve, type HttpBindings } from '@hono/node-server';
import { Hono } from 'hono';
import Fastify from 'fastify';
import formbody from '@fastify/formbody';
import { moat } from '../../src/adapters/express.js';
import { moat as koaMoat } from '../../src/adapters/koa.js';
import { moat as honoMoat } from '../../src/adapters/hono.js';
import { moat as fastifyMoat } from '../../src/adapters/fastify.js';
import type { Firewall } from '../../src/firewall/firewall.js';
import { close, firewallOn } from '../adapters-helpers.js';
import { sendOpen } from './request-apps.js';

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const ATTACK_FORM = 'name=ann&q=%3Cscript%3Ealert(1)%3C%2Fscript%3E';
const ATTACK_JSON = JSON.stringify({ q: "x' UNION SELECT password FROM users--" });

/** Waits, as a middleware awaiting a store would, until `bytes` of the body sit in the stream (or it all came). */
async function untilWaiting(req: IncomingMessage, bytes: number): Promise<void> {
  for (let i = 0; i < 2_000 && req.readableLength < bytes && !req.complete; i++) await new Promise((resolve) => setTimeout(resolve, 5));
  assert.ok(req.readableLength > 0, 'the body waits in the stream when Moat is called');
  assert.equal(req.readableDidRead, false);
}

const digest = (bytes: Buffer | string) => createHash('sha256').update(bytes).digest('hex');

const port = (server: Server) => (server.address() as AddressInfo).port;

/**
 * On the app at `at` (whose route answers with the body it parsed, as JSON): the form attack refused, the
 * JSON one too when `json`, a clean form reaching the route parsed, and no body counted unreadable.
 */
async function assertWaitingBodiesJudged(at: number, firewall: Firewall, path: string, json: boolean): Promise<void> {
  assert.equal((await sendOpen(at, { method: 'POST', path, headers: FORM, body: ATTACK_FORM })).status, 403, 'the form');
  if (json) assert.equal((await sendOpen(at, { method: 'POST', path, headers: { 'content-type': 'application/json' }, body: ATTACK_JSON })).status, 403, 'the JSON');
  const clean = await sendOpen(at, { method: 'POST', path, headers: FORM, body: 'name=ann&q=hello' });
  assert.equal(clean.status, 200);
  assert.deepEqual(JSON.parse(clean.body), { name: 'ann', q: 'hello' }, 'the app still parses the body');
  assert.equal(firewall.stats().bodiesUninspected.unreadable, 0, 'nothing counted unreadable');
}

/** Express: an awaiting middleware, then Moat, then the parsers; /raw hands the route the bytes as they came. */
async function expressApp(firewall: Firewall, onMoat?: () => void): Promise<{ port: number; server: Server }> {
  const app = express();
  app.use(async (req, _res, next) => {
    await untilWaiting(req, Number(req.headers['x-wait-for'] ?? 1));
    next();
    onMoat?.();
  });
  app.use(moat(firewall));
  app.post('/form', express.urlencoded({ extended: false }), (req, res) => { res.send(JSON.stringify(req.body)); });
  app.post('/json', express.json(), (req, res) => { res.send(JSON.stringify(req.body)); });
  app.post('/raw', express.raw({ type: () => true, limit: '1mb' }), (req, res) => {
    const body = req.body as Buffer;
    res.send(`${body.length} ${digest(body)}`);
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  return { port: (server.address() as AddressInfo).port, server };
}

test('Express: a body that arrived while a middleware awaited is judged, and reaches the app whole', async () => {
  for (const rules of [{ block: { params: ['<script'] } }, { attacks: 'block' }]) {
    const firewall = firewallOn(rules, { body: { json: true } });
    const { port, server } = await expressApp(firewall);
    try {
      const form = await sendOpen(port, { method: 'POST', path: '/form', headers: FORM, body: ATTACK_FORM });
      assert.equal(form.status, 403, `${JSON.stringify(rules)}: the form's value is judged`);
      if ('attacks' in rules) {
        const json = await sendOpen(port, { method: 'POST', path: '/json', headers: { 'content-type': 'application/json' }, body: ATTACK_JSON });
        assert.equal(json.status, 403, 'the JSON body is judged');
      }
      const clean = await sendOpen(port, { method: 'POST', path: '/form', headers: FORM, body: 'name=ann&q=hello' });
      assert.equal(clean.status, 200);
      assert.deepEqual(JSON.parse(clean.body), { name: 'ann', q: 'hello' }, 'the app still parses the body');
      assert.equal(firewall.stats().bodiesUninspected.unreadable, 0, 'nothing counted unreadable');
    } finally {
      await close(server);
    }
  }
});

test('Express: part of the body waiting, the rest still to come: both parts judged, every byte delivered in order', async () => {
  const firewall = firewallOn({ block: { params: ['<script'] } });
  let moatCalled: () => void = () => {};
  const { port, server } = await expressApp(firewall, () => moatCalled());
  try {
    const first = Buffer.from(`a=${'x'.repeat(3000)}&`);
    for (const [rest, status] of [[Buffer.from(`b=${'y'.repeat(3000)}&q=%3Cscript%3E`), 403], [Buffer.from(`b=${'y'.repeat(3000)}&q=fine`), 200]] as const) {
      const called = new Promise<void>((resolve) => { moatCalled = resolve; });
      const body = Buffer.concat([first, rest]);
      // The head and `first` now; `rest` once Moat is judging: part of the body waits in the stream, part is still to come.
      const answer = await sendOpen(port, { method: 'POST', path: '/raw', headers: { ...FORM, 'x-wait-for': String(first.length) }, body: first },
        { bytes: rest, after: called });
      assert.equal(answer.status, status, `${rest.subarray(-12)}: the match in the part that came later decides`);
      if (status === 200) assert.equal(answer.body, `${body.length} ${digest(body)}`, 'the app got every byte, in order');
    }
    assert.equal(firewall.stats().bodiesUninspected.unreadable, 0);
  } finally {
    await close(server);
  }
});

test('Express: a waiting body longer than body.limit is judged on its beginning and reaches the app whole', async () => {
  const firewall = firewallOn({ block: { params: ['<script'] } }, { body: { limit: 1024 } });
  const { port, server } = await expressApp(firewall);
  try {
    const early = `q=%3Cscript%3E&pad=${'p'.repeat(8000)}`;
    const blocked = await sendOpen(port, { method: 'POST', path: '/raw', headers: { ...FORM, 'x-wait-for': String(early.length) }, body: early });
    assert.equal(blocked.status, 403, 'the match inside the limit is found');
    const late = `pad=${'p'.repeat(8000)}&q=%3Cscript%3E`;
    const passed = await sendOpen(port, { method: 'POST', path: '/raw', headers: { ...FORM, 'x-wait-for': String(late.length) }, body: late });
    assert.equal(passed.status, 200, 'past the limit: not read, as for any body (body.oversize judges those)');
    assert.equal(passed.body, `${late.length} ${digest(late)}`, 'the app got the whole body');
    assert.equal(firewall.stats().bodiesTruncated, 2);
  } finally {
    await close(server);
  }
});

test('Express: a waiting body that filled the stream\'s buffer (the parser stopped reading the socket) is read on, judged and delivered', async () => {
  // Past the stream's mark (16 KiB) the parser stops reading until someone reads: Moat must ask for the rest.
  const firewall = firewallOn({ block: { params: ['<script'] } }, { body: { limit: 256 * 1024 } });
  const { port, server } = await expressApp(firewall);
  try {
    const pad = (n: number) => 'p'.repeat(n);
    const late = `a=${pad(200 * 1024)}&q=%3Cscript%3E&b=${pad(300 * 1024)}`;
    const wait = { ...FORM, 'x-wait-for': String(16 * 1024) };
    const blocked = await sendOpen(port, { method: 'POST', path: '/raw', headers: wait, body: late });
    assert.equal(blocked.status, 403, 'the match after the waiting part, inside body.limit, is found');
    const clean = `a=${pad(200 * 1024)}&q=fine&b=${pad(300 * 1024)}`;
    const passed = await sendOpen(port, { method: 'POST', path: '/raw', headers: wait, body: clean });
    assert.equal(passed.status, 200);
    assert.equal(passed.body, `${clean.length} ${digest(clean)}`, 'the app got all 500 KiB, in order');
  } finally {
    await close(server);
  }
});

/** Express: a middleware that gives the stream `encoding` and awaits, then Moat; the route answers with the text it read. */
async function decodingApp(firewall: Firewall, encoding: BufferEncoding, onMoat?: () => void): Promise<{ port: number; server: Server }> {
  const app = express();
  app.use(async (req, _res, next) => {
    req.setEncoding(encoding);
    await untilWaiting(req, Number(req.headers['x-wait-for'] ?? 1));
    next();
    onMoat?.();
  });
  app.use(moat(firewall));
  app.post('/text', (req, res) => {
    let text = '';
    req.on('data', (chunk: string) => { text += chunk; });
    req.on('end', () => res.send(Buffer.from(text, encoding).toString('hex')));
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  return { port: port(server), server };
}

test('a waiting body in a stream given an encoding (its chunks are strings now) is judged as the bytes sent, and the app still reads it', async () => {
  for (const encoding of ['latin1', 'utf8', 'hex', 'base64'] as const) {
    const firewall = firewallOn({ block: { params: ['<script'] } });
    const { port: at, server } = await decodingApp(firewall, encoding);
    try {
      const blocked = await sendOpen(at, { method: 'POST', path: '/text', headers: FORM, body: ATTACK_FORM });
      assert.equal(blocked.status, 403, `${encoding}: judged`);
      const clean = 'name=ann&q=hello';
      const answer = await sendOpen(at, { method: 'POST', path: '/text', headers: FORM, body: clean });
      assert.equal(answer.status, 200);
      assert.equal(answer.body, Buffer.from(clean).toString('hex'), `${encoding}: the app reads every byte`);
      assert.equal(firewall.stats().bodiesUninspected.unreadable, 0);
    } finally {
      await close(server);
    }
  }
});

test('UTF-8: a character split between the waiting part and the part still to come is judged whole, as the app reads it', async () => {
  // A JSON value with a rule on text holding the é: its first byte arrives with the waiting part and sits
  // in the stream's decoder, the second comes after Moat is called.
  const firewall = firewallOn({ block: { params: ['q=café <b'] } }, { body: { json: true } });
  let moatCalled: () => void = () => {};
  const { port: at, server } = await decodingApp(firewall, 'utf8', () => moatCalled());
  try {
    const json = { 'content-type': 'application/json' };
    for (const [value, status] of [['café <b>', 403], ['café <i>', 200]] as const) {
      const body = Buffer.from(JSON.stringify({ q: value }));
      const split = body.indexOf(0xc3) + 1;
      const called = new Promise<void>((resolve) => { moatCalled = resolve; });
      const answer = await sendOpen(at, { method: 'POST', path: '/text', headers: { ...json, 'x-wait-for': String(split - 1) }, body: body.subarray(0, split) },
        { bytes: body.subarray(split), after: called });
      assert.equal(answer.status, status, value);
      if (status === 200) assert.equal(answer.body, body.toString('hex'), 'the app read the character whole');
    }
    assert.equal(firewall.stats().bodiesUninspected.unreadable, 0);
  } finally {
    await close(server);
  }
});

test('Koa: Moat after an awaiting middleware judges the waiting body; the body parser after it reads it whole', async () => {
  const firewall = firewallOn({ attacks: 'block' });
  const app = new Koa();
  app.use(async (ctx, next) => {
    await untilWaiting(ctx.req, 1);
    await next();
  });
  app.use(koaMoat(firewall));
  app.use(bodyParser({ enableTypes: ['json', 'form'] }));
  app.use((ctx) => { ctx.body = JSON.stringify((ctx.request as { body?: unknown }).body ?? null); });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  try {
    await assertWaitingBodiesJudged(port(server), firewall, '/', true);
  } finally {
    await close(server);
  }
});

test('Hono on node-server: Moat after an awaiting middleware judges the waiting body; parseBody() still reads it', async () => {
  // node-server refuses a body whose stream was read (readableDidRead): the waiting bytes must stay untouched.
  const firewall = firewallOn({ block: { params: ['<script'] } });
  const app = new Hono<{ Bindings: HttpBindings }>();
  app.use(async (c, next) => {
    await untilWaiting(c.env.incoming, 1);
    await next();
  });
  app.use(honoMoat(firewall));
  app.post('/form', async (c) => c.text(JSON.stringify(await c.req.parseBody())));
  const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }) as Server;
  await new Promise((resolve) => server.once('listening', resolve));
  try {
    await assertWaitingBodiesJudged(port(server), firewall, '/form', false);
  } finally {
    await close(server);
  }
});

test('Fastify: Moat\'s onRequest hook after an async one (a session, an auth check) judges the waiting body; the route gets it parsed', async () => {
  const firewall = firewallOn({ attacks: 'block' });
  const app = Fastify();
  app.addHook('onRequest', async (request) => { await untilWaiting(request.raw, 1); });
  await app.register(fastifyMoat, { firewall });
  await app.register(formbody);
  app.post('/', async (request) => JSON.stringify(request.body));
  await app.listen({ port: 0, host: '127.0.0.1' });
  try {
    await assertWaitingBodiesJudged(port(app.server), firewall, '/', true);
  } finally {
    await app.close();
  }
});

/** A POST over HTTP/2 (its own connection); the status and the body of the answer. */
function h2Post(at: number, type: string, body: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const client = http2.connect(`http://127.0.0.1:${at}`);
    client.on('error', reject);
    const stream = client.request({ ':method': 'POST', ':path': '/', 'content-type': type });
    let status = 0;
    let text = '';
    stream.on('response', (headers) => { status = Number(headers[':status']); });
    stream.on('data', (chunk: Buffer) => { text += chunk.toString(); });
    stream.on('end', () => { client.close(); resolve({ status, body: text }); });
    stream.on('error', reject);
    stream.end(body);
  });
}

test('HTTP/2 (Koa): Moat after an awaiting middleware judges the body waiting in the stream', async () => {
  // HTTP/2's compatibility request holds nothing itself: the body waits in its stream until read, so this
  // case was judged before too; the test keeps it so.
  const firewall = firewallOn({ attacks: 'block' });
  const app = new Koa();
  app.use(async (ctx, next) => {
    const stream = (ctx.req as unknown as { stream: { readableLength: number } }).stream;
    for (let i = 0; i < 2_000 && stream.readableLength === 0; i++) await new Promise((resolve) => setTimeout(resolve, 5));
    assert.ok(stream.readableLength > 0, 'the body waits in the stream when Moat is called');
    await next();
  });
  app.use(koaMoat(firewall));
  app.use(bodyParser({ enableTypes: ['json', 'form'] }));
  app.use((ctx) => { ctx.body = JSON.stringify((ctx.request as { body?: unknown }).body ?? null); });
  const server = http2.createServer(app.callback());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  try {
    const at = (server.address() as AddressInfo).port;
    assert.equal((await h2Post(at, FORM['content-type'], ATTACK_FORM)).status, 403);
    assert.equal((await h2Post(at, 'application/json', ATTACK_JSON)).status, 403);
    const clean = await h2Post(at, FORM['content-type'], 'name=ann&q=hello');
    assert.equal(clean.status, 200);
    assert.deepEqual(JSON.parse(clean.body), { name: 'ann', q: 'hello' });
    assert.equal(firewall.stats().bodiesUninspected.unreadable, 0);
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
});
