// Astro (server output, @astrojs/node standalone): examples/astro (Moat in src/middleware.ts through
// moat-waf/adapters/astro) built with `astro build` and started with
// `node --import moat-waf/adapters/astro dist/server/entry.mjs`, attacked on real sockets. Astro's own
// clientAddress is the first X-Forwarded-For value a client sends; the adapter reads the socket instead.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { moat } from '../src/adapters/astro.js';
import { ROOT, exampleAppConformance, send } from './helpers/example-app-conformance.js';

const servers = exampleAppConformance('astro', {
  example: 'astro',
  outputs: /^[\\/](dist|\.astro|node_modules|rules\.moat)$/,
  build: () => ({ command: process.execPath, args: [join(ROOT, 'node_modules/astro/astro.js'), 'build'], env: { ASTRO_TELEMETRY_DISABLED: '1' } }),
  // The preload subscribes Moat to node:http before Astro loads src/middleware.ts (on its first request).
  start: () => ({ command: process.execPath, args: ['--import', 'moat-waf/adapters/astro', 'dist/server/entry.mjs'] }),
  ready: /Server listening on/,
  evasions: ['/wp-admin.html', '/wp-admin/index.html', '/wp-admin;x', '/_server-islands/..%2fwp-admin'],
});

test('astro: the first request a fresh server gets, from a blocked address forging X-Forwarded-For, is refused', async () => {
  const port = await servers.start({ MOAT_RULES: servers.rulesPath });
  const res = await send(port, { host: '::1', path: '/hello', headers: { 'x-forwarded-for': '127.0.0.1' } });
  assert.equal(res.status, 403);
  assert.equal(res.body, 'Blocked');
});

test('astro: without the preload, the request that loads the middleware is judged as an unknown client, never as the address it forges', async () => {
  // That first request has no socket context yet. Its forged header must not become the client: a blocked
  // ::1 claiming 127.0.0.1 is not cleared by it (unknown, counted), and the next request is judged by its socket.
  const port = await servers.start({ MOAT_RULES: servers.rulesPath }, { command: process.execPath, args: ['dist/server/entry.mjs'] });
  const first = await send(port, { path: '/hello', headers: { 'x-forwarded-for': '203.0.113.66' } });
  assert.equal(first.status, 200, 'the named address is not taken as the client');
  const next = await send(port, { host: '::1', path: '/hello', headers: { 'x-forwarded-for': '127.0.0.1' } });
  assert.equal(next.status, 403);
});

test('astro: outside a Node server (another platform), clientAddress is believed only when the request carries no X-Forwarded-For', async () => {
  // This process serves no HTTP, so there is no socket context: the adapter's fallback path.
  const middleware = moat({ rules: servers.rulesPath, logger: false });
  after(() => middleware.firewall.close());
  const next = async () => new Response('hello');
  const call = (clientAddress: string, headers: Record<string, string> = {}) =>
    middleware({ request: new Request('http://a/hello', { headers }), clientAddress }, next);
  assert.equal((await call('::1')).status, 403, 'the platform address of a blocked client');
  assert.equal((await call('127.0.0.1')).status, 200);
  // The address Astro took from the client's own header is not believed: unknown client, counted.
  assert.equal((await call('127.0.0.1', { 'x-forwarded-for': '127.0.0.1' })).status, 200);
  assert.equal((await call('203.0.113.66', { 'x-forwarded-for': '203.0.113.66' })).status, 200, 'nor can a header get another client blocked');
  assert.equal(middleware.firewall.stats().noPeerAddress, 2);
});
