// h3 v2 (the server of Nitro and Nuxt) with the Moat middleware, served by h3's own Node adapter
// (srvx's toNodeHandler) on a real socket; forms are read with h3's readFormData(). Joins the shared
// adapter conformance set.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { H3, readFormData, toNodeHandler } from 'h3';
import { moat } from '../src/adapters/h3.js';
import type { Firewall } from '../src/firewall/firewall.js';
import { STANDARD_RULES, adapterConformance, close, listen, rulesFile, send } from './adapters-helpers.js';

async function start(firewall: Firewall): Promise<number> {
  const app = new H3();
  app.use(moat(firewall));
  app.post('/login', () => 'ok');
  app.post('/form', async (event) => Object.fromEntries(await readFormData(event)));
  app.all('/**', () => 'hello');
  const server = createServer(toNodeHandler(app));
  const port = await listen(server);
  after(() => close(server));
  return port;
}

adapterConformance('h3', start);

test('h3: options instead of a firewall; a blocked request never reaches the route', async () => {
  const rules = rulesFile(STANDARD_RULES);
  after(() => rules.cleanup());
  const middleware = moat({ rules: rules.path, logger: false });
  after(() => middleware.firewall.close());
  let reached = 0;
  const app = new H3();
  app.use(middleware);
  app.all('/**', () => { reached++; return 'home'; });
  const server = createServer(toNodeHandler(app));
  const port = await listen(server);
  after(() => close(server));
  assert.equal((await send(port, { path: '/wp-admin' })).status, 403);
  assert.equal(reached, 0);
  assert.equal((await send(port, { path: '/' })).body, 'home');
  assert.equal(reached, 1);
});
