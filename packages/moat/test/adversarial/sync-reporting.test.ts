// Attacks on managed mode's sync and reporting, each against a real Express app behind a managed
// firewall, a real hub on 127.0.0.1 (the fake hub in helpers is a real HTTP server) and real files:
// long values that would swell the report queue or the batches, a hub that refuses batches, secrets
// hidden behind encoded separators, an unusable sync directory, and a download big enough that
// checking it on the serving thread would freeze the app.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, writeSync, openSync, closeSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import Database from 'better-sqlite3';
import express from 'express';
import { moat } from '../../src/adapters/express.js';
import { parseRange } from '../../src/ip/range.js';
import { createManagedFirewall, type ManagedFirewall, type ManagedFirewallOptions } from '../../src/managed/managed-firewall.js';
import { FIELD_LIMITS, TRUNCATED_MARKER } from '../../src/sync/report-record.js';
import { INLINE_VERIFY_MAX_BYTES, verificationCounts, verifyDownload } from '../../src/sync/verify-download.js';
import { dataBytes, FakeHub, rulesBytes, tempDir, waitFor } from '../helpers/fake-hub.js';

const RULES = { block: { paths: ['/wp-admin'], params: ['<script'], lists: ['tor'] } };

interface App {
  fw: ManagedFirewall;
  port: number;
  get(path: string, headers?: Record<string, string>): Promise<number>;
  post(path: string, body: string, contentType: string): Promise<number>;
  stop(): Promise<void>;
}

async function hubWithRules(rules: object = RULES): Promise<FakeHub> {
  const hub = await new FakeHub().start();
  hub.serve('custom_rules', rulesBytes(rules).body);
  hub.fault('data_subscriptions', { kind: 'status', status: 404 });
  return hub;
}

/** An Express app behind a managed firewall; its server takes 64 KB request heads (long URLs). */
async function expressApp(hub: FakeHub, options: Partial<ManagedFirewallOptions>): Promise<App> {
  const { dir, cleanup } = tempDir();
  const fw = createManagedFirewall({
    apiKey: hub.apiKey, hubUrl: hub.hubUrl, dir, customRulesIntervalMs: 60_000, dataIntervalMs: 60_000,
    backoffBaseMs: 10, backoffMaxMs: 40, logger: false, env: {}, ...options,
  });
  await fw.ready();
  const app = express();
  app.set('env', 'test');
  app.use(moat(fw));
  app.post('/login', express.urlencoded({ extended: false }), express.json(), (_req, res) => { res.send('login:ok'); });
  app.use((_req, res) => { res.send('ok'); });
  const server: Server = createServer({ maxHeaderSize: 64 * 1024 }, app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as AddressInfo).port;
  const send = async (path: string, init: RequestInit) => {
    const res = await fetch(`http://127.0.0.1:${port}${path}`, init);
    await res.arrayBuffer();
    return res.status;
  };
  return {
    fw, port,
    get: (path, headers = {}) => send(path, { headers: { 'user-agent': 'attacker/1', ...headers } }),
    post: (path, body, contentType) => send(path, { method: 'POST', body, headers: { 'content-type': contentType } }),
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await fw.close();
      cleanup();
    },
  };
}

const long = (char: string, length: number) => char.repeat(length);

// ---------- the report queue: bounded in bytes ----------

