// handle(c.req.raw, platformClientInfo(c.req.raw, c.env)) on @hono/node-server: a bodiless request
// whose headers each came once is judged by the Node path (the IncomingMessage the wrapper was built
// from), everything else by the Web path. These are the attacks on that shortcut: a forged forwarding
// header, header case and repeats, absolute-form targets, bodies, and a Request the app rewrote so that
// the original target is still its url's tail. Each asserts the decision and which path made it.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import { createAdaptorServer } from '@hono/node-server';
import { Hono } from 'hono';
import { platformClientInfo } from '../src/adapters/web.js';
import { createFirewall, type NodeDecisionListener } from '../src/firewall/firewall.js';
import type { DecisionListener } from '../src/firewall/options.js';
import { STANDARD_RULES, close, listen, rawRequest, rulesFile, send } from './adapters-helpers.js';

const rules = rulesFile({
  ...STANDARD_RULES,
  allow: { ips: ['192.0.2.1'] },
  block: { ...STANDARD_RULES.block, hosts: ['admin.example.com'] },
});
after(() => rules.cleanup());

/** For each decision, whether the Node path made it (its listeners get the IncomingMessage). */
const byNodePath: boolean[] = [];
const listener: NodeDecisionListener = (_decision, _request, raw) => { byNodePath.push(raw !== undefined); };
const firewall = createFirewall({ rules: rules.path, logger: false, trustedProxies: [], onDecision: listener as DecisionListener });
after(() => firewall.close());

const app = new Hono();
app.use(async (c, next) => {
  // /rewritten/…: the app made a new Request whose url ends with the original target, '/wp-admin' put in front.
  const url = new URL(c.req.url);
  const request = url.pathname.startsWith('/rewritten/') ? new Request(new URL(`/wp-admin${url.pathname}`, url), c.req.raw) : c.req.raw;
  const answer = await firewall.handle(request, platformClientInfo(request, c.env));
  if (answer !== null) return answer;
  await next();
});
app.all('*', async (c) => c.text(c.req.method === 'POST' ? `got ${await c.req.text()}` : 'hello'));
const server = createAdaptorServer({ fetch: app.fetch }) as Server;
const port = await listen(server);
after(() => close(server));

/** Sends a request and returns its status and which path judged it. */
async function judged(bytesOrSpec: string | Parameters<typeof send>[1]): Promise<{ status: number; body: string; nodePath: boolean | undefined }> {
  byNodePath.length = 0;
  const res = typeof bytesOrSpec === 'string' ? await rawRequest(port, bytesOrSpec) : await send(port, bytesOrSpec);
  assert.ok(byNodePath.length <= 1, 'one decision per request');
  return { status: res.status, body: res.body, nodePath: byNodePath[0] };
}

test('node-backed handle(): an ordinary GET is judged by the Node path and reaches the app', async () => {
  const res = await judged({ path: '/products/42?page=2', headers: { 'user-agent': 'Mozilla/5.0' } });
  assert.deepEqual([res.status, res.body, res.nodePath], [200, 'hello', true]);
  const blocked = await judged({ path: '/%77p-admin' });
  assert.deepEqual([blocked.status, blocked.nodePath], [403, true]);
});

test('node-backed handle(): a forged X-Forwarded-For without a trusted proxy is not believed', async () => {
  const before = firewall.stats().ipHeaderUntrusted;
  const res = await judged({ path: '/wp-admin', headers: { 'x-forwarded-for': '192.0.2.1', 'x-real-ip': '192.0.2.1' } });
  assert.deepEqual([res.status, res.nodePath], [403, true], 'the allow rule for the forged address must not apply');
  assert.equal(firewall.stats().ipHeaderUntrusted, before + 1);
});

test('node-backed handle(): header names in any case are the same header', async () => {
  const res = await judged('GET / HTTP/1.1\r\nHOST: example.test\r\nUSER-AGENT: EvilBot/1\r\nConnection: close\r\n\r\n');
  assert.deepEqual([res.status, res.nodePath], [403, true]);
});

test('node-backed handle(): a repeated header goes to the Web path, which judges every copy the app sees', async () => {
  // Node keeps the first User-Agent; the wrapper's Headers (what the app reads) joins both.
  const res = await judged('GET / HTTP/1.1\r\nHost: example.test\r\nUser-Agent: Mozilla/5.0\r\nuser-agent: evilbot\r\nConnection: close\r\n\r\n');
  assert.deepEqual([res.status, res.nodePath], [403, false]);
});

test('node-backed handle(): absolute-form targets go to the Web path; their path and host are judged', async () => {
  const path = await judged('GET http://example.test/wp-admin HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n\r\n');
  assert.deepEqual([path.status, path.nodePath], [403, false]);
  const host = await judged('GET http://admin.example.com/ HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n\r\n');
  assert.deepEqual([host.status, host.nodePath], [403, false]);
});

test('node-backed handle(): a request with a body goes to the Web path; the body is judged and stays intact', async () => {
  const form = { 'content-type': 'application/x-www-form-urlencoded' };
  const bad = await judged({ method: 'POST', path: '/form', headers: form, body: 'a=%3Cscript' });
  assert.deepEqual([bad.status, bad.nodePath], [403, false]);
  const good = await judged({ method: 'POST', path: '/form', headers: form, body: 'a=1&b=2' });
  assert.deepEqual([good.status, good.body, good.nodePath], [200, 'got a=1&b=2', false]);
});

test('node-backed handle(): a Request the app rewrote is judged as rewritten, not as the original target', async () => {
  // The rewritten url (…/wp-admin/rewritten/x) still ends with the original target (/rewritten/x).
  const res = await judged({ path: '/rewritten/x' });
  assert.deepEqual([res.status, res.nodePath], [403, false]);
});

test('node-backed handle(): while a rate limit counts by user, the user option still gets the Request', async () => {
  const limited = rulesFile({ rateLimits: [{ id: 'me', path: '/me', limit: 2, window: '1m', key: 'user' }] });
  after(() => limited.cleanup());
  const seen: boolean[] = [];
  const users = createFirewall({
    rules: limited.path, logger: false, trustedProxies: [],
    user: (req) => { seen.push(req instanceof Request); return (req as Request).headers.get('x-test-user') ?? undefined; },
  });
  after(() => users.close());
  const usersApp = new Hono();
  usersApp.use(async (c, next) => (await users.handle(c.req.raw, platformClientInfo(c.req.raw, c.env))) ?? next());
  usersApp.all('*', (c) => c.text('hello'));
  const usersServer = createAdaptorServer({ fetch: usersApp.fetch }) as Server;
  const usersPort = await listen(usersServer);
  after(() => close(usersServer));
  const statuses: number[] = [];
  for (const user of ['u1', 'u1', 'u1', 'u2']) statuses.push((await send(usersPort, { path: '/me', headers: { 'x-test-user': user } })).status);
  assert.deepEqual(statuses, [200, 200, 429, 200], 'each user has a budget of its own');
  assert.deepEqual(seen, [true, true, true, true]);
});
