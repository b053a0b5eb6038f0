// Attacks on the client IP: a client claims an allow-listed (or someone else's) address through a
// forwarding header, hoping the firewall reads a header its proxy never wrote. Every attack runs
// against real Express, Fastify and node:http apps on 127.0.0.1 or a real Unix socket, some of them
// behind a small real reverse proxy, and must fail.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';
import express from 'express';
import Fastify from 'fastify';
import { moat as expressMoat } from '../../src/adapters/express.js';
import { moat as fastifyMoat } from '../../src/adapters/fastify.js';
import { withMoat } from '../../src/adapters/node.js';
import { createFirewall, type Firewall } from '../../src/firewall/firewall.js';
import type { MoatErrorEvent, MoatOptions } from '../../src/firewall/options.js';
import type { Decision } from '../../src/engine/decision.js';
import type { MoatHttpRequest } from '../../src/http/normalized-request.js';
import { close, listen, rulesFile, send, type RawResponse } from '../adapters-helpers.js';

const ALLOWED = '198.51.100.1';
const BLOCKED = '203.0.113.66';
const rules = rulesFile({ allow: { ips: [ALLOWED] }, block: { paths: ['/wp-admin'], ips: [BLOCKED] } });
after(() => rules.cleanup());

interface App {
  /** A TCP port, or the path of a Unix socket. */
  port: number;
  firewall: Firewall;
  decisions: { decision: Decision; request: MoatHttpRequest }[];
  errors: MoatErrorEvent[];
}

type Framework = 'express' | 'fastify' | 'node:http';
const FRAMEWORKS: Framework[] = ['express', 'fastify', 'node:http'];

function firewallFor(options: MoatOptions): Pick<App, 'firewall' | 'decisions' | 'errors'> {
  const decisions: App['decisions'] = [];
  const errors: MoatErrorEvent[] = [];
  const firewall = createFirewall({
    rules: rules.path, logger: false, now: () => 0, ...options,
    onDecision: (decision, request) => decisions.push({ decision, request }),
    onError: (event) => errors.push(event),
  });
  after(() => firewall.close());
  return { firewall, decisions, errors };
}

/** Starts `framework` protected by a firewall with `options`, listening on 127.0.0.1:0 or on `unixPath`. */
async function startApp(framework: Framework, options: MoatOptions, unixPath?: string): Promise<App & { path?: string }> {
  const parts = firewallFor(options);
  const hello = (_req: IncomingMessage, res: ServerResponse) => { res.end('hello'); };
  if (framework === 'fastify') {
    const app = Fastify();
    await app.register(fastifyMoat, { firewall: parts.firewall });
    app.all('/*', async () => 'hello');
    await app.listen(unixPath === undefined ? { port: 0, host: '127.0.0.1' } : { path: unixPath });
    after(() => app.close());
    const address = app.server.address();
    return { ...parts, port: typeof address === 'object' && address !== null ? address.port : 0 };
  }
  let server: Server;
  if (framework === 'express') {
    const app = express();
    app.use(expressMoat(parts.firewall));
    app.use(hello);
    server = createServer(app);
  } else {
    server = createServer(withMoat(hello, parts.firewall));
  }
  if (unixPath !== undefined) {
    await new Promise<void>((resolve) => server.listen(unixPath, resolve));
    after(() => close(server));
    return { ...parts, port: 0 };
  }
  const port = await listen(server);
  after(() => close(server));
  return { ...parts, port };
}

/**
 * A reverse proxy like nginx with `proxy_set_header X-Real-IP $remote_addr`: it overwrites X-Real-IP
 * with the address the request came from and passes every other header through as the client sent it.
 */
