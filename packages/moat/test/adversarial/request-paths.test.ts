// Path forms an attacker picks because a router serves them while a single normal form hides the rule's
// text: each test first shows the unguarded app serving the attack to the protected handler, then shows
// the guarded app refusing it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { send } from '../adapters-helpers.js';
import { target, type AppPair, type Framework } from './request-apps.js';

const PATH_RULES = {
  block: { paths: ['/wp-admin', '/admin/secret'] },
  rateLimits: [{ path: '/login', method: 'POST', limit: 2, window: '60s' }],
};

/** The unguarded app answers `served` (a prefix of the body); the guarded one answers 403. */
async function servedThenBlocked(name: string, pair: AppPair, path: string, served: string): Promise<void> {
  const plain = await send(pair.plain, { path });
  assert.equal(plain.status, 200, `${name} ${path}: ${plain.body.slice(0, 120)}`);
  assert.ok(plain.body.startsWith(served), `${name} ${path} served by ${plain.body}, expected ${served}`);
  const guarded = await send(pair.guarded, { path });
  assert.equal(guarded.status, 403, `${name} ${path} reached the app through Moat: ${guarded.body.slice(0, 120)}`);
}

async function attack(frameworks: Record<string, string>, path: string): Promise<void> {
  const t = await target(PATH_RULES, Object.keys(frameworks) as Framework[]);
  for (const [name, served] of Object.entries(frameworks)) await servedThenBlocked(name, t.apps[name as Framework], path, served);
}

test('GET /wp-admin/.. is blocked by a /wp-admin path rule on Express (app.use mount), Fastify (/*) and Koa', () =>
  attack({ express: 'wp-admin:/wp-admin/..', fastify: 'wp-admin:..', koa: 'wp-admin:/wp-admin/..' }, '/wp-admin/..'));

test('GET /wp-admin/%2e%2e is blocked by a /wp-admin path rule on Express, Fastify and Koa', () =>
  attack({ express: 'wp-admin:/wp-admin/%2e%2e', fastify: 'wp-admin:..', koa: 'wp-admin:/wp-admin/%2e%2e' }, '/wp-admin/%2e%2e'));

test('GET /wp-admin%2f.. is blocked by a /wp-admin path rule where a /:page route reads page=wp-admin/.. (Express, Fastify, Hono)', () =>
  attack({ express: 'page:wp-admin/..', fastify: 'page:wp-admin/..', hono: 'page:wp-admin/..' }, '/wp-admin%2f..'));

test('GET /wp-admin\\.. (backslash) is blocked where /:page reads page=wp-admin\\.. (Express, Fastify)', () =>
  attack({ express: 'page:wp-admin\\..', fastify: 'page:wp-admin\\..' }, '/wp-admin\\..'));

test('GET /admin/secret/.. is blocked by an /admin/secret path rule where /admin/secret/:file serves it (Express, Fastify)', () =>
  attack({ express: 'secret:..', fastify: 'secret:..' }, '/admin/secret/..'));

test('GET /wp-admin/%252e%252e (double-encoded dots) is blocked by a /wp-admin path rule on Express, Fastify and Koa', () =>
  attack({ express: 'wp-admin:/wp-admin/%252e%252e', fastify: 'wp-admin:%2e%2e', koa: 'wp-admin:/wp-admin/%252e%252e' }, '/wp-admin/%252e%252e'));

test('GET /wp-admin;x/.. is blocked by a /wp-admin path rule on Fastify with useSemicolonDelimiter (served as /wp-admin)', () =>
  attack({ 'fastify-lenient': 'page:wp-admin', fastify: 'star:wp-admin;x/..', koa: 'wp-admin:/wp-admin;x/..' }, '/wp-admin;x/..'));

test('GET /%2577p-admin is not a /wp-admin request to any router (decoded once), so Moat lets it through', async () => {
  // The decision behind decoding once: a second decode would block requests no router serves as /wp-admin.
  const t = await target(PATH_RULES, ['express', 'fastify', 'hono']);
  for (const [name, pair] of Object.entries(t.apps) as [Framework, AppPair][]) {
    const plain = await send(pair.plain, { path: '/%2577p-admin' });
    assert.deepEqual([plain.status, plain.body], [200, 'page:%77p-admin'], name);
    assert.equal((await send(pair.guarded, { path: '/%2577p-admin' })).status, 200, name);
  }
  assert.equal(t.firewall.stats().blocked, 0);
});

