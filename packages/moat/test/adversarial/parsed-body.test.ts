// Moat mounted after the app's body parsers (a router-level mount, or simply the wrong order) found the
// stream already read: every body went unjudged, counted `unreadable`. What the parsers made of it sits on
// req.body (ctx.request.body in Koa), and that is what the app acts on, so it is now judged in place of
// the bytes. Real Express with express.json(), express.urlencoded(), express.text(), express.raw() and multer before
// Moat, and Koa with @koa/bodyparser. Hono keeps what a middleware read (c.req.json(), text(), parseBody(),
// formData()) in its body cache, where the app's later readers find it: Moat judges that, on
// @hono/node-server and through the Web path (as on Bun and Deno).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import { gzipSync } from 'node:zlib';
import express from 'express';
import multer from 'multer';
import Koa from 'koa';
import { bodyParser } from '@koa/bodyparser';
import { moat } from '../../src/adapters/express.js';
import { moat as koaMoat } from '../../src/adapters/koa.js';
import { serve, type HttpBindings } from '@hono/node-server';
import { Hono } from 'hono';
import { moat as honoMoat } from '../../src/adapters/hono.js';
import type { Firewall } from '../../src/firewall/firewall.js';
import { bunStyleServer, close, firewallOn } from '../adapters-helpers.js';
import { sendOpen } from './request-apps.js';

const BOUNDARY = 'moatParsed7';

async function app(firewall: Firewall): Promise<{ port: number; server: Server }> {
  const created = express();
  const echo = (req: express.Request, res: express.Response) => { res.type('text/plain').send(JSON.stringify(req.body ?? null)); };
  // The parsers first, Moat after them.
  created.post('/json', express.json(), moat(firewall), echo);
  created.post('/form', express.urlencoded({ extended: true }), moat(firewall), echo);
  created.post('/text', express.text(), moat(firewall), echo);
  created.post('/upload', multer({ storage: multer.memoryStorage() }).single('file'), moat(firewall), echo);
  // express.raw(), as a signed webhook's route takes its body: the bytes on req.body are the body.
  created.post('/bytes', express.raw({ type: () => true }), moat(firewall), (req, res) => { res.type('text/plain').send(`${(req.body as Buffer).length} bytes`); });
  // A handler that reads the stream itself, then Moat: nothing on req.body to judge.
  created.post('/raw', (req, _res, next) => { req.resume(); req.on('end', () => next()); }, moat(firewall), (_req, res) => { res.send('read'); });
  const server = created.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  return { port: (server.address() as { port: number }).port, server };
}

const multipart = (comment: string) =>
  `--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\nContent-Type: text/plain\r\n\r\nhello\r\n` +
  `--${BOUNDARY}\r\nContent-Disposition: form-data; name="comment"\r\n\r\n${comment}\r\n--${BOUNDARY}--\r\n`;