async function realIpProxy(upstreamPort: number): Promise<number> {
  const proxy = createServer((req, res) => {
    const headers = { ...req.headers, 'x-real-ip': req.socket.remoteAddress ?? '' };
    const upstream = httpRequest({ host: '127.0.0.1', port: upstreamPort, method: req.method, path: req.url, headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => { res.statusCode = 502; res.end(); });
    req.pipe(upstream);
  });
  const port = await listen(proxy);
  after(() => close(proxy));
  return port;
}

/** A request over a Unix socket, Connection: close. */
function sendUnix(socketPath: string, path: string, headers: Record<string, string> = {}): Promise<RawResponse> {
  return httpSend({ socketPath }, path, headers);
}

/**
 * A GET through Node's client, which keeps its side open until the answer arrives (the raw helper
 * half-closes at once, and a proxy answering later would find the connection ended).
 */
function httpSend(to: { port: number } | { socketPath: string }, path: string, headers: Record<string, string> = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const target = 'port' in to ? { host: '127.0.0.1', port: to.port } : to;
    const req = httpRequest({ ...target, agent: false, path, headers: { host: 'example.test', connection: 'close', ...headers } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => { body += chunk; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers as Record<string, string>, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

function unixSocketPath(): string {
  const dir = mkdtempSync(join(tmpdir(), 'moat-unix-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'app.sock');
}

for (const framework of FRAMEWORKS) {
  test(`${framework}: behind a proxy that sets only X-Real-IP, a client-sent X-Forwarded-For naming an allow-listed IP does not skip the /wp-admin rule`, async () => {
    const app = await startApp(framework, { trustedProxies: ['loopback'], ipHeader: 'x-real-ip' });
    const proxy = await realIpProxy(app.port);
    const attack = await httpSend({ port: proxy }, '/wp-admin', { 'x-forwarded-for': ALLOWED, forwarded: `for=${ALLOWED}`, 'true-client-ip': ALLOWED });
    assert.equal(attack.status, 403);
    const seen = app.decisions.at(-1)!;
    assert.equal(seen.request.ip, '127.0.0.1', 'the address the proxy wrote, not the claim');
    assert.equal(seen.request.ipSource, 'x-real-ip');
    assert.equal(seen.decision.category, 'bp');
    // The same claim in X-Real-IP itself is overwritten by the proxy.
    assert.equal((await httpSend({ port: proxy }, '/wp-admin', { 'x-real-ip': ALLOWED })).status, 403);
    assert.equal((await httpSend({ port: proxy }, '/hello')).status, 200);
  });

  test(`${framework}: a spoofed X-Forwarded-For / X-Real-IP / CF-Connecting-IP / Forwarded naming an allow-listed IP is ignored from an untrusted peer`, async () => {
    const app = await startApp(framework, { trustedProxies: ['10.0.0.0/8'] });
    const headers = ['x-forwarded-for', 'x-real-ip', 'cf-connecting-ip', 'true-client-ip', 'fly-client-ip'];
    for (const header of headers) {
      assert.equal((await send(app.port, { path: '/wp-admin', headers: { [header]: ALLOWED } })).status, 403, header);
      assert.equal(app.decisions.at(-1)!.request.ipSource, 'socket');
    }
    assert.equal((await send(app.port, { path: '/wp-admin', headers: { forwarded: `for=${ALLOWED}` } })).status, 403);
    // Visible: the configured header (X-Forwarded-For) arrived from an untrusted peer once.
    assert.equal(app.firewall.stats().ipHeaderUntrusted, 1);
  });

  test(`${framework}: with the cloudflare preset only CF-Connecting-IP counts; X-Forwarded-For, X-Real-IP and True-Client-IP claims do not`, async () => {
    // Loopback stands in for a Cloudflare edge address, which a test on 127.0.0.1 cannot connect from.
    const app = await startApp(framework, { trustedProxies: ['cloudflare', 'loopback'] });
    const claims = { 'x-forwarded-for': ALLOWED, 'x-real-ip': ALLOWED, 'true-client-ip': ALLOWED, forwarded: `for=${ALLOWED}` };
    assert.equal((await send(app.port, { path: '/wp-admin', headers: claims })).status, 403);
    assert.equal(app.decisions.at(-1)!.request.ipSource, 'proxy', 'the proxy\'s own address, no IP allow');
    assert.equal(app.firewall.stats().ipHeaderMissing, 1, 'a trusted peer without CF-Connecting-IP is counted');
    const blocked = await send(app.port, { path: '/hello', headers: { ...claims, 'cf-connecting-ip': BLOCKED } });
    assert.equal(blocked.status, 403);
    assert.equal(app.decisions.at(-1)!.request.ipSource, 'cf-connecting-ip');
    assert.equal(app.decisions.at(-1)!.decision.category, 'bi');
  });

  test(`${framework}: forged multiple values do not pass for an allow-listed client`, async () => {
    const xff = await startApp(framework, { trustedProxies: ['loopback'] });
    // The client's claim sits left of the hop the proxy appended, however it is dressed up.
    for (const value of [`${ALLOWED}, 192.0.2.9`, `${ALLOWED},192.0.2.9`, `192.0.2.9, ${ALLOWED}, 192.0.2.10`, `${ALLOWED}, 10.9.9.9`]) {
      assert.equal((await send(xff.port, { path: '/wp-admin', headers: { 'x-forwarded-for': value } })).status, 403, value);
      assert.notEqual(xff.decisions.at(-1)!.request.ip, ALLOWED);
    }
    // Two header lines: Node joins them in order, and the proxy's line comes last.
    const twoLines = await rawLines(xff.port, [`X-Forwarded-For: ${ALLOWED}`, `X-Forwarded-For: ${BLOCKED}`]);
    assert.equal(twoLines.status, 403);
    assert.equal(xff.decisions.at(-1)!.request.ip, BLOCKED);
    // A one-address header sent twice (client and a proxy that adds instead of replacing) is ambiguous: the peer is judged.
    const realIp = await startApp(framework, { trustedProxies: ['loopback'], ipHeader: 'x-real-ip' });
    assert.equal((await rawLines(realIp.port, [`X-Real-IP: ${ALLOWED}`, 'X-Real-IP: 192.0.2.9'], '/wp-admin')).status, 403);
    assert.deepEqual([realIp.decisions.at(-1)!.request.ip, realIp.decisions.at(-1)!.request.ipSource], ['127.0.0.1', 'proxy']);
    assert.equal((await send(realIp.port, { path: '/wp-admin', headers: { 'x-real-ip': `${ALLOWED}, 192.0.2.9` } })).status, 403);
    assert.equal(realIp.firewall.stats().ipHeaderMissing, 2);
  });

  test(`${framework}: on a Unix socket without trust config the app is told (a configuration event) and failClosed answers 503`, async () => {
    const path = unixSocketPath();
    const open = await startApp(framework, {}, path);
    // No address to match: an IP rule cannot protect this app, and it must hear about it.
    assert.equal((await sendUnix(path, '/hello', { 'x-forwarded-for': BLOCKED })).status, 200);
    assert.equal((await sendUnix(path, '/wp-admin', { 'x-real-ip': ALLOWED })).status, 403, 'other rules still run');
    assert.equal(open.errors.length, 1, 'one event per log interval, not one per request');
    assert.equal(open.errors[0].kind, 'configuration');
    assert.match(open.errors[0].error.message, /Unix socket.*'unix'/);
    assert.equal(open.firewall.stats().noPeerAddress, 2);

    const closedPath = unixSocketPath();
    const closed = await startApp(framework, { failClosed: true }, closedPath);
    assert.equal((await sendUnix(closedPath, '/hello', { 'x-forwarded-for': ALLOWED })).status, 503);
    assert.equal(closed.errors[0]?.kind, 'configuration');
    assert.equal(closed.firewall.stats().failedClosed, 1);
  });

  test(`${framework}: on a Unix socket trusted as 'unix', the configured header names the client; without it, failClosed answers 503`, async () => {
    const path = unixSocketPath();
    const app = await startApp(framework, { trustedProxies: ['unix'], ipHeader: 'x-real-ip', failClosed: true }, path);
    assert.equal((await sendUnix(path, '/hello', { 'x-real-ip': BLOCKED })).status, 403);
    assert.deepEqual([app.decisions.at(-1)!.request.ip, app.decisions.at(-1)!.request.ipSource], [BLOCKED, 'x-real-ip']);
    assert.equal((await sendUnix(path, '/wp-admin', { 'x-real-ip': ALLOWED })).status, 200);
    assert.equal(app.decisions.at(-1)!.decision.category, 'ai');
    // Another header is not a fallback, and no header at all leaves no address: 503, with an event.
    assert.equal((await sendUnix(path, '/hello', { 'x-forwarded-for': ALLOWED })).status, 503);
    assert.equal(app.errors.at(-1)!.kind, 'configuration');
    assert.deepEqual([app.firewall.stats().ipHeaderMissing, app.firewall.stats().noPeerAddress], [1, 1]);
  });
}

/** A GET with the given extra header lines, sent byte for byte. */
function rawLines(port: number, lines: string[], path = '/hello'): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1' });
    let data = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => { data += chunk; });
    socket.on('error', reject);
    socket.on('end', () => resolve({ status: Number(data.split(' ')[1]), headers: {}, body: data.slice(data.indexOf('\r\n\r\n') + 4) }));
    socket.end(`GET ${path} HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n${lines.join('\r\n')}\r\n\r\n`);
  });
}

test('express: a request whose connection was reset before Moat ran (after an async middleware) never reaches the app', async () => {
  const blockedHere = rulesFile({ block: { ips: ['127.0.0.1'] } });
  after(() => blockedHere.cleanup());
  const { firewall } = firewallFor({ rules: blockedHere.path, trustedProxies: [] });
  let reachedApp = false;
  let peerAtCheck: string | undefined = 'unread';
  let arrived!: () => void;
  const arrival = new Promise<void>((resolve) => { arrived = resolve; });
  const app = express();
  // An async middleware ahead of Moat (a session store, say): it resumes only once the client is gone.
  app.use((req, _res, next) => {
    arrived();
    req.socket.once('close', () => {
      peerAtCheck = req.socket.remoteAddress;
      next();
    });
  });
  app.use(expressMoat(firewall));
  app.post('/transfer', (_req, res) => { reachedApp = true; res.end('done'); });
  const server = createServer(app);
  const port = await listen(server);
  after(() => close(server));

  // The blocked client sends its request and resets the connection at once.
  const socket = connect({ port, host: '127.0.0.1' });
  socket.on('error', () => {});
  socket.write('POST /transfer HTTP/1.1\r\nHost: example.test\r\nContent-Length: 0\r\n\r\n');
  await arrival;
  socket.resetAndDestroy();
  while (firewall.stats().noPeerAddress === 0 && !reachedApp) await new Promise((r) => setImmediate(r));
  assert.equal(peerAtCheck, undefined, 'the precondition: Node no longer knows the peer');
  assert.equal(reachedApp, false, 'the blocked client\'s request must not run');
  assert.equal(firewall.stats().noPeerAddress, 1);
});

test('node:http: a blocked client that resets the connection right after sending never reaches the app, though Node still dispatches its request', async () => {
  const blockedHere = rulesFile({ block: { ips: ['127.0.0.1'] } });
  after(() => blockedHere.cleanup());
  const { firewall } = firewallFor({ rules: blockedHere.path, trustedProxies: [] });
  let reachedApp = 0;
  let dispatched = 0;
  const server = createServer(withMoat((_req, res) => { reachedApp++; res.end('done'); }, firewall));
  server.on('request', () => { dispatched++; });
  const port = await listen(server);
  after(() => close(server));
  for (let i = 0; i < 40; i++) {
    await new Promise<void>((resolve) => {
      const socket = connect({ port, host: '127.0.0.1' }, () => {
        socket.write('POST /transfer HTTP/1.1\r\nHost: example.test\r\nContent-Length: 0\r\n\r\n');
        socket.resetAndDestroy();
        resolve();
      });
      socket.on('error', () => resolve());
    });
  }
  // Every connection gone on the server's side too: each dispatched request has been judged by then.
  while ((await new Promise<number>((resolve) => server.getConnections((_e, n) => resolve(n)))) > 0) await new Promise((r) => setTimeout(r, 5));
  assert.ok(dispatched > 0, 'the precondition: Node dispatched requests whose client was gone');
  assert.equal(firewall.stats().requests, dispatched);
  assert.equal(reachedApp, 0, 'the blocked client\'s requests must not run');
  assert.ok(firewall.stats().noPeerAddress > 0, 'judged without a peer address at least once (the case this test is for)');
});

test('a firewall given the old ipHeaders list with two headers refuses to start; one header is accepted with a deprecation warning', () => {
  assert.throws(() => createFirewall({ logger: false, rules: rules.path, ipHeaders: ['x-forwarded-for', 'x-real-ip'] }), /exactly one/);
  const warnings: string[] = [];
  const logger = { error: () => {}, warn: (_o: object, msg: string) => { warnings.push(msg); } };
  const firewall = createFirewall({ logger, rules: rules.path, trustedProxies: ['loopback'], ipHeaders: ['x-real-ip'] });
  after(() => firewall.close());
  assert.match(warnings.join('\n'), /ipHeaders option is deprecated/);
  // Presets naming different headers need an explicit choice: a guess could be the header the client controls.
  assert.throws(() => createFirewall({ logger: false, rules: rules.path, trustedProxies: ['cloudflare', 'fly'] }), /set ipHeader/);
  assert.throws(() => createFirewall({ logger: false, rules: rules.path, env: { MOAT_IP_HEADER: 'x-client-ip' } }), /MOAT_IP_HEADER/);
});

test('node:http: a trusted proxy that writes another header than the configured one is reported, never used', async () => {
  const warnings: { msg: string; context: Record<string, unknown> }[] = [];
  const logger = { error: () => {}, warn: (context: Record<string, unknown>, msg: string) => { warnings.push({ msg, context }); } };
  const { firewall, decisions } = firewallFor({ trustedProxies: ['loopback'], logger });
  const server = createServer(withMoat((_req, res) => { res.end('hello'); }, firewall));
  const port = await listen(server);
  after(() => close(server));
  const proxy = await realIpProxy(port);
  // The proxy writes X-Real-IP; the firewall reads X-Forwarded-For (the default), which this client left out.
  assert.equal((await httpSend({ port: proxy }, '/wp-admin')).status, 403);
  assert.equal(decisions.at(-1)!.request.ipSource, 'proxy');
  assert.equal(firewall.stats().ipHeaderMissing, 1);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0].msg, /no usable x-forwarded-for.*carries x-real-ip.*ipHeader: 'x-real-ip'/);
  assert.equal((warnings[0].context as { peer?: string }).peer, '127.0.0.1');
});
