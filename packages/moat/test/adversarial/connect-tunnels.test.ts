// A CONNECT request asks the server for a tunnel. node:http hands it to the server's 'connect' listeners,
// never to the request listener or a framework's middleware, and node:http2 does the same with a CONNECT
// stream (a tunnel, or a WebSocket by extended CONNECT, RFC 8441): an app that serves tunnels let a
// blocked address or user agent open one past Moat. guardUpgrades() judges them first, and host rules
// judge the tunnel's target. Real servers, a real TCP target and real clients, on 127.0.0.1.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { connect as dialHttp2, constants, createServer as createHttp2Server, type Http2Server, type Http2ServerRequest, type Http2ServerResponse } from 'node:http2';
import { connect, createServer as createTcpServer, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import express from 'express';
import { moat } from '../../src/adapters/express.js';
import { guardUpgrades, withMoat } from '../../src/adapters/node.js';
import type { Firewall } from '../../src/firewall/firewall.js';
import { close, firewallOn, listen } from '../adapters-helpers.js';

const RULES = { block: { userAgents: ['evilbot'], hosts: ['localhost'], paths: ['/admin-socket'] } };
const BROWSER = 'Mozilla/5.0 (test)';

/** A TCP echo server standing for what a tunnel reaches; counts the connections it got. */
async function echoTarget(): Promise<{ port: number; connections: () => number }> {
  let connections = 0;
  const sockets = new Set<Socket>();
  const server = createTcpServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    socket.pipe(socket);
  });
  const port = await listen(server as unknown as Server);
  after(() => new Promise<void>((resolve) => {
    for (const socket of sockets) socket.destroy();
    server.close(() => resolve());
  }));
  return { port, connections: () => connections };
}

/** An Express app behind Moat's middleware whose server also serves tunnels (as a forward proxy does). */
async function proxyApp(firewall: Firewall): Promise<{ server: Server; port: number }> {
  const app = express();
  app.use(moat(firewall));
  app.get('/', (_req, res) => { res.send('home'); });
  const server = createServer(app);
  server.on('connect', (req: IncomingMessage, client: Duplex, head: Buffer) => {
    const colon = (req.url ?? '').lastIndexOf(':');
    const upstream = connect(Number(req.url!.slice(colon + 1)), '127.0.0.1', () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  const port = await listen(server);
  after(() => close(server));
  return { server, port };
}

type Tunnel = { opened: true; echo: string } | { opened: false; answer: string };

/**
 * Sends `CONNECT <target>` with `ping` right behind the head (so the listener gets it as `head`); the
 * echo through the tunnel, or the HTTP answer given instead.
 */
function tunnel(port: number, target: string, userAgent: string, host = target): Promise<Tunnel> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${host}\r\nUser-Agent: ${userAgent}\r\n\r\nping`);
    });
    let received = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      received += chunk;
      const end = received.indexOf('\r\n\r\n');
      if (end < 0) return;
      if (received.startsWith('HTTP/1.1 200 ')) {
        if (received.length < end + 4 + 4) return;
        socket.destroy();
        resolve({ opened: true, echo: received.slice(end + 4) });
      }
    });
    socket.on('end', () => resolve({ opened: false, answer: received }));
    socket.on('error', reject);
  });
}

function statusOf(outcome: Tunnel): string {
  return outcome.opened ? 'opened' : outcome.answer.split('\r\n')[0]!;
}

test('HTTP/1.1 CONNECT: past the middleware without guardUpgrades; with it judged before the tunnel opens, its target by host rules', async () => {
  const target = await echoTarget();
  const firewall = firewallOn(RULES);
  const { server, port } = await proxyApp(firewall);
  const to = `127.0.0.1:${target.port}`;

  assert.equal((await fetch(`http://127.0.0.1:${port}/`, { headers: { 'user-agent': 'evilbot' } })).status, 403, 'the middleware judges requests');
  assert.deepEqual(await tunnel(port, to, 'evilbot'), { opened: true, echo: 'ping' }, 'the hole: a blocked user agent tunnels past it');
  const openedBefore = target.connections();

  const guard = guardUpgrades(server, firewall);
  const refused = await tunnel(port, to, 'evilbot');
  assert.equal(statusOf(refused), 'HTTP/1.1 403 Forbidden');
  assert.ok(!refused.opened && refused.answer.endsWith('Blocked'), 'Moat\'s answer, then the socket closed');
  // The target authority is what the app connects to, whatever the Host says (and the Host is judged too).
  assert.equal(statusOf(await tunnel(port, `localhost:${target.port}`, BROWSER, to)), 'HTTP/1.1 403 Forbidden', 'a blocked target host');
  assert.equal(statusOf(await tunnel(port, `LOCALHOST.:${target.port}`, BROWSER, to)), 'HTTP/1.1 403 Forbidden', 'the same, case and dot');
  // node:http passes any target on; an app reading it with WHATWG URL drops userinfo and decodes escapes.
  for (const hidden of [`user@localhost:${target.port}`, `a:b@localhost:${target.port}`, `%6cocalhost:${target.port}`, `http://localhost:${target.port}`]) {
    assert.equal(statusOf(await tunnel(port, hidden, BROWSER, to)), 'HTTP/1.1 403 Forbidden', hidden);
  }
  assert.equal(statusOf(await tunnel(port, to, BROWSER, `localhost:${target.port}`)), 'HTTP/1.1 403 Forbidden', 'a blocked Host');
  assert.equal(target.connections(), openedBefore, 'no refused tunnel reached the target');

  assert.deepEqual(await tunnel(port, to, BROWSER), { opened: true, echo: 'ping' }, 'an ordinary client tunnels, the bytes after the head intact');
  assert.deepEqual(await tunnel(port, `user@${to}`, BROWSER, to), { opened: true, echo: 'ping' }, 'userinfo alone is no reason to refuse');
  assert.equal(firewall.stats().blocked, 9, 'one for the middleware, eight at the guard');

  guard.remove();
  assert.deepEqual(await tunnel(port, to, 'evilbot'), { opened: true, echo: 'ping' }, 'remove() puts the server back');
});

/**
 * An h2c app with Moat on its requests that also accepts extended CONNECT (a WebSocket's way on HTTP/2)
 * and echoes each CONNECT stream. (node:http2 emits 'connect' once a request listener is there.)
 */
async function http2TunnelServer(firewall: Firewall): Promise<{ server: Http2Server; port: number; accepted: () => number }> {
  let accepted = 0;
  const server = createHttp2Server({ settings: { enableConnectProtocol: true } }, withMoat((_req: Http2ServerRequest, res: Http2ServerResponse) => { res.end('home'); }, firewall));
  server.on('connect', (req: Http2ServerRequest, res: Http2ServerResponse) => {
    accepted++;
    res.writeHead(200);
    req.on('data', (chunk: Buffer) => res.write(chunk));
    req.on('end', () => res.end());
  });
  const port = await listen(server as unknown as Server);
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { server, port, accepted: () => accepted };
}

/** Opens one CONNECT stream (extended when `protocol` is given), writes `ping`; its status and what came back. */
async function http2Connect(port: number, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  const session = dialHttp2(`http://127.0.0.1:${port}`);
  try {
    // Extended CONNECT needs the server's SETTINGS first (they carry enableConnectProtocol).
    await new Promise<void>((resolve, reject) => { session.once('remoteSettings', () => resolve()); session.once('error', reject); });
    const stream = session.request({ [constants.HTTP2_HEADER_METHOD]: 'CONNECT', ...headers });
    const status = await new Promise<number>((resolve, reject) => {
      stream.once('response', (h) => resolve(Number(h[constants.HTTP2_HEADER_STATUS])));
      stream.once('error', reject);
    });
    let body = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => { body += chunk; });
    if (status === 200) {
      stream.write('ping');
      await new Promise<void>((resolve) => { const check = () => (body === 'ping' ? resolve() : stream.once('data', check)); check(); });
      stream.close();
    } else {
      await new Promise<void>((resolve) => stream.once('end', resolve));
    }
    return { status, body };
  } finally {
    session.close();
  }
}

