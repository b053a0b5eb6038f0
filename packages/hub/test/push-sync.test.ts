import { strict as assert } from 'node:assert';
import { Agent, createServer, request as httpRequest, type Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ManagedFirewall } from 'moat-waf';
import { createHub } from '../src/index.js';
import { startTestHub, type TestHub } from './support/hub-fixture.js';
import { longPoll, waitUntil } from './support/long-poll-client.js';

const HOUR = 3_600_000;
const actor = { userId: null, email: 'push-test', ip: null };
const blockIp = (hub: { context: TestHub['context'] }, siteId: number, ip: string) =>
  hub.context.rules.create(siteId, { action: 'block', kind: 'ip', value: ip, mode: 'block', note: undefined, expires: undefined }, actor);
const requestFrom = (ip: string) => ({ ip, method: 'GET', host: 'shop.example', path: '/' });

function managedClient(hub: { url: string; context: TestHub['context'] }, apiKey: string, dir: string, extra: Record<string, unknown> = {}): ManagedFirewall {
  return new ManagedFirewall({
    apiKey, hubUrl: hub.url, dir, customRulesIntervalMs: HOUR, publicKey: hub.context.signingKey?.publicKeyBase64,
    upsync: false, logger: false, ...extra,
  });
}

describe('push-speed downsync (long-poll) with real Moat clients', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'moat-push-'));
  after(() => rmSync(scratch, { recursive: true, force: true }));

  it('a rule change is enforced by a client polling every hour: the held request brings it', async () => {
    // A hold longer than the guard below: without the wake-up the change could not arrive in time.
    const hub = await startTestHub({ createDemoSite: true, longPoll: { timeoutMs: 120_000 } });
    const { demoApiKey: apiKey, demoSiteId: siteId } = hub.firstRun;
    const firewall = managedClient(hub, apiKey!, join(scratch, 'c1'));
    try {
      await firewall.ready();
      await waitUntil(() => hub.context.waiters.stats().waiting === 1, 'the client to be held');
      const before = firewall.status().customRules;
      assert.equal(before.push, 'held', 'status() shows the rules are pushed');
      assert.equal(firewall.status().dataSubscriptions.push, 'off', 'data files are polled');
      assert.equal(firewall.currentEngine?.evaluate(requestFrom('203.0.113.7')).treatment, 'Passed');
      await blockIp(hub, siteId!, '203.0.113.7');
      await waitUntil(() => firewall.currentEngine?.evaluate(requestFrom('203.0.113.7')).treatment === 'Blocked', 'the change to be enforced', 60_000);
      assert.equal(hub.context.waiters.stats().woken, 1, 'the held request was woken by the change');
      assert.equal(firewall.status().customRules.downloads, before.downloads + 1, 'one download brought it');
      assert.equal(hub.context.waiters.stats().timedOut, 0, 'no hold ran out: this was push, not a poll');
      await waitUntil(() => hub.context.waiters.stats().waiting === 1, 'the client to be held again at once');
    } finally {
      await firewall.close();
      await hub.stop();
    }
  });

  it('against an old hub (no long-poll acknowledgement) the client polls at its interval and still gets changes', async () => {
    const hub = await startTestHub({ createDemoSite: true });
    const { demoApiKey: apiKey, demoSiteId: siteId } = hub.firstRun;
    // An "old hub": the real hub behind a proxy that drops the wait parameter and the answer header.
    const old = await oldHubProxy(hub.url);
    const firewall = managedClient({ url: old.url, context: hub.context }, apiKey!, join(scratch, 'c-old'), {
      customRulesIntervalMs: 300, jitter: 0,
    });
    try {
      await firewall.ready();
      await waitUntil(() => firewall.status().customRules.notModified >= 3, 'three polls at the interval');
      assert.equal(hub.context.waiters.stats().held, 0, 'nothing was held');
      assert.equal(firewall.status().customRules.push, 'none', 'status() shows the hub does not hold');
      assert.ok(old.seen.length >= 3 && old.seen.every((q) => q.has('wait')), 'the client kept offering to wait');
      await blockIp(hub, siteId!, '203.0.113.8');
      await waitUntil(() => firewall.currentEngine?.evaluate(requestFrom('203.0.113.8')).treatment === 'Blocked', 'the change by polling');
    } finally {
      await firewall.close();
      await old.close();
      await hub.stop();
    }
  });

  it('a hub restart: held clients are released at once, come back spread out, and get a change made while they were away', async () => {
    const dataDir = join(scratch, 'restart-hub');
    const options = {
      dataDir, host: '127.0.0.1', adminEmail: 'admin@example.test', adminPassword: 'correct horse battery staple',
      rollupIntervalMs: 60_000, print: () => undefined, createDemoSite: true, longPoll: { timeoutMs: 120_000 },
    };
    let hub = await createHub({ ...options, port: 0 });
    const port = Number(new URL(hub.url).port);
    const { demoApiKey: apiKey, demoSiteId: siteId } = hub.firstRun;
    const clients = Array.from({ length: 12 }, (_, i) => managedClient(hub, apiKey!, join(scratch, `r${i}`)));
    try {
      await Promise.all(clients.map((c) => c.ready()));
      await waitUntil(() => hub.context.waiters.stats().waiting === clients.length, 'every client to be held');
      await hub.close();
      assert.equal(hub.context.waiters.stats().released, clients.length, 'shutdown answered every held request');

      // The change happens while no hub listens on the clients' port.
      const elsewhere = await createHub({ ...options, port: 0 });
      await blockIp(elsewhere, siteId!, '203.0.113.9');
      await elsewhere.close();

      const arrivals: number[] = [];
      hub = await createHub({
        ...options, port,
        onRequest: (req, _reply, done) => {
          if (req.url.startsWith('/v2/downsync/custom_rules/')) arrivals.push(performance.now());
          done();
        },
      });
      await waitUntil(() => clients.every((c) => c.currentEngine?.evaluate(requestFrom('203.0.113.9')).treatment === 'Blocked'),
        'every client to enforce the change made while it was away', 60_000);
      const first = arrivals.slice(0, clients.length);
      const spread = Math.max(...first) - Math.min(...first);
      assert.ok(new Set(first.map((t) => Math.floor(t))).size > clients.length / 2, 'not all in the same millisecond');
      assert.ok(spread > 100, `reconnects spread by jitter and backoff (spread ${spread.toFixed(0)} ms)`);
    } finally {
      await Promise.all(clients.map((c) => c.close()));
      await hub.close();
    }
  });

  it('1,000 held requests: all held under the cap, over-cap ones answered at once, all woken by one change', async () => {
    const hub = await startTestHub({ createDemoSite: true, longPoll: { timeoutMs: 120_000, maxWaiters: 1000, maxWaitersPerKey: 1000 } });
    const { demoApiKey: apiKey, demoSiteId: siteId } = hub.firstRun;
    const agent = new Agent({ keepAlive: true, maxSockets: 1100 });
    try {
      const clientDb = (await hub.context.builder.current(siteId!, 'moat')).fileName;
      const held = Array.from({ length: 1000 }, () => longPoll(hub.url, apiKey!, { clientDb, wait: '25', agent }));
      await waitUntil(() => hub.context.waiters.stats().waiting === 1000, '1,000 held requests', 60_000);
      const overCap = await Promise.all(Array.from({ length: 20 }, () => longPoll(hub.url, apiKey!, { clientDb, wait: '25', agent })));
      assert.ok(overCap.every((a) => a.status === 304 && a.wait === 'busy'), 'over the cap: 304 at once, told to poll');
      assert.equal(hub.context.waiters.stats().refusedHub, 20);
      assert.equal(hub.context.waiters.stats().waiting, 1000, 'the cap holds');

      const built = await blockIp(hub, siteId!, '203.0.113.10').then(() => hub.context.builder.current(siteId!, 'moat'));
      const answers = await Promise.all(held);
      assert.ok(answers.every((a) => a.status === 200 && a.fileName === built.fileName && a.bytes > 0), 'each got the new file');
      assert.equal(hub.context.waiters.stats().woken, 1000);
      assert.equal(hub.context.waiters.stats().waiting, 0);
    } finally {
      agent.destroy();
      await hub.stop();
    }
  });
});

/** A proxy standing in for a hub that predates long-poll: strips `wait` and the X-Moat-Wait header. */
async function oldHubProxy(target: string): Promise<{ url: string; seen: URLSearchParams[]; close(): Promise<void> }> {
  const seen: URLSearchParams[] = [];
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', target);
    if (url.pathname.includes('/custom_rules/')) seen.push(new URLSearchParams(url.searchParams));
    url.searchParams.delete('wait');
    const upstream = httpRequest(url, { method: req.method, headers: { ...req.headers, host: url.host } }, (answer) => {
      const headers = { ...answer.headers };
      delete headers['x-moat-wait'];
      res.writeHead(answer.statusCode ?? 502, headers);
      answer.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}
