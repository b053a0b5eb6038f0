// The warm preview workers (src/rules/preview-pool.ts): reused across jobs, replaced when one crashes,
// freed by cancellation, ended with their last user; then the same through a real hub: previews after
// a worker crash, two sites' previews at once, and a hub that closes with the pool idle.
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { PreviewWorkerPool, previewWorkers, type PartListener } from '../src/rules/preview-pool.js';
import type { FixturePart } from './support/preview-part-fixture.js';
import { Client, createSiteWithKey, startTestHub, type TestHub } from './support/hub-fixture.js';
import { bruteCount, bruteRateLimited, previewTraffic, runPreview, storedReports } from './support/preview-traffic.js';

const FIXTURE = new URL('./support/preview-part-fixture', import.meta.url);
const HOST = new URL('../src/rules/preview-worker-host', import.meta.url);

interface Outcome { messages: Record<string, unknown>[]; died?: string }

/** Runs one fixture part; resolves with its messages once its thread is free (or gone), or at its first message for a part that runs until cancelled. */
function runFixture(pool: PreviewWorkerPool, part: FixturePart, until?: (message: Record<string, unknown>) => boolean): { outcome: Promise<Outcome>; stop: (how: 'cancel' | 'terminate') => Promise<void> } {
  const outcome: Outcome = { messages: [] };
  let seen!: () => void;
  const reached = new Promise<void>((resolve) => (seen = resolve));
  const listener: PartListener = {
    message: (message) => { outcome.messages.push(message as Record<string, unknown>); if (until?.(message as Record<string, unknown>) ?? true) seen(); },
    died: (reason) => { outcome.died = reason; seen(); },
  };
  const running = pool.run(FIXTURE, part, [], listener);
  // The pool's threads and ports never hold the process (a hub's server does): a guard keeps it up meanwhile.
  const guard = setTimeout(() => undefined, 60_000);
  const stop = (how: 'cancel' | 'terminate') => running.stop(how).finally(() => clearTimeout(guard));
  // A part that ends by itself is awaited until its thread is free again (cancelling a finished part changes nothing).
  const settled = reached.then(async () => { if (part.do !== 'run until cancelled') await stop('cancel'); return outcome; });
  return { outcome: settled, stop };
}

describe('preview worker pool', () => {
  it('two jobs in a row run on the same two warm threads: no thread starts for the second', async () => {
    const pool = new PreviewWorkerPool(HOST);
    const detach = pool.attach(FIXTURE);
    try {
      const first = await Promise.all([1, 2].map((value) => runFixture(pool, { do: 'answer', value }).outcome));
      assert.deepEqual(first.map((o) => o.messages[0]?.value), [1, 2]);
      assert.equal(pool.started, 2);
      const second = await Promise.all([3, 4].map((value) => runFixture(pool, { do: 'answer', value }).outcome));
      assert.deepEqual(second.map((o) => o.messages[0]?.value), [3, 4]);
      assert.equal(pool.started, 2, 'the second job reused the warm threads');
      assert.deepEqual(new Set(second.map((o) => o.messages[0]?.threadId)), new Set(first.map((o) => o.messages[0]?.threadId)));
    } finally {
      await detach();
    }
  });

  it('a part whose thread crashes is told so, the thread is replaced, and the next part still answers', async () => {
    const pool = new PreviewWorkerPool(HOST);
    const detach = pool.attach(FIXTURE);
    try {
      const crashed = await runFixture(pool, { do: 'crash' }).outcome;
      assert.match(crashed.died ?? '', /stopped unexpectedly/);
      assert.equal(pool.size, 2, 'a fresh thread took the crashed one\'s place');
      const next = await runFixture(pool, { do: 'answer', value: 7 }).outcome;
      assert.equal(next.messages[0]?.value, 7);
      assert.equal(next.died, undefined);
    } finally {
      await detach();
    }
  });

  it('a cancelled part frees its thread for the next job, which starts no new thread', async () => {
    const pool = new PreviewWorkerPool(HOST);
    const detach = pool.attach(FIXTURE);
    try {
      const long = runFixture(pool, { do: 'run until cancelled' });
      const { messages } = await long.outcome;
      await long.stop('cancel');
      const next = await runFixture(pool, { do: 'answer', value: 9 }).outcome;
      assert.equal(next.messages[0]?.value, 9);
      assert.equal(pool.started, 2, 'no thread was ended or started for the cancellation');
      assert.ok(messages.length >= 1);
    } finally {
      await detach();
    }
  });

  it('parts beyond the warm two start extra threads, ended when they come back idle; the last user ends the rest', async () => {
    const pool = new PreviewWorkerPool(HOST);
    const detach = pool.attach(FIXTURE);
    const parts = [1, 2, 3].map(() => runFixture(pool, { do: 'run until cancelled' }));
    await Promise.all(parts.map((p) => p.outcome));
    assert.equal(pool.size, 3);
    await Promise.all(parts.map((p) => p.stop('cancel')));
    assert.equal(pool.size, 2, 'the extra thread went once idle');
    await detach();
    assert.equal(pool.size, 0);
    assert.throws(() => pool.run(FIXTURE, { do: 'answer', value: 1 }, [], { message: () => undefined, died: () => undefined }), /no preview is open/);
  });

  it('a part ended by terminate (the time guard, hub shutdown) loses its thread, and a fresh one serves the next part', async () => {
    const pool = new PreviewWorkerPool(HOST);
    const detach = pool.attach(FIXTURE);
    try {
      const long = runFixture(pool, { do: 'run until cancelled' });
      const [thread] = (await long.outcome).messages.map((m) => m.threadId);
      await long.stop('terminate');
      assert.equal(pool.size, 2);
      const next = await runFixture(pool, { do: 'answer', value: 5 }).outcome;
      assert.notEqual(next.messages[0]?.threadId, thread);
    } finally {
      await detach();
    }
  });
});

