// Passed requests counted instead of sent one by one (reportPassed 'aggregate', the managed-mode
// default) must leave the hub's totals exact: a real Moat managed firewall serves a node:http app, and
// its reports reach a real hub through a TCP proxy that can cut the hub off. Traffic of three keys runs
// over several aggregation windows, with an outage in between and a close right after the last burst;
// the hub must then hold exactly the number of requests sent, per key, in every total, top list and IP
// count, while its request log holds a sample and says so. Both stores: SQLite and PostgreSQL.
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createManagedFirewall } from 'moat-waf';
import { withMoat } from 'moat-waf/adapters/node';
import { createHub, type Hub } from '../src/index.js';
import type { HubStore } from '../src/store/store.js';
import { ADMIN_EMAIL, ADMIN_PASSWORD, Client, createSiteWithKey, startTestHub } from './support/hub-fixture.js';
import { freshDatabase } from './support/postgres.js';

async function waitFor(condition: () => boolean | Promise<boolean>, what: () => string, guardMs = 60_000): Promise<void> {
  const deadline = Date.now() + guardMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what()}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A TCP proxy to the hub that refuses every connection while `down` (an outage as the client sees it). */
async function outageProxy(hubPort: number): Promise<{ url: string; down: boolean; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const state = { down: false };
  const server = createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => undefined);
    if (state.down) return void client.destroy();
    const upstream = connect(hubPort, '127.0.0.1');
    sockets.add(upstream);
    upstream.on('close', () => sockets.delete(upstream));
    upstream.on('error', () => client.destroy());
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get down() { return state.down; },
    set down(value: boolean) {
      state.down = value;
      // Cut what is open too: a keep-alive connection would otherwise outlive the outage.
      if (value) for (const s of sockets) s.destroy();
    },
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const KEYS = [
  { path: '/shop', userAgent: 'agent-one/1.0' },
  { path: '/cart', userAgent: 'agent-two/2.0' },
  { path: '/shop', userAgent: 'agent-three/3.0' },
] as const;

