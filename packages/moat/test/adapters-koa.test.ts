// The Koa adapter with real Koa 3 on a real socket: `app.use(moat(...))` first; the app reads the raw body.
// Koa 2, which most Koa apps still run, too.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import Koa from 'koa';
import { moat } from '../src/adapters/koa.js';
import type { Firewall } from '../src/firewall/firewall.js';
import { STANDARD_RULES, adapterConformance, close, listen, rulesFile, send } from './adapters-helpers.js';

async function readRaw(stream: AsyncIterable<Buffer>): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

/** Koa 2 (installed as `koa2`); its typings are Koa 3's, which cover what is used here. */
const Koa2 = createRequire(import.meta.url)('koa2') as typeof Koa;

async function start(firewall: Firewall, App: typeof Koa = Koa): Promise<number> {
  const app = new App();
  app.use(moat(firewall));
  app.use(async (ctx) => {
    if (ctx.method === 'POST' && ctx.path === '/login') ctx.body = 'ok';
    else if (ctx.method === 'POST' && ctx.path === '/form') ctx.body = Object.fromEntries(new URLSearchParams(await readRaw(ctx.req)));
    else ctx.body = 'hello';
  });
  const server = createServer(app.callback());
  const port = await listen(server);
  after(() => close(server));
  return port;
}

adapterConformance('koa', start);
adapterConformance('koa 2', (firewall) => start(firewall, Koa2));

test('koa: options instead of a firewall; a downstream middleware never runs for a blocked request', async () => {
  const rules = rulesFile(STANDARD_RULES);
  after(() => rules.cleanup());
  const middleware = moat({ rules: rules.path, logger: false });
  after(() => middleware.firewall.close());
  let reached = 0;
  const app = new Koa();
  app.use(middleware);
  app.use((ctx) => { reached++; ctx.body = 'home'; });
  const server = createServer(app.callback());
  const port = await listen(server);
  after(() => close(server));
  const blocked = await send(port, { path: '/wp-admin' });
  assert.equal(blocked.status, 403);
  assert.equal(blocked.body, 'Blocked');
  assert.equal(reached, 0);
  assert.equal((await send(port)).body, 'home');
  assert.equal(reached, 1);
});
