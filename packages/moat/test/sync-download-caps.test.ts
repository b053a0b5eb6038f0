// Download size bounds per file: a rules file is small (a hub's caps give about 27 MiB at most), so a
// rules answer gets its own bound (maxRulesDownloadBytes, 64 MiB) apart from the data file's
// (maxDownloadBytes, 2 GiB). A larger answer is refused before or while it arrives and nothing is kept.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { createManagedFirewall, type ManagedFirewallOptions } from '../src/managed/managed-firewall.js';
import { parseRange } from '../src/ip/range.js';
import { dataBytes, FakeHub, rulesBytes, tempDir, waitFor } from './helpers/fake-hub.js';

const FAST = {
  customRulesIntervalMs: 30, dataIntervalMs: 30, watchIntervalMs: 10, backoffBaseMs: 10, backoffMaxMs: 40,
  longPollSeconds: 0, requestTimeoutMs: 5000, readyTimeoutMs: 10_000, logger: false as const, env: {}, upsync: false as const,
} satisfies ManagedFirewallOptions;

const MiB = 1024 * 1024;

/** Files sync keeps: installed files and downloads in progress (the pointer aside). */
function stored(dir: string): string[] {
  return readdirSync(dir).filter((f) => f.endsWith('.db') || f.endsWith('.part'));
}

test('by default a rules answer over 64 MiB is refused from its Content-Length, and nothing is stored', async () => {
  const hub = await new FakeHub().start();
  const { dir, cleanup } = tempDir();
  const body = Buffer.alloc(64 * MiB + 1);
  body.write('SQLite format 3\0');
  hub.serve('custom_rules', body, 'huge.db');
  const fw = createManagedFirewall({ ...FAST, apiKey: hub.apiKey, downsyncUrl: hub.downsyncUrl, dir });
  try {
    assert.equal(fw.settings.maxRulesDownloadBytes, 64 * MiB);
    assert.equal(fw.settings.maxDownloadBytes, 2 * 1024 * MiB, 'the data file keeps its bound');
    const status = await fw.ready();
    assert.equal(status.customRules.lastErrorReason, 'too-large');
    assert.equal(status.customRules.lastErrorCode, 'MOAT_ERR_SYNC_TOO_LARGE');
    assert.match(status.customRules.lastError ?? '', /maxRulesDownloadBytes/);
    assert.equal(fw.currentEngine, null);
    assert.deepEqual(stored(dir), [], 'refused before a byte is written');
    await fw.close();
    assert.deepEqual(stored(dir), []);
  } finally {
    await fw.close();
    await hub.stop();
    cleanup();
  }
});

test('a rules answer of unknown length is cut off at its bound while a bigger data file is taken; maxDownloadBytes caps both', async () => {
  const hub = await new FakeHub().start();
  const { dir, cleanup } = tempDir();
  const rules = Buffer.concat([rulesBytes({ block: { paths: ['/x'] } }).body, Buffer.alloc(MiB + 4096)]);
  hub.serve('custom_rules', rules, 'rules.db');
  hub.fault('custom_rules', { kind: 'chunked' });
  const data = paddedDataFile(3 * MiB);
  hub.serve('data_subscriptions', data, 'data.db');
  hub.fault('data_subscriptions', { kind: 'chunked' });
  const fw = createManagedFirewall({ ...FAST, apiKey: hub.apiKey, downsyncUrl: hub.downsyncUrl, dir, maxRulesDownloadBytes: MiB });
  try {
    await waitFor(() => fw.status().dataSubscriptions.file !== null, 'the 3 MiB data file');
    await waitFor(() => fw.status().customRules.lastErrorReason === 'too-large', 'the rules answer refused');
    assert.match(fw.status().customRules.lastError ?? '', /exceeds the 1048576 bytes allowed \(maxRulesDownloadBytes\)/);
    // Closed first: a retry may be downloading right now; what it wrote goes when it stops.
    await fw.close();
    assert.deepEqual(stored(dir).filter((f) => !f.startsWith('data_subscriptions-')), [], 'no rules file or part file kept');
  } finally {
    await fw.close();
    await hub.stop();
    cleanup();
  }
  const other = tempDir();
  const lowered = createManagedFirewall({ ...FAST, maxDownloadBytes: 512 * 1024, dir: other.dir });
  assert.equal(lowered.settings.maxRulesDownloadBytes, 512 * 1024, 'never above maxDownloadBytes');
  await lowered.close();
  other.cleanup();
});

/** A real data file padded with a table of blobs to about `bytes`. */
function paddedDataFile(bytes: number): Buffer {
  const { dir, cleanup } = tempDir('moat-padded-data-');
  try {
    const path = join(dir, 'data.db');
    writeFileSync(path, dataBytes({
      lists: [{ name: 'tor', ranges: [parseRange('198.51.100.0/24')], summary: { name: 'tor', kind: 'list', ranges: 1, invalidLines: 0 } }],
    }));
    const db = new Database(path);
    db.exec('CREATE TABLE padding (b BLOB)');
    const insert = db.prepare('INSERT INTO padding VALUES (?)');
    for (let i = 0; i < bytes / (64 * 1024); i++) insert.run(Buffer.alloc(64 * 1024, i));
    db.close();
    return readFileSync(path);
  } finally {
    cleanup();
  }
}
