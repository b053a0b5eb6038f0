// Method-override middleware turns a POST into the method a header or parameter names, after Moat has
// judged the request line's method. A rule blocking DELETE was dodged by `POST` with
// `X-HTTP-Method-Override: DELETE` (Express's method-override), `?_method=DELETE` (its query getter),
// a body `_method` (a getter reading req.body, Hono's methodOverride). Each override is now judged as a
// method (a body's while bodies are read, for parameter rules or attack detection). Real Express with method-override, real Hono with its methodOverride behind withMoatFetch, and
// the engine directly (its memo of quiet requests must not answer for a request with an override header).

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import express from 'express';
import methodOverride from 'method-override';
import { Hono } from 'hono';
import { methodOverride as honoMethodOverride } from 'hono/method-override';
import { createAdaptorServer } from '@hono/node-server';
import { moat } from '../../src/adapters/express.js';
import { withMoatFetch } from '../../src/adapters/web.js';
import type { Firewall } from '../../src/firewall/firewall.js';
import { Engine } from '../../src/engine/engine.js';
import { close, listen, rulesFile, firewallOn } from '../adapters-helpers.js';
import { sendOpen } from './request-apps.js';

const RULES = { block: { methods: ['DELETE'] } };
/** A body is read only while parameter rules or attack detection exist: a site with a body `_method` to judge has them. */
const RULES_READING_BODIES = { block: { methods: ['DELETE'], params: ['<script'] } };

type Getter = 'header' | 'query' | 'body';

/** An Express app deleting through method-override with one getter; Moat first, as the docs place it. */
async function expressApp(getter: Getter, firewall: Firewall | null): Promise<Server> {
  const app = express();
  if (firewall !== null) app.use(moat(firewall));
  if (getter === 'header') app.use(methodOverride());
  else if (getter === 'query') app.use(methodOverride('_method'));
  else {
    app.use(express.urlencoded({ extended: false }), express.json());
    // The types want a string; method-override itself leaves the method alone when the getter finds none.
    app.use(methodOverride((req) => (req.body as Record<string, string> | undefined)?._method as string));
  }
  app.delete('/posts/1', (_req, res) => { res.send('deleted'); });
  app.all('/posts/1', (req, res) => { res.send(`kept (${req.method})`); });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  return server;
}

const OVERRIDES: readonly [Getter, { path: string; headers: Record<string, string>; body?: string }][] = [
  ['header', { path: '/posts/1', headers: { 'x-http-method-override': 'DELETE' } }],
  ['header', { path: '/posts/1', headers: { 'x-http-method-override': 'delete' } }],
  ['query', { path: '/posts/1?_method=DELETE', headers: {} }],
  ['query', { path: '/posts/1?%5Fmethod=delete', headers: {} }],
  ['query', { path: '/posts/1?page=2&_method=DELETE', headers: {} }],
  ['body', { path: '/posts/1', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'title=x&_method=DELETE' }],
  ['body', { path: '/posts/1', headers: { 'content-type': 'application/json' }, body: '{"_method":"DELETE"}' }],
];

test('a POST that method-override makes a DELETE is blocked by a rule on DELETE; other POSTs pass', async () => {
  const methodsOnly = firewallOn(RULES, { body: { json: true } });
  const readingBodies = firewallOn(RULES_READING_BODIES, { body: { json: true } });
  for (const getter of ['header', 'query', 'body'] as const) {
    const firewall = getter === 'body' ? readingBodies : methodsOnly;
    const open = await expressApp(getter, null);
    const guarded = await expressApp(getter, firewall);
    const openPort = (open.address() as { port: number }).port;
    const guardedPort = (guarded.address() as { port: number }).port;
    try {
      for (const [kind, spec] of OVERRIDES.filter(([g]) => g === getter)) {
        const request = { method: 'POST', ...spec };
        assert.equal((await sendOpen(openPort, request)).body, 'deleted', `${kind}: the app deletes (${spec.path} ${JSON.stringify(spec.headers)})`);
        assert.equal((await sendOpen(guardedPort, request)).status, 403, `${kind}: ${spec.path} ${JSON.stringify(spec.headers)} ${spec.body ?? ''}`);
      }
      const plain = await sendOpen(guardedPort, { method: 'POST', path: '/posts/1?_method=PUT', headers: { 'x-http-method-override': 'PATCH' } });
      assert.equal(plain.status, 200, 'other overrides pass');
      assert.equal((await sendOpen(guardedPort, { method: 'POST', path: '/posts/1?x_method=DELETE', headers: {} })).status, 200, 'another parameter');
    } finally {
      await close(open);
      await close(guarded);
    }
  }
});

