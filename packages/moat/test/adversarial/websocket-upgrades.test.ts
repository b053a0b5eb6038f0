// A WebSocket handshake is an HTTP request, but node:http hands it to the server's 'upgrade' listeners
// (here the `ws` library's WebSocketServer), never to the request listener or Express's middleware:
// with Moat in the middleware, a blocked user agent, path or address opened a socket all the same.
// guardUpgrades() judges the handshake first. Real Express, real ws on both ends, 127.0.0.1.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { connect } from 'node:net';
import express from 'express';
import { Server as SocketIoServer } from 'socket.io';
import { io as ioClient } from 'socket.io-client';
import { WebSocket, WebSocketServer } from 'ws';
import { moat } from '../../src/adapters/express.js';
import { guardUpgrades } from '../../src/adapters/node.js';
import type { Firewall } from '../../src/firewall/firewall.js';
import { close, firewallOn, listen } from '../adapters-helpers.js';

const RULES = {
  block: { paths: ['/admin-socket'], userAgents: ['evilbot'] },
  rateLimits: [{ path: '/limited', limit: 2, window: '60s' }],
};

/** An Express app guarded by Moat's middleware, with a WebSocket echo server on the same port. */
async function chatApp(firewall: Firewall): Promise<{ port: number; server: Server; stop: () => Promise<void> }> {
  const app = express();
  app.use(moat(firewall));
  app.get('/', (_req, res) => { res.send('home'); });
  const server = createServer(app);
  const sockets = new WebSocketServer({ server });
  sockets.on('connection', (socket) => socket.on('message', (data) => socket.send(`echo ${String(data)}`)));
  const port = await listen(server);
  return {
    port, server, stop: async () => {
      for (const client of sockets.clients) client.terminate();
      sockets.close();
      await close(server);
    },
  };
}

type Outcome = { opened: true; echo: string } | { opened: false; status: number; retryAfter?: string; body: string };

/** Opens a WebSocket and sends one message; or the HTTP answer the handshake got instead. */
function dial(port: number, path: string, userAgent = 'Mozilla/5.0 (test)'): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`ws://127.0.0.1:${port}${path}`, { headers: { 'user-agent': userAgent } });
    socket.on('open', () => socket.send('hi'));
    socket.on('message', (data) => {
      socket.close();
      resolve({ opened: true, echo: String(data) });
    });
    socket.on('unexpected-response', (_request, response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => { body += chunk; });
      response.on('end', () => resolve({ opened: false, status: response.statusCode ?? 0, retryAfter: response.headers['retry-after'], body }));
    });
    socket.on('error', (error) => { if (!('status' in error)) reject(error); });
  });
}

test('without guardUpgrades a blocked client opens a WebSocket past the middleware; with it the handshake is judged', async () => {
  const firewall = firewallOn(RULES);
  const app = await chatApp(firewall);
  try {
    // The middleware judges ordinary requests only.
    assert.equal((await fetch(`http://127.0.0.1:${app.port}/`, { headers: { 'user-agent': 'evilbot' } })).status, 403);
    assert.deepEqual(await dial(app.port, '/chat', 'evilbot'), { opened: true, echo: 'echo hi' }, 'the hole: the handshake bypasses middleware');

    const guard = guardUpgrades(app.server, firewall);
    assert.equal(guard.firewall, firewall);
    const refused = await dial(app.port, '/chat', 'evilbot');
    assert.deepEqual(refused, { opened: false, status: 403, retryAfter: undefined, body: 'Blocked' });
    const path = await dial(app.port, '/admin-socket');
    assert.equal(path.opened ? 0 : path.status, 403, 'a blocked path');
    // Evasions of the path are judged as for any request.
    const evasion = await dial(app.port, '/%61dmin-socket/');
    assert.equal(evasion.opened ? 0 : evasion.status, 403, 'an encoded path');
    assert.deepEqual(await dial(app.port, '/chat'), { opened: true, echo: 'echo hi' }, 'an ordinary client still connects');

    guard.remove();
    assert.deepEqual(await dial(app.port, '/chat', 'evilbot'), { opened: true, echo: 'echo hi' }, 'remove() puts the server back');
  } finally {
    await app.stop();
  }
});

/** chatApp() with guardUpgrades() on its server, stopped when the file's tests end. */
async function guardedChatApp(): Promise<{ firewall: Firewall; port: number }> {
  const firewall = firewallOn(RULES);
  const app = await chatApp(firewall);
  guardUpgrades(app.server, firewall);
  after(() => app.stop());
  return { firewall, port: app.port };
}

