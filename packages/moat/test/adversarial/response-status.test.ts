// Attacks on the response statuses managed mode reports (what the hub's status-based threshold rules
// count): a scanner whose probes the app answers 404 must not hide among the Passed requests that are
// counted instead of sent (a count carries no status), and a client that abandons its requests must
// neither erase nor double their records. Real Express and Fastify apps, a real hub stand-in on 127.0.0.1.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hubWithWpAdminRules, waitFor } from '../helpers/fake-hub.js';
import { startStatusApp } from '../helpers/status-app.js';

const hub = hubWithWpAdminRules;

async function get(url: string): Promise<number> {
  const response = await fetch(url);
  await response.arrayBuffer();
  return response.status;
}

for (const framework of ['express', 'fastify'] as const) {
  test(`40 × GET /missing answered 404 on ${framework} reach the hub as 40 records with status 404, none folded into a count (40 × GET /ok are)`, async () => {
    const h = await hub();
    // Passed requests are counted per key (the default), with no sample beyond each key's first.
    const app = await startStatusApp(framework, h, { flushIntervalMs: 600_000, passedSamplesPerSecond: 0 });
    try {
      for (let i = 0; i < 40; i++) {
        assert.equal(await get(`${app.url}/missing`), 404);
        assert.equal(await get(`${app.url}/ok`), 200);
      }
      // The last response's finish can run after the client has read it (a loaded machine): its record
      // then waits for its status in the worker, and a later flush sends it.
      for (let tries = 0; tries < 200; tries++) {
        await app.fw.flushReports();
        if (h.records().filter((r) => r.path === '/missing').length >= 40) break;
        await new Promise((r) => setTimeout(r, 10));
      }
      const missing = h.records().filter((r) => r.path === '/missing');
      assert.equal(missing.length, 40, 'every 404 is a record of its own');
      assert.ok(missing.every((r) => r.status === 404));
      assert.equal(h.passedCounts().filter((c) => c.path === '/missing').length, 0, 'no 404 hidden in a status-less count');
      // The 200s are counted as before: the first of each minute's window in full, the rest as counts
      // (the test may straddle a minute: then two windows).
      const okRecords = h.records().filter((r) => r.path === '/ok').length;
      assert.ok(okRecords >= 1 && okRecords <= 2, `${okRecords} /ok records in full`);
      assert.equal(okRecords + h.passedCounts().filter((c) => c.path === '/ok').reduce((n, c) => n + c.count, 0), 40);
      assert.equal(h.requestsReported(), 80);
    } finally {
      await app.stop();
      await h.stop();
    }
  });
}

test('30 requests abandoned mid-response on Express: each record reaches the hub exactly once, without a status, and later 404s keep theirs', async () => {
  const h = await hub();
  const app = await startStatusApp('express', h, { flushIntervalMs: 200, flushBlockedMs: 100 });
  try {
    const aborts = Array.from({ length: 30 }, () => new AbortController());
    const pending = aborts.map((c) => fetch(`${app.url}/hang`, { signal: c.signal }).catch(() => 'aborted'));
    await waitFor(() => app.hanging.length === 30, 'the app to receive the 30 requests');
    for (const c of aborts) c.abort();
    await Promise.all(pending);
    for (let i = 0; i < 5; i++) assert.equal(await get(`${app.url}/missing`), 404);
    await waitFor(() => h.records().filter((r) => r.path === '/hang').length >= 30, 'the 30 records');
    // The abandoned responses end now: their statuses come too late and must not bring a second record.
    for (const res of app.hanging) res.end();
    await new Promise((resolve) => setTimeout(resolve, 300));
    await app.fw.flushReports();
    const hang = h.records().filter((r) => r.path === '/hang');
    assert.equal(hang.length, 30);
    assert.equal(new Set(hang.map((r) => r.request_id)).size, 30, 'no record twice');
    assert.ok(hang.every((r) => r.status === undefined));
    assert.deepEqual(h.records().filter((r) => r.path === '/missing').map((r) => r.status), [404, 404, 404, 404, 404]);
    const upsync = app.fw.status().upsync;
    assert.equal(upsync.sent, upsync.recorded);
    assert.equal(upsync.statusMissing, 30);
  } finally {
    await app.stop();
    await h.stop();
  }
});
