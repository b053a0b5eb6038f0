// Attacks on the shortcut both Hono's adapter and withMoatFetch take on @hono/node-server: judging the
// IncomingMessage behind the Web Request (the Node path) instead of the Request itself. The two differ
// where Node keeps only the first copy of a repeated header (User-Agent, Host, Content-Type) while the
// Request's Headers, which the app reads, joins every copy. Real servers on real sockets.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Hono } from 'hono';
import { moat } from '../../src/adapters/hono.js';
import { withMoatFetch } from '../../src/adapters/web.js';
import type { Firewall } from '../../src/firewall/firewall.js';
import { rawRequest, send } from '../adapters-helpers.js';
import { guardedFirewall, serveFetchOnNode } from '../helpers/web-on-node-server.js';

/** The app answers with the User-Agent it reads, so the test sees what the app would act on. */
function honoApp(firewall: Firewall): Hono {
  const app = new Hono();
  app.use(moat(firewall));
  app.all('*', (c) => c.text(`app saw: ${c.req.header('user-agent')}`));
  return app;
}

const twoAgents = (path: string) => Buffer.from(`GET ${path} HTTP/1.1\r\nhost: example.test\r\nuser-agent: Mozilla/5.0\r\n` +
  'user-agent: EvilBot/2\r\nconnection: close\r\n\r\n', 'latin1');

test('two User-Agent headers, an innocent one first, are blocked by an evilbot rule on Hono\'s adapter on @hono/node-server', async () => {
  const firewall = guardedFirewall({ block: { userAgents: ['evilbot'] } });
  const port = await serveFetchOnNode(honoApp(firewall).fetch);
  // Node keeps only "Mozilla/5.0"; the app's c.req.header() would read "Mozilla/5.0, EvilBot/2".
  const res = await rawRequest(port, twoAgents('/'));
  assert.equal(res.status, 403);
  assert.equal(res.body, 'Blocked');
  const ok = await send(port, { headers: { 'user-agent': 'Mozilla/5.0' } });
  assert.equal(ok.body, 'app saw: Mozilla/5.0');
});

test('two User-Agent headers, an innocent one first, are blocked by an evilbot rule on a fetch handler on @hono/node-server', async () => {
  const firewall = guardedFirewall({ block: { userAgents: ['evilbot'] } });
  const port = await serveFetchOnNode(withMoatFetch((request) => new Response(`app saw: ${request.headers.get('user-agent')}`), firewall));
  assert.equal((await rawRequest(port, twoAgents('/'))).status, 403);
  assert.equal((await send(port, { headers: { 'user-agent': 'Mozilla/5.0' } })).body, 'app saw: Mozilla/5.0');
});

test('GET /%77p-admin, //wp-admin, /x/..%2fwp-admin and an absolute-form target are blocked by a /wp-admin rule on Hono\'s adapter on @hono/node-server', async () => {
  const firewall = guardedFirewall({ block: { paths: ['/wp-admin'] } });
  const port = await serveFetchOnNode(honoApp(firewall).fetch);
  for (const path of ['/%77p-admin', '//wp-admin', '/x/..%2fwp-admin', '/WP-ADMIN/', 'http://example.test/wp-admin']) {
    assert.equal((await send(port, { path })).status, 403, path);
  }
  assert.equal((await send(port, { path: '/fine' })).status, 200);
});
