// On @hono/node-server the Hono adapter judged the IncomingMessage, whose Host header is as sent, while
// the app reads the Request's url, built with `new URL`: its host mapping turns `ªdmin.example.com`
// (byte 0xAA) into `admin.example.com`, the same length, so node-server lets it by. With Hono's
// documented host routing (`getPath` from the url) that served the blocked host's routes. Such a request
// now goes to the Web path, which judges the url's host as well. Real Hono on @hono/node-server.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import { Hono } from 'hono';
import { createAdaptorServer } from '@hono/node-server';
import { moat } from '../../src/adapters/hono.js';
import { createFirewall, type Firewall } from '../../src/firewall/firewall.js';
import { close, listen, rulesFile } from '../adapters-helpers.js';
import { sendOpen } from './request-apps.js';

const rules = rulesFile({ block: { hosts: ['admin.example.com'] } });
after(() => rules.cleanup());

async function hostRouted(firewall: Firewall | null): Promise<{ port: number; server: Server }> {
  const app = new Hono({ getPath: (request) => request.url.replace(/^https?:\/([^?]+).*$/, '$1') });
  if (firewall !== null) app.use(moat(firewall));
  app.get('/admin.example.com/*', (c) => c.text('admin area'));
  app.get('*', (c) => c.text('public'));
  const server = createAdaptorServer({ fetch: app.fetch }) as Server;
  return { port: await listen(server), server };
}

test('Host: ªdmin.example.com reaches the admin routes of a host-routed Hono app, and is blocked by a rule on admin.example.com', async () => {
  const firewall = createFirewall({ rules: rules.path, logger: false });
  const plain = await hostRouted(null);
  const guarded = await hostRouted(firewall);
  try {
    for (const host of ['\u00aadmin.example.com', '\u00aadmin.ex\u00aample.com', 'admin.example.com']) {
      const headers = { host };
      assert.equal((await sendOpen(plain.port, { path: '/users', headers })).body, 'admin area', `the app maps ${JSON.stringify(host)} to admin.example.com`);
      assert.equal((await sendOpen(guarded.port, { path: '/users', headers })).status, 403, JSON.stringify(host));
    }
    assert.equal((await sendOpen(guarded.port, { path: '/users', headers: { host: 'www.example.com' } })).status, 200);
    assert.equal((await sendOpen(guarded.port, { path: '/users', headers: { host: '\u00aapp.example.com' } })).status, 200, 'another mapped host goes on');
  } finally {
    await close(plain.server);
    await close(guarded.server);
    firewall.close();
  }
});
