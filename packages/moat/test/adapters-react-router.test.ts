// React Router v7 (framework mode): examples/react-router built with `react-router build` and served by
// its server.js (Express, @react-router/express's createRequestHandler, Moat's Express adapter first),
// attacked on real sockets. React Router answers `/x.data` (single fetch) with the loaders of `/x`: those
// forms of a blocked path are blocked too.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ROOT, exampleAppConformance, send } from './helpers/example-app-conformance.js';

const servers = exampleAppConformance('react-router', {
  example: 'react-router',
  outputs: /^[\\/](build|\.react-router|rules\.moat)$/,
  // Offline: `react-router build` runs `npm install` when the app's package.json lacks a package its default
  // server entry needs (isbot); here that must fail, never fetch.
  build: () => ({ command: process.execPath, args: [join(ROOT, 'node_modules/@react-router/dev/bin.js'), 'build'], env: { npm_config_offline: 'true' } }),
  start: () => ({ command: process.execPath, args: ['server.js'] }),
  ready: /listening on /,
  evasions: ['/wp-admin.data', '/%77p-admin.data', '/wp-admin/_.data', '/WP-ADMIN.data?_routes=routes/any'],
});

test('react-router: static files are judged too: a blocked client cannot fetch the client build', async () => {
  const res = await send(servers.main(), { host: '::1', path: '/favicon.ico' });
  assert.equal(res.status, 403);
  const asset = await send(servers.main(), { host: '::1', path: '/assets/../assets/x.js' });
  assert.equal(asset.status, 403);
});

test('react-router: the first request a fresh server gets, from a blocked address forging X-Forwarded-For, is refused', async () => {
  const port = await servers.start({ MOAT_RULES: servers.rulesPath });
  const res = await send(port, { host: '::1', path: '/hello', headers: { 'x-forwarded-for': '127.0.0.1' } });
  assert.equal(res.status, 403);
  assert.equal(res.body, 'Blocked');
});
