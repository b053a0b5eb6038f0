// Express guarded in the node:http listener, `http.createServer(withMoat(app))`, the cheaper way to put
// Moat in front of Express (docs/performance.md). Moat then reads the request before Express has
// touched it: each attack below is first served by the unguarded Express app, then refused by the
// listener-guarded one, with the same answer as Moat's Express middleware gives.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { send, type RequestSpec } from '../adapters-helpers.js';
import { LISTENER_RULES, listenerPathTests, sendOpen, servedThenRefused as refused, target, type Target } from './request-apps.js';

/** The unguarded Express app serves `request`; guarded in the listener and by Moat's own adapter, it is refused. */
const servedThenRefused = (t: Target, request: RequestSpec, served: string, status?: number) => refused(t, 'express', request, served, status);

listenerPathTests('express', [
  ['/wp-admin/..', 'wp-admin:/wp-admin/..'],
  ['/wp-admin/%2e%2e', 'wp-admin:/wp-admin/%2e%2e'],
  ['/wp-admin%2f..', 'page:wp-admin/..'],
  ['/wp-admin\\..', 'page:wp-admin\\..'],
  ['/wp-admin//x', 'wp-admin:/wp-admin//x'],
  ['/WP-ADMIN', 'wp-admin:/WP-ADMIN'],
  ['/wp-admin;x', 'page:wp-admin;x'],
  ['/admin/secret/..', 'secret:..'],
  ['/wp-admin/%252e%252e', 'wp-admin:/wp-admin/%252e%252e'],
]);

test('GET http://public.example/host with Host: admin.example.com is blocked by a host rule on Express guarded in the listener', async () => {
  const t = await target(LISTENER_RULES, ['express', 'express-listener']);
  await servedThenRefused(t, { path: 'http://public.example/host', headers: { host: 'admin.example.com' } }, 'host:admin.example.com');
  await servedThenRefused(t, { path: 'http://Admin.Example.com:80/host', headers: { host: 'public.example' } }, 'host:public.example');
});

test('GET /form with a form body carrying <script (body-parser reads GET bodies) is blocked on Express guarded in the listener', async () => {
  const t = await target(LISTENER_RULES, ['express', 'express-listener']);
  const request = { method: 'GET', path: '/form', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'bio=%3Cscript%3E' };
  await servedThenRefused(t, request, '{"bio":"<script>"}');
  // The body was peeked, not taken: a harmless form still reaches body-parser whole.
  const fine = await sendOpen(t.apps['express-listener'].guarded, { ...request, body: 'bio=hello' });
  assert.deepEqual([fine.status, JSON.parse(fine.body)], [200, { bio: 'hello' }]);
});

test('GET /feed?q=<script is blocked by a parameter rule on Express guarded in the listener', async () => {
  const t = await target(LISTENER_RULES, ['express', 'express-listener']);
  await servedThenRefused(t, { path: '/feed?q=%3Cscript%3E' }, 'feed:ok');
});

test('POST /login, /login/ and /LOGIN/ share one /login rate limit on Express guarded in the listener', async () => {
  const t = await target(LISTENER_RULES, ['express-listener']);
  const port = t.apps['express-listener'].guarded;
  const statuses: number[] = [];
  for (const path of ['/login', '/login/', '/LOGIN/']) statuses.push((await send(port, { method: 'POST', path, body: '' })).status);
  assert.deepEqual(statuses, [200, 200, 429]);
  const limited = await send(port, { method: 'POST', path: '/login', body: '' });
  assert.ok(Number(limited.headers['retry-after']) >= 1, 'Retry-After is sent');
});

test('ordinary requests reach Express unchanged through the listener, and every request is counted once', async () => {
  const t = await target(LISTENER_RULES, ['express-listener']);
  const port = t.apps['express-listener'].guarded;
  for (const path of ['/docs/..', '/a;b', '/about/', '/file.txt', '/x%2fy', '/%7Euser', '/feed?page=2']) {
    const plain = await send(t.apps['express-listener'].plain, { path });
    const guarded = await send(port, { path });
    assert.deepEqual([guarded.status, guarded.body], [plain.status, plain.body], path);
  }
  const stats = t.firewall.stats();
  assert.deepEqual([stats.requests, stats.blocked], [7, 0]);
});
