// A JSON body declaring a UTF-16 charset was judged in that charset only, while Fastify, Hono and every
// Web request.json() read JSON as UTF-8 whatever it declares: a plain UTF-8 `<script>` sent with
// `charset=utf-16` became CJK noise to Moat and reached the app intact. And the charset was found by a
// plain search, so `x=";charset=utf-8"; charset=utf-16le` was UTF-8 to Moat and UTF-16LE to
// body-parser (whose parser respects the quotes). Now a UTF-16 JSON body is judged both ways, and any
// UTF-16 charset the header may be read to declare counts. Real Fastify, Hono and Express on 127.0.0.1.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import { createAdaptorServer } from '@hono/node-server';
import { moat as expressMoat } from '../../src/adapters/express.js';
import { moat as fastifyMoat } from '../../src/adapters/fastify.js';
import { moat as honoMoat } from '../../src/adapters/hono.js';
import { createFirewall, type Firewall } from '../../src/firewall/firewall.js';
import { close, listen, rulesFile } from '../adapters-helpers.js';
import { sendOpen } from './request-apps.js';

const PAYLOAD = JSON.stringify({ comment: '<script>alert(1)</script>' });
const UTF8 = Buffer.from(PAYLOAD, 'utf8');
const UTF16LE = Buffer.from(PAYLOAD, 'utf16le');

type App = (firewall: Firewall | null) => Promise<{ port: number; stop: () => Promise<void> }>;

const fastifyApp: App = async (firewall) => {
  const app = Fastify();
  if (firewall !== null) await app.register(fastifyMoat, { firewall });
  app.post('/echo', async (request) => JSON.stringify(request.body));
  await app.listen({ port: 0, host: '127.0.0.1' });
  return { port: (app.server.address() as { port: number }).port, stop: () => app.close() };
};
const honoApp: App = async (firewall) => {
  const app = new Hono();
  if (firewall !== null) app.use(honoMoat(firewall));
  app.post('/echo', async (c) => c.text(JSON.stringify(await c.req.json())));
  const server = createAdaptorServer({ fetch: app.fetch }) as Server;
  return { port: await listen(server), stop: () => close(server) };
};
const expressApp: App = async (firewall) => {
  const app = express();
  if (firewall !== null) app.use(expressMoat(firewall));
  app.use(express.json());
  app.post('/echo', (req, res) => { res.send(JSON.stringify(req.body)); });
  const server = createServer(app);
  return { port: await listen(server), stop: () => close(server) };
};

for (const [label, rules] of [['parameter rule <script', { block: { params: ['<script'] } }], ['attack detection', { attacks: 'block' }]] as const) {
  test(`${label}: a UTF-8 JSON body declaring charset=utf-16 is judged as the UTF-8 Fastify and Hono read`, async () => {
    const file = rulesFile(rules);
    after(() => file.cleanup());
    const firewall = createFirewall({ rules: file.path, logger: false, body: { json: true } });
    try {
      for (const [name, start] of [['fastify', fastifyApp], ['hono', honoApp]] as const) {
        const plain = await start(null);
        const guarded = await start(firewall);
        try {
          for (const charset of ['utf-16', 'UTF-16BE', 'utf-16le']) {
            const request = { method: 'POST', path: '/echo', headers: { 'content-type': `application/json; charset=${charset}` }, body: UTF8 };
            assert.match((await sendOpen(plain.port, request)).body, /<script>alert/, `${name} reads the payload (${charset})`);
            assert.equal((await sendOpen(guarded.port, request)).status, 403, `${name}, charset=${charset}`);
          }
        } finally {
          await plain.stop();
          await guarded.stop();
        }
      }
    } finally {
      firewall.close();
    }
  });

  test(`${label}: Express reads charset=utf-16le after a quoted ";charset=utf-8", and so does Moat`, async () => {
    const file = rulesFile(rules);
    after(() => file.cleanup());
    const firewall = createFirewall({ rules: file.path, logger: false, body: { json: true } });
    const plain = await expressApp(null);
    const guarded = await expressApp(firewall);
    try {
      const request = { method: 'POST', path: '/echo', headers: { 'content-type': 'application/json; x=";charset=utf-8"; charset=utf-16le' }, body: UTF16LE };
      assert.match((await sendOpen(plain.port, request)).body, /<script>alert/, 'body-parser decodes UTF-16LE');
      assert.equal((await sendOpen(guarded.port, request)).status, 403);
      // Clean bodies in either reading still pass.
      const clean = { ...request, body: Buffer.from(JSON.stringify({ comment: 'hello' }), 'utf16le') };
      assert.equal((await sendOpen(guarded.port, clean)).status, 200);
    } finally {
      await plain.stop();
      await guarded.stop();
      firewall.close();
    }
  });
}