test('16 KB URLs and user agents with the hub down cannot grow the report queue past its byte bound (Express)', async () => {
  const hub = await hubWithRules();
  hub.upsyncStatus = 503;
  const maxQueueBytes = 256 * 1024;
  const a = await expressApp(hub, { upsync: { batchSize: 10, flushIntervalMs: 10, maxQueue: 10_000, maxQueueBytes } });
  const total = 300;
  try {
    for (let i = 0; i < total; i++) {
      const status = await a.get(`/p/${i}/${long('a', 16 * 1024)}?q=${long('b', 16 * 1024)}`, { 'user-agent': long('u', 8 * 1024) });
      assert.equal(status, 200, 'requests are served whatever reporting does');
      const st = a.fw.status().upsync;
      assert.ok(st.queuedBytes <= maxQueueBytes, `queue within its byte bound: ${st.queuedBytes}`);
    }
    // The worker takes records from the ring on its own schedule: count once it has taken them all.
    await waitFor(() => a.fw.status().upsync.failures >= 1 && a.fw.status().upsync.inRing === 0, 'a failed send');
    const st = a.fw.status().upsync;
    assert.equal(st.truncated, total, 'every record had its long values cut');
    assert.ok(st.droppedQueueBytes > 0, 'the byte bound dropped the oldest records');
    assert.equal(st.droppedQueueFull, 0, 'the record bound was never reached');
    assert.equal(st.queued + st.inFlight + st.dropped, total, 'every record is queued, in flight or counted as dropped');
    assert.ok(st.queued + st.inFlight < 100, `far fewer than ${total} kept: ${st.queued + st.inFlight}`);

    hub.upsyncStatus = 200;
    const kept = st.queued + st.inFlight;
    await waitFor(() => hub.records().length === kept, 'the kept records, once the hub is back');
    for (const r of hub.records()) {
      assert.ok(String(r.path).length <= FIELD_LIMITS.path && String(r.path).endsWith(TRUNCATED_MARKER), 'path cut, with a marker');
      assert.ok(String(r.user_agent).length <= FIELD_LIMITS.userAgent && String(r.user_agent).endsWith(TRUNCATED_MARKER), 'user agent cut');
      assert.ok(String(r.parameter).length <= FIELD_LIMITS.parameter && String(r.parameter).endsWith(TRUNCATED_MARKER), 'parameters cut');
    }
    await waitFor(() => a.fw.status().upsync.sent === kept, 'the client counts them sent');
    assert.equal(a.fw.status().upsync.sent + a.fw.status().upsync.dropped, total, 'nothing unaccounted for');
  } finally {
    await a.stop();
    await hub.stop();
  }
});

// ---------- batches: never over the hub's limit ----------

test('8 KB URLs with the hub up: no batch exceeds the hub\'s body limit and no report is lost (Express)', async () => {
  const hub = await hubWithRules();
  hub.upsyncMaxBytes = 300 * 1024;
  const maxBatchBytes = 256 * 1024;
  const a = await expressApp(hub, { upsync: { batchSize: 250, flushIntervalMs: 600_000, maxBatchBytes } });
  const total = 300;
  try {
    for (let i = 0; i < total; i++) await a.get(`/long/${i}/${long('x', 8 * 1024)}?q=${long('y', 8 * 1024)}`);
    await a.fw.flushReports();
    await waitFor(() => hub.records().length === total, 'every report delivered');
    assert.equal(hub.upsyncs.filter((u) => u.status === 413).length, 0, 'the hub never had to refuse a batch');
    // ~600 KB of unique paths (the repeated query is one dictionary entry in the compact encoding).
    assert.ok(hub.upsyncs.length >= 3, `split into several batches: ${hub.upsyncs.length}`);
    for (const u of hub.upsyncs) assert.ok((u.bytes ?? 0) <= maxBatchBytes, `batch of ${u.bytes} bytes`);
    assert.equal(new Set(hub.records().map((r) => r.request_id)).size, total, 'no duplicates');
    assert.equal(a.fw.status().upsync.dropped, 0);
  } finally {
    await a.stop();
    await hub.stop();
  }
});

test('a hub with a smaller body limit than the client\'s batches answers 413: halves are resent and nothing is lost', async () => {
  const hub = await hubWithRules();
  hub.upsyncMaxBytes = 100 * 1024; // the client still sends up to 1 MiB (its default)
  const a = await expressApp(hub, { upsync: { batchSize: 250, flushIntervalMs: 600_000 } });
  const total = 200;
  try {
    for (let i = 0; i < total; i++) await a.get(`/big/${i}/${long('x', 8 * 1024)}?q=${long('y', 8 * 1024)}`);
    await a.fw.flushReports();
    await waitFor(() => hub.records().length === total, 'every report delivered after the splits');
    const st = a.fw.status().upsync;
    assert.ok(hub.upsyncs.some((u) => u.status === 413), 'the hub did refuse the first, too large batch');
    assert.ok(st.splits >= 1, `batches split: ${st.splits}`);
    assert.ok(st.batchBytesLimit < 1024 * 1024, `later batches are smaller: ${st.batchBytesLimit}`);
    assert.equal(st.dropped, 0, 'no report lost');
    assert.deepEqual(st.rejected, {}, 'a 413 that could be split is not a rejection');
    assert.equal(new Set(hub.records().map((r) => r.request_id)).size, total, 'no duplicates');
  } finally {
    await a.stop();
    await hub.stop();
  }
});

