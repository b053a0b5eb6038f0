// What the Web-standard adapters cost on top of the judging comes mostly from promises: @hono/node-server
// writes a synchronous Response on a fast path and a promise on a slower one, Hono and h3 go straight on
// when a middleware returns next()'s own promise or undefined (docs/performance.md). These pin that a
// request Moat lets through, with no body to read, adds no promise of Moat's own, on real sockets.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Hono } from 'hono';
import { moat as astroMoat } from '../src/adapters/astro.js';
import { moat as h3Moat } from '../src/adapters/h3.js';
import { moat as honoMoat } from '../src/adapters/hono.js';
import { withMoatFetch } from '../src/adapters/web.js';
import { bunStyleServer, send } from './adapters-helpers.js';
import { guardedFirewall, serveFetchOnNode } from './helpers/web-on-node-server.js';

const form = { 'content-type': 'application/x-www-form-urlencoded' };

for (const path of ['node', 'web'] as const) {
  test(`withMoatFetch (${path === 'node' ? '@hono/node-server env, Node path' : 'Bun-style server, Web path'}) answers a passing GET without a promise; a form body makes one`, async () => {
    const firewall = guardedFirewall({ block: { paths: ['/wp-admin'], params: ['<script'] } });
    const guarded = withMoatFetch<[unknown]>(() => new Response('app'), firewall);
    const promised: boolean[] = [];
    const port = await serveFetchOnNode((request, env) => {
      const answer = guarded(request, path === 'node' ? env : bunStyleServer(env));
      promised.push(answer instanceof Promise);
      return answer;
    });
    assert.equal((await send(port, { path: '/products/1?page=2' })).body, 'app');
    assert.equal((await send(port, { path: '/wp-admin' })).status, 403);
    assert.equal((await send(port, { method: 'POST', path: '/form', headers: form, body: 'a=fine' })).body, 'app');
    assert.equal((await send(port, { method: 'POST', path: '/form', headers: form, body: 'a=%3Cscript' })).status, 403);
    assert.deepEqual(promised, [false, false, true, true]);
    assert.equal(firewall.stats().requests, 4);
  });
}

test('Hono adapter: a passing request returns next()\'s own promise (none of Moat\'s in the chain); a blocked one never calls next', async () => {
  const firewall = guardedFirewall({ block: { paths: ['/wp-admin'], params: ['<script'] } });
  const middleware = honoMoat(firewall);
  const same: boolean[] = [];
  const app = new Hono();
  app.use((c, next) => {
    let fromNext: Promise<void> | undefined;
    const answer = middleware(c, () => (fromNext = next()));
    same.push(answer === fromNext);
    return answer;
  });
  app.all('*', (c) => c.text('app'));
  const port = await serveFetchOnNode(app.fetch);
  assert.equal((await send(port, { path: '/products/1' })).body, 'app');
  assert.equal((await send(port, { path: '/wp-admin' })).status, 403);
  assert.deepEqual(same, [true, false]);
});

test('h3 and Astro adapters: a passing request gets undefined (h3) or next()\'s own promise (Astro) back at once', async () => {
  const firewall = guardedFirewall({ block: { paths: ['/wp-admin'], params: ['<script'] } });
  const request = (path: string) => Object.assign(new Request(`http://example.test${path}`), { ip: '198.51.100.7' });
  const h3 = h3Moat(firewall);
  assert.equal(h3({ req: request('/fine') }), undefined);
  const blocked = h3({ req: request('/wp-admin') });
  assert.ok(blocked instanceof Response && blocked.status === 403);

  const astro = astroMoat(firewall);
  const rendered = Promise.resolve(new Response('page'));
  const next = () => rendered;
  assert.equal(astro({ request: request('/fine'), clientAddress: '198.51.100.7' }, next), rendered);
  assert.equal((await astro({ request: request('/wp-admin'), clientAddress: '198.51.100.7' }, next)).status, 403);
  assert.equal(firewall.stats().requests, 4);
});
