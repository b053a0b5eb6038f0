// Attacks on the "behind a proxy?" watch. While no proxy is trusted, Moat looks for forwarding headers
// on one request in FORWARDING_LOOK_EVERY only. A client that spoofs X-Forwarded-For must still be judged
// by its socket address, and interleaving header-less requests must not keep the operator's warning
// silent. Real Express and a fetch handler on @hono/node-server, on 127.0.0.1.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import express from 'express';
import { moat as expressMoat } from '../../src/adapters/express.js';
import { withMoatFetch } from '../../src/adapters/web.js';
import { FORWARDING_LOOK_EVERY } from '../../src/firewall/address-warnings.js';
import { createFirewall, type Firewall } from '../../src/firewall/firewall.js';
import { close, listen, rulesFile, send } from '../adapters-helpers.js';
import { serveFetchOnNode } from '../helpers/web-on-node-server.js';

const ALLOWED = '198.51.100.1';
const rules = rulesFile({ allow: { ips: [ALLOWED] }, block: { paths: ['/wp-admin'] } });
after(() => rules.cleanup());

function watchedFirewall(): { firewall: Firewall; warnings: string[] } {
  const warnings: string[] = [];
  // No trustedProxies and an empty environment: the watch is on.
  const firewall = createFirewall({
    rules: rules.path, env: {}, now: () => 0,
    logger: { error: () => {}, warn: (_context, message) => { warnings.push(message ?? ''); } },
  });
  after(() => firewall.close());
  return { firewall, warnings };
}

async function expressApp(firewall: Firewall): Promise<number> {
  const app = express();
  app.use(expressMoat(firewall));
  app.use((_req, res) => { res.send('hello'); });
  const server = app.listen(0, '127.0.0.1') as Server;
  await new Promise((resolve) => server.once('listening', resolve));
  after(() => close(server));
  return (server.address() as { port: number }).port;
}

const fronts: [string, (firewall: Firewall) => Promise<number>][] = [
  ['Express', expressApp],
  ['a fetch handler on @hono/node-server', (firewall) => serveFetchOnNode(withMoatFetch(() => new Response('hello'), firewall))],
];

for (const [name, start] of fronts) {
  test(`${name}: GET /wp-admin with a spoofed X-Forwarded-For naming an allow-listed IP, every other request, is blocked every time and still raises the "behind a proxy?" warning`, async () => {
    const { firewall, warnings } = watchedFirewall();
    const port = await start(firewall);
    const requests = 2 * FORWARDING_LOOK_EVERY;
    let spoofed = 0;
    for (let i = 0; i < requests; i++) {
      // Header-less requests in between, so a watch that looked at every Nth request for an even N
      // would never see a header.
      const headers: Record<string, string> = i % 2 === 1 ? { 'x-forwarded-for': ALLOWED } : {};
      if (i % 2 === 1) spoofed++;
      const res = await send(port, { path: '/wp-admin', headers });
      assert.equal(res.status, 403, `request ${i + 1} (${res.status}): the spoofed header must not pass for the allow-listed client`);
    }
    assert.equal(warnings.length, 1, 'warned once within two strides of the watch');
    assert.match(warnings[0]!, /carries x-forwarded-for, but no proxy is trusted/);
    const stats = firewall.stats();
    assert.equal(stats.blocked, requests);
    assert.equal(stats.ipHeaderUntrusted, spoofed, 'every spoofed header counted, looked at or not');
  });
}
