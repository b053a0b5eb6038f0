// The load worker's time bound (loadTimeoutMs), with a worker that hangs for real: the one test seam on
// that path, loadWorkerWatch.hold, makes each load worker wait on a shared flag before any work, as a
// stuck disk or a pathological file would. The timeout stops it, the directory lock is released, the
// rules in use keep serving, the error is counted, and the file is tried again after a backoff.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, test } from 'node:test';
import { loadWorkerWatch, offThreadLoadCounts, RULES_OFF_THREAD_MIN_BYTES } from '../src/loading/load-off-thread.js';
import { createManagedFirewall, type ManagedFirewall, type ManagedFirewallOptions } from '../src/managed/managed-firewall.js';
import { readPointer, writePointer } from '../src/sync/current-pointer.js';
import { installedFileName } from '../src/sync/sync-dir-files.js';
import { FakeHub, rulesBytes, tempDir, verdict, waitFor } from './helpers/fake-hub.js';

const FAST = {
  customRulesIntervalMs: 30, dataIntervalMs: 60_000, watchIntervalMs: 10, backoffBaseMs: 200, backoffMaxMs: 400,
  longPollSeconds: 0, requestTimeoutMs: 5000, readyTimeoutMs: 10_000, logger: false as const, env: {}, upsync: false as const,
} satisfies ManagedFirewallOptions;

/** A rules file big enough to be loaded in the worker. */
function bigRules(tag: string): Buffer {
  const body = rulesBytes({ block: { paths: [`/${tag}`, ...Array.from({ length: 1500 }, (_, i) => `/${tag}-${i}-padding-padding`)] } }).body;
  assert.ok(body.length >= RULES_OFF_THREAD_MIN_BYTES, `${body.length} bytes`);
  return body;
}

/** Makes every load worker started from now on hang until released. */
function holdWorkers(): { starts: () => number; release: () => void } {
  const hold = new Int32Array(new SharedArrayBuffer(4));
  let starts = 0;
  loadWorkerWatch.hold = hold;
  loadWorkerWatch.onStart = () => { starts++; };
  return {
    starts: () => starts,
    release: () => {
      loadWorkerWatch.hold = null;
      loadWorkerWatch.onStart = null;
      Atomics.store(hold, 0, 1);
      Atomics.notify(hold, 0);
    },
  };
}

afterEach(() => {
  loadWorkerWatch.hold = null;
  loadWorkerWatch.onStart = null;
});

test('a download whose load hangs: stopped at loadTimeoutMs, lock released, old rules serve, counted, retried after a backoff', async () => {
  const hub = await new FakeHub().start();
  const { dir, cleanup } = tempDir();
  let fw = createManagedFirewall({ ...FAST, apiKey: hub.apiKey, downsyncUrl: hub.downsyncUrl, dir, loadTimeoutMs: 300 });
  try {
    hub.serve('custom_rules', rulesBytes({ block: { paths: ['/v1'] } }).body, 'v1.db'); // small: loaded inline
    await fw.ready();
    assert.equal(verdict(fw, '/v1'), 'Blocked:bp');

    const held = holdWorkers();
    const timeouts = offThreadLoadCounts.timeouts;
    hub.serve('custom_rules', bigRules('v2'), 'v2.db');
    await waitFor(() => fw.status().customRules.lastErrorReason === 'load-timeout', 'the load stopped');
    let st = fw.status().customRules;
    assert.equal(st.lastErrorCode, 'MOAT_ERR_WORKER');
    assert.match(st.lastError ?? '', /loadTimeoutMs/);
    assert.ok(st.nextPollAt! - st.lastAttemptAt! >= FAST.backoffBaseMs / 2, 'the retry waits a backoff');
    assert.equal(verdict(fw, '/v1'), 'Blocked:bp', 'the rules in use keep serving');
    assert.equal(verdict(fw, '/v2'), 'Passed:passed');

    // A second attempt can only take the lock if the first released it (else: 'locked', no download).
    await waitFor(() => held.starts() >= 2 && fw.status().customRules.consecutiveFailures >= 2, 'a retry, timed out too');
    st = fw.status().customRules;
    assert.equal(st.lastErrorReason, 'load-timeout');
    assert.ok(st.errors >= 2 && offThreadLoadCounts.timeouts >= timeouts + 2);
    assert.equal(readPointer(dir, 'custom_rules')?.servedName, 'v1.db', 'nothing installed');
    await fw.close();
    held.release();
    assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.part') || f.endsWith('.lock')), [], 'no part file or lock left');

    // Nothing left behind stops the next process: it installs the file.
    fw = createManagedFirewall({ ...FAST, apiKey: hub.apiKey, downsyncUrl: hub.downsyncUrl, dir });
    await waitFor(() => verdict(fw, '/v2') === 'Blocked:bp', 'version 2 once loads finish');
  } finally {
    await fw.close();
    await hub.stop();
    cleanup();
  }
});

test('a file another process installed whose load hangs: stopped, the old rules serve, tried again only after a backoff', async () => {
  const { dir, cleanup } = tempDir();
  let clockReads = 0;
  let nowMs = 1_800_000_000_000;
  const now = () => {
    clockReads++;
    return nowMs;
  };
  const ticks = async (reads: number) => {
    const target = clockReads + reads;
    await waitFor(() => clockReads >= target, 'timer ticks');
  };
  // This process only follows the pointer (no API key), on a clock that moves only when the test says.
  const v1 = rulesBytes({ block: { paths: ['/v1'] } }).body;
  await install(dir, v1, 'v1.db', nowMs);
  const fw = createManagedFirewall({ ...FAST, dir, now, watchIntervalMs: 5, backoffBaseMs: 1000, backoffMaxMs: 8000, loadTimeoutMs: 300 });
  try {
    assert.equal(verdict(fw, '/v1'), 'Blocked:bp');
    const held = holdWorkers();
    await install(dir, bigRules('v2'), 'v2.db', nowMs);
    await waitFor(() => fw.status().customRules.lastErrorReason === 'load-timeout', 'the load stopped');
    await ticks(200);
    assert.equal(held.starts(), 1, 'not tried again while no time passes, however often the timers fire');
    assert.equal(verdict(fw, '/v1'), 'Blocked:bp');
    nowMs += 8001;
    await waitFor(() => held.starts() === 2, 'tried again after the backoff');
    await waitFor(() => fw.status().customRules.errors >= 2, 'and stopped again');
    assert.equal(fw.status().customRules.lastErrorCode, 'MOAT_ERR_WORKER');
    assert.equal(verdict(fw, '/v1'), 'Blocked:bp');
    assert.ok(existsSync(join(dir, readPointer(dir, 'custom_rules')!.file)), 'the file is not judged bad: it stays');
    held.release();
  } finally {
    await fw.close();
    cleanup();
  }
});

/** Puts a file in place and moves the pointer to it, as the process holding the download lock does. */
async function install(dir: string, body: Buffer, servedName: string, at: number): Promise<void> {
  const sha256 = createHash('sha256').update(body).digest('hex');
  const file = installedFileName('custom_rules', sha256);
  writeFileSync(join(dir, file), body, { mode: 0o600 });
  await writePointer(dir, {
    category: 'custom_rules', file, servedName, etag: null, sha256, size: body.length, contentHash: '', formatVersion: 0,
    installedAt: at, checkedAt: at, freshness: { seen: false, issuedAt: null, confirmedAt: null },
  });
}
