// node:http2's core API hands a server's streams to its 'stream' listeners (Node's own HTTP/2 guide
// writes servers so), never to a request listener: withMoat() saw none of them, so a blocked address,
// path, user agent or body reached the handler. withMoatStream() judges each stream first, its body
// peeked on the stream itself. Real h2c server and client on 127.0.0.1.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import { connect as dialHttp2, constants, createServer, type Http2ServerRequest, type Http2ServerResponse, type IncomingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import { withMoat, withMoatStream } from '../../src/adapters/node.js';
import type { Firewall } from '../../src/firewall/firewall.js';
import { firewallOn, listen } from '../adapters-helpers.js';

const RULES = {
  block: { paths: ['/admin'], userAgents: ['evilbot'], params: ['<script'] },
  rateLimits: [{ path: '/limited', limit: 2, window: '60s' }],
};
const FORM = 'application/x-www-form-urlencoded';

/** An h2c server on the core API: each stream answered with what the handler read of its body; `handled` counts calls. */
async function streamServer(firewall: Firewall | null): Promise<{ port: number; handled: () => number }> {
  let handled = 0;
  const handler = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
    handled++;
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => {
      stream.respond({ ':status': 200, 'content-type': 'text/plain' });
      stream.end(`${headers[':method']} ${headers[':path']} ${Buffer.concat(chunks).toString()}`);
    });
  };
  const server = createServer();
  server.on('stream', firewall === null ? handler : withMoatStream(handler, firewall));
  const port = await listen(server as unknown as Server);
  after(() => new Promise<void>((resolve) => {
    server.close(() => resolve());
  }));
  return { port, handled: () => handled };
}

interface Answer { status: number; headers: IncomingHttpHeaders; body: string }

/** One request on a new session; `chunks` are written one by one (no content-length: HTTP/2 frames the body). */
async function request(port: number, headers: Record<string, string>, chunks: string[] = []): Promise<Answer> {
  const session = dialHttp2(`http://127.0.0.1:${port}`);
  try {
    const stream = session.request({ ':path': '/', 'user-agent': 'Mozilla/5.0 (test)', ...headers }, { endStream: chunks.length === 0 });
    for (const chunk of chunks) stream.write(chunk);
    if (chunks.length > 0) stream.end();
    const answerHeaders = await new Promise<IncomingHttpHeaders>((resolve, reject) => {
      stream.once('response', resolve);
      stream.once('error', reject);
    });
    let body = '';
    stream.setEncoding('utf8');
    for await (const chunk of stream) body += chunk as string;
    return { status: Number(answerHeaders[constants.HTTP2_HEADER_STATUS]), headers: answerHeaders, body };
  } finally {
    session.close();
  }
}

test('without withMoatStream the core API\'s streams pass Moat by; with it each is judged before the handler', async () => {
  const open = await streamServer(null);
  assert.equal((await request(open.port, { ':path': '/admin' })).status, 200, 'the hole: no request listener sees a stream');

  const firewall = firewallOn(RULES);
  const app = await streamServer(firewall);
  const refused = await request(app.port, { ':path': '/admin' });
  assert.deepEqual([refused.status, refused.body, refused.headers['content-type']], [403, 'Blocked', 'text/plain; charset=utf-8']);
  assert.equal((await request(app.port, { ':path': '/admin' })).status, 403);
  for (const path of ['/%61dmin', '/x/../admin', '//admin/', '/ADMIN']) assert.equal((await request(app.port, { ':path': path })).status, 403, path);
  assert.equal((await request(app.port, { ':path': '/', 'user-agent': 'evilbot/1.0' })).status, 403, 'a blocked user agent');
  assert.equal(app.handled(), 0, 'no refused stream reached the handler');
  const fine = await request(app.port, { ':path': '/products?page=2' });
  assert.deepEqual([fine.status, fine.body], [200, 'GET /products?page=2 '], 'an ordinary GET');
  assert.equal(app.handled(), 1);
  assert.equal(firewall.stats().blocked, 7);
});

test('core API streams: a body is judged on the stream and reaches the handler whole, with or without a length', async () => {
  const firewall = firewallOn(RULES);
  const app = await streamServer(firewall);
  const post = { ':method': 'POST', ':path': '/submit', 'content-type': FORM };
  const attack = 'name=ann&q=%3Cscript%3Ealert(1)%3C%2Fscript%3E';
  assert.equal((await request(app.port, { ...post, 'content-length': String(attack.length) }, [attack])).status, 403, 'with a length');
  assert.equal((await request(app.port, post, ['name=ann&q=%3Csc', 'ript%3E'])).status, 403, 'framed by HTTP/2 alone, split across frames');
  assert.equal(app.handled(), 0);
  const clean = await request(app.port, post, ['name=ann&', 'q=hello']);
  assert.deepEqual([clean.status, clean.body], [200, 'POST /submit name=ann&q=hello'], 'the handler reads every byte, in order');
  assert.equal(firewall.stats().bodiesUninspected.unreadable, 0);
});

