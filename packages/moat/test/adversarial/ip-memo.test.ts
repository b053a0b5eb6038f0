// The engine remembers client IPs whose IP rules (allow, block, country, ASN, lists) met nothing, so a
// repeat client skips those lookups. An attacker would like that memory to outlive what it stands for:
// a block pushed after the address was remembered, an allow that has expired, a monitor rule that
// should see every request, or a flood of addresses meant to make a blocked one share a memo slot
// with a clean one. Real servers on 127.0.0.1, real rules files; addresses beyond 127.0.0.1 come from a
// trusted proxy's X-Forwarded-For, as they would behind a load balancer.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import express from 'express';
import { withMoat } from '../../src/adapters/node.js';
import { moat as expressMoat } from '../../src/adapters/express.js';
import { Engine } from '../../src/engine/engine.js';
import { createFirewall } from '../../src/firewall/firewall.js';
import type { MoatOptions } from '../../src/firewall/options.js';
import { close, listen, rulesFile, send } from '../adapters-helpers.js';

const hello = (_req: IncomingMessage, res: ServerResponse) => { res.end('hello'); };

async function nodeApp(options: MoatOptions): Promise<{ port: number; handler: ReturnType<typeof withMoat> }> {
  const handler = withMoat(hello, { logger: false, ...options });
  const server = createServer(handler);
  const port = await listen(server);
  after(() => close(server));
  return { port, handler };
}

function rules(document: object): string {
  const file = rulesFile(document);
  after(file.cleanup);
  return file.path;
}

test('a client remembered as clean is blocked by a rule pushed afterwards (node:http)', async () => {
  const { port, handler } = await nodeApp({ rules: rules({ block: { paths: ['/wp-admin'] } }), trustedProxies: [] });
  for (let k = 0; k < 20; k++) assert.equal((await send(port, { path: '/feed' })).status, 200);
  // The hub pushes a block for the very address the memo holds: the new rules come as a new engine.
  const previous = handler.firewall.setEngine(Engine.open({ rules: rules({ block: { ips: ['127.0.0.1'] } }) }));
  previous?.close?.();
  const blocked = await send(port, { path: '/feed' });
  assert.equal(blocked.status, 403);
  assert.equal(blocked.body, 'Blocked');
});

test('a temporary allow ends on time for a client that kept sending requests (Express)', async () => {
  let now = Date.UTC(2026, 0, 1);
  const firewall = createFirewall({
    rules: rules({
      allow: { ips: [{ value: '127.0.0.1', expires: new Date(now + 60_000).toISOString() }] },
      block: { ips: ['127.0.0.0/8'] },
    }),
    trustedProxies: [], logger: false, now: () => now,
  });
  const app = express();
  app.use(expressMoat(firewall));
  app.get('/feed', (_req, res) => { res.send('feed'); });
  const server = createServer(app);
  const port = await listen(server);
  after(() => close(server));
  for (let k = 0; k < 20; k++) assert.equal((await send(port, { path: '/feed' })).status, 200, 'allowed while the allow lasts');
  now += 61_000;
  assert.equal((await send(port, { path: '/feed' })).status, 403, 'the expired allow must not be remembered');
});

test('a monitored client is recorded on every request, not only on the first (node:http)', async () => {
  const monitoredDecisions: number[] = [];
  const { port } = await nodeApp({
    rules: rules({ block: { ips: [{ value: '127.0.0.1', mode: 'monitor' }] } }),
    trustedProxies: [],
    onDecision: (decision) => { monitoredDecisions.push(decision.monitored.length); },
  });
  for (let k = 0; k < 25; k++) assert.equal((await send(port, { path: '/feed' })).status, 200);
  assert.equal(monitoredDecisions.length, 25);
  assert.ok(monitoredDecisions.every((n) => n === 1), `monitor matches per request: ${monitoredDecisions.join(',')}`);
});

test('a flood of rotating addresses cannot make a blocked address pass through the memo (node:http, X-Forwarded-For)', async () => {
  const { port } = await nodeApp({
    rules: rules({ block: { ips: ['10.9.1.0/24', '2001:db8:0:1::/64'] } }),
    trustedProxies: ['127.0.0.1'],
  });
  // 400 addresses: more than the memo's 256 slots, so entries collide and are replaced all the time.
  const addresses: { ip: string; blocked: boolean }[] = [];
  for (let k = 0; k < 200; k++) {
    addresses.push({ ip: `10.9.${k % 3}.${(k * 7) % 256}`, blocked: k % 3 === 1 });
    addresses.push({ ip: `2001:db8:0:${k % 2}::${k.toString(16)}`, blocked: k % 2 === 1 });
  }
  // Each address twice, clean and blocked ones interleaved, so every blocked address follows clean ones.
  const order = [...addresses, ...addresses.slice().reverse()];
  const wrong: string[] = [];
  for (let k = 0; k < order.length; k += 50) {
    const batch = order.slice(k, k + 50);
    const answers = await Promise.all(batch.map((a) => send(port, { path: '/feed', headers: { 'x-forwarded-for': a.ip } })));
    answers.forEach((r, i) => {
      if (r.status !== (batch[i]!.blocked ? 403 : 200)) wrong.push(`${batch[i]!.ip}: ${r.status}`);
    });
  }
  assert.deepEqual(wrong, []);
});
