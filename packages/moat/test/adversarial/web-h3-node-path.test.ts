// h3 2 on Node: srvx's Request wraps the IncomingMessage, and Moat judges a request without a body on
// the IncomingMessage (the Node path, no Headers.get() per name). The attacks here target the seams
// of that shortcut: a header sent twice (Node keeps the first copy, srvx's Headers joins them and the
// app reads that), a forged forwarding header, and path evasions, on a real h3 2 app on a real socket.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { H3, readFormData, toNodeHandler } from 'h3';
import { moat } from '../../src/adapters/h3.js';
import type { Firewall } from '../../src/firewall/firewall.js';
import { close, listen, rawRequest, send } from '../adapters-helpers.js';
import { guardedFirewall } from '../helpers/web-on-node-server.js';

const RULES = {
  allow: { ips: ['198.51.100.7'] },
  block: { paths: ['/wp-admin'], userAgents: ['evilbot'], hosts: ['admin.example.test'], params: ['<script'] },
};

/** An h3 2 app guarded by Moat; `reads` gets, per request, the names Moat asked srvx's Headers for. */
async function serve(firewall: Firewall): Promise<{ port: number; reads: string[][]; seen: string[] }> {
  const reads: string[][] = [];
  const seen: string[] = [];
  const guard = moat(firewall);
  const app = new H3();
  app.use((event) => {
    const names: string[] = [];
    reads.push(names);
    const headers = event.req.headers;
    const get = headers.get.bind(headers);
    let judging = true;
    // Counts what Moat reads while it judges, not what the app reads after.
    Object.defineProperty(headers, 'get', { value: (name: string) => { if (judging) names.push(name.toLowerCase()); return get(name); } });
    const answer = guard(event);
    judging = false;
    return answer;
  });
  app.post('/form', async (event) => JSON.stringify(Object.fromEntries(await readFormData(event))));
  app.all('/**', (event) => {
    seen.push(event.req.headers.get('user-agent') ?? '');
    return 'app';
  });
  const server = createServer(toNodeHandler(app));
  after(() => close(server));
  return { port: await listen(server), reads, seen };
}

test('h3 2 on Node: a GET is judged on the IncomingMessage, asking srvx\'s Headers for nothing; path evasions of /wp-admin are still blocked', async () => {
  const firewall = guardedFirewall(RULES);
  const { port, reads } = await serve(firewall);
  assert.equal((await send(port, { path: '/products/1?page=2', headers: { 'user-agent': 'Mozilla/5.0' } })).body, 'app');
  for (const path of ['/wp-admin', '//WP-Admin/x', '/%77p-admin', '/./x/../wp-admin', '/hello/..%2fwp-admin', '/hello/%2e%2e/wp-admin']) {
    assert.equal((await send(port, { path })).status, 403, path);
  }
  assert.equal((await send(port, { path: '/', headers: { host: 'ADMIN.example.test:8080' } })).status, 403);
  for (const names of reads) assert.deepEqual(names, []);
  assert.equal(firewall.stats().requests, 8);
});

test('h3 2 on Node: a GET sending User-Agent twice, the second naming a blocked bot, is blocked (srvx joins both copies; Node keeps the first)', async () => {
  const firewall = guardedFirewall(RULES);
  const { port, seen } = await serve(firewall);
  const twice = 'GET /products/1 HTTP/1.1\r\nhost: example.test\r\nuser-agent: Mozilla/5.0\r\nuser-agent: EvilBot/2.0\r\nconnection: close\r\n\r\n';
  const res = await rawRequest(port, twice);
  assert.equal(res.status, 403);
  assert.deepEqual(seen, []);
  // Once each, the same names pass: what decided was the second copy.
  assert.equal((await send(port, { path: '/products/1', headers: { 'user-agent': 'Mozilla/5.0' } })).body, 'app');
  assert.equal((await send(port, { path: '/products/1', headers: { 'user-agent': 'EvilBot/2.0' } })).status, 403);
});