async function totalsStayExact(hub: Hub<HubStore>): Promise<void> {
  const admin = new Client(hub.url);
  assert.equal((await admin.login()).status, 303);
  const { siteId, apiKey } = await createSiteWithKey(admin, 'counted shop');
  const proxy = await outageProxy(Number(new URL(hub.url).port));
  const dir = mkdtempSync(join(tmpdir(), 'moat-aggregates-'));
  const fw = createManagedFirewall({
    apiKey, hubUrl: proxy.url, dir, customRulesIntervalMs: 600_000, dataIntervalMs: 600_000, backoffBaseMs: 10, backoffMaxMs: 40,
    logger: false, env: {}, upsync: { batchSize: 100, flushIntervalMs: 1500, passedSamplesPerSecond: 0 },
  });
  const app: Server = createHttpServer(withMoat((_req, res) => { res.end('ok'); }, fw));
  const sent = new Map<string, number>();
  let closed = false;
  try {
    await fw.ready();
    await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
    const appUrl = `http://127.0.0.1:${(app.address() as AddressInfo).port}`;
    const burst = async (perKey: number) => {
      for (let i = 0; i < perKey; i++) {
        for (const key of KEYS) {
          const response = await fetch(`${appUrl}${key.path}`, { headers: { 'user-agent': key.userAgent } });
          assert.equal(response.status, 200);
          await response.arrayBuffer();
          sent.set(key.userAgent, (sent.get(key.userAgent) ?? 0) + 1);
        }
      }
    };
    const total = () => [...sent.values()].reduce((a, b) => a + b, 0);
    // Longer than flushIntervalMs, so the open windows close (a guard, not a speed assumption: nothing
    // below depends on how many windows there were).
    const windowsClosed = async () => new Promise((resolve) => setTimeout(resolve, 1700));

    await burst(60);
    await windowsClosed();
    await waitFor(() => fw.status().upsync.sent === total(), () => `the first burst sent (${JSON.stringify(fw.status().upsync)})`);

    // The hub goes away: counts of windows that close now wait in the queue, retried with backoff.
    proxy.down = true;
    await burst(80);
    await windowsClosed();
    await burst(40);
    await windowsClosed();
    await waitFor(() => fw.status().upsync.failures > 0, () => 'a failed send during the outage');
    assert.ok(fw.status().upsync.sent < total(), 'nothing got through the outage');
    proxy.down = false;
    await burst(50);

    // Shutdown right after a burst: the open window's counts go with the close.
    await fw.close();
    closed = true;
    const st = fw.status().upsync;
    assert.equal(st.dropped, 0, JSON.stringify(st));
    assert.equal(st.recorded, total());
    assert.equal(st.sent, total(), 'every request reached the hub, as a record or in a count');
    assert.ok(st.aggregated > 0, 'Passed requests travelled as counts');

    for (let i = 0; i < 100 && (await hub.store.rollUp()) > 0; i++);
    const from = Math.floor(Date.now() / 1000) - 3600;
    const to = from + 7200;
    const totals = await hub.store.totals(siteId, from, to);
    assert.equal(totals.total, total(), 'the overview total is exact');
    assert.equal(totals.passed, total());
    const agents = await hub.store.top(siteId, 'userAgent', from, to, 10);
    for (const key of KEYS) {
      assert.equal(agents.find((a) => a.value === key.userAgent)?.total, sent.get(key.userAgent), `top user agents: ${key.userAgent}`);
    }
    const paths = await hub.store.top(siteId, 'path', from, to, 10);
    assert.equal(paths.find((p) => p.value === '/shop')?.total, sent.get('agent-one/1.0')! + sent.get('agent-three/3.0')!);
    assert.equal(paths.find((p) => p.value === '/cart')?.total, sent.get('agent-two/2.0'));
    const ipHours = await hub.store.valueHours(siteId, 'ip', '127.0.0.1', from, to);
    assert.equal(ipHours.reduce((sum, h) => sum + h.total, 0), total(), 'the IP page counts every request');

    // The request log holds the sample, and says how many it shows.
    let listed = 0;
    let before: string | undefined;
    do {
      const page = await hub.store.queryReports(siteId, {}, { limit: 500, before });
      listed += page.rows.length;
      before = page.next ?? undefined;
    } while (before !== undefined);
    const sampling = await hub.store.passedSampling(siteId, from, to);
    assert.equal(sampling.passed, total());
    assert.equal(sampling.passed - sampling.counted, listed, 'N shown of M: N is what the log lists');
    assert.equal(sampling.counted, st.aggregated, 'every counted request was stored as a count, once');
    assert.ok(listed < total());
    const page = await admin.request(`/sites/${siteId}/requests`);
    const text = await page.text();
    assert.match(text, new RegExp(`Passed requests are sampled: ${listed.toLocaleString('en-US')} shown of\\s+${total().toLocaleString('en-US')}`));
  } finally {
    app.closeAllConnections();
    await new Promise<void>((resolve) => app.close(() => resolve()));
    if (!closed) await fw.close();
    await proxy.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('Passed requests as counts: the hub totals stay exact across windows, an outage and a close', () => {
  it('K requests of three keys with a hub outage in between: a SQLite hub counts exactly K per key', async () => {
    const hub = await startTestHub();
    try {
      await totalsStayExact(hub);
    } finally {
      await hub.stop();
    }
  });

  it('the same on a PostgreSQL hub', async () => {
    const db = await freshDatabase('moat_counts');
    const dataDir = mkdtempSync(join(tmpdir(), 'moat-aggregates-pg-'));
    const hub = await createHub({
      dataDir, databaseUrl: db.url, host: '127.0.0.1', port: 0, adminEmail: ADMIN_EMAIL, adminPassword: ADMIN_PASSWORD,
      rollupIntervalMs: 60_000, print: () => undefined, databasePoolSize: 4,
    });
    try {
      await totalsStayExact(hub);
    } finally {
      await hub.close();
      await db.drop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
