// Fleet-wide auto-ban end to end with real processes: one hub, two node:http apps in managed mode (each
// its own child process, own sync directory), a scanner that hits app A until a threshold rule bans it,
// after which app B (which the scanner never touched) answers it 403, while an innocent client passes.
// The hub restarts and keeps the ban (an app started afterwards blocks the scanner too); then the ban is
// lifted and, with a second, short ban, expires: the apps let the scanner through again.
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createHub, type Hub } from '../src/index.js';
import type { HubStore } from '../src/store/store.js';
import { ADMIN_EMAIL, ADMIN_PASSWORD, Client, startHubWithSite } from './support/hub-fixture.js';
import { startManagedApp, type ManagedApp } from './support/managed-app.js';
import { createThreshold, listBans, waitFor } from './support/thresholds-kit.js';

type App = ManagedApp;

/** A request from `ip`, as the trusted proxy in front of the apps would forward it. */
async function statusFor(app: App, path: string, ip: string): Promise<number> {
  const response = await fetch(app.url + path, { headers: { 'x-forwarded-for': ip } });
  await response.arrayBuffer();
  return response.status;
}

describe('fleet-wide auto-ban across real processes', () => {
  it('a scanner banned on app A is answered 403 by app B, still after a hub restart; lifted or expired, the apps let it through again', async () => {
    const started = await startHubWithSite('fleet');
    const { siteId, apiKey } = started;
    const dataDir = started.hub.dataDir;
    let hub: Hub<HubStore> = started.hub;
    let client = started.client;
    const dirs = ['a', 'b', 'c'].map((name) => mkdtempSync(join(tmpdir(), `moat-ban-${name}-`)));
    const apps: App[] = [];
    try {
      const block = await client.api('POST', `/api/sites/${siteId}/rules`, { action: 'block', kind: 'path', value: '/wp-admin' });
      assert.equal(block.status, 201);
      const rule = await createThreshold(client, siteId, { name: 'scanner', threshold: 5, windowSeconds: 300, banSeconds: 3600 });
      // Short poll and flush intervals stand in for push sync; nothing below asserts a time.
      const options = (dir: string) => ({
        apiKey, hubUrl: hub.url, dir, customRulesIntervalMs: 150, longPollSeconds: 0, dataIntervalMs: 600_000,
        backoffBaseMs: 20, backoffMaxMs: 200, trustedProxies: ['127.0.0.1'], upsync: { flushIntervalMs: 100, batchSize: 50 },
      });
      apps.push(await startManagedApp(options(dirs[0]!)), await startManagedApp(options(dirs[1]!)));
      const [a, b] = apps as [App, App];
      const scanner = '203.0.113.66';
      const innocent = '198.51.100.1';

      assert.equal(await statusFor(b, '/', scanner), 200, 'B serves the scanner before any ban');
      for (let i = 0; i < 5; i++) assert.equal(await statusFor(a, `/wp-admin/${i}`, scanner), 403);
      await waitFor(async () => (await statusFor(b, '/', scanner)) === 403, 'app B to answer the scanner 403');
      assert.equal(await statusFor(b, '/', innocent), 200, 'an innocent client still passes on B');
      assert.equal(await statusFor(a, '/', innocent), 200, 'and on A');
      const [ban] = await listBans(client, siteId);
      assert.equal(ban!.key, scanner);

      // The hub restarts (same data dir and port): the ban survives, and an app started afterwards gets it.
      const port = Number(new URL(hub.url).port);
      await hub.close();
      hub = await createHub({ dataDir, host: '127.0.0.1', port, adminEmail: ADMIN_EMAIL, adminPassword: ADMIN_PASSWORD, print: () => undefined });
      client = new Client(hub.url);
      await client.login();
      const c = await startManagedApp(options(dirs[2]!));
      apps.push(c);
      assert.equal(await statusFor(c, '/', scanner), 403, 'an app that joined after the restart blocks the banned scanner');
      assert.equal(await statusFor(c, '/', innocent), 200);

      // One click (here the API) lifts it: both apps serve the scanner again.
      const lift = await client.api('POST', `/api/sites/${siteId}/bans/${ban!.id}/lift`);
      assert.equal(lift.status, 200, await lift.clone().text());
      await waitFor(async () => (await statusFor(b, '/', scanner)) === 200 && (await statusFor(a, '/', scanner)) === 200
        && (await statusFor(c, '/', scanner)) === 200, 'every app to drop the lifted ban');

      // A short ban expires by itself.
      const short = { name: 'scanner', condition: { requests: 'blocked' }, windowSeconds: 300, threshold: 5, key: 'ip', banSeconds: 3, mode: 'enforce', maxBansPerMinute: 60 };
      assert.equal((await client.api('PUT', `/api/sites/${siteId}/thresholds/${rule.id}`, short)).status, 200);
      const second = '203.0.113.67';
      for (let i = 0; i < 5; i++) assert.equal(await statusFor(a, `/wp-admin/${i}`, second), 403);
      await waitFor(async () => (await listBans(client, siteId)).some((b) => b.key === second), 'the second ban');
      await waitFor(async () => (await statusFor(b, '/', second)) === 200 && (await listBans(client, siteId)).length === 0, 'the short ban to expire on B');

      // The 403s the apps answered after the lift or the expiry, before their rules file caught up, were
      // reported (closing an app flushes its reports) and banned no one again.
      for (const app of apps.splice(0)) await app.close();
      await hub.context.thresholds.idle();
      assert.deepEqual(await listBans(client, siteId), [], 'the requests a ban blocked after it ended banned no one');
    } finally {
      for (const app of apps) await app.close();
      await hub.close();
      for (const dir of [...dirs, dataDir]) rmSync(dir, { recursive: true, force: true });
    }
  });
});
