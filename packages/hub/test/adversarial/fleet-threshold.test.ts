// A scanner spreading its requests over several hub instances (behind one load balancer, on one PostgreSQL
// database) so that no instance alone sees it cross a threshold: the hubs count together and ban it
// once; below the threshold in sum, nobody is banned. Two real hub processes, reports through real upsync
// requests, the default fleet settings; times are only generous guards. And a flood of distinct addresses
// meant to turn into as many shared-count writes: only keys that matter are written, and at most a
// bounded number per flush, the rest dropped and counted.
import { strict as assert } from 'node:assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { createHub, type Hub } from '../../src/index.js';
import type { HubStore } from '../../src/store/store.js';
import type { ThresholdRecord } from '../../src/thresholds/threshold-evaluator.js';
import type { ThresholdStats } from '../../src/thresholds/ban-service.js';
import { ADMIN_EMAIL, ADMIN_PASSWORD, Client, createSiteWithKey } from '../support/hub-fixture.js';
import { freshDatabase, type TestDatabase } from '../support/postgres.js';
import { createThreshold, listBans, report, waitFor } from '../support/thresholds-kit.js';

const HUB_PROCESS = fileURLToPath(new URL('../support/hub-process.ts', import.meta.url));

interface HubProcess {
  url: string;
  child: ChildProcess;
}

async function startHubProcess(dataDir: string, databaseUrl: string, keyFile: string): Promise<HubProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', HUB_PROCESS, dataDir, databaseUrl, keyFile], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! });
  const url = await new Promise<string>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`hub process exited with ${code}`)));
    lines.once('line', (line) => resolve((JSON.parse(line) as { url: string }).url));
  });
  return { url, child };
}

async function stopHubProcess(hub: HubProcess | undefined): Promise<void> {
  if (!hub || hub.child.exitCode !== null) return;
  const exited = new Promise((resolve) => hub.child.once('exit', resolve));
  hub.child.kill('SIGTERM');
  await exited;
}

async function thresholdStats(client: Client, siteId: number): Promise<ThresholdStats> {
  const response = await client.api('GET', `/api/sites/${siteId}/thresholds`);
  assert.equal(response.status, 200);
  // The hub-wide figures (fleet counting included), which the API gives admins as `hubStats`.
  return ((await response.json()) as { hubStats: ThresholdStats }).hubStats;
}

describe('a scanner spread over two hub instances on one PostgreSQL database', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'moat-fleet-'));
  let db: TestDatabase;
  let a: HubProcess;
  let b: HubProcess;
  let onA: Client;
  let onB: Client;
  let siteId: number;
  let apiKey: string;

  before(async () => {
    db = await freshDatabase('moat_fleet');
    const key = join(scratch, 'signing-key.pem');
    // A first, with the site and its threshold rule; then B, which loads the rules when it starts (a hub
    // picks up rules another hub made within its 30 s refresh, too long to wait for here).
    a = await startHubProcess(join(scratch, 'a'), db.url, key);
    onA = new Client(a.url);
    await onA.login();
    ({ siteId, apiKey } = await createSiteWithKey(onA, 'shop'));
    await createThreshold(onA, siteId, { name: 'scanner', threshold: 5, windowSeconds: 300, banSeconds: 3600 });
    b = await startHubProcess(join(scratch, 'b'), db.url, key);
    onB = new Client(b.url);
    await onB.login();
  });
  after(async () => {
    await Promise.all([stopHubProcess(a), stopHubProcess(b)]);
    await db?.drop();
    rmSync(scratch, { recursive: true, force: true });
  });

  it('3 blocked requests reported to hub A and 3 to hub B (threshold 5, neither crosses alone) get the scanner banned once', async () => {
    const scanner = '203.0.113.77';
    const started = Date.now();
    assert.equal((await report(a.url, apiKey, scanner, 3)).status, 200);
    assert.equal((await report(b.url, apiKey, scanner, 3)).status, 200);
    await waitFor(async () => (await listBans(onB, siteId)).some((ban) => ban.key === scanner), 'the scanner banned', 60_000);
    const elapsed = Date.now() - started;
    // A guard only (the bound with default settings is 5 s; a loaded test machine gets slack).
    assert.ok(elapsed < 30_000, `banned after ${elapsed} ms`);
    const bans = (await listBans(onA, siteId)).filter((ban) => ban.key === scanner);
    assert.equal(bans.length, 1, 'stored once, whichever hub found it');
    assert.match(bans[0]!.reason, /scanner: [56] matching requests/);
    const [statsA, statsB] = await Promise.all([thresholdStats(onA, siteId), thresholdStats(onB, siteId)]);
    assert.equal(statsA.crossings + statsB.crossings >= 1, true);
    assert.equal((statsA.fleet?.fleetCrossings ?? 0) + (statsB.fleet?.fleetCrossings ?? 0) >= 1, true, 'found on the fleet\'s sum');
  });

  it('2 blocked requests to each hub (4 in sum, threshold 5) ban nobody, once both hubs shared their counts', async () => {
    const visitor = '203.0.113.78';
    const [beforeA, beforeB] = await Promise.all([thresholdStats(onA, siteId), thresholdStats(onB, siteId)]);
    assert.equal((await report(a.url, apiKey, visitor, 2)).status, 200);
    assert.equal((await report(b.url, apiKey, visitor, 2)).status, 200);
    // Both hubs have written these counts and judged the sums: a crossing would be counted by now.
    await waitFor(async () => {
      const [statsA, statsB] = await Promise.all([thresholdStats(onA, siteId), thresholdStats(onB, siteId)]);
      return statsA.fleet!.written > beforeA.fleet!.written && statsB.fleet!.written > beforeB.fleet!.written && statsA.fleet!.pending === 0 && statsB.fleet!.pending === 0;
    }, 'both hubs to share their counts', 60_000);
    const [statsA, statsB] = await Promise.all([thresholdStats(onA, siteId), thresholdStats(onB, siteId)]);
    assert.equal(statsA.crossings + statsB.crossings, beforeA.crossings + beforeB.crossings, 'no crossing');
    assert.deepEqual((await listBans(onA, siteId)).filter((ban) => ban.key === visitor), []);
  });
});

