// A body is read up to `body.limit`; what follows reaches the app unjudged. So a form padded past the limit
// carries any payload past parameter rules and attack detection: the app's parser reads the whole body.
// `body.oversize` decides what such a body does: 'judge' (its beginning, as before), 'monitor' (a
// `body-oversize` match in the decision), 'block'. Real Express with express.urlencoded and multer, the
// Web path, and bodies padded as sent, inflated past the limit, and as multipart with a file first.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import type { Server } from 'node:http';
import express from 'express';
import multer from 'multer';
import { moat } from '../../src/adapters/express.js';
import { createFirewall, type Firewall } from '../../src/firewall/firewall.js';
import type { BodyOversize } from '../../src/firewall/options.js';
import type { Decision } from '../../src/engine/decision.js';
import { OptionError } from '../../src/errors/moat-error.js';
import { close, rulesFile } from '../adapters-helpers.js';
import { sendOpen } from './request-apps.js';

const LIMIT = 1024;
const PAD = 'x'.repeat(2 * LIMIT);
const ATTACK_FORM = `pad=${PAD}&comment=%3Cscript%3Ealert(1)%3C%2Fscript%3E`;
const BOUNDARY = 'moatBoundary42';
const ATTACK_MULTIPART = [
  `--${BOUNDARY}\r\nContent-Disposition: form-data; name="upload"; filename="photo.jpg"\r\nContent-Type: image/jpeg\r\n\r\n${PAD}\r\n`,
  `--${BOUNDARY}\r\nContent-Disposition: form-data; name="comment"\r\n\r\n<script>alert(1)</script>\r\n`,
  `--${BOUNDARY}--\r\n`,
].join('');

async function app(firewall: Firewall | null): Promise<{ port: number; server: Server }> {
  const created = express();
  if (firewall !== null) created.use(moat(firewall));
  created.post('/comment', express.urlencoded({ extended: false, limit: '1mb' }), (req, res) => { res.send(String((req.body as Record<string, string>).comment)); });
  created.post('/upload', multer({ storage: multer.memoryStorage() }).single('upload'), (req, res) => { res.send(String((req.body as Record<string, string>).comment)); });
  const server = created.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  return { port: (server.address() as { port: number }).port, server };
}

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const REQUESTS = [
  { name: 'a form padded past the limit', spec: { method: 'POST', path: '/comment', headers: FORM, body: ATTACK_FORM } },
  { name: 'the same form gzipped (inflated past the limit, sent under it)',
    spec: { method: 'POST', path: '/comment', headers: { ...FORM, 'content-encoding': 'gzip' }, body: gzipSync(ATTACK_FORM) } },
  { name: 'multipart with a file before the field',
    spec: { method: 'POST', path: '/upload', headers: { 'content-type': `multipart/form-data; boundary=${BOUNDARY}` }, body: ATTACK_MULTIPART } },
] as const;

function firewallWith(path: string, oversize: BodyOversize | undefined, decisions: Decision[]): Firewall {
  return createFirewall({ rules: path, logger: false, body: { limit: LIMIT, ...(oversize === undefined ? {} : { oversize }) }, onDecision: (d) => { decisions.push(d); } });
}

test('body.oversize: a payload past the read limit reaches the app; judge lets it, monitor marks it, block refuses it', async () => {
  const file = rulesFile({ block: { params: ['<script'] } });
  after(() => file.cleanup());
  const open = await app(null);
  try {
    for (const { name, spec } of REQUESTS) {
      assert.equal((await sendOpen(open.port, spec)).body, '<script>alert(1)</script>', `${name}: the app reads the payload`);
    }
    for (const oversize of [undefined, 'judge', 'monitor', 'block'] as const) {
      const decisions: Decision[] = [];
      const firewall = firewallWith(file.path, oversize, decisions);
      const guarded = await app(firewall);
      try {
        for (const { name, spec } of REQUESTS) {
          decisions.length = 0;
          const answer = await sendOpen(guarded.port, spec);
          const decision = decisions[0]!;
          if (oversize === 'block') {
            assert.equal(answer.status, 403, `${oversize}: ${name}`);
            assert.deepEqual([decision.category, decision.rule, decision.ruleId], ['body-oversize', `body longer than ${LIMIT} bytes`, 'body.oversize']);
          } else {
            assert.equal(answer.status, 200, `${oversize ?? 'default'}: ${name}`);
            assert.equal(decision.treatment, 'Passed');
            const marked = decision.monitored.some((m) => m.category === 'body-oversize' && m.ruleId === 'body.oversize');
            assert.equal(marked, oversize === 'monitor', `${oversize ?? 'default'}: ${name}: monitor match`);
          }
        }
        // A body within the limit is judged whole, whatever the mode: a clean one passes, an attack is blocked by its rule.
        const short = await sendOpen(guarded.port, { method: 'POST', path: '/comment', headers: FORM, body: 'comment=hello' });
        assert.equal(short.status, 200);
        assert.equal(short.body, 'hello');
        decisions.length = 0;
        assert.equal((await sendOpen(guarded.port, { method: 'POST', path: '/comment', headers: FORM, body: 'comment=%3Cscript' })).status, 403);
        assert.equal(decisions[0]!.category, 'bparam');
        assert.equal(firewall.stats().decisions.Blocked['body-oversize'] ?? 0, oversize === 'block' ? REQUESTS.length : 0, 'counted by category');
      } finally {
        await close(guarded.server);
        firewall.close();
      }
    }
  } finally {
    await close(open.server);
  }
});

test('body.oversize block: an allowed address stays allowed, a request blocked by a rule keeps its reason; the Web path too', async () => {
  const file = rulesFile({ allow: { ips: ['192.0.2.7'] }, block: { paths: ['/admin'], params: ['<script'] } });
  after(() => file.cleanup());
  const decisions: Decision[] = [];
  const firewall = firewallWith(file.path, 'block', decisions);
  try {
    const post = (path: string) => new Request(`http://example.test${path}`, { method: 'POST', headers: FORM, body: ATTACK_FORM });
    assert.equal((await firewall.handle(post('/comment'), { ip: '192.0.2.7' })), null, 'allowed');
    assert.equal(decisions.at(-1)!.treatment, 'Allowed');
    assert.equal((await firewall.handle(post('/admin'), { ip: '192.0.2.1' }))?.status, 403);
    assert.equal(decisions.at(-1)!.category, 'bp', 'the path rule decided');
    assert.equal((await firewall.handle(post('/comment'), { ip: '192.0.2.1' }))?.status, 403);
    assert.equal(decisions.at(-1)!.category, 'body-oversize');
    assert.equal(await firewall.handle(new Request('http://example.test/comment', { method: 'POST', headers: FORM, body: 'comment=hi' }), { ip: '192.0.2.1' }), null);
  } finally {
    firewall.close();
  }
});

test('body.oversize: an unknown mode stops the start with an OptionError', () => {
  assert.throws(() => createFirewall({ logger: false, body: { oversize: 'reject' as BodyOversize } }), (error: unknown) =>
    error instanceof OptionError && /body\.oversize must be one of 'judge', 'monitor', 'block'/.test(error.message));
});
