// Once an app trusts a proxy, Express's req.hostname, Fastify's request.hostname and Koa's ctx.hostname
// come from X-Forwarded-Host, and a proxy that does not set that header passes the client's on. A rule
// blocking the host `admin.example.com` was dodged by `Host: www.example.com` with
// `X-Forwarded-Host: admin.example.com`. Every host the header names is now judged. Real apps that
// answer with the host they route on, unguarded (to show the app acts on the header) and behind Moat.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import express from 'express';
import Fastify from 'fastify';
import Koa from 'koa';
import { moat as expressMoat } from '../../src/adapters/express.js';
import { moat as fastifyMoat } from '../../src/adapters/fastify.js';
import { moat as koaMoat } from '../../src/adapters/koa.js';
import type { Firewall } from '../../src/firewall/firewall.js';
import { close, listen, firewallOn } from '../adapters-helpers.js';
import { sendOpen } from './request-apps.js';

type Started = { port: number; stop: () => Promise<void> };

const APPS: Record<string, (firewall: Firewall | null) => Promise<Started>> = {
  async express(firewall) {
    const app = express();
    app.set('trust proxy', true);
    if (firewall !== null) app.use(expressMoat(firewall));
    app.get('/', (req, res) => { res.send(req.hostname); });
    const server = app.listen(0, '127.0.0.1') as Server;
    await new Promise((resolve) => server.once('listening', resolve));
    return { port: (server.address() as { port: number }).port, stop: () => close(server) };
  },
  async fastify(firewall) {
    const app = Fastify({ trustProxy: true });
    if (firewall !== null) await app.register(fastifyMoat, { firewall });
    app.get('/', async (request) => request.hostname);
    await app.listen({ port: 0, host: '127.0.0.1' });
    return { port: (app.server.address() as { port: number }).port, stop: () => app.close() };
  },
  async koa(firewall) {
    const app = new Koa({ proxy: true });
    if (firewall !== null) app.use(koaMoat(firewall));
    app.use((ctx) => { ctx.body = ctx.hostname; });
    const server = app.listen(0, '127.0.0.1');
    const port = await listen(server);
    return { port, stop: () => close(server) };
  },
};

test('a host rule judges every host X-Forwarded-Host names, as apps that trust a proxy route on it', async () => {
  const firewall = firewallOn({ block: { hosts: ['admin.example.com'] } });
  for (const [name, start] of Object.entries(APPS)) {
    const open = await start(null);
    const guarded = await start(firewall);
    try {
      for (const forwarded of ['admin.example.com', 'ADMIN.example.com:8443', 'admin.example.com, www.example.com']) {
        const request = { method: 'GET', path: '/', headers: { host: 'www.example.com', 'x-forwarded-host': forwarded } };
        const seen = (await sendOpen(open.port, request)).body;
        // Each framework picks its own entry of a list (Express and Koa the first, Fastify the last).
        if (!forwarded.includes(',')) assert.equal(seen.toLowerCase(), 'admin.example.com', `${name} routes on the header (${forwarded})`);
        assert.equal((await sendOpen(guarded.port, request)).status, 403, `${name}: ${forwarded}`);
      }
      assert.equal((await sendOpen(guarded.port, { method: 'GET', path: '/', headers: { host: 'admin.example.com', 'x-forwarded-host': 'www.example.com' } })).status, 403,
        `${name}: the Host header is still judged`);
      const clean = await sendOpen(guarded.port, { method: 'GET', path: '/', headers: { host: 'www.example.com', 'x-forwarded-host': 'shop.example.com' } });
      assert.equal(clean.status, 200, `${name}: other hosts pass`);
      assert.equal(clean.body, 'shop.example.com');
    } finally {
      await open.stop();
      await guarded.stop();
    }
  }
});

test('a repeated request without the header is not answered for one with it (the memo of quiet requests)', async () => {
  const firewall = firewallOn({ block: { hosts: ['admin.example.com'] } });
  const app = await APPS.express!(firewall);
  try {
    const plain = { method: 'GET', path: '/', headers: { host: 'www.example.com' } };
    for (let i = 0; i < 4; i++) assert.equal((await sendOpen(app.port, plain)).status, 200);
    assert.equal((await sendOpen(app.port, { ...plain, headers: { ...plain.headers, 'x-forwarded-host': 'admin.example.com' } })).status, 403);
    assert.equal((await sendOpen(app.port, plain)).status, 200);
  } finally {
    await app.stop();
  }
});