test('batches the hub refuses (400, 422) are counted by status code, logged at a bounded rate, and their records counted as dropped', async () => {
  const hub = await hubWithRules();
  hub.upsyncStatus = 400;
  const lines: string[] = [];
  const events: string[] = [];
  const a = await expressApp(hub, {
    upsync: { batchSize: 1, flushIntervalMs: 600_000 },
    logger: { error: (_o, message) => lines.push(message ?? ''), warn: () => {} },
    onSyncError: ({ source, error }) => events.push(`${source}:${(error as { reason?: string }).reason}`),
  });
  try {
    // One batch per request (flushed at once), so the log has six refusals to bound.
    for (let i = 0; i < 6; i++) {
      await a.get(`/refused/${i}`);
      await a.fw.flushReports();
    }
    await waitFor(() => a.fw.status().upsync.rejected['400']?.records === 6, 'six refused records');
    hub.upsyncStatus = 422;
    for (let i = 0; i < 3; i++) {
      await a.get(`/refused-again/${i}`);
      await a.fw.flushReports();
    }
    await waitFor(() => a.fw.status().upsync.rejected['422']?.records === 3, 'three more');
    const st = a.fw.status().upsync;
    assert.deepEqual(st.rejected, { 400: { batches: 6, records: 6 }, 422: { batches: 3, records: 3 } });
    assert.equal(hub.upsyncs.filter((u) => u.status === 400).length, 6, 'each refused batch was sent once, not retried');
    assert.equal(st.droppedRejected, 9);
    assert.equal(st.dropped, 9);
    assert.match(st.lastError ?? '', /refused a batch of 1 records \(422\)/);
    assert.equal(events.filter((e) => e === 'upsync:http-400').length, 6, 'each refusal reaches onSyncError');
    const logged = lines.filter((l) => l.includes('refused a batch'));
    assert.equal(logged.length, 2, `one log line per status within the log interval, not one per batch: ${logged.join(' | ')}`);
  } finally {
    await a.stop();
    await hub.stop();
  }
});

test('records the hub refuses one by one inside a stored batch are counted as dropped, not as sent', async () => {
  const hub = await hubWithRules();
  hub.refuseRecord = (r) => String(r.path).startsWith('/odd/');
  const a = await expressApp(hub, { upsync: { batchSize: 250, flushIntervalMs: 600_000 } });
  try {
    for (let i = 0; i < 4; i++) await a.get(`/odd/${i}`);
    for (let i = 0; i < 6; i++) await a.get(`/even/${i}`);
    await a.fw.flushReports();
    await waitFor(() => a.fw.status().upsync.batchesSent === 1, 'the batch answered');
    const st = a.fw.status().upsync;
    assert.equal(hub.records().length, 6);
    assert.equal(st.sent, 6);
    assert.equal(st.droppedByHub, 4);
    assert.equal(st.dropped, 4);
  } finally {
    await a.stop();
    await hub.stop();
  }
});

// ---------- redaction: no part of a secret survives any encoding ----------

