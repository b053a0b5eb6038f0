// The Express adapter with real Express 5 on a real socket: `app.use(moat(...))` before the body parser;
// and with Express 4, which most Express apps in production still run (its own router, and body-parser 1
// with the `qs` parser behind `extended: true`).

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, IncomingMessage } from 'node:http';
import { createRequire } from 'node:module';
import express from 'express';
import { expressServerOptions, moat } from '../src/adapters/express.js';
import { withMoat } from '../src/adapters/node.js';
import type { Firewall } from '../src/firewall/firewall.js';
import { STANDARD_RULES, adapterConformance, close, listen, rulesFile, send } from './adapters-helpers.js';

/** Express 4 (installed as `express4`); its typings are Express 5's, which cover what is used here. */
const express4 = createRequire(import.meta.url)('express4') as typeof express;

async function start(firewall: Firewall | Parameters<typeof moat>[0], lib: typeof express = express): Promise<number> {
  const app = lib();
  app.use(moat(firewall));
  // Express 4 with the qs parser (`extended: true`), as its apps mostly run it; Express 5 with its default.
  app.use(lib.urlencoded({ extended: lib !== express }));
  app.post('/login', (_req, res) => { res.send('ok'); });
  app.post('/form', (req, res) => { res.json(req.body); });
  app.use((_req, res) => { res.send('hello'); });
  const server = createServer(app);
  const port = await listen(server);
  after(() => close(server));
  return port;
}

adapterConformance('express', start);

adapterConformance('express 4', (firewall) => start(firewall, express4));

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

/** Both, on a server whose requests are built on the app's prototypes (expressServerOptions). */
const startOnPrototypes = (where: 'middleware' | 'listener') => async (firewall: Firewall | Parameters<typeof moat>[0]): Promise<number> => {
  const app = express();
  if (where === 'middleware') app.use(moat(firewall));
  app.use(express.urlencoded({ extended: false }));
  app.post('/login', (_req, res) => { res.send('ok'); });
  app.post('/form', (req, res) => { res.json(req.body); });
  app.use((_req, res) => { res.send('hello'); });
  const server = createServer(expressServerOptions(app), where === 'listener' ? withMoat(app, firewall) : app);
  const port = await listen(server);
  after(() => close(server));
  return port;
};

adapterConformance('express middleware, requests built on the app\'s prototypes', startOnPrototypes('middleware'));
adapterConformance('express behind withMoat, requests built on the app\'s prototypes', startOnPrototypes('listener'));

test('express: expressServerOptions builds requests on the app\'s prototypes, and Express works the same on them', async () => {
  const app = express();
  const admin = express();
  const seen: { before: boolean; app: boolean; locals: boolean; nodeRequest: boolean }[] = [];
  admin.get('/users/:id', (req, res) => { res.send(`admin:${req.params.id}:${req.baseUrl}:${String(req.app === admin)}`); });
  app.use('/admin', admin);
  app.get('/items/:id', (req, res) => {
    seen.push({ before: false, app: req.app === app, locals: typeof res.locals === 'object', nodeRequest: req instanceof IncomingMessage });
    res.json({ id: req.params.id, q: req.query.q, host: req.hostname, path: req.path });
  });
  const server = createServer(expressServerOptions(app), (req, res) => {
    // Before Express runs: the request already stands on the app's prototype, so Express's swap changes nothing.
    seen.push({ before: Object.getPrototypeOf(req) === app.request, app: false, locals: false, nodeRequest: req instanceof IncomingMessage });
    app(req, res);
  });
  const port = await listen(server);
  after(() => close(server));
  const item = await send(port, { path: '/items/7?q=x', headers: { host: 'shop.example' } });
  assert.deepEqual([item.status, JSON.parse(item.body)], [200, { id: '7', q: 'x', host: 'shop.example', path: '/items/7' }]);
  assert.deepEqual(seen, [
    { before: true, app: false, locals: false, nodeRequest: true },
    { before: false, app: true, locals: true, nodeRequest: true },
  ]);
  // A sub-app swaps in its own prototypes and back, as on any server.
  const sub = await send(port, { path: '/admin/users/3' });
  assert.deepEqual([sub.status, sub.body], [200, 'admin:3:/admin:true']);
  assert.equal((await send(port, { path: '/nowhere' })).status, 404);
});

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
