// A status-based threshold rule end to end: a scanner probes a real managed app (its own process), the
// app answers 404 to each probe, the client reports each record with its response status, and the hub's
// rule "≥ 10 responses with status 404 in a minute → ban" bans the scanner: the app then answers it 403,
// while a client whose requests were answered 200 is never banned.
import { strict as assert } from 'node:assert';
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { startHubWithSite } from './support/hub-fixture.js';
import { createThreshold, listBans, waitFor } from './support/thresholds-kit.js';

const APP = new URL('./support/status-app-process.ts', import.meta.url).pathname;

async function startApp(options: object): Promise<{ url: string; close(): Promise<void> }> {
  const child = fork(APP, [JSON.stringify(options)], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    child.on('message', (m: { type: string; url?: string }) => { if (m.type === 'ready') resolve(m.url!); });
    child.once('exit', (code) => reject(new Error(`app exited (${code}) before it was ready`)));
  });
  return { url, close: async () => { if (child.exitCode === null) child.send({ type: 'close' }); await exited; } };
}

async function statusFor(url: string, ip: string): Promise<number> {
  const response = await fetch(url, { headers: { 'x-forwarded-for': ip } });
  await response.arrayBuffer();
  return response.status;
}

test('a scanner whose 10 probes a managed app answers 404 is banned by a "status 404" threshold rule and then answered 403; a client served 200 is not', async () => {
  const { hub, client, siteId, apiKey } = await startHubWithSite('status');
  const dir = mkdtempSync(join(tmpdir(), 'moat-status-app-'));
  let app: { url: string; close(): Promise<void> } | null = null;
  try {
    await createThreshold(client, siteId, { name: '404 scanner', condition: { requests: 'any', status: 404 }, threshold: 10, windowSeconds: 60 });
    const started = await startApp({
      apiKey, hubUrl: hub.url, dir, customRulesIntervalMs: 150, longPollSeconds: 0, dataIntervalMs: 600_000,
      backoffBaseMs: 20, backoffMaxMs: 200, trustedProxies: ['127.0.0.1'], upsync: { flushIntervalMs: 100 },
    });
    app = started;
    const scanner = '203.0.113.44';
    const visitor = '198.51.100.9';
    for (let i = 0; i < 20; i++) assert.equal(await statusFor(`${started.url}/`, visitor), 200);
    // The same probe again and again: without statuses these would be folded into one status-less count.
    for (let i = 0; i < 10; i++) assert.equal(await statusFor(`${started.url}/nope/.env`, scanner), 404);
    await waitFor(async () => (await statusFor(`${started.url}/`, scanner)) === 403, 'the app to answer the banned scanner 403');
    const bans = await listBans(client, siteId);
    assert.deepEqual(bans.map((b) => b.key), [scanner]);
    assert.equal(await statusFor(`${started.url}/`, visitor), 200, 'the visitor served 200 is not banned');
  } finally {
    await app?.close();
    await hub.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
