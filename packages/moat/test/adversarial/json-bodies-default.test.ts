// An API's inputs are its JSON bodies. With attack detection on and `body.json` left unset, a JSON body
// used to go unread, so every attack an API takes reached it unjudged unless the operator also found
// the option. JSON is now read while the engine detects attacks; `json: false` still turns it off, and
// parameter rules alone read forms only, as before. Real Express with express.json().

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import express from 'express';
import { moat } from '../../src/adapters/express.js';
import type { Firewall } from '../../src/firewall/firewall.js';
import type { BodyOptions } from '../../src/firewall/options.js';
import { close, firewallOn } from '../adapters-helpers.js';
import { sendOpen } from './request-apps.js';

const ATTACK = { method: 'POST', path: '/search', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ q: "x' UNION SELECT password FROM users--" }) };
const SCRIPT = { ...ATTACK, body: JSON.stringify({ q: '<script>alert(1)</script>' }) };

async function api(firewall: Firewall | null): Promise<{ port: number; server: Server }> {
  const app = express();
  if (firewall !== null) app.use(moat(firewall));
  app.post('/search', express.json(), (req, res) => { res.send(String((req.body as { q: string }).q)); });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  return { port: (server.address() as { port: number }).port, server };
}

async function statusBehind(rules: object, body: BodyOptions | undefined, request: typeof ATTACK): Promise<number> {
  const firewall = firewallOn(rules, body === undefined ? {} : { body });
  const guarded = await api(firewall);
  try {
    return (await sendOpen(guarded.port, request)).status;
  } finally {
    await close(guarded.server);
  }
}

test('attack detection reads JSON bodies unless body.json is false; parameter rules alone read forms only', async () => {
  const open = await api(null);
  try {
    assert.match((await sendOpen(open.port, ATTACK)).body, /UNION SELECT/, 'the API takes the payload');
  } finally {
    await close(open.server);
  }
  assert.equal(await statusBehind({ attacks: 'block' }, undefined, ATTACK), 403, 'detection on, body options unset');
  assert.equal(await statusBehind({ attacks: 'block' }, { limit: 4096 }, ATTACK), 403, 'other body options set, json unset');
  assert.equal(await statusBehind({ attacks: 'block' }, { json: true }, ATTACK), 403, 'json: true');
  assert.equal(await statusBehind({ attacks: 'block' }, { json: false }, ATTACK), 200, 'json: false turns it off');
  assert.equal(await statusBehind({ block: { params: ['<script'] } }, undefined, SCRIPT), 200, 'parameter rules alone: JSON unread, as before');
  assert.equal(await statusBehind({ block: { params: ['<script'] } }, { json: true }, SCRIPT), 403, 'parameter rules with json: true');
});