test("Hono's methodOverride (a form's _method) behind withMoatFetch: the DELETE it makes is blocked", async () => {
  const firewall = firewallOn(RULES_READING_BODIES);
  const app = new Hono();
  app.use('/posts/*', honoMethodOverride({ app }));
  app.delete('/posts/1', (c) => c.text('deleted'));
  app.post('/posts/1', (c) => c.text('kept'));
  const servers = [createAdaptorServer({ fetch: app.fetch }) as Server, createAdaptorServer({ fetch: withMoatFetch(app.fetch, firewall) }) as Server];
  const [openPort, guardedPort] = await Promise.all(servers.map((s) => listen(s)));
  try {
    const request = { method: 'POST', path: '/posts/1', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: '_method=DELETE' };
    assert.equal((await sendOpen(openPort!, request)).body, 'deleted', 'the app deletes');
    assert.equal((await sendOpen(guardedPort!, request)).status, 403);
    assert.equal((await sendOpen(guardedPort!, { ...request, body: '_method=PUT' })).status, 404, 'another method goes on (Hono has no PUT route)');
  } finally {
    for (const s of servers) await close(s);
  }
});

test('the engine: every override header and value is judged, HEAD as GET, and no memo answers for a header', () => {
  const file = rulesFile({ block: { methods: ['DELETE', 'GET'] } });
  after(() => file.cleanup());
  const engine = Engine.open({ rules: file.path });
  const base = { ip: '192.0.2.1', method: 'POST', path: '/posts/1', url: '/posts/1' };
  const judge = (extra: object) => engine.evaluate({ ...base, ...extra }).treatment;
  try {
    // The same request, again and again without the header, then with it: the memo must not answer.
    for (let i = 0; i < 3; i++) assert.equal(judge({ headers: {} }), 'Passed');
    for (const name of ['x-http-method-override', 'x-http-method', 'x-method-override']) {
      assert.equal(judge({ headers: { [name]: 'DELETE' } }), 'Blocked', name);
    }
    assert.equal(judge({ headers: { 'x-http-method-override': 'PUT, delete' } }), 'Blocked', 'joined repeated headers');
    assert.equal(judge({ headers: { 'x-http-method-override': ['PUT', ' Delete '] } }), 'Blocked', 'a list of values');
    assert.equal(judge({ headers: { 'x-http-method-override': 'HEAD' } }), 'Blocked', 'HEAD is answered by GET handlers');
    assert.equal(judge({ headers: { 'x-http-method-override': 'PUT' } }), 'Passed');
    assert.equal(judge({ headers: { 'x-http-method-override': '' } }), 'Passed');
    assert.equal(judge({ url: '/posts/1?_method=DELETE' }), 'Blocked', 'the query, without parameters built');
    assert.equal(judge({ url: '/posts/1?a=1', params: 'a=1&_method=delete' }), 'Blocked', 'the parameters (query and body)');
    assert.equal(judge({ url: '/posts/1?a=1', params: 'a=1&my_method=delete' }), 'Passed');
    assert.equal(judge({ params: '_method=' }), 'Passed');
    // Any method but GET and HEAD, whose method no override middleware replaces by default.
    assert.equal(judge({ method: 'put', headers: { 'x-http-method': 'DELETE' } }), 'Blocked', 'a PUT');
    assert.equal(judge({ method: 'PATCH', url: '/posts/1?_method=DELETE' }), 'Blocked', 'a PATCH');
  } finally {
    engine.close?.();
  }
});