test('ordinary paths with dots, semicolons and slashes are not blocked by a /wp-admin rule', async () => {
  const t = await target(PATH_RULES, ['express']);
  for (const path of ['/docs/..', '/a;b', '/about/', '/file.txt', '/x%2fy', '/%7Euser']) {
    const plain = await send(t.apps.express.plain, { path });
    assert.equal((await send(t.apps.express.guarded, { path })).status, plain.status, path);
  }
  assert.equal(t.firewall.stats().blocked, 0);
});

/** POSTs `path` `count` times to the guarded app; the statuses. */
async function posts(port: number, path: string, count: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < count; i++) out.push((await send(port, { method: 'POST', path, body: '' })).status);
  return out;
}

test('POST /login/ counts toward a /login rate limit on Express, which routes it to the /login handler', async () => {
  const t = await target(PATH_RULES, ['express']);
  const plain = await send(t.apps.express.plain, { method: 'POST', path: '/login/', body: '' });
  assert.deepEqual([plain.status, plain.body], [200, 'login:ok']);
  // Alternating forms from one client: the third POST is over the limit of two, whatever its form.
  const port = t.apps.express.guarded;
  const statuses = [...await posts(port, '/login', 1), ...await posts(port, '/login/', 1), ...await posts(port, '/LOGIN/', 1)];
  assert.deepEqual(statuses, [200, 200, 429]);
});

test('POST /login;x and POST /login/ count toward a /login rate limit on Fastify with useSemicolonDelimiter and ignoreTrailingSlash', async () => {
  const t = await target(PATH_RULES, ['fastify-lenient']);
  const pair = t.apps['fastify-lenient'];
  for (const path of ['/login;x', '/login/']) {
    const plain = await send(pair.plain, { method: 'POST', path, body: '' });
    assert.deepEqual([plain.status, plain.body], [200, 'login:ok'], path);
  }
  const statuses = [...await posts(pair.guarded, '/login;x', 1), ...await posts(pair.guarded, '/login/', 1), ...await posts(pair.guarded, '/login;jsessionid=1', 1)];
  assert.deepEqual(statuses, [200, 200, 429]);
  // Served as /login too; and it counts once per request although three of its forms match the rule
  // (resolved `/login/`, as written `/login;x/..`, cut at `;` `/login`): the third POST, not the second, is refused.
  const fresh = await target(PATH_RULES, ['fastify-lenient']);
  const lenient = fresh.apps['fastify-lenient'];
  assert.equal((await send(lenient.plain, { method: 'POST', path: '/login;x/..', body: '' })).body, 'login:ok');
  assert.deepEqual(await posts(lenient.guarded, '/login;x/..', 3), [200, 200, 429]);
});

test('GET /api/.. counts toward an /api/* rate limit on Express, whose app.use(\'/api\') serves it', async () => {
  const t = await target({ rateLimits: [{ path: '/api/*', limit: 1, window: '60s' }] }, ['express']);
  const plain = await send(t.apps.express.plain, { path: '/api/..' });
  assert.deepEqual([plain.status, plain.body], [200, 'api:/api/..']);
  const port = t.apps.express.guarded;
  assert.equal((await send(port, { path: '/api/..' })).status, 200);
  assert.equal((await send(port, { path: '/api/..' })).status, 429);
});

test('a query after `#`, which Fastify reads (from the first `?` or `#` to the end), is judged by parameter rules', async () => {
  const t = await target({ block: { params: ['<script', 'token=leaked'] } }, ['fastify']);
  for (const [path, served] of [['/query#q=%3Cscript%3E', 'query:{"q":"<script>"}'], ['/query?a=1#token=leaked', 'query:{"a":"1#token=leaked"}']]) {
    await servedThenBlocked('fastify', t.apps.fastify, path!, served!);
  }
  assert.equal((await send(t.apps.fastify.guarded, { path: '/query?a=1#top' })).status, 200);
});
