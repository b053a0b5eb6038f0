// SvelteKit with adapter-node: examples/sveltekit (Moat in src/hooks.server.ts, `handle` with the socket
// address from getClientAddress()) built with `vite build` and started with `node build`, attacked on real
// sockets. SvelteKit's router decodes paths and strips its own suffixes (`/x/__data.json` runs the load
// functions of `/x`): those forms of a blocked path are blocked too.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ROOT, exampleAppConformance, send } from './helpers/example-app-conformance.js';

const servers = exampleAppConformance('sveltekit', {
  example: 'sveltekit',
  outputs: /^[\\/](build|\.svelte-kit|rules\.moat)$/,
  build: () => ({ command: process.execPath, args: [join(ROOT, 'node_modules/vite/bin/vite.js'), 'build'] }),
  start: () => ({ command: process.execPath, args: ['build'] }),
  ready: /Listening on /,
  evasions: ['/wp-admin/__data.json', '/wp-admin/__data.json?x-sveltekit-invalidated=01', '/WP-Admin/__data.json',
    '/wp-admin/__data.json?x-sveltekit-trailing-slash=1', '/%77p-admin/__data.json'],
});

test('sveltekit: GET /wp-admin/__route.js (route resolution) never reaches a route: SvelteKit refuses it itself, before the hook', async () => {
  // With the default router.resolution ('client') SvelteKit answers 400 before `handle` runs, so Moat never
  // sees it; what matters is that no route answers.
  for (const path of ['/wp-admin/__route.js', '/%77p-admin/__route.js']) {
    const res = await send(servers.main(), { path });
    assert.notEqual(res.status, 200, path);
    assert.doesNotMatch(res.body, /^hello$/, path);
  }
});

test('sveltekit: the first request a fresh server gets, from a blocked address forging X-Forwarded-For, is refused', async () => {
  const port = await servers.start({ MOAT_RULES: servers.rulesPath });
  const res = await send(port, { host: '::1', path: '/hello', headers: { 'x-forwarded-for': '127.0.0.1' } });
  assert.equal(res.status, 403);
  assert.equal(res.body, 'Blocked');
});
