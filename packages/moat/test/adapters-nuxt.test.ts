// Nuxt 4 (Nitro 2 on h3 1, node-server preset): examples/nuxt (Moat in server/middleware/moat.ts through
// moat-waf/adapters/h3, which judges h3 1's Node request) built with `nuxt build` and started with
// `node .output/server/index.mjs`, attacked on real sockets.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { rulesFile } from './adapters-helpers.js';
import { ROOT, exampleAppConformance, send } from './helpers/example-app-conformance.js';

const servers = exampleAppConformance('nuxt', {
  example: 'nuxt',
  outputs: /^[\\/](\.output|\.nuxt|\.data|node_modules|rules\.moat)$/,
  // Nuxt's CLI asks nothing and fetches nothing with telemetry off and no interactive terminal.
  build: () => ({
    command: process.execPath, args: [join(ROOT, 'node_modules/nuxt/bin/nuxt.mjs'), 'build'],
    env: { NUXT_TELEMETRY_DISABLED: '1', CI: '1' },
  }),
  start: () => ({ command: process.execPath, args: ['.output/server/index.mjs'] }),
  ready: /Listening on /,
  evasions: ['/wp-admin/', '/WP-ADMIN?x=1', '/api/../wp-admin'],
});

test('nuxt: an API route is judged like any path; a blocked client cannot reach it by forging X-Forwarded-For', async () => {
  const ok = await send(servers.main(), { path: '/api/products/42' });
  assert.equal(ok.status, 200);
  assert.deepEqual(JSON.parse(ok.body), { id: '42', name: 'Widget' });
  const blocked = await send(servers.main(), { host: '::1', path: '/api/products/42', headers: { 'x-forwarded-for': '127.0.0.1' } });
  assert.equal(blocked.status, 403);
  assert.equal(blocked.body, 'Blocked');
});

test('nuxt: the app\'s own in-process $fetch gets the decision of the client request it serves (one decision per request), the same path from a client is blocked', async () => {
  // /api/products/42 is blocked for clients. /catalogue fetches it in-process (a stand-in request with no
  // socket address): judged again it would be blocked and /catalogue would fail; it takes the client's decision.
  const rules = rulesFile({ block: { paths: ['/api/products/42'], ips: ['::1'] } });
  try {
    const port = await servers.start({ MOAT_RULES: rules.path });
    // The first request too: it starts before Moat watches the request context.
    for (let i = 0; i < 2; i++) {
      const res = await send(port, { path: '/catalogue' });
      assert.equal(res.status, 200, res.body);
      assert.deepEqual(JSON.parse(res.body), { products: [{ id: '42', name: 'Widget' }] });
    }
    assert.equal((await send(port, { path: '/api/products/42' })).status, 403);
    assert.equal((await send(port, { path: '/api/products/%34%32' })).status, 403);
    // A blocked client is refused before the page makes any call.
    assert.equal((await send(port, { host: '::1', path: '/catalogue' })).status, 403);
  } finally {
    rules.cleanup();
  }
});

test('nuxt: a form POST to an encoded or dot-segment form of a blocked path is blocked too (a body that waits in the stream, the raw target judged)', async () => {
  // Nitro awaits its hooks before middleware, so a small body already waits in the Node stream when Moat
  // reads it; the path judged is the raw target h3 1 routes on, with all its readings.
  const form = { 'content-type': 'application/x-www-form-urlencoded' };
  for (const path of ['/wp-admin', '/%77p-admin', '/x/%2e%2e/wp-admin', '/x/..%2fwp-admin', '//WP-Admin/', '/hello/../wp-admin']) {
    const res = await send(servers.main(), { method: 'POST', path, headers: form, body: 'a=1' });
    assert.equal(res.status, 403, path);
    assert.equal(res.body, 'Blocked', path);
  }
  assert.equal((await send(servers.main(), { method: 'POST', path: '/form', headers: form, body: 'a=1&b=%3Cscript%3E' })).status, 403);
});
