// Attacks on how the Web front door reads headers. Firewall.handle() reads each header it needs with
// Headers.get() instead of copying them all (the copy made @hono/node-server build a whole Headers per
// request), so these check that no spelling, repetition or odd name gets a header past that view, on a
// real socket behind @hono/node-server, and that the view never iterates a request's headers.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import { createAdaptorServer } from '@hono/node-server';
import { withMoatFetch } from '../../src/adapters/web.js';
import { createFirewall, type Firewall } from '../../src/firewall/firewall.js';
import type { MoatHttpRequest } from '../../src/http/normalized-request.js';
import { bunStyleServer, close, listen, rawRequest, rulesFile, send } from '../adapters-helpers.js';

const RULES = { block: { userAgents: ['evilbot'], hosts: ['admin.example.test'], params: ['<script'] } };

async function guarded(onRequest?: (request: MoatHttpRequest) => void): Promise<{ port: number; firewall: Firewall }> {
  const rules = rulesFile(RULES);
  after(() => rules.cleanup());
  const firewall = createFirewall({ rules: rules.path, logger: false, trustedProxies: [], onDecision: (_d, r) => onRequest?.(r) });
  after(() => firewall.close());
  // A Bun-style second argument (`server.requestIP`) instead of @hono/node-server's env: the Web path and
  // its header view run, as on Bun and Deno (with the env, withMoatFetch would judge the IncomingMessage).
  const guardedApp = withMoatFetch<[unknown]>(() => new Response('app'), firewall);
  const server = createAdaptorServer({ fetch: (request: Request, env: unknown) => guardedApp(request, bunStyleServer(env)) }) as Server;
  const port = await listen(server);
  after(() => close(server));
  return { port, firewall };
}

test('a blocked User-Agent sent as USER-AGENT, or twice with an innocent first copy, is blocked on a fetch handler', async () => {
  const { port } = await guarded();
  assert.equal((await send(port, { headers: { 'USER-AGENT': 'EvilBot/2' } })).status, 403);
  // Two copies: get() joins them (`Mozilla/5.0, EvilBot/2`) as Node does, so the second is seen too.
  const twice = Buffer.from('GET / HTTP/1.1\r\nhost: example.test\r\nuser-agent: Mozilla/5.0\r\nuser-agent: EvilBot/2\r\nconnection: close\r\n\r\n', 'latin1');
  assert.equal((await rawRequest(port, twice)).status, 403);
  assert.equal((await send(port, { headers: { 'user-agent': 'Mozilla/5.0' } })).body, 'app');
});

test('Host: ADMIN.Example.Test:8080 and admin.example.test. are blocked by an admin.example.test host rule on a fetch handler', async () => {
  const { port } = await guarded();
  assert.equal((await send(port, { headers: { host: 'ADMIN.Example.Test:8080' } })).status, 403);
  assert.equal((await send(port, { headers: { host: 'admin.example.test.' } })).status, 403);
  assert.equal((await send(port, { headers: { host: 'www.example.test' } })).status, 200);
});

test('a forged X-Forwarded-For from an untrusted client is ignored but counted, and listeners still read every header, on a fetch handler', async () => {
  const seen: { ua: unknown; keys: string[]; spread: Record<string, unknown>; proto: unknown; missing: unknown }[] = [];
  const { port, firewall } = await guarded((r) => {
    const h = r.headers as Record<string, unknown>;
    seen.push({ ua: h['user-agent'], keys: Object.keys(h), spread: { ...h }, proto: h['__proto__'], missing: h['x-not-sent'] });
  });
  const res = await send(port, { headers: { 'x-forwarded-for': '192.0.2.1', 'user-agent': 'Mozilla/5.0', 'x-request-id': 'abc' } });
  assert.equal(res.status, 200);
  assert.equal(firewall.stats().ipHeaderUntrusted, 1);
  assert.equal(seen.length, 1);
  const [view] = seen;
  assert.equal(view.ua, 'Mozilla/5.0');
  assert.ok(view.keys.includes('x-request-id') && view.keys.includes('x-forwarded-for'), view.keys.join());
  assert.equal(view.spread['x-request-id'], 'abc');
  assert.equal(view.proto, undefined, '__proto__ is only a header name');
  assert.equal(view.missing, undefined);
});

test('handle() judges (pass, block, form body) without iterating the request headers: no full copy per request', async () => {
  const rules = rulesFile(RULES);
  after(() => rules.cleanup());
  const firewall = createFirewall({ rules: rules.path, logger: false });
  after(() => firewall.close());
  let iterated = 0;
  // Node's typings declare these as readonly properties, so they are overridden as properties that call the
  // prototype's methods (the same functions a plain Headers would run).
  const proto = Headers.prototype;
  class CountingHeaders extends Headers {
    override readonly forEach: Headers['forEach'] = (...args) => { iterated++; proto.forEach.apply(this, args); };
    override readonly entries: Headers['entries'] = () => { iterated++; return proto.entries.call(this); };
    override readonly keys: Headers['keys'] = () => { iterated++; return proto.keys.call(this); };
    override readonly values: Headers['values'] = () => { iterated++; return proto.values.call(this); };
    override readonly [Symbol.iterator]: Headers['entries'] = () => { iterated++; return proto[Symbol.iterator].call(this); };
  }
  const request = (init: { ua?: string; body?: string }) => {
    const headers = new Headers({ host: 'www.example.test', 'user-agent': init.ua ?? 'Mozilla/5.0' });
    if (init.body !== undefined) headers.set('content-type', 'application/x-www-form-urlencoded');
    return new Request('http://www.example.test/x?a=1', { method: init.body === undefined ? 'GET' : 'POST', headers, body: init.body });
  };
  // The Request copies its init headers into its own; those are the ones the view must not iterate.
  const judge = async (r: Request) => {
    Object.setPrototypeOf(r.headers, CountingHeaders.prototype);
    return firewall.handle(r, { ip: '198.51.100.7' });
  };
  assert.equal(await judge(request({})), null);
  assert.equal((await judge(request({ ua: 'EvilBot/1' })))?.status, 403);
  assert.equal((await judge(request({ body: 'a=%3Cscript%3E' })))?.status, 403);
  assert.equal(await judge(request({ body: 'a=fine' })), null);
  assert.equal(iterated, 0);
});
