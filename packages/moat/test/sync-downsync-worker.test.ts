// Downsync's requests and downloads run in a worker thread (sync/downsync-thread.ts), against real HTTP
// servers on 127.0.0.1: the serving thread's fetch is never called, failures keep their reasons across the
// thread boundary, a worker that dies mid-download fails that download only, and where no worker can
// start the same steps run on the serving thread, said in status().
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { parseRange } from '../src/ip/range.js';
import { startModuleWorker } from '../src/loading/start-worker.js';
import { createManagedFirewall } from '../src/managed/managed-firewall.js';
import { throwUnlessOk } from '../src/sync/downsync-request.js';
import type { DownsyncAnswer } from '../src/sync/downsync-answer.js';
import { DownsyncThread } from '../src/sync/downsync-thread.js';
import { SyncError } from '../src/sync/sync-error.js';
import { dataBytes, FakeHub, rulesBytes, tempDir, waitFor } from './helpers/fake-hub.js';

const TIMEOUTS = { idleTimeoutMs: 10_000, totalTimeoutMs: 30_000, maxRedirects: 0 };
const BODY = Buffer.alloc(3 * 1024 * 1024, 'moat-');

/** `/full` the whole BODY, `/stall` its first KiB then nothing, `/hang` no answer, `/busy` a 503 with a reason. */
async function origin(): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    if (req.url === '/full') return void res.writeHead(200, { 'content-length': BODY.length, etag: '"v1"', 'x-moat-signature': 'sig' }).end(BODY);
    if (req.url === '/stall') return void res.writeHead(200, { 'content-length': BODY.length }).write(BODY.subarray(0, 1024));
    if (req.url === '/busy') return void res.writeHead(503).end('down for maintenance');
    // '/hang': never answered
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, server };
}

/** Runs `body` with the origin up and a temporary directory, and takes both down after, whatever happened. */
async function withOrigin(body: (url: string, dir: string) => Promise<void>): Promise<void> {
  const { url, server } = await origin();
  const { dir, cleanup } = tempDir();
  try {
    await body(url, dir);
  } finally {
    server.closeAllConnections();
    server.close();
    cleanup();
  }
}

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
const isSyncError = (reason: string) => (error: unknown) => error instanceof SyncError && error.reason === reason;

/** Saves a `/full` answer into `path` and checks that the whole BODY arrived, hash and size. */
async function saveWhole(answer: DownsyncAnswer, path: string): Promise<void> {
  assert.deepEqual(await answer.save(path, BODY.length, 'maxDownloadBytes', () => {}), { sha256: sha256(BODY), size: BODY.length });
  answer.dispose();
}

test('a managed firewall downloads, checks and polls with the serving thread\'s fetch never called', async () => {
  const hub = await new FakeHub().start();
  const { dir, cleanup } = tempDir();
  after(async () => { await hub.stop(); cleanup(); });
  hub.serve('custom_rules', rulesBytes({ block: { paths: ['/wp-admin'], lists: ['tor'] } }).body, 'custom_rules-v1.db');
  // Over a MiB of ranges, so the data file also takes the path a real subscription takes (loaded in a worker).
  const ranges = Array.from({ length: 40_000 }, (_, i) => parseRange(`10.${i >> 8}.${i & 255}.1/32`));
  ranges.push(parseRange('198.51.100.0/24'));
  const data = dataBytes({ lists: [{ name: 'tor', ranges, summary: { name: 'tor', kind: 'list', ranges: ranges.length, invalidLines: 0 } }] });
  assert.ok(data.length > 1024 * 1024, `the data file is ${data.length} bytes`);
  hub.serve('data_subscriptions', data, 'data-v1.db');
  const platformFetch = globalThis.fetch;
  let calls = 0;
  globalThis.fetch = (() => { calls++; throw new Error('fetch on the serving thread'); }) as typeof fetch;
  const fw = createManagedFirewall({
    apiKey: hub.apiKey, downsyncUrl: hub.downsyncUrl, dir, customRulesIntervalMs: 40, dataIntervalMs: 60_000, watchIntervalMs: 20,
    backoffBaseMs: 20, backoffMaxMs: 80, readyTimeoutMs: 20_000, logger: false, env: {}, upsync: false,
  });
  try {
    assert.equal((await fw.ready()).customRules.lastResult, 'updated');
    await waitFor(() => fw.status().dataSubscriptions.file !== null, 'the data file');
    const engine = fw.currentEngine!;
    assert.equal(engine.evaluate({ ip: '198.51.100.7', method: 'GET', host: 'example.test', path: '/' }).treatment, 'Blocked');
    assert.equal(engine.evaluate({ ip: '192.0.2.1', method: 'GET', host: 'example.test', path: '/wp-admin/x' }).treatment, 'Blocked');
    await waitFor(() => fw.status().customRules.notModified >= 2, 'two 304s');
    const pointer = JSON.parse(readFileSync(join(dir, 'current-custom_rules.json'), 'utf8')) as { checkedAt: number; installedAt: number };
    assert.ok(pointer.checkedAt > pointer.installedAt, 'a 304 moves checkedAt in the pointer');
    const worker = fw.status().downsyncWorker!;
    assert.ok(worker.inWorker >= 4, `exchanges in the worker: ${worker.inWorker}`);
    assert.equal(worker.onThisThread, 0);
    assert.equal(worker.fallback, false);
    assert.equal(calls, 0, 'the serving thread never fetched');
  } finally {
    await fw.close();
    globalThis.fetch = platformFetch;
  }
});

