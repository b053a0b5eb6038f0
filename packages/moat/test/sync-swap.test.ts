// Data files updated while serving: a real hub stand-in on 127.0.0.1 delivers data files big enough to
// be checked and loaded in the worker thread; a real node:http app keeps answering. The serving thread
// only swaps in a finished engine: every request sees the old file or the new one, never a mixture, and
// a file that fails anywhere (checks, loader, the worker itself) leaves the old engine serving.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadWorkerWatch, offThreadLoadCounts } from '../src/loading/load-off-thread.js';
import { verificationCounts } from '../src/sync/verify-download.js';
import { FakeHub, rulesBytes, waitFor } from './helpers/fake-hub.js';
import { craftedData, edited, swapApp, tinyRanges, TOR_RULES, torData } from './helpers/data-swap-kit.js';

const A = '203.0.113.5'; // in the first file's tor list
const B = '198.51.100.5'; // in the second file's
const FIRST = ['203.0.113.0/24'];
const SECOND = ['198.51.100.0/24'];

async function hubWithData(first: Buffer): Promise<FakeHub> {
  const hub = await new FakeHub().start();
  hub.serve('custom_rules', rulesBytes(TOR_RULES).body);
  hub.serve('data_subscriptions', first, 'first.db');
  return hub;
}

test('a new data file is loaded in the worker and swapped in whole: each request during the swap is judged by the old file or the new one', async () => {
  const hub = await hubWithData(torData(FIRST));
  const before = { ...offThreadLoadCounts };
  const app = await swapApp(hub);
  const data = () => app.fw.status().dataSubscriptions;
  try {
    await waitFor(() => data().file?.servedName === 'first.db', 'the first data file installed');
    const firstHash = app.dataHash();
    assert.equal(await app.get(A), 403);
    assert.equal(await app.get(B), 200);

    // Evaluation is synchronous: the engine in place when the listener runs is the one that decided.
    const seen: { hash: string; ip: string; treatment: string }[] = [];
    app.fw.addDecisionListener((decision, request) => seen.push({ hash: app.dataHash(), ip: request.ip, treatment: decision.treatment }));
    let hammering = true;
    let answeredDuringLoad = 0;
    const statuses = new Set<number>();
    const clients = Array.from({ length: 6 }, async (_, k) => {
      for (let i = 0; hammering; i++) {
        const status = await app.get((i + k) % 2 === 0 ? A : B);
        statuses.add(status);
        if (offThreadLoadCounts.inProgress > 0) answeredDuringLoad++;
      }
    });
    hub.serve('data_subscriptions', torData(SECOND), 'second.db');
    await waitFor(() => data().file?.servedName === 'second.db', 'the second data file installed');
    const afterSwap = seen.length;
    await waitFor(() => seen.length > afterSwap + 100, 'requests after the swap');
    hammering = false;
    await Promise.all(clients);

    const secondHash = app.dataHash();
    assert.notEqual(secondHash, firstHash);
    assert.deepEqual([...statuses].sort(), [200, 403], 'only the two answers a complete file gives');
    let swapped = false;
    for (const { hash, ip, treatment } of seen) {
      assert.ok(hash === firstHash || hash === secondHash, 'an engine of one complete file');
      if (hash === secondHash) swapped = true;
      else assert.equal(swapped, false, 'never back to the old file after the swap');
      const blocked = hash === firstHash ? A : B;
      assert.equal(treatment, ip === blocked ? 'Blocked' : 'Passed', `${ip} under the ${hash === firstHash ? 'first' : 'second'} file`);
    }
    assert.ok(seen.some((s) => s.hash === firstHash) && swapped, 'both files judged requests');
    assert.ok(answeredDuringLoad > 0, 'the app answered while a load was in the worker');
    assert.equal(offThreadLoadCounts.worker - before.worker, 2, 'both files loaded in the worker');
    assert.equal(offThreadLoadCounts.inlineFallback, before.inlineFallback);
    assert.equal(await app.get(A), 200);
    assert.equal(await app.get(B), 403);
  } finally {
    await app.stop();
    await hub.stop();
  }
});

/** Damaged versions of a file blocking SECOND, each over the inline limit (so the worker meets them). */
function damaged(): { name: string; body: Buffer; reason: RegExp; message: RegExp }[] {
  const good = torData(SECOND);
  return [
    {
      name: 'content hash that does not match the ranges',
      body: edited(good, (db) => db.prepare("UPDATE meta SET value = ? WHERE key = 'content_hash'").run('0'.repeat(64))),
      reason: /^rejected$/, message: /content hash does not match/,
    },
    // Cut in half: SQLite's quick_check or the content hash notices, depending on where the cut falls.
    {
      name: 'truncated', body: good.subarray(0, good.length >> 1), reason: /^(corrupt|rejected)$/,
      message: /quick_check|not a usable SQLite|content hash does not match/,
    },
    { name: 'not SQLite', body: Buffer.alloc(good.length, 'not a database '), reason: /^not-sqlite$/, message: /not a SQLite database/ },
    {
      name: 'no label table', body: edited(good, (db) => db.exec('DROP TABLE data_labels')),
      reason: /^rejected$/, message: /no such table: data_labels/,
    },
    {
      name: 'ranges out of order',
      body: edited(torData(['198.51.100.0/24', '203.0.113.0/24']), (db) => {
        const swapTwo = (part: string) => {
          const row = db.prepare("SELECT data FROM packed_ranges WHERE set_name = 'data' AND part = ?").get(part) as { data: Buffer };
          const words = new Uint32Array(row.data.buffer.slice(row.data.byteOffset, row.data.byteOffset + row.data.length));
          words.reverse();
          db.prepare("UPDATE packed_ranges SET data = ? WHERE set_name = 'data' AND part = ?").run(Buffer.from(words.buffer), part);
        };
        swapTwo('v4Starts');
        swapTwo('v4Ends');
      }),
      reason: /^rejected$/, message: /not sorted and non-overlapping/,
    },
  ];
}

