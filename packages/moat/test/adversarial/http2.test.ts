// HTTP/2 through Node's compatibility API (node:http2's createServer, Fastify's `http2: true`, Koa's
// callback and Hono's node-server on an HTTP/2 server). Two ways past the rules were open there:
// - the host is the `:authority` pseudo-header; Node adds no Host header for it, and a client may send
//   both, differing. Fastify's request.hostname and Koa's ctx.host route on `:authority`, so a rule
//   blocking `admin.example.com` let `:authority: admin.example.com` through;
// - HTTP/2 frames a body itself, with no Content-Length or chunked coding needed, and the compatibility
//   request pulls its stream's data only once read: a body sent without a length was never judged.
// Real servers on 127.0.0.1 (cleartext HTTP/2), a real HTTP/2 client.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import http2, { type Http2ServerRequest, type Http2ServerResponse } from 'node:http2';
import type { AddressInfo } from 'node:net';
import Fastify from 'fastify';
import Koa from 'koa';
import { bodyParser } from '@koa/bodyparser';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { moat as fastifyMoat } from '../../src/adapters/fastify.js';
import { moat as honoMoat } from '../../src/adapters/hono.js';
import { moat as koaMoat } from '../../src/adapters/koa.js';
import { withMoat } from '../../src/adapters/node.js';
import type { Firewall } from '../../src/firewall/firewall.js';
import { firewallOn } from '../adapters-helpers.js';

interface H2Response {
  status: number;
  body: Buffer;
}

/** One request on a new HTTP/2 connection: `headers` as sent (pseudo-headers included), `body` in chunks. */
function h2(port: number, headers: http2.OutgoingHttpHeaders, body?: (string | Buffer)[]): Promise<H2Response> {
  return new Promise((resolve, reject) => {
    const client = http2.connect(`http://127.0.0.1:${port}`);
    client.on('error', reject);
    const stream = client.request(headers, { endStream: body === undefined });
    const chunks: Buffer[] = [];
    let status = 0;
    stream.on('response', (h) => { status = Number(h[':status']); });
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => {
      client.close();
      resolve({ status, body: Buffer.concat(chunks) });
    });
    stream.on('error', reject);
    if (body !== undefined) {
      for (const chunk of body) stream.write(chunk);
      stream.end();
    }
  });
}

type Started = { port: number; stop: () => Promise<void> };

function listening(server: http2.Http2Server): Promise<Started> {
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => resolve({
      port: (server.address() as AddressInfo).port,
      stop: () => new Promise((done) => server.close(() => done())),
    }));
  });
}

/** Each app answers with the host it routes on, and echoes a POST's body as the framework parsed it (or its bytes). */
const APPS: Record<string, (firewall: Firewall | null) => Promise<Started>> = {
  async fastify(firewall) {
    const app = Fastify({ http2: true, bodyLimit: 8 * 1024 * 1024 });
    if (firewall !== null) await app.register(fastifyMoat, { firewall });
    app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
    app.get('/*', async (request) => request.hostname);
    app.post('/*', async (request) => (Buffer.isBuffer(request.body) ? `${request.body.length} bytes` : JSON.stringify(request.body)));
    await app.listen({ port: 0, host: '127.0.0.1' });
    return { port: (app.server.address() as AddressInfo).port, stop: () => app.close() };
  },
  async koa(firewall) {
    const app = new Koa();
    if (firewall !== null) app.use(koaMoat(firewall));
    app.use(bodyParser({ enableTypes: ['json', 'form'] }));
    app.use((ctx) => {
      ctx.body = ctx.method === 'POST' ? JSON.stringify(ctx.request.body) : ctx.host;
    });
    return listening(http2.createServer(app.callback()));
  },
  async hono(firewall) {
    const app = new Hono();
    if (firewall !== null) app.use(honoMoat(firewall));
    app.get('/*', (c) => c.text(new URL(c.req.url).host));
    app.post('/*', async (c) => c.text(JSON.stringify(await c.req.parseBody())));
    const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1', createServer: http2.createServer });
    await new Promise((resolve) => server.once('listening', resolve));
    return {
      port: (server.address() as AddressInfo).port,
      stop: () => new Promise((done) => server.close(() => done())),
    };
  },
  async 'node:http2'(firewall) {
    const handler = (req: Http2ServerRequest, res: Http2ServerResponse) => {
      if (req.method !== 'POST') {
        res.end(req.authority);
        return;
      }
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => res.end(Buffer.concat(chunks)));
    };
    return listening(http2.createServer(firewall === null ? handler : withMoat(handler, firewall)));
  },
};