describe('warm preview workers behind a real hub', () => {
  let hub: TestHub;
  let admin: Client;
  const sites: number[] = [];
  const NOW = Math.floor(Date.now() / 1000);

  before(async () => {
    hub = await startTestHub();
    admin = new Client(hub.url);
    await admin.login();
    for (const name of ['shop a', 'shop b']) {
      const { siteId } = await createSiteWithKey(admin, name);
      await hub.store.insertReports(siteId, previewTraffic(NOW, 4000));
      sites.push(siteId);
    }
  });
  after(async () => {
    await hub?.stop();
  });

  it('opening the rules page starts the warm workers for an admin, before any preview', async () => {
    assert.equal(previewWorkers.size, 0, 'nothing started them yet');
    const page = await admin.request(`/sites/${sites[0]}/rules`);
    assert.equal(page.status, 200);
    assert.equal(previewWorkers.size, 2);
    await previewWorkers.whenReady();
    const started = previewWorkers.started;
    const job = await runPreview(admin, sites[0]!, { kind: 'path', value: '/login', action: 'block' });
    assert.equal(job.state, 'done', job.error);
    assert.equal(previewWorkers.started, started, 'the preview ran on the workers the page started');
  });

  it('a preview after a preview worker crashed still answers, with the brute-force count', async () => {
    const rule = { kind: 'path', value: '/wp-admin', action: 'block' };
    const first = await runPreview(admin, sites[0]!, rule);
    assert.equal(first.state, 'done', first.error);
    // Crash one of the process's warm threads the way a fault would: its thread exits mid-part.
    const detach = previewWorkers.attach(FIXTURE);
    try {
      assert.ok((await runFixture(previewWorkers, { do: 'crash' }).outcome).died);
    } finally {
      await detach();
    }
    const again = await runPreview(admin, sites[0]!, rule);
    assert.equal(again.state, 'done', again.error);
    const stored = await storedReports(hub.store, sites[0]!, again.from, again.to);
    assert.equal(again.result!.matched.requests, bruteCount(stored.filter((r) => r.path.toLowerCase().includes('/wp-admin'))).requests);
  });

  it('two sites previewing rate limits at once both get the counts of a brute-force replay', async () => {
    const rule = { kind: 'rateLimit', rateLimit: { path: '/login', limit: 2, window: '10m' } };
    const jobs = await Promise.all(sites.map((siteId) => runPreview(admin, siteId, rule)));
    for (const [i, job] of jobs.entries()) {
      assert.equal(job.state, 'done', job.error);
      const stored = await storedReports(hub.store, sites[i]!, job.from, job.to);
      assert.equal(job.result!.matched.requests, bruteRateLimited(stored, '/login', 2, 600).length, `site ${i}`);
    }
  });

  it('the hub closes with the pool idle, without hanging, and its workers end with it', async () => {
    assert.ok(previewWorkers.size >= 2, 'the warm workers are up');
    await hub.stop();
    assert.equal(previewWorkers.size, 0);
  });
});
