// What Moat's Express middleware costs comes mostly from reading Express's `req`: Express swaps its
// prototype per request, so every request object has its own hidden class and each property read misses
// V8's inline caches (docs/performance.md). The middleware therefore reads each property of `req` once.
// Pinned here on a real Express app and socket, counting reads of `req.headers` while Moat judges.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, IncomingMessage } from 'node:http';
import express from 'express';
import { moat } from '../src/adapters/express.js';
import { createFirewall } from '../src/firewall/firewall.js';
import { close, listen, rulesFile, send } from './adapters-helpers.js';

const headersGetter = Object.getOwnPropertyDescriptor(IncomingMessage.prototype, 'headers')!.get!;

test('Express: Moat reads req.headers once per request, also when a form body and a parameter rule are judged', async () => {
  const rules = rulesFile({ block: { paths: ['/wp-admin'], params: ['<script'] } });
  after(() => rules.cleanup());
  const firewall = createFirewall({ rules: rules.path, logger: false, trustedProxies: [] });
  after(() => firewall.close());
  const reads: number[] = [];
  let current = 0;
  const app = express();
  // Counts reads of req.headers made after this point, i.e. by Moat, until the route runs.
  app.use((req, _res, next) => {
    current = 0;
    Object.defineProperty(req, 'headers', { configurable: true, get() { current++; return headersGetter.call(this); } });
    next();
  });
  const guard = moat(firewall);
  app.use((req, res, next) => guard(req, res, (error?: unknown) => { reads.push(current); next(error); }));
  app.all('/{*rest}', (_req, res) => { res.send('app'); });
  const server = createServer(app);
  const port = await listen(server);
  after(() => close(server));

  assert.equal((await send(port, { path: '/products/1?page=2' })).body, 'app');
  const form = { 'content-type': 'application/x-www-form-urlencoded' };
  assert.equal((await send(port, { method: 'POST', path: '/form?x=1', headers: form, body: 'a=fine' })).body, 'app');
  assert.equal((await send(port, { method: 'POST', path: '/form', headers: form, body: 'a=%3Cscript%3E' })).status, 403);
  assert.equal((await send(port, { path: '/wp-admin' })).status, 403);
  assert.deepEqual(reads, [1, 1], 'one read of req.headers per request that went on');
});