test('HTTP/2: host rules judge :authority, which the frameworks route on, and Host when a client sends both', async () => {
  const firewall = firewallOn({ block: { hosts: ['admin.example.com'] } });
  for (const [name, start] of Object.entries(APPS)) {
    const open = await start(null);
    const guarded = await start(firewall);
    try {
      const byAuthority = await h2(open.port, { ':path': '/', ':authority': 'admin.example.com' });
      assert.equal(byAuthority.body.toString(), 'admin.example.com', `${name} routes on :authority`);
      for (const headers of [
        { ':authority': 'admin.example.com' },
        { ':authority': 'ADMIN.example.com:8443' },
        { ':authority': 'www.example.com', host: 'admin.example.com' },
        { ':authority': 'admin.example.com', host: 'www.example.com' },
      ]) assert.equal((await h2(guarded.port, { ':path': '/', ...headers })).status, 403, `${name}: ${JSON.stringify(headers)}`);
      const fine = await h2(guarded.port, { ':path': '/', ':authority': 'www.example.com' });
      assert.equal(fine.status, 200, name);
      assert.equal(fine.body.toString(), 'www.example.com', name);
    } finally {
      await open.stop();
      await guarded.stop();
    }
  }
});

test('HTTP/2: a body sent without Content-Length is judged, and reaches the app whole when it passes', async () => {
  const firewall = firewallOn({ block: { params: ['evil'] }, attacks: { sqli: 'block' } });
  const judged = () => firewall.stats().bodiesInspected;
  for (const [name, start] of Object.entries(APPS)) {
    const guarded = await start(firewall);
    try {
      const post = (type: string, body: (string | Buffer)[]) => h2(guarded.port, { ':method': 'POST', ':path': '/submit', 'content-type': type }, body);
      const form = name !== 'fastify';
      const type = form ? 'application/x-www-form-urlencoded' : 'application/json';
      // In two DATA frames, the second holding the match: the whole body is read before judging.
      const [bad, sqli, clean] = form
        ? [['note=hello&q=', 'evil'], ['q=', "1' OR '1'='1"], ['note=hello&q=', 'fine']]
        : [['{"note":"hello","q":', '"evil"}'], ['{"q":', `"1' OR '1'='1"}`], ['{"note":"hello","q":', '"fine"}']];
      const before = judged();
      assert.equal((await post(type, bad!)).status, 403, `${name}: parameter rule`);
      assert.equal((await post(type, sqli!)).status, 403, `${name}: attack detection`);
      const passed = await post(type, clean!);
      assert.equal(passed.status, 200, name);
      const echoed = passed.body.toString();
      if (name === 'node:http2') assert.equal(echoed, clean!.join(''), `${name}: the app reads the body as sent`);
      else assert.deepEqual(JSON.parse(echoed), { note: 'hello', q: 'fine' }, `${name}: the app parses the body`);
      assert.equal(judged() - before, 3, `${name}: each body judged`);
    } finally {
      await guarded.stop();
    }
  }
});

test('HTTP/2: an upload streamed without a length reaches the app byte for byte, past the read limit', async () => {
  const firewall = firewallOn({ block: { params: ['evil'] }, attacks: { sqli: 'block' } });
  // 1 MiB in 64 chunks, a pattern whose every byte position can be checked.
  const upload = Buffer.alloc(1024 * 1024);
  for (let i = 0; i < upload.length; i++) upload[i] = (i * 31 + (i >> 10)) & 0xff;
  const chunks = Array.from({ length: 64 }, (_, k) => upload.subarray(k * 16384, (k + 1) * 16384));
  for (const name of ['fastify', 'node:http2']) {
    const guarded = await APPS[name]!(firewall);
    try {
      const response = await h2(guarded.port, { ':method': 'POST', ':path': '/upload', 'content-type': 'application/octet-stream' }, chunks);
      assert.equal(response.status, 200, name);
      if (name === 'fastify') assert.equal(response.body.toString(), `${upload.length} bytes`);
      else assert.ok(response.body.equals(upload), `${name}: the upload arrives unchanged`);
      // A JSON text past the read limit: its beginning judged, the whole handed on.
      const long = `{"q":"${'a'.repeat(200_000)}"}`;
      const passed = await h2(guarded.port, { ':method': 'POST', ':path': '/long', 'content-type': 'application/json' }, [long.slice(0, 70_000), long.slice(70_000)]);
      assert.equal(passed.status, 200, name);
      if (name === 'fastify') assert.equal((JSON.parse(passed.body.toString()) as { q: string }).q.length, 200_000);
      else assert.equal(passed.body.toString(), long);
    } finally {
      await guarded.stop();
    }
  }
});
