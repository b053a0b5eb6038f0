// Every decision reaches the hub exactly once, or is counted as dropped: a real node:http app behind a
// managed firewall reports to a stand-in hub on 127.0.0.1 that decodes the compact encoding (and Wafris
// JSON) and stores each batch id once, as the Moat hub does. The hub goes away in the middle (503, then
// connection refused), kills the connection after storing, the app closes with records still in the
// ring, and the ring overflows while the worker is down; each time sent + dropped = recorded, and the
// request ids at the hub are exactly the sent ones, none twice.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { withMoat } from '../src/adapters/node.js';
import { createManagedFirewall, type ManagedFirewall, type ManagedFirewallOptions } from '../src/managed/managed-firewall.js';
import type { Upsync } from '../src/sync/upsync.js';
import { ReportSender } from '../src/report/report-sender.js';
import { COUNTER } from '../src/report/ring-layout.js';
import { HubFailover } from '../src/sync/hub-failover.js';
import type { QueuedRecord } from '../src/sync/report-record.js';
import { COMPACT_TYPE, expandCompact } from './helpers/compact-upsync.js';
import { rulesBytes, tempDir, waitFor } from './helpers/fake-hub.js';

/** A reports-only hub: batches stored once per X-Moat-Batch-Id; faults switched by the test. */
class StandInHub {
  server: Server | null = null;
  port = 0;
  /** Request ids stored, in order (a repeat would show here). */
  readonly stored: string[] = [];
  readonly batchIds = new Set<string>();
  readonly contentTypes: string[] = [];
  posts = 0;
  mode: 'up' | '503' | 'flood' = 'up';
  /** Bytes of each 'flood' answer the hub managed to write before the client stopped reading. */
  readonly floodWritten: number[] = [];
  /** Store the batch, then destroy the connection without an answer, this many times. */
  killAfterStore = 0;

  async start(port = 0): Promise<this> {
    this.server = createServer((req, res) => this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', () => resolve()));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (server === null) return;
    this.server = null;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    if (req.method !== 'POST') return void res.writeHead(304).end();
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      this.posts++;
      if (this.mode === '503') return void res.writeHead(503).end('down');
      if (this.mode === 'flood') return void this.flood(res);
      const type = String(req.headers['content-type']);
      this.contentTypes.push(type);
      const json = JSON.parse(gunzipSync(Buffer.concat(chunks)).toString('utf8'));
      const batch = type === COMPACT_TYPE ? expandCompact(json).batch : (json as { batch: Record<string, unknown>[] }).batch;
      const id = String(req.headers['x-moat-batch-id']);
      if (!this.batchIds.has(id)) {
        this.batchIds.add(id);
        for (const r of batch) this.stored.push(String(r.request_id));
      }
      if (this.killAfterStore > 0) {
        this.killAfterStore--;
        return void req.socket.destroy();
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: true, accepted: batch.length, rejected: 0 }));
    });
  }

  private flood(res: ServerResponse): void {
    floodAnswer(res, (written) => this.floodWritten.push(written));
  }
}

/** A 503 whose body would run to 256 MiB (a bounded stand-in for endless), written as fast as the client reads. */
function floodAnswer(res: ServerResponse, done: (written: number) => void): void {
  res.writeHead(503, { 'content-type': 'text/plain' });
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  let written = 0;
  const more = (): void => {
    while (written < 256 * 1024 * 1024 && !res.destroyed) {
      written += chunk.length;
      if (!res.write(chunk)) return void res.once('drain', more);
    }
    res.end();
  };
  res.once('close', () => done(written));
  more();
}

interface App {
  fw: ManagedFirewall;
  upsync: Upsync;
  get(path: string): Promise<number>;
  stopServer(): Promise<void>;
}

