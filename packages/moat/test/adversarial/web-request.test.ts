// Attacks on the Web-standard front door (Firewall.handle through withMoatFetch), on a real node:http
// socket behind @hono/node-server's Request wrapper: forged client-address headers, headers named after
// Object.prototype members, and form bodies dressed up to slip past the body reader.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import { gzipSync } from 'node:zlib';
import { createAdaptorServer } from '@hono/node-server';
import { withMoatFetch } from '../../src/adapters/web.js';
import { createFirewall } from '../../src/firewall/firewall.js';
import { close, listen, rulesFile, send } from '../adapters-helpers.js';

async function app(request: Request): Promise<Response> {
  const { pathname } = new URL(request.url);
  if (pathname === '/form') return Response.json(Object.fromEntries(await request.formData()));
  return new Response(`app:${pathname}`);
}

async function guarded(document: object): Promise<number> {
  const rules = rulesFile(document);
  after(() => rules.cleanup());
  const firewall = createFirewall({ rules: rules.path, logger: false });
  after(() => firewall.close());
  const server = createAdaptorServer({ fetch: withMoatFetch(app, firewall) }) as Server;
  const port = await listen(server);
  after(() => close(server));
  return port;
}

test('a blocked client (127.0.0.1) claiming an allowed address in every forwarding header is still blocked on a fetch handler', async () => {
  const port = await guarded({ allow: { ips: ['192.0.2.1'] }, block: { ips: ['127.0.0.1'] } });
  const forged = {
    'x-forwarded-for': '192.0.2.1', 'x-real-ip': '192.0.2.1', 'cf-connecting-ip': '192.0.2.1',
    'true-client-ip': '192.0.2.1', 'fly-client-ip': '192.0.2.1', forwarded: 'for=192.0.2.1',
  };
  const res = await send(port, { path: '/', headers: forged });
  assert.equal(res.status, 403);
  assert.equal(res.body, 'Blocked');
});

test('headers named __proto__, constructor and toString neither crash the judging nor hide a blocked path on a fetch handler', async () => {
  const port = await guarded({ block: { paths: ['/wp-admin'], userAgents: ['evilbot'] } });
  const odd = { '__proto__': 'x', constructor: 'y', tostring: 'z', hasownproperty: 'w' };
  assert.equal((await send(port, { path: '/wp-admin', headers: odd })).status, 403);
  assert.equal((await send(port, { path: '/', headers: { ...odd, 'user-agent': 'EvilBot/1' } })).status, 403);
  const ok = await send(port, { path: '/fine', headers: odd });
  assert.equal(ok.status, 200);
  assert.equal(ok.body, 'app:/fine');
});

test('a form hiding <script behind an odd Content-Type spelling, percent-encoding or gzip is blocked on a fetch handler', async () => {
  const port = await guarded({ block: { params: ['<script'] } });
  const attempts: { headers: Record<string, string>; body: string | Buffer }[] = [
    { headers: { 'content-type': 'Application/X-WWW-Form-URLEncoded; Charset=UTF-8' }, body: 'a=%3Cscript%3E' },
    { headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'a=%3c%53%43%52%49%50%54' },
    { headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'a=1&b=<scr' + 'ipt>' },
    { headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-encoding': 'gzip' }, body: gzipSync('a=%3Cscript%3E') },
  ];
  for (const { headers, body } of attempts) {
    // fetch, not a raw socket that half-closes: @hono/node-server drops a half-closed request whose answer takes a moment (inflating).
    const res = await fetch(`http://127.0.0.1:${port}/form`, { method: 'POST', headers, body });
    assert.equal(res.status, 403, JSON.stringify(headers));
    await res.arrayBuffer();
  }
  const clean = await send(port, { method: 'POST', path: '/form', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'a=1&b=two+words' });
  assert.equal(clean.status, 200);
  assert.deepEqual(JSON.parse(clean.body), { a: '1', b: 'two words' });
});

test('GET /%77p-admin, //wp-admin and /x/..%2fwp-admin are blocked by a /wp-admin path rule on a fetch handler', async () => {
  const port = await guarded({ block: { paths: ['/wp-admin'] } });
  for (const path of ['/%77p-admin', '//wp-admin', '/x/..%2fwp-admin', '/WP-ADMIN/', '/wp-admin;x', '/./wp-admin']) {
    assert.equal((await send(port, { path })).status, 403, path);
  }
  assert.equal((await send(port, { path: '/wp-adminx-not' })).status, 403, 'a substring rule, as in Wafris');
  assert.equal((await send(port, { path: '/blog' })).body, 'app:/blog');
});

test('a query or a path after `#`, which Hono releases before 2026 read, is judged on a fetch handler', async () => {
  const port = await guarded({ block: { paths: ['/admin'] }, attacks: { sqli: 'block' } });
  // Hono read the query from the first `?` to the end and routed on the path up to `?`, `#` included.
  assert.equal((await send(port, { path: "/posts/1#x?sort=1'%20OR%20'1'='1" })).status, 403, 'query after #');
  assert.equal((await send(port, { path: '/posts#/../admin' })).status, 403, 'path read up to ?');
  const ok = await send(port, { path: '/posts/1#intro' });
  assert.equal(ok.status, 200);
  assert.equal(ok.body, 'app:/posts/1');
});