test('Moat after the body parsers judges what they left on req.body', async () => {
  for (const rules of [{ block: { params: ['<script'] } }, { attacks: 'block' }]) {
    const firewall = firewallOn(rules, { body: { json: true } });
    const { port, server } = await app(firewall);
    try {
      const cases = [
        { path: '/json', type: 'application/json', attack: JSON.stringify({ user: { bio: '<script>alert(1)</script>' } }), clean: JSON.stringify({ user: { bio: 'hello' } }) },
        { path: '/form', type: 'application/x-www-form-urlencoded', attack: 'user[bio]=%3Cscript%3Ealert(1)%3C%2Fscript%3E', clean: 'user[bio]=hello' },
        { path: '/text', type: 'text/plain', attack: '<script>alert(1)</script>', clean: 'hello there' },
        { path: '/upload', type: `multipart/form-data; boundary=${BOUNDARY}`, attack: multipart('<script>alert(1)</script>'), clean: multipart('hello') },
      ];
      for (const c of cases) {
        const blocked = await sendOpen(port, { method: 'POST', path: c.path, headers: { 'content-type': c.type }, body: c.attack });
        assert.equal(blocked.status, 403, `${JSON.stringify(rules)} ${c.path}`);
        const passed = await sendOpen(port, { method: 'POST', path: c.path, headers: { 'content-type': c.type }, body: c.clean });
        assert.equal(passed.status, 200, `${JSON.stringify(rules)} ${c.path} clean`);
        assert.match(passed.body, /hello/, 'the app still has its parsed body');
      }
      for (const [type, attack, clean] of [
        ['application/json', JSON.stringify({ data: { bio: '<script>alert(1)</script>' } }), JSON.stringify({ data: { bio: 'hello' } })],
        ['application/x-www-form-urlencoded', 'bio=%3Cscript%3Ealert(1)', 'bio=hello'],
      ] as const) {
        const blocked = await sendOpen(port, { method: 'POST', path: '/bytes', headers: { 'content-type': type }, body: attack });
        assert.equal(blocked.status, 403, `${JSON.stringify(rules)} express.raw() ${type}`);
        const passed = await sendOpen(port, { method: 'POST', path: '/bytes', headers: { 'content-type': type }, body: clean });
        assert.equal(passed.status, 200);
        assert.equal(passed.body, `${clean.length} bytes`, 'the app still has its bytes');
      }
      // Inflated by express.raw(), so judged as the text it inflated to.
      const gzipped = await sendOpen(port, { method: 'POST', path: '/bytes', headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-encoding': 'gzip' }, body: gzipSync('bio=%3Cscript%3Ealert(1)') });
      assert.equal(gzipped.status, 403, 'a gzipped body express.raw() inflated');
      const unreadable = firewall.stats().bodiesUninspected.unreadable;
      assert.equal(unreadable, 0, 'none counted unreadable');
      const raw = await sendOpen(port, { method: 'POST', path: '/raw', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'a=%3Cscript' });
      assert.equal(raw.status, 200, 'a stream read without a parsed body: nothing to judge');
      assert.equal(firewall.stats().bodiesUninspected.unreadable, 1, 'and counted, as before');
    } finally {
      await close(server);
    }
  }
});

test('Koa: Moat after @koa/bodyparser judges what it left on ctx.request.body', async () => {
  const firewall = firewallOn({ attacks: 'block' });
  const app = new Koa();
  app.use(bodyParser({ enableTypes: ['json', 'form', 'text'] }));
  app.use(koaMoat(firewall));
  app.use((ctx) => { ctx.body = JSON.stringify((ctx.request as { body?: unknown }).body ?? null); });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const port = (server.address() as { port: number }).port;
  try {
    for (const [type, attack, clean] of [
      ['application/json', JSON.stringify({ q: "x' UNION SELECT password FROM users--" }), JSON.stringify({ q: 'hello' })],
      ['application/x-www-form-urlencoded', 'q=%3Cscript%3Ealert(1)%3C%2Fscript%3E', 'q=hello'],
    ] as const) {
      assert.equal((await sendOpen(port, { method: 'POST', path: '/', headers: { 'content-type': type }, body: attack })).status, 403, type);
      const passed = await sendOpen(port, { method: 'POST', path: '/', headers: { 'content-type': type }, body: clean });
      assert.equal(passed.status, 200, `${type} clean`);
      assert.match(passed.body, /hello/);
    }
    assert.equal(firewall.stats().bodiesUninspected.unreadable, 0);
  } finally {
    await close(server);
  }
});

/** A Hono app whose first middleware reads the body the way `x-read` says, then Moat; the route reads it again. */
async function honoApp(firewall: Firewall, web: boolean): Promise<{ port: number; server: Server }> {
  const app = new Hono<{ Bindings: HttpBindings }>();
  app.use(async (c, next) => {
    const read = c.req.header('x-read');
    try {
      if (read === 'json') await c.req.json();
      else if (read === 'text') await c.req.text();
      else if (read === 'parseBody') await c.req.parseBody();
      else if (read === 'formData') await c.req.formData();
    } catch {
      // A body that does not parse: the app reads none.
    }
    await next();
  });
  app.use(honoMoat(firewall));
  app.post('/', async (c) => {
    const read = c.req.header('x-read');
    if (read === 'json') return c.text(JSON.stringify(await c.req.json()));
    if (read === 'parseBody' || read === 'formData') return c.text(JSON.stringify(await c.req.parseBody()));
    return c.text(await c.req.text());
  });
  app.post('/ignore', (c) => c.text('ignored'));
  // web: the handler hands Hono a Bun-style server as its env, so Moat judges the Web Request.
  const server = serve({ fetch: web ? (request, env) => app.fetch(request, bunStyleServer(env)) : app.fetch, port: 0, hostname: '127.0.0.1' }) as Server;
  await new Promise((resolve) => server.once('listening', resolve));
  return { port: (server.address() as { port: number }).port, server };
}

test('Hono: Moat after a middleware that read the body through Hono judges what Hono cached, on node-server and by the Web path', async () => {
  for (const web of [false, true]) {
    const firewall = firewallOn({ attacks: 'block' });
    const { port, server } = await honoApp(firewall, web);
    try {
      const cases = [
        { read: 'json', type: 'application/json', attack: JSON.stringify({ q: "x' UNION SELECT password FROM users--" }), clean: JSON.stringify({ q: 'hello' }) },
        { read: 'text', type: 'application/x-www-form-urlencoded', attack: 'q=%3Cscript%3Ealert(1)%3C%2Fscript%3E', clean: 'q=hello' },
        { read: 'parseBody', type: 'application/x-www-form-urlencoded', attack: 'q=%3Cscript%3Ealert(1)%3C%2Fscript%3E', clean: 'q=hello' },
        { read: 'parseBody', type: `multipart/form-data; boundary=${BOUNDARY}`, attack: multipart('<script>alert(1)</script>'), clean: multipart('hello') },
        { read: 'formData', type: 'application/x-www-form-urlencoded', attack: 'q=%3Cscript%3Ealert(1)%3C%2Fscript%3E', clean: 'q=hello' },
      ];
      for (const c of cases) {
        const what = `${web ? 'Web path' : 'node-server'}, ${c.read}, ${c.type}`;
        const blocked = await sendOpen(port, { method: 'POST', path: '/', headers: { 'content-type': c.type, 'x-read': c.read }, body: c.attack });
        assert.equal(blocked.status, 403, what);
        const passed = await sendOpen(port, { method: 'POST', path: '/', headers: { 'content-type': c.type, 'x-read': c.read }, body: c.clean });
        assert.equal(passed.status, 200, `${what}, clean`);
        assert.match(passed.body, /hello/, `${what}: the route still reads the body`);
      }
      assert.equal(firewall.stats().bodiesUninspected.unreadable, 0, 'none counted unreadable');
      // A reading that failed (formData() of a JSON body) leaves Hono a rejected promise and the app no body
      // to read: judged as before, its body counted.
      const broken = await sendOpen(port, { method: 'POST', path: '/ignore', headers: { 'content-type': 'application/json', 'x-read': 'formData' }, body: '{"q": "<script>"}' });
      assert.equal(broken.status, 200);
      assert.equal(firewall.stats().bodiesUninspected.unreadable, 1);
    } finally {
      await close(server);
    }
  }
});