async function app(hub: StandInHub, upsync: ManagedFirewallOptions['upsync'], extra: Partial<ManagedFirewallOptions> = {}): Promise<App & { cleanup(): void }> {
  const { dir, cleanup } = tempDir();
  // Rules from a file on disk; reports to the stand-in (no downsync hub: nothing else talks to it).
  const rules = join(dir, 'shipped-rules.db');
  writeFileSync(rules, rulesBytes({ block: { paths: ['/wp-admin'] } }).body);
  const fw = createManagedFirewall({
    apiKey: 'key-1', upsync: { url: `${hub.url}/v2/upsync`, ...upsync }, rules, dir,
    backoffBaseMs: 10, backoffMaxMs: 40, logger: false, env: {}, ...extra,
  });
  const server = createServer(withMoat((_req, res) => { res.end('ok'); }, fw));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as AddressInfo).port;
  return {
    fw, upsync: (fw as unknown as { upsync: Upsync }).upsync, cleanup,
    get: async (path) => {
      const res = await fetch(`http://127.0.0.1:${port}${path}`, { headers: { 'user-agent': 'delivery-test/1' } });
      await res.arrayBuffer();
      return res.status;
    },
    stopServer: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** sent + dropped = recorded, nothing waiting; the hub holds exactly the sent ids, each once. */
function assertAccounted(a: App, hub: StandInHub, recorded: number): void {
  const st = a.fw.status().upsync;
  assert.equal(st.recorded, recorded, 'every decision was handed to reporting');
  assert.equal(st.queued + st.inFlight, 0, 'nothing left waiting');
  assert.equal(st.sent + st.dropped, recorded, `sent ${st.sent} + dropped ${st.dropped} = recorded ${recorded}`);
  assert.equal(new Set(hub.stored).size, hub.stored.length, 'no request id stored twice');
  assert.equal(hub.stored.length, st.sent, 'the hub holds exactly the records counted as sent');
}

test('N decisions with the hub answering 503, then refusing connections, then back: exactly N request ids arrive, none twice', async () => {
  const hub = await new StandInHub().start();
  const a = await app(hub, { batchSize: 20, flushIntervalMs: 20 });
  try {
    let n = 0;
    for (; n < 50; n++) assert.equal(await a.get(`/one/${n}`), 200);
    hub.mode = '503';
    for (; n < 100; n++) assert.equal(await a.get(`/two/${n}`), 200);
    await waitFor(() => a.fw.status().upsync.failures >= 1, 'a failed send');
    const port = hub.port;
    await hub.stop(); // connection refused
    for (; n < 150; n++) assert.equal(await a.get(`/three/${n}`), 200, 'serving never waits for reporting');
    await waitFor(() => a.fw.status().upsync.failures >= 3, 'more failed sends');
    hub.mode = 'up';
    await hub.start(port);
    for (; n < 200; n++) assert.equal(await a.get(`/four/${n}`), 200);
    await waitFor(() => a.fw.status().upsync.sent === 200, 'all 200 sent after the outage', 60_000);
    assertAccounted(a, hub, 200);
    assert.equal(a.fw.status().upsync.dropped, 0);
  } finally {
    await a.stopServer();
    await a.fw.close();
    a.cleanup();
    await hub.stop();
  }
});

test('a hub answering with an endless body is read no further than the part quoted, and the records arrive once it is back', async () => {
  const hub = await new StandInHub().start();
  hub.mode = 'flood';
  const a = await app(hub, { batchSize: 10, flushIntervalMs: 20 });
  try {
    for (let i = 0; i < 20; i++) assert.equal(await a.get(`/f/${i}`), 200);
    await waitFor(() => hub.floodWritten.length >= 2, 'two flooded answers', 60_000);
    // Socket buffers take a few MiB before the hub sees the reader stop; reading it all takes 256.
    for (const written of hub.floodWritten) assert.ok(written < 64 * 1024 * 1024, `the hub wrote ${written} bytes of one answer`);
    hub.mode = 'up';
    await waitFor(() => a.fw.status().upsync.sent === 20, 'all sent once the hub is back', 60_000);
    assertAccounted(a, hub, 20);
  } finally {
    await a.stopServer();
    await a.fw.close();
    a.cleanup();
    await hub.stop();
  }
});

test('a hub that stores a batch and then kills the connection: the retry carries the same batch id and nothing is stored twice', async () => {
  const hub = await new StandInHub().start();
  hub.killAfterStore = 3;
  const a = await app(hub, { batchSize: 10, flushIntervalMs: 20 });
  try {
    for (let i = 0; i < 40; i++) assert.equal(await a.get(`/k/${i}`), 200);
    await waitFor(() => a.fw.status().upsync.sent === 40, 'all sent', 60_000);
    assert.ok(hub.posts >= hub.batchIds.size + 3, `three retries of stored batches: ${hub.posts} posts, ${hub.batchIds.size} batches`);
    assert.ok(a.fw.status().upsync.failures >= 3);
    assertAccounted(a, hub, 40);
  } finally {
    await a.stopServer();
    await a.fw.close();
    a.cleanup();
    await hub.stop();
  }
});

test('close() with records still in the ring: all of them are sent before it resolves', async () => {
  const hub = await new StandInHub().start();
  const a = await app(hub, { batchSize: 1000, flushIntervalMs: 600_000 });
  for (let i = 0; i < 120; i++) assert.equal(await a.get(`/bye/${i}`), 200);
  assert.equal(hub.stored.length, 0, 'nothing due yet');
  await a.stopServer();
  await a.fw.close();
  assertAccounted(a, hub, 120);
  assert.equal(hub.stored.length, 120, 'flushed on close');
  assert.equal(a.fw.status().upsync.workerRunning, false, 'the worker is gone after close');
  a.cleanup();
  await hub.stop();
});

test('a blocked request is sent without waiting for the ten-minute interval, with the Passed records queued before it; Passed alone waits', async () => {
  const hub = await new StandInHub().start();
  const a = await app(hub, { batchSize: 1000, flushIntervalMs: 600_000, flushBlockedMs: 50, reportPassed: 'all' });
  try {
    for (let i = 0; i < 5; i++) assert.equal(await a.get(`/quiet/${i}`), 200);
    // Several of the worker's ticks pass; plain Passed records are due only after the interval.
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(hub.posts, 0, 'plain Passed records wait for the interval');
    assert.equal(await a.get('/wp-admin/setup.php'), 403);
    await waitFor(() => hub.stored.length === 6, 'the blocked record and the five queued before it');
    assert.equal(hub.posts, 1, 'one batch');
    await a.stopServer();
    await a.fw.close();
    assertAccounted(a, hub, 6);
  } finally {
    a.cleanup();
    await hub.stop();
  }
});

test('close() with the hub down: unsent records are counted as dropped at stop; sent + dropped = recorded', async () => {
  const hub = await new StandInHub().start();
  hub.mode = '503';
  const a = await app(hub, { batchSize: 1000, flushIntervalMs: 600_000, timeoutMs: 2000 });
  for (let i = 0; i < 30; i++) assert.equal(await a.get(`/down/${i}`), 200);
  await a.stopServer();
  await a.fw.close();
  const st = a.fw.status().upsync;
  assert.equal(st.droppedAtStop, 30);
  assertAccounted(a, hub, 30);
  a.cleanup();
  await hub.stop();
});

test('the ring overflows while the worker is down and the hub is away: drops counted exactly, the rest delivered once', async () => {
  const hub = await new StandInHub().start();
  hub.mode = '503';
  const a = await app(hub, { batchSize: 50, flushIntervalMs: 20, ringBytes: 64 * 1024 });
  try {
    for (let i = 0; i < 10; i++) assert.equal(await a.get(`/before/${i}`), 200);
    await waitFor(() => a.fw.status().upsync.inRing === 0 && a.fw.status().upsync.workerRunning, 'the worker to take them');
    await a.upsync.workerForTests!.terminate(); // a crash: the worker is gone until its restart
    await waitFor(() => !a.fw.status().upsync.workerRunning, 'the crash seen');
    // Long unique paths (~2 KB each): the 64 KiB ring is full after a few dozen.
    const statuses = await Promise.all(Array.from({ length: 200 }, (_, i) => a.get(`/flood/${i}/${'x'.repeat(2000)}`)));
    assert.ok(statuses.every((s) => s === 200), 'every request served while reporting is down');
    let st = a.fw.status().upsync;
    assert.ok(st.droppedRingFull > 0, 'the ring did overflow');
    assert.ok(st.ringUsedBytes <= st.ringBytes);
    assert.equal(st.droppedWorkerExit, 10, 'the records the dead worker held');
    hub.mode = 'up';
    await waitFor(() => a.fw.status().upsync.workerRunning, 'a new worker', 30_000);
    await waitFor(() => { st = a.fw.status().upsync; return st.queued + st.inFlight === 0; }, 'the rest delivered', 60_000);
    assertAccounted(a, hub, 210);
    assert.equal(st.sent, 200 - st.droppedRingFull);
    assert.equal(st.dropped, st.droppedRingFull + 10);
  } finally {
    await a.stopServer();
    await a.fw.close();
    a.cleanup();
    await hub.stop();
  }
});

test('a record the worker took is counted as taken only together with the queue that holds it, so status() never misses it', () => {
  const counters = new Float64Array(32);
  // A hub that is never called: the batch size is not reached and nothing is flushed.
  const sender = new ReportSender({
    apiKey: 'key-1', meta: { version: '0', client: 'moat', framework: 'test' }, userAgent: 'test', format: 'compact', batchSize: 1000,
    flushIntervalMs: 600_000, flushBlockedMs: 600_000, maxQueue: 1000, maxQueueBytes: 1 << 20, maxBatchBytes: 1 << 20, redactParams: [],
    requestTimeoutMs: 1000, backoffBaseMs: 10, backoffMaxMs: 10, reportPassed: 'all', passedSamplesPerSecond: 0,
    hubs: new HubFailover(['http://127.0.0.1:9/v2/upsync'], Date.now), counters,
    onError: () => undefined, onUnauthorized: () => undefined, onStateChange: () => undefined,
  });
  try {
    const record = (i: number) => ({ path: `/${i}`, treatment: 'Passed', monitored: [], bytes: 200, receivedMs: 0 }) as unknown as QueuedRecord;
    // status() counts written − taken as still in the ring: while a drain pushes, both stay as they were.
    for (let i = 0; i < 3; i++) sender.push(record(i));
    assert.equal(counters[COUNTER.taken], 0, 'taken moves only with the queue count');
    assert.equal(counters[COUNTER.queued], 0);
    sender.afterPush();
    assert.equal(counters[COUNTER.queued], 3);
    assert.equal(counters[COUNTER.taken], 3);
    sender.push(record(3));
    sender.afterPush();
    assert.equal(counters[COUNTER.taken], 4);
    assert.equal(counters[COUNTER.queued], 4);
  } finally {
    sender.stop();
  }
  assert.equal(counters[COUNTER.queued], 0);
  assert.equal(counters[COUNTER.droppedAtStop], 4, 'stopping drops what it held, counted');
});

test('flushReports() resolves after everything recorded before it was sent', async () => {
  const hub = await new StandInHub().start();
  const a = await app(hub, { batchSize: 1000, flushIntervalMs: 600_000 });
  try {
    for (let round = 1; round <= 3; round++) {
      for (let i = 0; i < 25; i++) await a.get(`/f/${round}/${i}`);
      await a.fw.flushReports();
      assert.equal(hub.stored.length, 25 * round, `round ${round}: all recorded before the call are at the hub`);
    }
    assertAccounted(a, hub, 75);
  } finally {
    await a.stopServer();
    await a.fw.close();
    a.cleanup();
    await hub.stop();
  }
});

test('a sender terminated while its POST is in flight counts nothing afterwards, as a terminated worker would not', async () => {
  // A hub that answers 200 only when told to: the POST is in flight when the sender is terminated.
  let answer: (() => void) | null = null;
  let received = 0;
  const hub = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      received++;
      answer = () => res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => hub.listen(0, '127.0.0.1', resolve));
  const counters = new Float64Array(32);
  const sender = new ReportSender({
    apiKey: 'key-1', meta: { version: '0', client: 'moat', framework: 'test' }, userAgent: 'test', format: 'wafris', batchSize: 2,
    flushIntervalMs: 600_000, flushBlockedMs: 600_000, maxQueue: 1000, maxQueueBytes: 1 << 20, maxBatchBytes: 1 << 20, redactParams: [],
    requestTimeoutMs: 10_000, backoffBaseMs: 10, backoffMaxMs: 10, reportPassed: 'all', passedSamplesPerSecond: 0,
    hubs: new HubFailover([`http://127.0.0.1:${(hub.address() as AddressInfo).port}/v2/upsync`], Date.now), counters,
    onError: () => undefined, onUnauthorized: () => undefined, onStateChange: () => undefined,
  });
  try {
    const record = (i: number) => ({
      ip: '203.0.113.7', method: 'GET', host: 'shop.example', path: `/${i}`, parameters: '', userAgent: 'ua', requestId: `r${i}`,
      treatment: 'Passed', category: 'passed', rule: '-', ruleId: null, monitored: [], ipSource: 'socket', bytes: 200, receivedMs: Date.now(),
    }) as unknown as QueuedRecord;
    sender.push(record(1));
    sender.push(record(2));
    sender.afterPush();
    void sender.flush(true);
    await waitFor(() => received === 1 && answer !== null, 'the POST to reach the hub');
    assert.equal(counters[COUNTER.inFlight], 2);
    const settled = { ...Object.fromEntries([COUNTER.sent, COUNTER.batchesSent, COUNTER.failures].map((k) => [k, counters[k]])) };
    sender.terminate();
    answer!();
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.deepEqual({ ...Object.fromEntries([COUNTER.sent, COUNTER.batchesSent, COUNTER.failures].map((k) => [k, counters[k]])) }, settled);
    assert.equal(counters[COUNTER.sent], 0);
  } finally {
    hub.closeAllConnections();
    await new Promise<void>((resolve) => hub.close(() => resolve()));
  }
});
