// The Web-standard front door (Firewall.handle, withMoatFetch) on Node, with real servers on real
// sockets: a plain fetch handler behind @hono/node-server's Request wrapper, and Hono judging
// `c.req.raw` through handle() (the recipe for Hono on any runtime). Both join the shared adapter
// conformance set; the Web-only behaviour (no client address given, a body already read) follows.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import { createAdaptorServer } from '@hono/node-server';
import { Hono } from 'hono';
import { platformClientInfo, platformClientIp, withMoatFetch, type WebClientInfo } from '../src/adapters/web.js';
import { createFirewall, type Firewall } from '../src/firewall/firewall.js';
import type { MoatErrorEvent } from '../src/firewall/options.js';
import { STANDARD_RULES, adapterConformance, bunStyleServer, close, listen, rulesFile, send } from './adapters-helpers.js';
import { FORWARDING_LOOK_EVERY } from '../src/firewall/address-warnings.js';

const text = (body: string) => new Response(body, { headers: { 'content-type': 'text/plain' } });

/** The conformance app as a bare fetch handler; forms are read with the platform's own request.formData(). */
export async function fetchApp(request: Request): Promise<Response> {
  const { pathname } = new URL(request.url);
  if (request.method === 'POST' && pathname === '/login') return text('ok');
  if (request.method === 'POST' && pathname === '/form') return Response.json(Object.fromEntries(await request.formData()));
  return text('hello');
}

async function serve(fetch: (request: Request, env: unknown) => Response | Promise<Response>): Promise<number> {
  const server = createAdaptorServer({ fetch }) as Server;
  const port = await listen(server);
  after(() => close(server));
  return port;
}

adapterConformance('web fetch handler (node:http via a Request wrapper)', (firewall: Firewall) =>
  serve(withMoatFetch(fetchApp, firewall)));

// With a Bun-style second argument (the platform's `server.requestIP`) instead of @hono/node-server's
// env, withMoatFetch cannot reach an IncomingMessage and judges the Web Request, as on Bun and Deno.
adapterConformance('web fetch handler, Web path (a Bun-style server argument)', (firewall: Firewall) => {
  const guarded = withMoatFetch<[unknown]>(fetchApp, firewall);
  return serve((request, env) => guarded(request, bunStyleServer(env)));
});

/** Hono judging `c.req.raw` through handle() with the given `info`. */
function honoThroughHandle(firewall: Firewall, info: (request: Request, env: unknown) => WebClientInfo): Promise<number> {
  const app = new Hono();
  app.use(async (c, next) => {
    const answer = await firewall.handle(c.req.raw, info(c.req.raw, c.env));
    if (answer !== null) return answer;
    await next();
  });
  app.post('/login', (c) => c.text('ok'));
  app.post('/form', async (c) => c.json(await c.req.parseBody()));
  app.all('*', (c) => c.text('hello'));
  return serve(app.fetch);
}

// The recipe: platformClientInfo hands handle() the IncomingMessage behind a bodiless request, judged
// by the Node path (adapters-web-node-backed.test.ts); with only the address, every request takes the
// Web path, as on Bun and Deno.
adapterConformance('hono, c.req.raw through handle() with platformClientInfo', (firewall: Firewall) =>
  honoThroughHandle(firewall, platformClientInfo));

adapterConformance('hono, Web path (c.req.raw through handle() with { ip } only)', (firewall: Firewall) =>
  honoThroughHandle(firewall, (request, env) => ({ ip: platformClientIp(request, env) })));

