// A request from a trusted proxy whose client-IP header is absent or unusable is judged by the proxy's
// own address. A client can make the header unusable on purpose (garbage at its right end, a one-address
// header sent twice, an unclosed quote in Forwarded), so that address must never be allowed by an IP
// allow rule: proxies often sit in a network the operator allows (10.0.0.0/8, loopback), and the client
// would be judged as that network, past every block rule. And an unclosed quote in a client's Forwarded
// element swallowed the element the proxy appended after it, which made any client the proxy.
// Real node:http server on 127.0.0.1 (the trusted loopback proxy), raw requests.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { withMoat } from '../../src/adapters/node.js';
import { Engine } from '../../src/engine/engine.js';
import { createFirewall } from '../../src/firewall/firewall.js';
import { close, listen, rulesFile } from '../adapters-helpers.js';
import { sendOpen } from './request-apps.js';

const RULES = { allow: { ips: ['127.0.0.0/8'] }, block: { ips: ['203.0.113.66'], paths: ['/admin'] } };
const rules = rulesFile(RULES);
after(() => rules.cleanup());

async function serve(ipHeader: 'x-forwarded-for' | 'forwarded' | 'x-real-ip') {
  const firewall = createFirewall({ rules: rules.path, logger: false, trustedProxies: ['loopback'], ipHeader });
  const server = createServer(withMoat((_req, res) => res.end('app'), firewall));
  const port = await listen(server);
  return { firewall, port, stop: async () => { await close(server); firewall.close(); } };
}

test('Forwarded: a client\'s unclosed quote does not swallow the element the proxy appended', async () => {
  const { firewall, port, stop } = await serve('forwarded');
  try {
    // The proxy appended `for=203.0.113.66` (the blocked client) after what the client sent.
    for (const sent of ['for="198.51.100.7', 'for="', 'for=1.1.1.1;x="a']) {
      const res = await sendOpen(port, { path: '/', headers: { forwarded: `${sent}, for=203.0.113.66` } });
      assert.equal(res.status, 403, `${sent}: judged as the client the proxy named`);
    }
    assert.equal(firewall.stats().ipHeaderMissing, 0);
    assert.equal((await sendOpen(port, { path: '/', headers: { forwarded: 'for=198.51.100.7' } })).status, 200);
  } finally {
    await stop();
  }
});

test('an unusable header leaves the proxy\'s address, which IP allow rules never let through', async () => {
  for (const [ipHeader, headers] of [
    ['x-forwarded-for', { 'x-forwarded-for': '198.51.100.7, junk' }],
    ['x-forwarded-for', { 'x-forwarded-for': ',' }],
    ['x-real-ip', { 'x-real-ip': '198.51.100.7, 203.0.113.1' }],
    ['forwarded', { forwarded: 'for=unknown' }],
    ['x-forwarded-for', {}],
  ] as const) {
    const { firewall, port, stop } = await serve(ipHeader);
    try {
      const label = JSON.stringify(headers);
      assert.equal((await sendOpen(port, { path: '/admin', headers })).status, 403, `${label}: the path rule judges it, no allow`);
      assert.equal((await sendOpen(port, { path: '/', headers })).status, 200, `${label}: nothing else blocks it (a health check passes)`);
      assert.equal(firewall.stats().ipHeaderMissing, 2);
      // The proxy itself naming a client in the allowed network is allowed, as before.
      assert.equal((await sendOpen(port, { path: '/admin', headers: ipHeader === 'forwarded' ? { forwarded: 'for=127.0.0.9' } : { [ipHeader]: '127.0.0.9' } })).status, 200, 'a proven allowed client');
    } finally {
      await stop();
    }
  }
});

test('engine: ipSource proxy skips the IP allow stage, and its Passed decision is not remembered for a proven request', () => {
  const engine = Engine.open({ rules: rules.path });
  try {
    assert.equal(engine.evaluate({ ip: '127.0.0.1', path: '/admin' }).treatment, 'Allowed');
    assert.equal(engine.evaluate({ ip: '127.0.0.1', ipSource: 'proxy', path: '/admin' }).treatment, 'Blocked');
    // A Passed answer given without the allow stage must not be reused for the same address proven.
    for (let i = 0; i < 3; i++) assert.equal(engine.evaluate({ ip: '127.0.0.2', ipSource: 'proxy', path: '/x' }).treatment, 'Passed');
    assert.equal(engine.evaluate({ ip: '127.0.0.2', ipSource: 'x-forwarded-for', path: '/x' }).treatment, 'Allowed');
  } finally {
    engine.close();
  }
});
