// A client that knows several hubs, against real HTTP servers on 127.0.0.1: when the first hub is down
// or answers 503, rules come from the second and reports go to the second; when the first comes back the
// client stays where it is (no flapping); downsync and upsync follow whichever hub answers each of them.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { test } from 'node:test';
import { withMoat } from '../src/adapters/node.js';
import { createManagedFirewall, type ManagedFirewall, type ManagedFirewallOptions } from '../src/managed/managed-firewall.js';
import { resolveSyncOptions } from '../src/sync/managed-options.js';
import { FakeHub, rulesBytes, tempDir, waitFor } from './helpers/fake-hub.js';
import { serveApp } from './helpers/served-app.js';

const FAST = {
  customRulesIntervalMs: 20, dataIntervalMs: 60_000, watchIntervalMs: 10, backoffBaseMs: 10, backoffMaxMs: 40,
  requestTimeoutMs: 5000, readyTimeoutMs: 10_000, env: {},
} satisfies ManagedFirewallOptions;

interface App {
  fw: ManagedFirewall;
  get(path: string): Promise<number>;
  lines: string[];
  stop(): Promise<void>;
}

async function app(hubUrl: string | string[], extra: Partial<ManagedFirewallOptions> = {}): Promise<App> {
  const { dir, cleanup } = tempDir();
  const lines: string[] = [];
  const logger = { error: (_o: object, m?: string) => lines.push(m ?? ''), warn: (_o: object, m?: string) => lines.push(m ?? '') };
  const fw = createManagedFirewall({
    ...FAST, apiKey: 'test-key-123456', hubUrl, dir, logger, trustedProxies: [],
    upsync: { batchSize: 1, flushIntervalMs: 20 }, ...extra,
  });
  const server: Server = createServer(withMoat((_req, res) => { res.end('ok'); }, fw));
  return { fw, lines, ...(await serveApp(server, fw, cleanup)) };
}

/** A hub whose rules block `path`; it has no data file (404, which is an answer, not an outage). */
async function hubBlocking(path: string): Promise<FakeHub> {
  const hub = await new FakeHub().start();
  hub.serve('custom_rules', rulesBytes({ block: { paths: [path] } }).body, `rules-${path.slice(1)}.db`);
  hub.fault('data_subscriptions', { kind: 'status', status: 404 });
  return hub;
}

function paths(hub: FakeHub): unknown[] {
  return hub.records().map((r) => r.path);
}

test('the first hub down: rules come from the second, reports go to the second; it comes back: no flapping', async () => {
  const a = await hubBlocking('/from-a');
  const b = await hubBlocking('/from-b');
  const aPort = a.port;
  await a.stop(); // nothing listens on the first hub's port
  const client = await app([a.hubUrl, b.hubUrl]);
  try {
    await waitFor(() => client.fw.status().customRules.file?.servedName === 'rules-from-b.db', 'rules from the second hub', 30_000);
    assert.equal(await client.get('/from-b'), 403, 'the second hub\'s rule blocks a real request');
    assert.equal(await client.get('/from-a'), 200);
    await waitFor(() => paths(b).includes('/from-b'), 'the report reaches the second hub', 30_000);
    const status = client.fw.status();
    assert.equal(status.hubs.downsync?.current, `${b.hubUrl}/v2/downsync`);
    assert.equal(status.hubs.upsync?.current, `${b.hubUrl}/v2/upsync`);
    assert.ok(status.hubs.downsync!.hubs[0].failures >= 1, 'the first hub\'s failures are counted');
    assert.match(status.hubs.downsync!.hubs[0].lastError ?? '', /cannot reach/);
    assert.equal(status.hubs.downsync!.hubs[1].consecutiveFailures, 0);
    assert.ok(client.lines.some((l) => l.includes('unavailable') && l.includes(b.hubUrl)), 'the switch is logged');

    // The first hub comes back on its old address, serving other rules: the client stays on the second.
    await a.start(aPort);
    const switches = client.fw.status().hubs.downsync!.switches;
    const polled = b.downsyncs.length;
    await waitFor(() => b.downsyncs.length >= polled + 10, 'ten more polls', 30_000);
    assert.equal(await client.get('/from-b'), 403);
    assert.equal(await client.get('/from-b'), 403);
    await waitFor(() => paths(b).filter((p) => p === '/from-b').length >= 3, 'the later reports reach the second hub', 30_000);
    assert.equal(a.downsyncs.length, 0, 'the healthy second hub is kept: the first one sees no poll');
    assert.equal(a.upsyncs.length, 0, 'nor any report');
    assert.equal(client.fw.status().hubs.downsync!.switches, switches);
    assert.equal(client.fw.status().customRules.file?.servedName, 'rules-from-b.db');

    // Now the second goes away: the client moves on round the list, back to the first.
    await b.stop();
    await waitFor(() => client.fw.status().customRules.file?.servedName === 'rules-from-a.db', 'rules from the first hub again', 30_000);
    assert.equal(await client.get('/from-a'), 403);
    await waitFor(() => paths(a).includes('/from-a'), 'the report reaches the first hub', 30_000);
  } finally {
    await client.stop();
    await a.stop();
    await b.stop();
  }
});

