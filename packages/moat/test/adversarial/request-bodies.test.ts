// Bodies an attacker wraps so a parameter rule cannot read them while the app's body parser still does:
// compression, a GET with a body, a byte-order mark, UTF-16. What Moat cannot read is counted, by reason.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { withMoat } from '../../src/adapters/node.js';
import { createManagedFirewall } from '../../src/managed/managed-firewall.js';
import { close, listen, rulesFile } from '../adapters-helpers.js';
import { sendOpen as send, target } from './request-apps.js';
import { withMoatFetch } from '../../src/adapters/web.js';
import { guardedFirewall, serveFetchOnNode } from '../helpers/web-on-node-server.js';

const PARAM_RULES = { block: { params: ['<script'] } };
const FORM = 'application/x-www-form-urlencoded';
const EVIL_FORM = 'name=x&bio=%3Cscript%3Ealert(1)';

const CODINGS = { gzip: gzipSync, deflate: deflateSync, br: brotliCompressSync } as const;

for (const [coding, pack] of Object.entries(CODINGS)) {
  test(`POST /form with a ${coding}-compressed form carrying <script is blocked on Express, whose express.urlencoded() inflates it`, async () => {
    const t = await target(PARAM_RULES, ['express']);
    const request = { method: 'POST', path: '/form', headers: { 'content-type': FORM, 'content-encoding': coding }, body: pack(Buffer.from(EVIL_FORM)) };
    const plain = await send(t.apps.express.plain, request);
    assert.deepEqual([plain.status, JSON.parse(plain.body)], [200, { name: 'x', bio: '<script>alert(1)' }]);
    assert.equal((await send(t.apps.express.guarded, request)).status, 403);
    // A harmless compressed form still reaches the app whole: Moat handed the compressed bytes back.
    const fine = { ...request, body: pack(Buffer.from('name=x&bio=hello')) };
    const passed = await send(t.apps.express.guarded, fine);
    assert.deepEqual([passed.status, JSON.parse(passed.body)], [200, { name: 'x', bio: 'hello' }]);
  });
}

test('POST /form carrying <script under a Content-Encoding the app ignores is blocked on Fastify and Hono, which parse the bytes as sent', async () => {
  const t = await target(PARAM_RULES, ['fastify', 'hono']);
  const clean = gzipSync('name=x');
  // A real gzip whose header comment holds the field: harmless inflated, not as sent.
  const commented = Buffer.concat([clean.subarray(0, 3), Buffer.from([clean[3]! | 0x10]), clean.subarray(4, 10),
    Buffer.from('&bio=%3Cscript%3E&\0', 'latin1'), clean.subarray(10)]);
  const attacks: [string, Buffer | string][] = [['gzip', EVIL_FORM], ['x-unknown', EVIL_FORM], ['gzip, identity', EVIL_FORM], ['deflate', EVIL_FORM], ['gzip', commented]];
  for (const framework of ['fastify', 'hono'] as const) {
    for (const [coding, body] of attacks) {
      const request = { method: 'POST', path: '/form', headers: { 'content-type': FORM, 'content-encoding': coding }, body };
      const plain = await send(t.apps[framework].plain, request);
      // The unguarded app acts on the field (so the rule matters).
      assert.deepEqual([plain.status, JSON.parse(plain.body).bio], [200, body === EVIL_FORM ? '<script>alert(1)' : '<script>'], `${framework} ${coding} unguarded`);
      assert.equal((await send(t.apps[framework].guarded, request)).status, 403, `${framework} ${coding}`);
    }
  }
});

test('a form whose Content-Type lists several media types is blocked before a fetch handler on Node, whose formData() takes the last', async () => {
  const firewall = guardedFirewall(PARAM_RULES);
  const app = async (request: Request) => Response.json(Object.fromEntries(await request.formData()));
  const plain = await serveFetchOnNode(app);
  const guarded = await serveFetchOnNode(withMoatFetch(app, firewall));
  const request = { method: 'POST', path: '/form', headers: { 'content-type': `text/plain, ${FORM}` }, body: EVIL_FORM };
  assert.deepEqual([(await send(plain, request)).status, JSON.parse((await send(plain, request)).body).bio], [200, '<script>alert(1)']);
  assert.equal((await send(guarded, request)).status, 403);
});

test('a gzip bomb form is judged on its first body-limit bytes only, counted as tooLarge, and refused by the app as usual', async () => {
  const t = await target(PARAM_RULES, ['express']);
  const bomb = gzipSync(Buffer.concat([Buffer.from('a='), Buffer.alloc(8 * 1024 * 1024, 0x61), Buffer.from('&b=%3Cscript')]));
  assert.ok(bomb.length < 64 * 1024, 'the whole bomb is within the read limit');
  const request = { method: 'POST', path: '/form', headers: { 'content-type': FORM, 'content-encoding': 'gzip' }, body: bomb };
  const res = await send(t.apps.express.guarded, request);
  // Express's own 100 kB limit refuses the inflated body; Moat did not block on what it could not see.
  assert.equal(res.status, 413);
  const stats = t.firewall.stats();
  assert.deepEqual([stats.bodiesInspected, stats.bodiesTruncated, stats.bodiesUninspected.tooLarge], [1, 1, 1]);
  // The same bomb with the payload up front is blocked.
  const front = gzipSync(Buffer.concat([Buffer.from('b=%3Cscript&a='), Buffer.alloc(8 * 1024 * 1024, 0x61)]));
  assert.equal((await send(t.apps.express.guarded, { ...request, body: front })).status, 403);
});