test('rate limits count handshakes: past the limit a client gets 429 with Retry-After', async () => {
  const app = await guardedChatApp();
  for (let i = 0; i < 2; i++) assert.equal((await dial(app.port, '/limited')).opened, true, `connection ${i + 1}`);
  const third = await dial(app.port, '/limited');
  assert.equal(third.opened, false);
  if (third.opened) return;
  assert.equal(third.status, 429);
  assert.ok(Number(third.retryAfter) > 0, 'Retry-After in seconds');
  assert.equal(app.firewall.stats().rateLimited, 1);
});

test('a client that sends a refused handshake and resets at once does not take the server down', async () => {
  const app = await guardedChatApp();
  for (let i = 0; i < 20; i++) {
    await new Promise<void>((resolve) => {
      const socket = connect(app.port, '127.0.0.1', () => {
        socket.write(`GET /chat HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: evilbot\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
          'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n');
      });
      // Reset as Moat's answer arrives: the server's socket, which no node:http listener guards any more, errors.
      socket.once('data', () => {
        socket.resetAndDestroy();
        resolve();
      });
      socket.on('error', () => resolve());
    });
  }
  assert.deepEqual(await dial(app.port, '/chat'), { opened: true, echo: 'echo hi' });
  assert.equal(app.firewall.stats().blocked, 20, 'each handshake judged and answered');
});

/** Express with Moat's middleware and socket.io on the same server; `guarded`: the server guarded under socket.io's path too. */
async function socketIoApp(firewall: Firewall, guarded: boolean): Promise<{ port: number; received: string[]; stop: () => Promise<void> }> {
  const app = express();
  app.use(moat(firewall));
  app.get('/', (_req, res) => { res.send('home'); });
  const server = createServer(app);
  const io = new SocketIoServer(server);
  if (guarded) guardUpgrades(server, firewall, { requestPaths: ['/socket.io/'] });
  const received: string[] = [];
  io.on('connection', (socket) => socket.on('chat', (text: string, ack: (reply: string) => void) => {
    received.push(text);
    ack(`echo ${text}`);
  }));
  const port = await listen(server);
  return { port, received, stop: async () => { await io.close(); } };
}

/** Connects with one transport and sends one message; the reply, or 'refused' when the connection failed. */
function chat(port: number, transport: 'polling' | 'websocket', userAgent: string, text = 'hi'): Promise<string> {
  return new Promise((resolve) => {
    const client = ioClient(`http://127.0.0.1:${port}`, { transports: [transport], extraHeaders: { 'user-agent': userAgent }, reconnection: false, timeout: 5000 });
    client.on('connect_error', () => {
      client.close();
      resolve('refused');
    });
    client.on('connect', () => {
      client.timeout(5000).emit('chat', text, (error: unknown, reply: string) => {
        client.close();
        resolve(error ? 'no reply' : reply);
      });
    });
  });
}

test('socket.io: its polling requests and handshakes pass Moat\'s middleware by; guarding its path judges both, message bodies included', async () => {
  const firewall = firewallOn(RULES);
  const open = await socketIoApp(firewall, false);
  try {
    for (const transport of ['polling', 'websocket'] as const) {
      assert.equal(await chat(open.port, transport, 'evilbot'), 'echo hi', `the hole: ${transport} past the middleware`);
    }
  } finally {
    await open.stop();
  }
  const guarded = await socketIoApp(firewall, true);
  try {
    for (const transport of ['polling', 'websocket'] as const) {
      assert.equal(await chat(guarded.port, transport, 'evilbot'), 'refused', `${transport}: a blocked user agent`);
      assert.equal(await chat(guarded.port, transport, 'Mozilla/5.0 (test)'), 'echo hi', `${transport}: an ordinary client`);
    }
    // A polling client's messages are POST bodies (text/plain engine.io packets): attack detection reads them.
    const strict = firewallOn({ attacks: { sqli: 'block' } });
    const app = await socketIoApp(strict, true);
    try {
      assert.equal(await chat(app.port, 'polling', 'Mozilla/5.0 (test)', "1' OR '1'='1"), 'no reply');
      assert.deepEqual(app.received, [], 'the message never reached the app');
      assert.equal(await chat(app.port, 'polling', 'Mozilla/5.0 (test)', 'fine'), 'echo fine');
    } finally {
      await app.stop();
    }
  } finally {
    await guarded.stop();
  }
});