test('the worker hands back status, headers, a saved file\'s hash, and failures with their reasons', async () => {
  await withOrigin(async (url, dir) => {
    const thread = new DownsyncThread();
    try {
      const answer = await thread.fetch(`${url}/full`, TIMEOUTS);
      assert.equal(answer.status, 200);
      assert.equal(answer.url, `${url}/full`);
      assert.equal(answer.headers.get('ETag'), '"v1"', 'names are case-insensitive');
      assert.equal(answer.headers.get('x-moat-signature'), 'sig');
      assert.equal(answer.headers.get('x-absent'), null);
      await saveWhole(answer, join(dir, 'a.part'));
      assert.ok(readFileSync(join(dir, 'a.part')).equals(BODY));

      const small = await thread.fetch(`${url}/full`, TIMEOUTS);
      await assert.rejects(small.save(join(dir, 'b.part'), 1024, 'maxDownloadBytes', () => {}),
        (e: unknown) => isSyncError('too-large')(e) && (e as Error).message.includes('maxDownloadBytes'));
      small.dispose();

      const busy = await thread.fetch(`${url}/busy`, TIMEOUTS);
      await assert.rejects(throwUnlessOk(busy, { category: 'custom_rules' }, `${url}/busy`),
        (e: unknown) => isSyncError('http-503')(e) && (e as Error).message.includes('down for maintenance'));
      busy.dispose();

      await assert.rejects(thread.fetch('http://127.0.0.1:9/x', TIMEOUTS), isSyncError('network'));
      await assert.rejects(thread.fetch(`${url}/hang`, { ...TIMEOUTS, idleTimeoutMs: 100 }), isSyncError('timeout'));
      assert.deepEqual(thread.status(), { inWorker: 5, onThisThread: 0, workerFailures: 0, fallback: false });
    } finally {
      await thread.close();
    }
  });
});

test('a worker that dies mid-download fails that download only; the next exchange starts another', async () => {
  await withOrigin(async (url, dir) => {
    const started: Worker[] = [];
    const thread = new DownsyncThread(() => {}, () => {
      const worker = startModuleWorker(new URL('../src/sync/downsync-thread.ts', import.meta.url).href, './downsync-worker', null);
      started.push(worker);
      return worker;
    });
    try {
      const stalled = await thread.fetch(`${url}/stall`, TIMEOUTS);
      const download = stalled.save(join(dir, 'a.part'), BODY.length, 'maxDownloadBytes', () => {});
      await waitFor(() => existsSync(join(dir, 'a.part')), 'the part file');
      await started[0]!.terminate();
      await assert.rejects(download, isSyncError('worker-exit'));
      stalled.dispose();
      await assert.rejects(stalled.text(10), isSyncError('worker-exit'), 'the exchange went with its worker');

      await saveWhole(await thread.fetch(`${url}/full`, TIMEOUTS), join(dir, 'b.part'));
      assert.equal(started.length, 2);
      assert.deepEqual(thread.status(), { inWorker: 2, onThisThread: 0, workerFailures: 1, fallback: false });
    } finally {
      await thread.close();
    }
  });
});

test('closing, or the caller\'s abort, ends a held request at once with its reason', async () => {
  await withOrigin(async (url) => {
    const thread = new DownsyncThread();
    const abort = new AbortController();
    const held = thread.fetch(`${url}/hang`, { ...TIMEOUTS, signal: abort.signal });
    await new Promise((resolve) => setTimeout(resolve, 50));
    abort.abort(new SyncError('closed', 'the firewall is closing'));
    await assert.rejects(held, isSyncError('closed'));

    const waiting = assert.rejects(thread.fetch(`${url}/hang`, TIMEOUTS), isSyncError('closed'));
    await new Promise((resolve) => setTimeout(resolve, 50));
    await thread.close();
    await waiting;
    await assert.rejects(thread.fetch(`${url}/full`, TIMEOUTS), isSyncError('closed'));
  });
});

test('where no worker can start, downsync runs on this thread, said once and counted', async () => {
  const refusals = [
    () => { throw new Error('worker threads are not allowed here'); },
    () => new Worker('process.exit(3)', { eval: true }), // a broken install: the worker ends before it is ready
  ];
  for (const startWorker of refusals) {
    await withOrigin(async (url, dir) => {
      const told: Error[] = [];
      const thread = new DownsyncThread((error) => told.push(error), startWorker);
      for (let i = 0; i < 2; i++) await saveWhole(await thread.fetch(`${url}/full`, TIMEOUTS), join(dir, `${i}.part`));
      assert.equal(told.length, 1, 'said once');
      assert.ok(isSyncError('worker')(told[0]) && /on the serving thread/.test(told[0]!.message), told[0]!.message);
      assert.deepEqual(thread.status(), { inWorker: 0, onThisThread: 2, workerFailures: 0, fallback: true });
      await thread.close();
    });
  }
});