test('web: without the platform\'s client address, a forged X-Forwarded-For is not believed and the gap is reported', async () => {
  const rules = rulesFile({ ...STANDARD_RULES, allow: { ips: ['192.0.2.1'] } });
  after(() => rules.cleanup());
  const errors: MoatErrorEvent[] = [];
  const firewall = createFirewall({ rules: rules.path, logger: false, onError: (e) => errors.push(e) });
  after(() => firewall.close());
  // A handler that forgets to pass { ip }: the attacker claims the allowed address in a header.
  const port = await serve(async (request) => (await firewall.handle(request)) ?? fetchApp(request));
  const res = await send(port, { path: '/wp-admin', headers: { 'x-forwarded-for': '192.0.2.1', 'x-real-ip': '192.0.2.1' } });
  assert.equal(res.status, 403, 'the allow rule for the forged address must not apply');
  const stats = firewall.stats();
  assert.equal(stats.noPeerAddress, 1);
  assert.equal(errors[0]?.kind, 'configuration');
  assert.match(errors[0].error.message, /without its client address/);

  const closed = createFirewall({ rules: rules.path, logger: false, failClosed: true });
  after(() => closed.close());
  const closedPort = await serve(async (request) => (await closed.handle(request)) ?? fetchApp(request));
  assert.equal((await send(closedPort, { path: '/' })).status, 503, 'failClosed: no address, no answer from the app');
});

test('web: a body the app already read is counted as uninspected, and the request is still judged by the rest', async () => {
  const rules = rulesFile(STANDARD_RULES);
  after(() => rules.cleanup());
  const firewall = createFirewall({ rules: rules.path, logger: false });
  after(() => firewall.close());
  const port = await serve(async (request, env) => {
    const fields = await request.formData(); // read before Moat looks
    return (await firewall.handle(request, platformClientInfo(request, env))) ?? Response.json(Object.fromEntries(fields));
  });
  const res = await send(port, { method: 'POST', path: '/form', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'a=%3Cscript' });
  assert.equal(res.status, 200);
  assert.equal(firewall.stats().bodiesUninspected.unreadable, 1);
  assert.equal((await send(port, { method: 'POST', path: '/wp-admin', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'a=1' })).status, 403);
});

test('web: handle() answers Responses equal to the Node path\'s (status, headers, body)', async () => {
  const rules = rulesFile(STANDARD_RULES);
  after(() => rules.cleanup());
  const firewall = createFirewall({ rules: rules.path, logger: false });
  after(() => firewall.close());
  const blocked = await firewall.handle(new Request('http://example.test/wp-admin'), { ip: '198.51.100.7' });
  assert.ok(blocked instanceof Response);
  assert.equal(blocked.status, 403);
  assert.equal(blocked.headers.get('content-type'), 'text/plain; charset=utf-8');
  assert.equal(blocked.headers.get('content-length'), '7');
  assert.equal(await blocked.text(), 'Blocked');
  assert.equal(await firewall.handle(new Request('http://example.test/fine'), { ip: '198.51.100.7' }), null);
  const login = () => firewall.handle(new Request('http://example.test/login', { method: 'POST' }), { ip: '198.51.100.7' });
  await login();
  await login();
  const limited = await login();
  assert.equal(limited?.status, 429);
  assert.ok(Number(limited!.headers.get('retry-after')) >= 1);
});

test('web: an X-Forwarded-For naming the peer itself (as `next start` writes it) raises no "behind a proxy?" warning; another address does', async () => {
  const rules = rulesFile(STANDARD_RULES);
  after(() => rules.cleanup());
  const warnings: string[] = [];
  const firewall = createFirewall({ rules: rules.path, logger: { error: () => {}, warn: (_o, message) => { warnings.push(message ?? ''); } } });
  after(() => firewall.close());
  const port = await serve(withMoatFetch(fetchApp, firewall));
  // The watch looks at the first request and then one in FORWARDING_LOOK_EVERY.
  for (let i = 0; i < FORWARDING_LOOK_EVERY; i++) {
    assert.equal((await send(port, { path: '/', headers: { 'x-forwarded-for': '::ffff:127.0.0.1' } })).status, 200);
  }
  assert.deepEqual(warnings, []);
  for (let i = 0; i < FORWARDING_LOOK_EVERY; i++) {
    assert.equal((await send(port, { path: '/', headers: { 'x-forwarded-for': '6.6.6.6' } })).status, 200);
  }
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /carries x-forwarded-for, but no proxy is trusted/);
});
