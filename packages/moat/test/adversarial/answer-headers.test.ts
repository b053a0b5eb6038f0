// A `blocked` or `rateLimited` function that echoes request text into its answer (a header naming the
// blocked path, as a CDN log might want) must not let a request choose bytes a header cannot carry. A
// decoded path holding `%0d%0a` made res.setHeader() throw outside the adapter's reach: on node:http an
// uncaught exception, on Express with a body an unhandled rejection (the process exits either way), and
// on the Web path handle() threw. Now such an answer is refused before anything is written: the default
// answer goes out instead, counted as a hook error and told. A fixed answer with such a header is refused
// when the firewall is created.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import express from 'express';
import { withMoat } from '../../src/adapters/node.js';
import { moat } from '../../src/adapters/express.js';
import { createFirewall } from '../../src/firewall/firewall.js';
import type { MoatErrorEvent } from '../../src/firewall/options.js';
import { unsendable } from '../../src/firewall/responses.js';
import { close, listen, rulesFile } from '../adapters-helpers.js';
import { sendOpen } from './request-apps.js';

const rules = rulesFile({ block: { paths: ['/admin'], params: ['<script'] }, rateLimits: [{ path: '/api/*', limit: 1, window: '60s' }] });
after(() => rules.cleanup());

/** Echoes the decoded path into a header, as the hook in the finding did. */
const echoing = {
  blocked: (_d: unknown, r: { path: string }) => ({ status: 403, headers: { 'x-blocked-path': r.path }, body: 'custom' }),
  rateLimited: (_d: unknown, r: { path: string }) => ({ status: 429, headers: { 'x-limited-path': r.path }, body: 'slow down' }),
};

function firewallWithEvents() {
  const events: MoatErrorEvent[] = [];
  const firewall = createFirewall({ rules: rules.path, logger: false, ...echoing, onError: (e) => events.push(e) });
  return { firewall, events };
}

test('node:http: a path that decodes to CR LF gets the default 403, the process keeps serving, and the hook error is counted', async () => {
  const { firewall, events } = firewallWithEvents();
  const server = createServer(withMoat((_req, res) => res.end('app'), firewall));
  const port = await listen(server);
  try {
    const ok = await sendOpen(port, { path: '/admin' });
    assert.equal(ok.status, 403);
    assert.equal(ok.headers['x-blocked-path'], '/admin', 'an answer that can be sent goes out as chosen');
    assert.equal(ok.body, 'custom');
    for (const path of ['/admin%0d%0aSet-Cookie:%20a=1', '/admin%ff', '/admin%00']) {
      const res = await sendOpen(port, { path });
      assert.equal(res.status, 403, path);
      assert.equal(res.body, 'Blocked', `${path}: the default answer`);
      assert.equal(res.headers['set-cookie'], undefined, 'no header injected');
      assert.equal(res.headers['x-blocked-path'], undefined);
    }
    assert.equal((await sendOpen(port, { path: '/fine' })).status, 200, 'the server still serves');
    assert.equal(firewall.stats().hookErrors, 3);
    assert.ok(events.length === 3 && events.every((e) => e.kind === 'hook' && /cannot be sent/.test(e.error.message)));
  } finally {
    await close(server);
    firewall.close();
  }
});

test('a rate-limit answer that cannot be sent: the default 429 with Retry-After instead', async () => {
  const { firewall } = firewallWithEvents();
  const server = createServer(withMoat((_req, res) => res.end('app'), firewall));
  const port = await listen(server);
  try {
    assert.equal((await sendOpen(port, { path: '/api/x%0a' })).status, 200);
    const res = await sendOpen(port, { path: '/api/x%0a' });
    assert.equal(res.status, 429);
    assert.equal(res.body, 'Too Many Requests');
    assert.ok(Number(res.headers['retry-after']) >= 1);
    assert.equal(firewall.stats().hookErrors, 1);
  } finally {
    await close(server);
    firewall.close();
  }
});

test('Express with a body to read: the answer is refused before writing, no unhandled rejection', async () => {
  const { firewall } = firewallWithEvents();
  const rejections: unknown[] = [];
  const onRejection = (reason: unknown) => rejections.push(reason);
  process.on('unhandledRejection', onRejection);
  const app = express();
  app.use(moat(firewall));
  app.use(express.urlencoded({ extended: false }));
  app.post('/*path', (_req, res) => { res.send('app'); });
  const server = createServer(app);
  const port = await listen(server);
  try {
    const res = await sendOpen(port, {
      method: 'POST', path: '/form%0d%0ax',
      headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'q=%3Cscript%3E',
    });
    assert.equal(res.status, 403);
    assert.equal(res.body, 'Blocked');
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(rejections, []);
    assert.equal(firewall.stats().hookErrors, 1);
  } finally {
    process.off('unhandledRejection', onRejection);
    await close(server);
    firewall.close();
  }
});

test('Web path: handle() answers the default 403 instead of throwing', async () => {
  const { firewall } = firewallWithEvents();
  try {
    const answer = await firewall.handle(new Request('http://example.test/admin%0d%0aSet-Cookie:%20a=1'), { ip: '192.0.2.1' });
    assert.ok(answer !== null);
    assert.equal(answer.status, 403);
    assert.equal(await answer.text(), 'Blocked');
    assert.equal(answer.headers.get('set-cookie'), null);
    assert.equal(firewall.stats().hookErrors, 1);
  } finally {
    firewall.close();
  }
});

test('a fixed answer that cannot be sent is refused when the firewall is created', () => {
  for (const [option, message] of [
    [{ blocked: { headers: { 'x-why': 'a\r\nb' } } }, /blocked: header x-why holds a character/],
    [{ blocked: { headers: { 'bad name': 'x' } } }, /blocked: header name "bad name" is not a valid HTTP token/],
    [{ rateLimited: { status: 42 } }, /rateLimited: status must be a whole number from 200 to 599/],
    [{ blocked: { body: 5 as unknown as string } }, /blocked: body must be a string/],
  ] as const) {
    assert.throws(() => createFirewall({ rules: rules.path, logger: false, ...option }), (e: Error & { code?: string }) => e.code === 'MOAT_ERR_OPTION_INVALID' && message.test(e.message));
  }
  assert.equal(unsendable({ status: 403, headers: { 'content-type': 'text/plain; charset=utf-8', 'x-note': 'café\tok' }, body: '' }), null, 'tab and latin1 are allowed');
});