test('password values hidden behind %26, %3D, +, double encoding, `;`, key case and user[password] never reach the hub (Express)', async () => {
  const hub = await hubWithRules();
  // With parameter rules the firewall decodes query and body; without, only the query is reported.
  const withParamRules = await expressApp(hub, { upsync: { batchSize: 500, flushIntervalMs: 600_000 } });
  const hub2 = await hubWithRules({ block: { paths: ['/wp-admin'] } });
  const withoutParamRules = await expressApp(hub2, { upsync: { batchSize: 500, flushIntervalMs: 600_000 } });
  const attacks = [
    '/login?password=Pa55%26w0rd%3D41&user=bob',
    '/login?user=bob&PassWord=Pa55%2526w0rd%253D42',
    '/login?user=bob;password=Pa55;w0rd=43',
    '/login?user=bob&user%5Bpassword%5D=Pa55%26w0rd%3D44',
    '/login?user=bob&pass%77ord=Pa55%26w0rd%3D45',
    '/login?user=bob&pass%2577ord=Pa55%26w0rd%3D46',
    '/login?user=bob&password=Pa55+w0rd+47',
    '/login?user=bob&next=x%26password%3DPa55w0rd48',
    '/login?user=bob&next=x%2526api_key%253DPa55w0rd49',
    '/login?user=bob&PASSWORD=Pa55%3Bw0rd%3D50;x=1',
  ];
  try {
    for (const a of [withParamRules, withoutParamRules]) {
      for (const path of attacks) assert.equal(await a.get(path), 200);
      assert.equal(await a.post('/login', 'user=bob&password=Pa55%26w0rd%3D51&remember=1', 'application/x-www-form-urlencoded'), 200);
      assert.equal(await a.post('/login', JSON.stringify({ user: 'bob', password: 'Pa55&w0rd=52' }), 'application/json'), 200);
      await a.fw.flushReports();
    }
    const expected = attacks.length + 2;
    await waitFor(() => hub.records().length === expected && hub2.records().length === expected, 'all reports');
    for (const [name, h] of [['with parameter rules', hub], ['without', hub2]] as const) {
      const sent = JSON.stringify(h.upsyncs.map((u) => u.body));
      for (const fragment of ['Pa55', 'w0rd', 'Pa55w0rd']) assert.ok(!sent.includes(fragment), `${name}: "${fragment}" leaked: ${sent.slice(0, 400)}`);
      const params = h.records().map((r) => String(r.parameter));
      assert.ok(params.filter((p) => p.includes('user=bob')).length >= attacks.length, `${name}: other parameters still reported`);
      assert.ok(params.every((p) => !/w0rd|Pa55/.test(p)));
    }
  } finally {
    await withParamRules.stop();
    await withoutParamRules.stop();
    await hub.stop();
    await hub2.stop();
  }
});

// ---------- an unusable sync directory: back off, leave nothing behind ----------

interface Hammered {
  attempts: { frozen: number; after60s: number };
  logLines: number;
  reasons: Set<string>;
}

/**
 * Runs a managed firewall against `dir` on an injected clock: first frozen while its timers tick a few
 * hundred times (a busy loop would fail again on every tick), then 60 simulated seconds in 0.5 s steps.
 * Attempts are counted as failed polls of both files.
 */
async function hammerUnusableDir(hub: FakeHub, dir: string): Promise<Hammered> {
  let clockReads = 0;
  let nowMs = 1_800_000_000_000;
  const now = () => {
    clockReads++;
    return nowMs;
  };
  const ticks = async (reads: number) => {
    const target = clockReads + reads;
    await waitFor(() => clockReads >= target, 'timer ticks', 30_000);
  };
  const lines: string[] = [];
  const fw = createManagedFirewall({
    apiKey: hub.apiKey, hubUrl: hub.hubUrl, dir, now, watchIntervalMs: 5, backoffBaseMs: 1000, backoffMaxMs: 8000,
    customRulesIntervalMs: 60_000, dataIntervalMs: 60_000, upsync: false, env: {},
    logger: { error: (_o, message) => lines.push(message ?? ''), warn: () => {} },
  });
  const attempts = () => fw.status().customRules.errors + fw.status().dataSubscriptions.errors;
  try {
    await ticks(300);
    const frozen = attempts();
    for (let i = 0; i < 120; i++) {
      nowMs += 500;
      await ticks(4);
    }
    const st = fw.status();
    return {
      attempts: { frozen, after60s: attempts() }, logLines: lines.length,
      reasons: new Set([st.customRules.lastErrorReason ?? '', st.dataSubscriptions.lastErrorReason ?? '']),
    };
  } finally {
    await fw.close();
  }
}

