// The Express adapter with real Express 5 on a real socket: `app.use(moat(...))` before the body parser.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import express from 'express';
import { moat } from '../src/adapters/express.js';
import { withMoat } from '../src/adapters/node.js';
import type { Firewall } from '../src/firewall/firewall.js';
import { STANDARD_RULES, adapterConformance, close, listen, rulesFile, send } from './adapters-helpers.js';

async function start(firewall: Firewall | Parameters<typeof moat>[0]): Promise<number> {
  const app = express();
  app.use(moat(firewall));
  app.use(express.urlencoded({ extended: false }));
  app.post('/login', (_req, res) => { res.send('ok'); });
  app.post('/form', (req, res) => { res.json(req.body); });
  app.use((_req, res) => { res.send('hello'); });
  const server = createServer(app);
  const port = await listen(server);
  after(() => close(server));
  return port;
}

adapterConformance('express', start);

/** The same app, judged in the node:http listener before Express sees the request (docs/performance.md). */
async function startBeforeExpress(firewall: Firewall | Parameters<typeof moat>[0]): Promise<number> {
  const app = express();
  app.use(express.urlencoded({ extended: false }));
  app.post('/login', (_req, res) => { res.send('ok'); });
  app.post('/form', (req, res) => { res.json(req.body); });
  app.use((_req, res) => { res.send('hello'); });
  const server = createServer(withMoat(app, firewall));
  const port = await listen(server);
  after(() => close(server));
  return port;
}

adapterConformance('express behind withMoat in the listener', startBeforeExpress);

test('express: options instead of a firewall; the middleware exposes the firewall it made', async () => {
  const rules = rulesFile(STANDARD_RULES);
  after(() => rules.cleanup());
  const middleware = moat({ rules: rules.path, logger: false });
  after(() => middleware.firewall.close());
  const app = express();
  app.use(middleware);
  app.get('/', (_req, res) => { res.send('home'); });
  const server = createServer(app);
  const port = await listen(server);
  after(() => close(server));
  assert.equal((await send(port, { headers: { 'user-agent': 'EvilBot/2' } })).status, 403);
  assert.equal((await send(port)).body, 'home');
  assert.equal(middleware.firewall.stats().blocked, 1);
});

test('express: mounted on a path, it guards only that path and judges the whole original path', async () => {
  const rules = rulesFile({ block: { paths: ['/wp-admin', '/guarded/secret'] } });
  after(() => rules.cleanup());
  const app = express();
  app.use('/guarded', moat({ rules: rules.path, logger: false }));
  app.use((_req, res) => { res.send('hello'); });
  const server = createServer(app);
  const port = await listen(server);
  after(() => close(server));
  assert.equal((await send(port, { path: '/guarded/wp-admin' })).status, 403);
  // Express hands the middleware req.url = '/secret'; the rule names the full path.
  assert.equal((await send(port, { path: '/guarded/secret' })).status, 403);
  assert.equal((await send(port, { path: '/open/wp-admin' })).status, 200);
});