test('GET /form with a form body carrying <script is blocked on Express, whose body parser reads GET bodies', async () => {
  const t = await target(PARAM_RULES, ['express']);
  const request = { method: 'GET', path: '/form', headers: { 'content-type': FORM }, body: EVIL_FORM };
  const plain = await send(t.apps.express.plain, request);
  assert.deepEqual([plain.status, JSON.parse(plain.body).bio], [200, '<script>alert(1)']);
  assert.equal((await send(t.apps.express.guarded, request)).status, 403);
});

const EVIL_JSON = '{"bio":"\\u003cscript\\u003ealert(1)"}';

test('POST /json with a UTF-8 byte-order mark before an escaped <script is blocked on Express with JSON inspection on', async () => {
  const t = await target(PARAM_RULES, ['express'], { body: { json: true } });
  const request = { method: 'POST', path: '/json', headers: { 'content-type': 'application/json' }, body: Buffer.from('\uFEFF' + EVIL_JSON, 'utf8') };
  const plain = await send(t.apps.express.plain, request);
  assert.deepEqual([plain.status, JSON.parse(plain.body)], [200, { bio: '<script>alert(1)' }]);
  assert.equal((await send(t.apps.express.guarded, request)).status, 403);
});

for (const charset of ['utf-16le', 'utf-16be', 'utf-16']) {
  test(`POST /json sent as charset=${charset} carrying <script is blocked on Express with JSON inspection on`, async () => {
    const t = await target(PARAM_RULES, ['express'], { body: { json: true } });
    const le = Buffer.from((charset === 'utf-16' ? '\uFEFF' : '') + EVIL_JSON, 'utf16le');
    const bytes = charset === 'utf-16be' ? Buffer.from(le).swap16() : le;
    const request = { method: 'POST', path: '/json', headers: { 'content-type': `application/json; charset=${charset}` }, body: bytes };
    const plain = await send(t.apps.express.plain, request);
    assert.deepEqual([plain.status, JSON.parse(plain.body)], [200, { bio: '<script>alert(1)' }]);
    assert.equal((await send(t.apps.express.guarded, request)).status, 403);
  });
}

test('bodies Moat cannot judge are counted by reason: multipart, an unknown coding, a JSON charset it cannot decode', async () => {
  const t = await target(PARAM_RULES, ['express'], { body: { json: true } });
  const port = t.apps.express.guarded;
  // A multipart body whose declared boundary opens no part: no parser finds a field in it.
  const multipart = '--b\r\ncontent-disposition: form-data; name="bio"\r\n\r\n<script>\r\n--b--\r\n';
  await send(port, { method: 'POST', path: '/form', headers: { 'content-type': 'multipart/form-data; boundary=other' }, body: multipart });
  await send(port, { method: 'POST', path: '/form', headers: { 'content-type': FORM, 'content-encoding': 'gzip, gzip' }, body: gzipSync(gzipSync(EVIL_FORM)) });
  await send(port, { method: 'POST', path: '/form', headers: { 'content-type': FORM, 'content-encoding': 'compress' }, body: 'x' });
  await send(port, { method: 'POST', path: '/json', headers: { 'content-type': 'application/json; charset=utf-32' }, body: EVIL_JSON });
  const stats = t.firewall.stats();
  assert.deepEqual(stats.bodiesUninspected, { tooLarge: 0, multipart: 1, encoding: 2, charset: 1, unreadable: 0, busy: 0 });
  // The two encoded forms were still judged as sent (an unknown coding reaches a parser that ignores it so).
  assert.equal(stats.bodiesInspected, 2);
  // stats() is a snapshot: counting on does not change a copy already handed out.
  await send(port, { method: 'POST', path: '/form', headers: { 'content-type': 'multipart/form-data; boundary=other' }, body: multipart });
  assert.equal(stats.bodiesUninspected.multipart, 1);
  assert.equal(t.firewall.stats().bodiesUninspected.multipart, 2);
});

test('a managed firewall\'s status() reports the bodies it could not judge', async () => {
  const rules = rulesFile(PARAM_RULES);
  after(() => rules.cleanup());
  const managed = createManagedFirewall({ rules: rules.path, dir: join(rules.dir, 'sync'), logger: false, trustedProxies: [] });
  after(() => managed.close());
  const server = createServer(withMoat((_req, res) => { res.end('ok'); }, managed));
  const port = await listen(server);
  after(() => close(server));
  const res = await send(port, { method: 'POST', path: '/upload', headers: { 'content-type': 'multipart/form-data; boundary=b' }, body: '--b--\r\n' });
  assert.equal(res.status, 200);
  assert.equal(managed.status().firewall.bodiesUninspected.multipart, 1);
});