function assertBackedOff(h: Hammered, what: string): void {
  assert.equal(h.attempts.frozen, 2, `${what}: one failed attempt per file while no time passes, however often the timers fire`);
  // Backoff 1 s doubling to 8 s (each drawn in [half, whole]): at most ~18 tries per file in 60 s; a
  // retry on every 5 ms tick would be hundreds.
  assert.ok(h.attempts.after60s >= 8 && h.attempts.after60s <= 40, `${what}: ${h.attempts.after60s} attempts in 60 s`);
  assert.ok(h.logLines <= 6, `${what}: ${h.logLines} log lines (bounded per minute)`);
  assert.deepEqual(h.reasons, new Set(['dir']), `${what}: reason`);
}

test('a sync directory that is a regular file: sync backs off instead of retrying on every tick', async () => {
  const hub = await hubWithRules();
  const { dir, cleanup } = tempDir();
  try {
    const file = join(dir, 'not-a-directory');
    writeFileSync(file, 'x');
    assertBackedOff(await hammerUnusableDir(hub, file), 'a file as the directory');
    assertBackedOff(await hammerUnusableDir(hub, join(file, 'sync')), 'a path under a file');
    assert.deepEqual(readdirSync(dir), ['not-a-directory'], 'nothing created beside it');
  } finally {
    cleanup();
    await hub.stop();
  }
});

/** Mounts a tmpfs (root only); null when the sandbox does not allow it. */
function mountTmpfs(at: string, options: string): (() => void) | null {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', at], { stdio: 'ignore' });
    return () => execFileSync('umount', [at], { stdio: 'ignore' });
  } catch {
    return null;
  }
}

function fillDisk(dir: string): void {
  const fd = openSync(join(dir, 'filler'), 'w');
  const chunk = Buffer.alloc(4096, 1);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (error) {
    assert.equal((error as NodeJS.ErrnoException).code, 'ENOSPC');
  } finally {
    closeSync(fd);
  }
}

test('a full disk and a read-only directory: sync backs off and leaves no lock or temp file behind', async (t: TestContext) => {
  const hub = await hubWithRules();
  const { dir, cleanup } = tempDir();
  try {
    const full = join(dir, 'full');
    mkdirSync(full);
    const unmountFull = mountTmpfs(full, 'size=128k');
    if (unmountFull === null) {
      // Not root here: the same properties on the one unusable directory every sandbox allows.
      t.diagnostic('tmpfs cannot be mounted here: a path under a regular file stands in for the full disk');
      writeFileSync(join(full, 'file'), 'x');
      assertBackedOff(await hammerUnusableDir(hub, join(full, 'file', 'sync')), 'stand-in');
      return;
    }
    try {
      const sync = join(full, 'sync');
      mkdirSync(sync);
      fillDisk(full);
      assertBackedOff(await hammerUnusableDir(hub, sync), 'full disk');
      assert.deepEqual(readdirSync(sync), [], 'no stray lock, temp or partial file after dozens of failed attempts');
    } finally {
      unmountFull();
    }

    const readOnly = join(dir, 'read-only');
    mkdirSync(readOnly);
    const unmountReadOnly = mountTmpfs(readOnly, 'ro,size=128k');
    assert.ok(unmountReadOnly, 'a tmpfs mounted above can be mounted read-only too');
    try {
      assertBackedOff(await hammerUnusableDir(hub, readOnly), 'read-only directory');
      assert.deepEqual(readdirSync(readOnly), []);
    } finally {
      unmountReadOnly();
    }
  } finally {
    cleanup();
    await hub.stop();
  }
});

// ---------- big downloads: checked off the serving thread ----------