test('HTTP/2 CONNECT streams (a tunnel, a WebSocket by extended CONNECT) are judged before the server\'s \'connect\' listeners', async () => {
  const firewall = firewallOn(RULES);
  const app = await http2TunnelServer(firewall);
  const authority = `127.0.0.1:${app.port}`;
  const socket = (path: string, userAgent: string) => http2Connect(app.port, {
    ':protocol': 'websocket', ':scheme': 'http', ':path': path, ':authority': authority, 'user-agent': userAgent,
  });
  assert.deepEqual(await socket('/admin-socket', BROWSER), { status: 200, body: 'ping' }, 'the hole: no request listener sees it');

  guardUpgrades(app.server, firewall);
  const before = app.accepted();
  assert.deepEqual(await socket('/admin-socket', BROWSER), { status: 403, body: 'Blocked' }, 'a blocked path');
  assert.equal((await socket('/%61dmin-socket/', BROWSER)).status, 403, 'an encoded path');
  assert.equal((await socket('/chat', 'evilbot')).status, 403, 'a blocked user agent');
  // A plain CONNECT names its target in :authority alone.
  assert.equal((await http2Connect(app.port, { ':authority': 'localhost:5432', 'user-agent': BROWSER })).status, 403, 'a blocked target');
  assert.equal((await http2Connect(app.port, { ':authority': 'user@%6cocalhost:5432', 'user-agent': BROWSER })).status, 403, 'the same, as WHATWG URL reads it');
  assert.equal(app.accepted(), before, 'no refused stream reached the listener');

  assert.deepEqual(await socket('/chat', BROWSER), { status: 200, body: 'ping' }, 'an ordinary client');
  assert.deepEqual(await http2Connect(app.port, { ':authority': 'example.com:443', 'user-agent': BROWSER }), { status: 200, body: 'ping' });
  assert.equal(firewall.stats().blocked, 5);
});
