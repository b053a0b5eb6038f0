// Express on a server whose requests are built on the app's own prototypes,
// `createServer(expressServerOptions(app), …)`, which spares V8 a hidden class per request
// (docs/performance.md). Requests are then objects of another constructor from the start: each attack
// below is served by the same app without Moat (so the rule matters), then refused by Moat judging in
// the listener and by Moat's middleware, on such a server.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, IncomingMessage } from 'node:http';
import express from 'express';
import { expressServerOptions, moat } from '../../src/adapters/express.js';
import { withMoat } from '../../src/adapters/node.js';
import { createFirewall, type Firewall } from '../../src/firewall/firewall.js';
import { close, listen, rawRequest, rulesFile, type RequestSpec } from '../adapters-helpers.js';
import { sendOpen } from './request-apps.js';

const RULES = {
  block: { paths: ['/wp-admin', '/admin/secret'], hosts: ['admin.example.com'], params: ['<script'], userAgents: ['EvilBot'] },
};

type Guard = 'none' | 'listener' | 'middleware';

/** The route table of request-apps.ts, on a server built with expressServerOptions(app). */
async function start(guard: Guard, firewall: Firewall): Promise<number> {
  const app = express();
  app.set('env', 'test');
  if (guard === 'middleware') app.use(moat(firewall));
  app.use('/wp-admin', (req, res) => { res.send(`wp-admin:${req.originalUrl}`); });
  app.get('/admin/secret/:file', (req, res) => { res.send(`secret:${req.params.file}`); });
  app.get('/host', (req, res) => { res.send(`host:${req.hostname}`); });
  app.get('/ua', (req, res) => { res.send(`ua:${req.get('user-agent') ?? ''}`); });
  app.all('/form', express.urlencoded({ extended: false }), (req, res) => { res.json(req.body ?? null); });
  app.get('/:page', (req, res) => { res.send(`page:${req.params.page}`); });
  const server = createServer(expressServerOptions(app), guard === 'listener' ? withMoat(app, firewall) : app);
  const port = await listen(server);
  after(() => close(server));
  return port;
}

async function apps(): Promise<Record<Guard, number>> {
  const file = rulesFile(RULES);
  after(() => file.cleanup());
  const firewall = createFirewall({ rules: file.path, logger: false });
  after(() => firewall.close());
  return { none: await start('none', firewall), listener: await start('listener', firewall), middleware: await start('middleware', firewall) };
}

async function servedThenRefused(ports: Record<Guard, number>, request: RequestSpec, served: string): Promise<void> {
  const what = `${request.method ?? 'GET'} ${request.path}`;
  const plain = await sendOpen(ports.none, request);
  assert.equal(plain.status, 200, `${what}: ${plain.body.slice(0, 120)}`);
  assert.ok(plain.body.startsWith(served), `${what} served by ${plain.body}, expected ${served}`);
  for (const guard of ['listener', 'middleware'] as const) {
    const res = await sendOpen(ports[guard], request);
    assert.equal(res.status, 403, `${what} reached Express through Moat's ${guard} on prototype-built requests: ${res.body.slice(0, 120)}`);
  }
}

const PATH_ATTACKS: [string, string][] = [
  ['/wp-admin/%2e%2e', 'wp-admin:/wp-admin/%2e%2e'],
  ['/wp-admin%2f..', 'page:wp-admin/..'],
  ['/wp-admin//x', 'wp-admin:/wp-admin//x'],
  ['/WP-ADMIN', 'wp-admin:/WP-ADMIN'],
  ['/wp-admin;x', 'page:wp-admin;x'],
  ['/admin/secret/..', 'secret:..'],
];

test('GET /wp-admin/%2e%2e, //, ;, %2f and case forms are blocked by path rules on Express with prototype-built requests', async () => {
  const ports = await apps();
  for (const [path, served] of PATH_ATTACKS) await servedThenRefused(ports, { path }, served);
});

test('a repeated User-Agent and an absolute-form target naming another host are blocked on Express with prototype-built requests', async () => {
  const ports = await apps();
  // Node keeps the first of two User-Agents, and so do Express and Moat: the rule sees what the app sees.
  const twice = 'GET /ua HTTP/1.1\r\nhost: example.test\r\nuser-agent: EvilBot/1\r\nuser-agent: Mozilla/5.0\r\nconnection: close\r\n\r\n';
  const plain = await rawRequest(ports.none, twice);
  assert.deepEqual([plain.status, plain.body], [200, 'ua:EvilBot/1']);
  for (const guard of ['listener', 'middleware'] as const) assert.equal((await rawRequest(ports[guard], twice)).status, 403, guard);
  await servedThenRefused(ports, { path: 'http://public.example/host', headers: { host: 'admin.example.com' } }, 'host:admin.example.com');
});

test('GET /form with a <script form body is blocked on Express with prototype-built requests; a harmless one reaches body-parser whole', async () => {
  const ports = await apps();
  const request = { method: 'GET', path: '/form', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'bio=%3Cscript%3E' };
  await servedThenRefused(ports, request, '{"bio":"<script>"}');
  for (const guard of ['listener', 'middleware'] as const) {
    const fine = await sendOpen(ports[guard], { ...request, body: 'bio=hello' });
    assert.deepEqual([fine.status, JSON.parse(fine.body)], [200, { bio: 'hello' }], guard);
  }
});

test('a request whose prototype carries a poisoned headers getter is still judged on what the client sent', async () => {
  // An app (or a dependency) that patches the request prototype Express uses, here present from the
  // request's first moment: Moat reads `headers` through it as the app does, and the block holds.
  const file = rulesFile(RULES);
  after(() => file.cleanup());
  const firewall = createFirewall({ rules: file.path, logger: false });
  after(() => firewall.close());
  const app = express();
  const nodeHeaders = Object.getOwnPropertyDescriptor(IncomingMessage.prototype, 'headers')!.get!;
  let poisonedReads = 0;
  Object.defineProperty(app.request, 'headers', {
    configurable: true,
    get(this: IncomingMessage) { poisonedReads++; return nodeHeaders.call(this); },
  });
  app.get('/ua', (req, res) => { res.send(`ua:${req.get('user-agent') ?? ''}`); });
  const server = createServer(expressServerOptions(app), withMoat(app, firewall));
  const port = await listen(server);
  after(() => close(server));
  assert.equal((await sendOpen(port, { path: '/ua', headers: { 'user-agent': 'EvilBot/2' } })).status, 403);
  assert.equal((await sendOpen(port, { path: '/ua', headers: { 'user-agent': 'Mozilla/5.0' } })).body, 'ua:Mozilla/5.0');
  assert.ok(poisonedReads > 0, 'the getter on the app\'s request prototype is the one Moat and the app read');
});