/** A real data file padded past the inline limit, so its checks run in the worker. */
function bigDataFile(): Buffer {
  const { dir, cleanup } = tempDir('moat-big-data-');
  try {
    const path = join(dir, 'data.db');
    writeFileSync(path, dataBytes({
      lists: [{ name: 'tor', ranges: [parseRange('198.51.100.0/24')], summary: { name: 'tor', kind: 'list', ranges: 1, invalidLines: 0 } }],
    }));
    const db = new Database(path);
    db.exec('CREATE TABLE padding (b BLOB)');
    const insert = db.prepare('INSERT INTO padding VALUES (?)');
    for (let i = 0; i < 48; i++) insert.run(Buffer.alloc(64 * 1024, i));
    db.close();
    const bytes = readFileSync(path);
    assert.ok(bytes.length > INLINE_VERIFY_MAX_BYTES * 2);
    return bytes;
  } finally {
    cleanup();
  }
}

test('verifying a big download leaves the event loop free (worker), a small one is checked inline', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const big = join(dir, 'big.db');
    writeFileSync(big, bigDataFile());
    const small = join(dir, 'small.db');
    writeFileSync(small, dataBytes({}));
    // Counting event-loop turns during each check: a check on this thread allows none.
    const turnsDuring = async (check: () => Promise<void>) => {
      let turns = 0;
      let spinning = true;
      const spin = () => {
        turns++;
        if (spinning) setImmediate(spin);
      };
      setImmediate(spin);
      const before = turns;
      try {
        await check();
      } finally {
        spinning = false;
      }
      return turns - before;
    };
    const workers = verificationCounts.worker;
    const fallbacks = verificationCounts.inlineFallback;
    assert.ok(await turnsDuring(() => verifyDownload(big, statSync(big).size, null, null)) > 0, 'the app kept running during the big check');
    assert.equal(verificationCounts.worker, workers + 1);
    assert.equal(verificationCounts.inlineFallback, fallbacks, 'the worker itself answered');
    assert.equal(await turnsDuring(() => verifyDownload(small, statSync(small).size, null, null)), 0, 'the small one ran inline');

    const corrupt = readFileSync(big);
    corrupt.fill(0x55, 4096 + 100, 4096 * 3); // inside the b-tree pages, past the header
    writeFileSync(big, corrupt);
    await assert.rejects(verifyDownload(big, corrupt.length, null, null), (e: Error & { reason?: string }) => e.reason === 'corrupt');
  } finally {
    cleanup();
  }
});

test('a big data download with a forged signature or corrupt pages is refused by the worker; the good one installs (Express)', async () => {
  const hub = await new FakeHub().start();
  const key = hub.enableSigning();
  hub.serve('custom_rules', rulesBytes(RULES).body);
  hub.serve('data_subscriptions', bigDataFile(), 'data-good.db');
  const a = await expressApp(hub, { publicKey: key.raw, upsync: false, dataIntervalMs: 100 });
  const data = () => a.fw.status().dataSubscriptions;
  try {
    const workers = verificationCounts.worker;
    const fallbacks = verificationCounts.inlineFallback;
    await waitFor(() => data().file !== null, 'the big data file installed', 30_000);
    assert.ok(verificationCounts.worker > workers, 'checked in a worker');
    assert.equal(verificationCounts.inlineFallback, fallbacks, 'the worker itself answered');
    assert.equal(data().file?.servedName, 'data-good.db');
    assert.equal(await a.get('/x'), 200, 'the app serves requests');

    hub.serve('data_subscriptions', bigDataFile(), 'data-forged.db');
    hub.fault('data_subscriptions', { kind: 'bad-signature' });
    await waitFor(() => data().lastErrorReason === 'bad-signature', 'the forged file refused', 30_000);
    assert.equal(data().file?.servedName, 'data-good.db', 'the good file stays');

    const corrupt = bigDataFile();
    corrupt.fill(0x55, 4096 + 100, 4096 * 3);
    hub.fault('data_subscriptions', { kind: 'serve' }); // correctly signed, but its pages are broken
    hub.serve('data_subscriptions', corrupt, 'data-corrupt.db');
    await waitFor(() => data().lastErrorReason === 'corrupt', 'the corrupt file refused', 30_000);
    assert.equal(data().file?.servedName, 'data-good.db', 'the good file stays');
    assert.equal(await a.get('/y'), 200);
  } finally {
    await a.stop();
    await hub.stop();
  }
});
