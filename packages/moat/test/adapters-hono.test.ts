// The Hono adapter with real Hono on @hono/node-server, on a real socket. The app parses forms with
// c.req.parseBody(), which reads the body Moat peeked at.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import { Hono } from 'hono';
import { createAdaptorServer } from '@hono/node-server';
import { moat } from '../src/adapters/hono.js';
import type { Firewall } from '../src/firewall/firewall.js';
import { STANDARD_RULES, adapterConformance, close, listen, rulesFile, send } from './adapters-helpers.js';

async function serve(app: Hono): Promise<number> {
  const server = createAdaptorServer({ fetch: app.fetch }) as Server;
  const port = await listen(server);
  after(() => close(server));
  return port;
}

async function start(firewall: Firewall): Promise<number> {
  const app = new Hono();
  app.use(moat(firewall));
  app.post('/login', (c) => c.text('ok'));
  app.post('/form', async (c) => c.json(await c.req.parseBody()));
  app.all('*', (c) => c.text('hello'));
  return serve(app);
}

adapterConformance('hono', start);

test('hono: options instead of a firewall; routes after a blocked request never run', async () => {
  const rules = rulesFile(STANDARD_RULES);
  after(() => rules.cleanup());
  const middleware = moat({ rules: rules.path, logger: false });
  after(() => middleware.firewall.close());
  let reached = 0;
  const app = new Hono();
  app.use('*', middleware);
  app.get('*', (c) => { reached++; return c.text('home'); });
  const port = await serve(app);
  const blocked = await send(port, { path: '/WP-ADMIN' });
  assert.equal(blocked.status, 403);
  assert.equal(blocked.body, 'Blocked');
  assert.equal(reached, 0);
  assert.equal((await send(port)).body, 'home');
  assert.equal(reached, 1);
});

test('hono: without @hono/node-server the Web request is judged; with no client address given, IP rules cannot run and it is counted', async () => {
  const rules = rulesFile(STANDARD_RULES);
  after(() => rules.cleanup());
  const errors: string[] = [];
  const middleware = moat({ rules: rules.path, logger: false, onError: (event) => { errors.push(event.error.message); } });
  after(() => middleware.firewall.close());
  const app = new Hono();
  app.use(middleware);
  app.get('*', (c) => c.text('home'));
  // app.request() runs the app in-process, as a runtime without a Node request would, and passes no env.
  for (let i = 0; i < 3; i++) assert.equal((await app.request('/wp-admin')).status, 403);
  assert.equal((await app.request('/home', { headers: { 'x-forwarded-for': '203.0.113.66' } })).status, 200, 'a header never names the client');
  assert.equal(middleware.firewall.stats().requests, 4);
  assert.equal(middleware.firewall.stats().noPeerAddress, 4);
  assert.match(errors[0], /without its client address/);
});