describe('a flood of distinct addresses against fleet counting', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'moat-fleet-flood-'));
  let db: TestDatabase;
  let hub: Hub<HubStore>;
  let siteId: number;

  before(async () => {
    db = await freshDatabase('moat_fleet_flood');
    hub = await createHub({
      dataDir: join(scratch, 'hub'), databaseUrl: db.url, host: '127.0.0.1', port: 0, adminEmail: ADMIN_EMAIL, adminPassword: ADMIN_PASSWORD,
      rollupIntervalMs: 60_000, print: () => undefined, databasePoolSize: 4, logger: false,
      // No timed flush: the test flushes, so what waits and what is dropped is exact.
      thresholds: { fleetFlushMs: 3_600_000, maxPendingCounts: 1000 },
    });
    const admin = new Client(hub.url);
    await admin.login();
    ({ siteId } = await createSiteWithKey(admin, 'shop'));
  });
  after(async () => {
    await hub?.close();
    await db?.drop();
    rmSync(scratch, { recursive: true, force: true });
  });

  const flood = (count: number, prefix: string): ThresholdRecord[] => Array.from({ length: count }, (_, i) => ({
    ts: Math.floor(Date.now() / 1000), ip: `${prefix}.${(i >> 8) & 255}.${i & 255}`, method: 'GET', path: '/wp-admin', treatment: 'Blocked',
  }));
  const sharedRows = async () => {
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      return Number((await client.query<{ n: string }>('SELECT count(*) AS n FROM threshold_counts')).rows[0]!.n);
    } finally {
      await client.end();
    }
  };

  it('5 000 addresses seen once each against "20 in 5 min" write nothing: one request is below every hub\'s share of the threshold', async () => {
    const client = new Client(hub.url);
    await client.login();
    const rule = await createThreshold(client, siteId, { name: 'twenty', threshold: 20 });
    hub.context.thresholds.observe(siteId, flood(5000, '10.1'));
    await hub.context.thresholds.idle();
    await hub.context.thresholds.flushFleet();
    const fleet = hub.context.thresholds.stats().fleet!;
    assert.deepEqual({ pending: fleet.pending, written: fleet.written, dropped: fleet.dropped }, { pending: 0, written: 0, dropped: 0 });
    assert.equal(await sharedRows(), 0);
    await client.api('DELETE', `/api/sites/${siteId}/thresholds/${rule.id}`);
  });

  it('5 000 addresses against "2 in 5 min" (every address matters): 1 000 wait for the flush, 4 000 are dropped and counted, 1 000 rows written', async () => {
    const client = new Client(hub.url);
    await client.login();
    await createThreshold(client, siteId, { name: 'two', threshold: 2 });
    hub.context.thresholds.observe(siteId, flood(5000, '10.2'));
    await hub.context.thresholds.idle();
    let fleet = hub.context.thresholds.stats().fleet!;
    assert.equal(fleet.pending, 1000, 'at the cap');
    assert.equal(fleet.dropped, 4000, 'every increment beyond it counted');
    await hub.context.thresholds.flushFleet();
    fleet = hub.context.thresholds.stats().fleet!;
    assert.deepEqual({ pending: fleet.pending, written: fleet.written, flushes: fleet.flushes }, { pending: 0, written: 1000, flushes: 1 });
    assert.equal(await sharedRows(), 1000, 'one statement wrote the bounded batch');
    const page = await (await client.request(`/sites/${siteId}/thresholds`)).text();
    assert.match(page, /data-fleet-counts[^>]*>[^<]*1,000 counts shared[\s\S]*4,000 counts not shared/);
    // Housekeeping keeps counts a window still holds, and deletes those of a rule that is gone.
    assert.equal((await hub.context.thresholds.housekeep()).counts, 0);
    const [rule] = await hub.context.thresholds.listRules(siteId);
    assert.equal((await client.api('DELETE', `/api/sites/${siteId}/thresholds/${rule!.id}`)).status, 204);
    assert.equal((await hub.context.thresholds.housekeep()).counts, 1000);
    assert.equal(await sharedRows(), 0);
  });
});
