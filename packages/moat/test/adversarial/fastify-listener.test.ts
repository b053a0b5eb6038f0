// Fastify guarded in the node:http listener, `Fastify({ serverFactory: (h) => createServer(withMoat(h)) })`,
// the cheaper way to put Moat in front of Fastify (docs/frameworks.md). Moat then reads the request before
// Fastify has touched it: each attack below is first served by the unguarded Fastify app, then refused by
// the listener-guarded one, with the same answer as Moat's Fastify plugin gives.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { send, type RequestSpec } from '../adapters-helpers.js';
import { LISTENER_RULES, listenerPathTests, sendOpen, servedThenRefused as refused, target, type Target } from './request-apps.js';

/** The unguarded Fastify app serves `request`; guarded in the listener and by Moat's own adapter, it is refused. */
const servedThenRefused = (t: Target, request: RequestSpec, served: string, status?: number) => refused(t, 'fastify', request, served, status);

listenerPathTests('fastify', [
  ['/wp-admin/..', 'wp-admin:..'],
  ['/wp-admin/%2e%2e', 'wp-admin:..'],
  ['/wp-admin%2f..', 'page:wp-admin/..'],
  ['/wp-admin\\..', 'page:wp-admin\\..'],
  ['/WP-ADMIN', 'page:WP-ADMIN'],
  ['/wp-admin;x/..', 'star:wp-admin;x/..'],
  ['/admin/secret/..', 'secret:..'],
  ['/wp-admin/%252e%252e', 'wp-admin:%2e%2e'],
]);

test('GET /host with Host: admin.example.com is blocked by a host rule on Fastify guarded in the listener', async () => {
  const t = await target(LISTENER_RULES, ['fastify', 'fastify-listener']);
  await servedThenRefused(t, { path: '/host', headers: { host: 'admin.example.com' } }, 'host:admin.example.com');
  await servedThenRefused(t, { path: '/host', headers: { host: 'Admin.Example.com.' } }, 'host:Admin.Example.com.');
});

test('POST /form with a form body carrying <script is blocked on Fastify guarded in the listener; a harmless form reaches the parser whole', async () => {
  const t = await target(LISTENER_RULES, ['fastify', 'fastify-listener']);
  const request = { method: 'POST', path: '/form', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'bio=%3Cscript%3E' };
  await servedThenRefused(t, request, '{"bio":"<script>"}');
  // The body was peeked, not taken: Fastify's parser still reads every byte.
  const long = `bio=${'hello+'.repeat(20_000)}end`;
  const fine = await sendOpen(t.apps['fastify-listener'].guarded, { ...request, body: long });
  assert.equal(fine.status, 200);
  assert.equal(JSON.parse(fine.body).bio, `${'hello '.repeat(20_000)}end`);
});

test('a query parameter carrying <script, after `?` or after `#` as Fastify reads it, is blocked on Fastify guarded in the listener', async () => {
  const t = await target(LISTENER_RULES, ['fastify', 'fastify-listener']);
  await servedThenRefused(t, { path: '/query?q=%3Cscript%3E' }, 'query:{"q":"<script>"}');
  await servedThenRefused(t, { path: '/query#q=%3Cscript%3E' }, 'query:{"q":"<script>"}');
});

test('POST /login, /login/ and /LOGIN share one /login rate limit on Fastify guarded in the listener', async () => {
  const t = await target(LISTENER_RULES, ['fastify-listener']);
  const port = t.apps['fastify-listener'].guarded;
  const statuses: number[] = [];
  // Fastify serves only /login (its router is case- and slash-sensitive by default); Moat counts every form.
  for (const path of ['/login', '/login/', '/LOGIN']) statuses.push((await send(port, { method: 'POST', path, body: '' })).status);
  assert.deepEqual(statuses, [200, 404, 429]);
  const limited = await send(port, { method: 'POST', path: '/login', body: '' });
  assert.equal(limited.status, 429);
  assert.ok(Number(limited.headers['retry-after']) >= 1, 'Retry-After is sent');
});

test('ordinary requests reach Fastify unchanged through the listener, and every request is counted once', async () => {
  const t = await target(LISTENER_RULES, ['fastify-listener']);
  const port = t.apps['fastify-listener'].guarded;
  const paths = ['/docs/..', '/a;b', '/about', '/file.txt', '/x%2fy', '/%7Euser', '/query?page=2', '/feed'];
  for (const path of paths) {
    const plain = await send(t.apps['fastify-listener'].plain, { path });
    const guarded = await send(port, { path });
    assert.deepEqual([guarded.status, guarded.body], [plain.status, plain.body], path);
  }
  const stats = t.firewall.stats();
  assert.deepEqual([stats.requests, stats.blocked], [paths.length, 0]);
});