test('h3 2 on Node: a forged X-Forwarded-For naming an allow-listed address lets no blocked request through, by the Node path or the Web path', async () => {
  const firewall = guardedFirewall(RULES);
  const { port } = await serve(firewall);
  const forged = { 'x-forwarded-for': '198.51.100.7', 'x-real-ip': '198.51.100.7', forwarded: 'for=198.51.100.7' };
  assert.equal((await send(port, { path: '/wp-admin', headers: forged })).status, 403);
  // With a body (the Web path, the form read from a clone) the client is still the socket's address.
  const form = { ...forged, 'content-type': 'application/x-www-form-urlencoded' };
  assert.equal((await send(port, { method: 'POST', path: '/form', headers: form, body: 'q=%3Cscript%3E' })).status, 403);
  assert.equal((await send(port, { method: 'POST', path: '/form', headers: form, body: 'q=fine' })).body, '{"q":"fine"}');
  assert.equal(firewall.stats().ipHeaderUntrusted, 3);
});

/**
 * An h3 2 app with Moat first; `built` counts the requests whose srvx Headers object was built (its
 * `headers` getter read) while Moat judged them.
 */
async function serveCountingHeaders(firewall: Firewall): Promise<{ port: number; built: () => number; seen: string[] }> {
  let built = 0;
  const seen: string[] = [];
  const guard = moat(firewall);
  const app = new H3();
  app.use((event) => {
    const req = event.req;
    const getter = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(req), 'headers')?.get;
    assert.ok(getter, 'srvx\'s Request has a headers getter');
    let judging = true;
    let counted = false;
    Object.defineProperty(req, 'headers', {
      get() {
        if (judging && !counted) { counted = true; built++; }
        return getter.call(req);
      },
    });
    const answer = guard(event);
    judging = false;
    return answer;
  });
  app.all('/**', (event) => {
    seen.push(event.req.headers.get('user-agent') ?? '');
    return 'app';
  });
  const server = createServer(toNodeHandler(app));
  after(() => close(server));
  return { port: await listen(server), built: () => built, seen };
}

test('h3 2 on Node: a GET is judged without building srvx\'s Headers, yet /wp-admin evasions, a blocked host and a repeated blocked User-Agent are refused', async () => {
  const firewall = guardedFirewall(RULES);
  const { port, built, seen } = await serveCountingHeaders(firewall);
  assert.equal((await send(port, { path: '/products/1?page=2', headers: { 'user-agent': 'Mozilla/5.0' } })).body, 'app');
  for (const path of ['/wp-admin', '//WP-Admin/x', '/hello/%2e%2e/wp-admin', '/%2e%2e/wp-admin']) {
    assert.equal((await send(port, { path })).status, 403, path);
  }
  assert.equal((await send(port, { path: '/', headers: { host: 'Admin.Example.Test.' } })).status, 403);
  assert.equal(built(), 0);
  // A repeated header name: Node keeps the first copy, srvx's Headers (what the app reads) joins both,
  // so this one is judged by the Web path, on srvx's Headers.
  const twice = 'GET /products/1 HTTP/1.1\r\nhost: example.test\r\nUser-Agent: Mozilla/5.0\r\nuser-agent: EvilBot/2.0\r\nconnection: close\r\n\r\n';
  assert.equal((await rawRequest(port, twice)).status, 403);
  assert.equal(built(), 1);
  // A GET carrying a body with a blocked parameter: Node's parser hands the bytes over, srvx gives a GET
  // no body, so the app cannot read it; the query is still judged.
  const getWithBody = 'GET /products/1?q=%3Cscript%3E HTTP/1.1\r\nhost: example.test\r\ncontent-type: application/x-www-form-urlencoded\r\ncontent-length: 5\r\nconnection: close\r\n\r\nq=abc';
  assert.equal((await rawRequest(port, getWithBody)).status, 403);
  assert.deepEqual(seen, ['Mozilla/5.0']);
});
