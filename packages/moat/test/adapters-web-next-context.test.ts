// The Next.js proxy adapter's request context, in this process on a real node:http server: the socket
// of the request being served is what the proxy judges, and a proxy run twice for one HTTP request
// decides once. (The full Next.js app, built and started, is adapters-next-proxy.test.ts.)

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { moatProxy } from '../src/adapters/next-proxy.js';
import { createFirewall } from '../src/firewall/firewall.js';
import type { MoatHttpRequest } from '../src/http/normalized-request.js';
import { STANDARD_RULES, close, listen, rulesFile, send } from './adapters-helpers.js';

const rules = rulesFile(STANDARD_RULES);
after(() => rules.cleanup());

test('next proxy: run twice for one HTTP request, it decides once, so a rate limit is counted once', async () => {
  const judged: MoatHttpRequest[] = [];
  const firewall = createFirewall({ rules: rules.path, logger: false, onDecision: (_d, request) => judged.push(request) });
  after(() => firewall.close());
  const proxy = moatProxy(firewall);
  const server = createServer(async (req, res) => {
    await new Promise((resolve) => setImmediate(resolve)); // the context must survive async hops
    const request = new Request(`http://localhost${req.url}`, { method: req.method });
    const first = await proxy(request);
    const second = await proxy(request);
    res.end(`${first?.status ?? 'next'} ${second?.status ?? 'next'}`);
  });
  const port = await listen(server);
  after(() => close(server));
  const login = async () => (await send(port, { method: 'POST', path: '/login', body: '' })).body;
  assert.equal(await login(), 'next next');
  assert.equal(await login(), 'next next');
  assert.equal(await login(), '429 429');
  assert.equal(firewall.stats().requests, 3);
  assert.deepEqual(judged.map((r) => r.ip), ['127.0.0.1', '127.0.0.1', '127.0.0.1']);
});

test('next proxy: with no connection known, the client is unknown and counted; X-Forwarded-For does not stand in for it', async () => {
  const firewall = createFirewall({ rules: rules.path, logger: false });
  after(() => firewall.close());
  const proxy = moatProxy(firewall);
  // Called outside any node:http request: nothing to take the socket from.
  const answer = await proxy(new Request('http://localhost/', { headers: { 'x-forwarded-for': '203.0.113.66' } }));
  assert.equal(answer, undefined, 'judged by the other rules, not as the blocked address the header names');
  assert.equal(firewall.stats().noPeerAddress, 1);
  const closed = moatProxy({ rules: rules.path, logger: false, failClosed: true });
  after(() => closed.firewall.close());
  assert.equal((await closed(new Request('http://localhost/')))?.status, 503);
});
