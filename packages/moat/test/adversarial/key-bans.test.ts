// Attacks on keyed bans (rule kind `key`: the hash of a header, a cookie or the app's user id), on a real
// Express app on 127.0.0.1: the banned API key sent with another header-name case, from a forged
// X-Forwarded-For, or banned session cookie sent quoted, percent-encoded or ahead of a second cookie of
// the same name, and a banned user id, are all blocked (403); the app's own reading of the value decides
// what counts as the same key. An allow-listed address with the banned key passes (allow wins).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { Server } from 'node:http';
import express from 'express';
import { moat as expressMoat } from '../../src/adapters/express.js';
import { createFirewall } from '../../src/firewall/firewall.js';
import { close, rulesFile, send } from '../adapters-helpers.js';

const API_KEY = 'sk_live_banned_0001';
const SESSION = 'sess-banned-0002';
const USER = '4711';

function hashOf(by: string, name: string, value: string): string {
  return createHash('sha256').update(`${by}\0${name}\0${value}`).digest('hex').slice(0, 32);
}

const rules = rulesFile({
  allow: { ips: ['10.1.1.1'] },
  block: {
    keys: [`header:x-api-key=${hashOf('header', 'x-api-key', API_KEY)}`, `cookie:session=${hashOf('cookie', 'session', SESSION)}`, `user=${hashOf('user', '', USER)}`],
  },
});
after(() => rules.cleanup());

async function app(trustedProxies: string[] = []): Promise<number> {
  // The app's user id comes from its own auth header here (what a session middleware would set).
  const firewall = createFirewall({ rules: rules.path, env: {}, logger: false, trustedProxies, user: (req) => (req as { headers: Record<string, string | undefined> }).headers['x-user-id'] });
  after(() => firewall.close());
  const server = express().use(expressMoat(firewall)).use((_req, res) => { res.send('ok'); }).listen(0, '127.0.0.1') as Server;
  await new Promise((resolve) => server.once('listening', resolve));
  after(() => close(server));
  return (server.address() as { port: number }).port;
}

test('a banned API key is blocked on Express whatever the header name case, and from a forged X-Forwarded-For', async () => {
  const port = await app();
  for (const name of ['x-api-key', 'X-API-KEY', 'X-Api-Key']) {
    assert.equal((await send(port, { headers: { [name]: API_KEY } })).status, 403, name);
  }
  assert.equal((await send(port, { headers: { 'x-api-key': API_KEY, 'x-forwarded-for': '10.1.1.1' } })).status, 403, 'an untrusted XFF naming an allowed IP');
  assert.equal((await send(port, { headers: { 'x-api-key': `${API_KEY}x` } })).status, 200, 'another key passes');
  assert.equal((await send(port)).status, 200, 'no key passes');
});

test('a banned session cookie is blocked on Express quoted, percent-encoded, or ahead of a second session cookie', async () => {
  const port = await app();
  const encoded = SESSION.replace('-', '%2D');
  for (const cookie of [`session=${SESSION}`, `a=1; session="${SESSION}"`, `session=${encoded}`, `session=${SESSION}; session=innocent`]) {
    assert.equal((await send(port, { headers: { cookie } })).status, 403, cookie);
  }
  assert.equal((await send(port, { headers: { cookie: `session=innocent; session=${SESSION}` } })).status, 200, 'the app reads the first cookie: innocent');
});

test('a banned user id is blocked on Express through the user option; an allow-listed address with a banned key passes', async () => {
  const port = await app();
  assert.equal((await send(port, { headers: { 'x-user-id': USER } })).status, 403);
  assert.equal((await send(port, { headers: { 'x-user-id': '4712' } })).status, 200);
  const behindProxy = await app(['127.0.0.1']);
  assert.equal((await send(behindProxy, { headers: { 'x-api-key': API_KEY, 'x-forwarded-for': '10.1.1.1' } })).status, 200, 'allow wins');
  assert.equal((await send(behindProxy, { headers: { 'x-api-key': API_KEY, 'x-forwarded-for': '10.1.1.2' } })).status, 403);
});