test('the first hub answering 503 to everything: rules and reports go to the second; its recovery moves nothing', async () => {
  const a = await hubBlocking('/from-a');
  const b = await hubBlocking('/from-b');
  a.fault('custom_rules', { kind: 'status', status: 503, body: 'overloaded' });
  a.upsyncStatus = 503;
  const client = await app(`${a.hubUrl}, ${b.hubUrl}`);
  try {
    await waitFor(() => client.fw.status().customRules.file?.servedName === 'rules-from-b.db', 'rules from the second hub', 30_000);
    // Upsync still starts at the first hub: its batch gets 503 there and the retry goes to the second.
    assert.equal(await client.get('/from-b'), 403);
    await waitFor(() => paths(b).includes('/from-b'), 'the report at the second hub', 30_000);
    assert.ok(a.downsyncs.some((h) => h.status === 503), 'the first hub was asked for rules and refused');
    assert.ok(a.upsyncs.length >= 1 && a.upsyncs.every((h) => h.status === 503), 'the first hub was sent the batch and stored nothing');
    const up = client.fw.status().hubs.upsync!;
    assert.equal(up.current, `${b.hubUrl}/v2/upsync`);
    assert.ok(up.hubs[0].failures >= 1 && /503/.test(up.hubs[0].lastError ?? ''));

    a.faults.delete('custom_rules');
    a.upsyncStatus = 200;
    const [downsA, upsA, polled] = [a.downsyncs.length, a.upsyncs.length, b.downsyncs.length];
    await waitFor(() => b.downsyncs.length >= polled + 10, 'ten more polls', 30_000);
    assert.equal(await client.get('/from-b'), 403);
    await waitFor(() => paths(b).filter((p) => p === '/from-b').length >= 2, 'the later report at the second hub', 30_000);
    assert.deepEqual([a.downsyncs.length, a.upsyncs.length], [downsA, upsA], 'no request went back to the first hub');
  } finally {
    await client.stop();
    await a.stop();
    await b.stop();
  }
});

test('downsync and upsync fail over on their own: rules from the second hub, reports still to the first', async () => {
  const a = await hubBlocking('/from-a');
  const b = await hubBlocking('/from-b');
  a.fault('custom_rules', { kind: 'status', status: 502 });
  const client = await app([a.hubUrl, b.hubUrl]);
  try {
    await waitFor(() => client.fw.status().customRules.file?.servedName === 'rules-from-b.db', 'rules from the second hub', 30_000);
    assert.equal(await client.get('/from-b'), 403);
    await waitFor(() => paths(a).includes('/from-b'), 'the report at the first hub, whose upsync works', 30_000);
    assert.equal(b.upsyncs.length, 0);
    const status = client.fw.status();
    assert.equal(status.hubs.downsync?.current, `${b.hubUrl}/v2/downsync`);
    assert.equal(status.hubs.upsync?.current, `${a.hubUrl}/v2/upsync`);
    assert.equal(status.hubs.upsync?.switches, 0);
  } finally {
    await client.stop();
    await a.stop();
    await b.stop();
  }
});

test('a refused key (401) on the first hub is not an outage: the client does not go shopping for another hub', async () => {
  const a = await hubBlocking('/from-a');
  const b = await hubBlocking('/from-b');
  const client = await app([a.hubUrl, b.hubUrl], { apiKey: 'wrong-key-000000' });
  try {
    await client.fw.ready();
    await waitFor(() => client.fw.status().keyRefused, 'the key refused');
    assert.equal(b.downsyncs.length, 0);
    assert.equal(client.fw.status().hubs.downsync?.switches, 0);
  } finally {
    await client.stop();
    await a.stop();
    await b.stop();
  }
});

test('hub lists: options, MOAT_HUB_URL as a comma-separated list, and bad entries refused at start', () => {
  const fromEnv = resolveSyncOptions({}, { MOAT_HUB_URL: ' http://10.0.0.1:8787/ ,http://10.0.0.2:8787,, http://10.0.0.1:8787' });
  assert.deepEqual(fromEnv.downsyncUrls, ['http://10.0.0.1:8787/v2/downsync', 'http://10.0.0.2:8787/v2/downsync']);
  assert.deepEqual(fromEnv.upsyncUrls, ['http://10.0.0.1:8787/v2/upsync', 'http://10.0.0.2:8787/v2/upsync']);
  assert.equal(fromEnv.downsyncUrl, 'http://10.0.0.1:8787/v2/downsync', 'the single field keeps the first');
  const fromOption = resolveSyncOptions({ hubUrl: ['https://a.example', 'https://b.example'] }, { MOAT_HUB_URL: 'http://ignored' });
  assert.deepEqual(fromOption.upsyncUrls, ['https://a.example/v2/upsync', 'https://b.example/v2/upsync']);
  const wafris = resolveSyncOptions({}, { WAFRIS_DOWNSYNC_URL: 'https://w.example/v2/downsync', MOAT_HUB_URL: 'https://a.example,https://b.example' });
  assert.deepEqual(wafris.downsyncUrls, ['https://w.example/v2/downsync'], 'the Wafris name wins for downsync');
  assert.deepEqual(wafris.upsyncUrls, ['https://a.example/v2/upsync', 'https://b.example/v2/upsync']);
  assert.deepEqual(resolveSyncOptions({}, { MOAT_HUB_URL: ' , ' }).downsyncUrls, []);
  assert.throws(() => resolveSyncOptions({ hubUrl: ['https://a.example', 'hub-b:8787'] }, {}), /not an http\(s\) URL|not a URL/);
  assert.throws(() => resolveSyncOptions({}, { MOAT_HUB_URL: 'https://a.example,ftp://b.example' }), /not an http\(s\) URL/);
  assert.throws(() => resolveSyncOptions({ hubUrl: 'https://user:secret@a.example' }, {}), /credentials/);
});
