// Methods and hosts an attacker swaps for another spelling the app treats the same: HEAD for GET, and an
// absolute-form target whose authority differs from the Host header the framework reads.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { send } from '../adapters-helpers.js';
import { target, type Framework } from './request-apps.js';

test('HEAD /feed is blocked by a method rule on GET on Express and Fastify, which answer HEAD with the GET handler', async () => {
  const t = await target({ block: { methods: ['GET'] } }, ['express', 'fastify']);
  for (const name of ['express', 'fastify'] as Framework[]) {
    const pair = t.apps[name];
    const plain = await send(pair.plain, { method: 'HEAD', path: '/feed' });
    assert.equal(plain.status, 200, `${name} serves HEAD /feed`);
    assert.equal(plain.headers['content-length'], String('feed:ok'.length), `${name} ran the GET handler for HEAD`);
    assert.equal((await send(pair.guarded, { method: 'HEAD', path: '/feed' })).status, 403, name);
    assert.equal((await send(pair.guarded, { method: 'POST', path: '/login', body: '' })).status, 200, `${name}: POST is not GET`);
  }
});

test('HEAD requests count toward a GET rate limit on /feed on Express and Fastify', async () => {
  for (const name of ['express', 'fastify'] as Framework[]) {
    // A firewall per framework: the counters are per client, and every test client is 127.0.0.1.
    const t = await target({ rateLimits: [{ path: '/feed', method: 'GET', limit: 2, window: '60s' }] }, [name]);
    const port = t.apps[name].guarded;
    const statuses: number[] = [];
    for (const method of ['GET', 'HEAD', 'HEAD', 'GET']) statuses.push((await send(port, { method, path: '/feed' })).status);
    assert.deepEqual(statuses, [200, 200, 429, 429], name);
  }
});

const HOST_RULES = { block: { hosts: ['admin.example.com'] } };

test('GET http://public.example/host with Host: admin.example.com is blocked by an admin.example.com host rule on Express and Fastify', async () => {
  const t = await target(HOST_RULES, ['express', 'fastify']);
  const request = { path: 'http://public.example/host', headers: { host: 'admin.example.com' } };
  for (const name of ['express', 'fastify'] as Framework[]) {
    const plain = await send(t.apps[name].plain, request);
    // The framework acts on the Host header, not on the target's authority.
    assert.deepEqual([plain.status, plain.body], [200, 'host:admin.example.com'], name);
    assert.equal((await send(t.apps[name].guarded, request)).status, 403, name);
  }
});

test('GET http://admin.example.com/host with Host: public.example is blocked too: neither authority can be chosen to dodge the rule', async () => {
  const t = await target(HOST_RULES, ['express', 'fastify']);
  const request = { path: 'http://Admin.Example.com:80/host', headers: { host: 'public.example' } };
  for (const name of ['express', 'fastify'] as Framework[]) {
    assert.equal((await send(t.apps[name].plain, request)).status, 200, `${name} serves the absolute-form target`);
    assert.equal((await send(t.apps[name].guarded, request)).status, 403, name);
    const other = { path: 'http://public.example/host', headers: { host: 'public.example' } };
    assert.equal((await send(t.apps[name].guarded, other)).status, 200, `${name}: a host no rule names goes on`);
  }
});

test('Host: admin.example.com:1:2 is blocked by an admin.example.com host rule: Express, Fastify and Koa read the host up to the first colon', async () => {
  const t = await target(HOST_RULES, ['express', 'fastify', 'koa']);
  for (const host of ['admin.example.com:1:2', 'ADMIN.example.com:x:y:z', 'admin.example.com.:1:2']) {
    for (const name of ['express', 'fastify', 'koa'] as Framework[]) {
      const plain = await send(t.apps[name].plain, { path: '/host', headers: { host } });
      assert.equal(plain.status, 200, `${name} serves Host: ${host}`);
      assert.match(plain.body, /^host:admin\.example\.com\.?$/i, `${name} reads the host as admin.example.com`);
      assert.equal((await send(t.apps[name].guarded, { path: '/host', headers: { host } })).status, 403, `${name}, Host: ${host}`);
    }
  }
});