test('core API streams: rate limits answer 429 with Retry-After, and the client is the session\'s peer', async () => {
  const firewall = firewallOn(RULES);
  const app = await streamServer(firewall);
  for (let i = 0; i < 2; i++) assert.equal((await request(app.port, { ':path': '/limited' })).status, 200);
  const limited = await request(app.port, { ':path': '/limited' });
  assert.equal(limited.status, 429);
  assert.ok(Number(limited.headers['retry-after']) > 0);

  const local = firewallOn({ block: { ips: ['127.0.0.1'] } });
  const blocked = await streamServer(local);
  // A forwarding header from the client is not an address Moat takes (no trusted proxy).
  assert.equal((await request(blocked.port, { ':path': '/', 'x-forwarded-for': '198.51.100.7' })).status, 403);
});

test('core API streams: a client that resets its stream while Moat reads the body does not take the server down', async () => {
  const firewall = firewallOn(RULES);
  const app = await streamServer(firewall);
  for (let i = 0; i < 5; i++) {
    const session = dialHttp2(`http://127.0.0.1:${app.port}`);
    const stream = session.request({ ':method': 'POST', ':path': '/submit', 'content-type': FORM, 'content-length': '100' }, { endStream: false });
    stream.on('error', () => {});
    stream.write('name=ann&q=');
    // Reset once Moat has the stream and waits for the rest of its body.
    for (let wait = 0; wait < 2_000 && firewall.stats().requests < i + 1; wait++) await new Promise((resolve) => setTimeout(resolve, 5));
    assert.equal(firewall.stats().requests, i + 1, 'the stream reached Moat');
    stream.close(constants.NGHTTP2_CANCEL);
    await new Promise<void>((resolve) => stream.once('close', () => resolve()));
    session.close();
  }
  // Judged without the body that never came, each reset stream goes on to the handler (which sees it closed).
  for (let i = 0; i < 400 && app.handled() < 5; i++) await new Promise((resolve) => setTimeout(resolve, 5));
  assert.equal(app.handled(), 5);
  const fine = await request(app.port, { ':path': '/' });
  assert.equal(fine.status, 200, 'the server still answers');
  assert.equal(firewall.stats().requests, 6);
});

test('core API streams: an answer of your own written for HTTP/1 (a Connection header) is sent without the headers HTTP/2 forbids', async () => {
  const firewall = firewallOn(RULES, { blocked: { status: 451, headers: { Connection: 'close', 'X-Blocked-By': 'moat' }, body: 'Go away' } });
  const app = await streamServer(firewall);
  const refused = await request(app.port, { ':path': '/admin' });
  assert.deepEqual([refused.status, refused.headers['x-blocked-by'], refused.headers.connection, refused.body], [451, 'moat', undefined, 'Go away']);
  assert.equal((await request(app.port, { ':path': '/' })).status, 200, 'the server goes on');
});

test('a server with both front doors (withMoat on its requests, withMoatStream on its streams) judges each stream once', async () => {
  for (const order of ['request listener first', 'stream listener first'] as const) {
    let decisions = 0;
    const firewall = firewallOn(RULES, { onDecision: () => { decisions++; } });
    let requests = 0;
    let streams = 0;
    const onRequest = withMoat((_req: Http2ServerRequest, res: Http2ServerResponse) => {
      requests++;
      res.end('app');
    }, firewall);
    const onStream = withMoatStream(() => {
      streams++; // A stream listener beside the app (a logger, say): it does not answer.
    }, firewall);
    const server = order === 'request listener first' ? createServer(onRequest) : createServer();
    server.on('stream', onStream);
    if (order === 'stream listener first') server.on('request', onRequest);
    const port = await listen(server as unknown as Server);
    after(() => new Promise<void>((resolve) => {
      server.close(() => resolve());
    }));

    // Two doors judging each stream counted every request twice: the limit of 2 answered 429 on the second.
    assert.deepEqual([(await request(port, { ':path': '/limited' })).status, (await request(port, { ':path': '/limited' })).status],
      [200, 200], order);
    assert.equal((await request(port, { ':path': '/limited' })).status, 429, order);
    const refused = await request(port, { ':path': '/%61dmin' });
    assert.deepEqual([refused.status, refused.body], [403, 'Blocked'], order);
    const attack = 'name=ann&q=%3Cscript%3Ealert(1)%3C%2Fscript%3E';
    const post = { ':method': 'POST', ':path': '/submit', 'content-type': FORM, 'content-length': String(attack.length) };
    assert.equal((await request(port, post, [attack])).status, 403, `${order}: a body read by one door, the verdict shared`);
    assert.deepEqual([requests, streams], [2, 2], `${order}: each door's handler once per stream that goes on, none for a refused one`);
    const stats = firewall.stats();
    assert.deepEqual([stats.requests, stats.passed, stats.rateLimited, stats.blocked, decisions], [5, 2, 1, 3, 5], order);
  }
});