test('a damaged data file from the hub (bad hash, truncated, not SQLite, wrong tables, unsorted ranges) is refused by the worker; the old engine keeps serving', async () => {
  const first = torData(FIRST);
  const hub = await hubWithData(first);
  const app = await swapApp(hub);
  const data = () => app.fw.status().dataSubscriptions;
  try {
    await waitFor(() => data().file?.servedName === 'first.db', 'the first data file installed');
    const firstHash = app.dataHash();
    for (const bad of damaged()) {
      const errors = data().errors;
      hub.serve('data_subscriptions', bad.body, `bad-${bad.name.replace(/\W+/g, '-')}.db`);
      // Waits for the verdict on the file (a dropped connection on the way is only retried).
      await waitFor(() => bad.reason.test(data().lastErrorReason ?? ''), `the ${bad.name} file refused`);
      const status = data();
      assert.match(status.lastError ?? '', bad.message, bad.name);
      assert.equal(status.file?.servedName, 'first.db', `${bad.name}: the good file stays`);
      assert.equal(app.dataHash(), firstHash, `${bad.name}: the old engine serves`);
      assert.equal(await app.get(A), 403, `${bad.name}: the old data still blocks`);
      assert.equal(await app.get(B), 200);
      assert.ok(status.errors > errors, 'counted');
      assert.equal(app.fw.status().errors.dataSubscriptions, status.errors, 'counted in status().errors');
      // The hub goes back to the file in force: a 304 clears the error before the next damaged file.
      hub.serve('data_subscriptions', first, 'first.db');
      await waitFor(() => data().lastError === null, 'a clean poll');
    }
  } finally {
    await app.stop();
    await hub.stop();
  }
});

test('the load worker dying mid-load leaves the old engine serving; the next poll loads the file', async () => {
  const hub = await hubWithData(torData(FIRST));
  const app = await swapApp(hub);
  const data = () => app.fw.status().dataSubscriptions;
  try {
    await waitFor(() => data().file?.servedName === 'first.db', 'the first data file installed');
    const failures = offThreadLoadCounts.workerFailures;
    let killed = 0;
    // Stopped once its modules are loaded and the load has begun: the thread dies as in a crash. The file
    // holds 2,000,000 ranges, so its load outlasts the delivery of the start message by orders of magnitude.
    loadWorkerWatch.onStart = (worker) => worker.on('message', (m: { started?: boolean }) => {
      if (m.started === true) {
        killed++;
        void worker.terminate();
      }
    });
    hub.serve('data_subscriptions', craftedData(tinyRanges(2_000_000), ['["tor"]']), 'second.db');
    await waitFor(() => data().lastErrorReason === 'load-worker', 'the worker failure reported');
    loadWorkerWatch.onStart = null;
    assert.ok(killed > 0 && offThreadLoadCounts.workerFailures > failures);
    assert.match(data().lastError ?? '', /stopped before it finished/);
    assert.equal(data().file?.servedName, 'first.db');
    assert.equal(await app.get(A), 403, 'the old engine serves');
    assert.equal(await app.get('10.0.0.0'), 200);

    await waitFor(() => data().file?.servedName === 'second.db', 'the next poll installed the file');
    assert.equal(await app.get(A), 200);
    assert.equal(await app.get('10.0.0.0'), 403);
  } finally {
    loadWorkerWatch.onStart = null;
    await app.stop();
    await hub.stop();
  }
});

test('in light mode a new data file is checked in the worker and opened in place', async () => {
  const hub = await hubWithData(torData(FIRST));
  const checked = verificationCounts.worker;
  const app = await swapApp(hub, { dataMode: 'light' });
  const data = () => app.fw.status().dataSubscriptions;
  try {
    await waitFor(() => data().file?.servedName === 'first.db', 'the first data file installed');
    assert.equal(await app.get(A), 403);
    hub.serve('data_subscriptions', torData(SECOND), 'second.db');
    await waitFor(() => data().file?.servedName === 'second.db', 'the second data file installed');
    assert.ok(verificationCounts.worker - checked >= 2, 'both checked in a worker');
    assert.equal(await app.get(A), 200);
    assert.equal(await app.get(B), 403);
  } finally {
    await app.stop();
    await hub.stop();
  }
});

test('a data file another process installed is followed by loading it in the worker', async () => {
  const hub = await hubWithData(torData(FIRST));
  const downloader = await swapApp(hub);
  const status = () => downloader.fw.status().dataSubscriptions;
  let follower: Awaited<ReturnType<typeof swapApp>> | null = null;
  try {
    await waitFor(() => status().file?.servedName === 'first.db', 'the first data file installed');
    // Same directory, no hub: this one only follows what the downloader installs.
    follower = await swapApp(hub, { dir: downloader.fw.settings.dir, apiKey: undefined, hubUrl: undefined, watchIntervalMs: 20 });
    assert.equal(await follower.get(A), 403, 'the installed file loaded at start');
    const loads = offThreadLoadCounts.worker;
    hub.serve('data_subscriptions', torData(SECOND), 'second.db');
    await waitFor(() => follower!.fw.status().dataSubscriptions.followed > 0, 'the follower picked the new file up');
    assert.ok(offThreadLoadCounts.worker - loads >= 2, 'downloaded and followed files both loaded in the worker');
    assert.equal(await follower.get(A), 200);
    assert.equal(await follower.get(B), 403);
  } finally {
    await follower?.stop();
    await downloader.stop();
    await hub.stop();
  }
});
