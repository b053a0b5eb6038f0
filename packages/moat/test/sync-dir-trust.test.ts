// The sync directory on a real file system: created 0700 with 0600 files, and refused at start when
// another user owns it or group or others may write to it (anyone who can write there can swap in rules
// of their own, since files on disk are loaded without their signatures).
import assert from 'node:assert/strict';
import { chmodSync, chownSync, copyFileSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { createManagedFirewall, type ManagedFirewallOptions } from '../src/managed/managed-firewall.js';
import { untrustedBecause } from '../src/sync/sync-dir-trust.js';
import { FakeHub, rulesBytes, tempDir, waitFor } from './helpers/fake-hub.js';

const FAST = {
  customRulesIntervalMs: 30, dataIntervalMs: 60_000, watchIntervalMs: 10, backoffBaseMs: 10, backoffMaxMs: 40,
  longPollSeconds: 0, requestTimeoutMs: 5000, readyTimeoutMs: 10_000, logger: false as const, env: {}, upsync: false as const,
} satisfies ManagedFirewallOptions;

const mode = (path: string) => statSync(path).mode & 0o7777;

test('a missing sync directory is created 0700 and every file in it 0600', async () => {
  const hub = await new FakeHub().start();
  const { dir: root, cleanup } = tempDir();
  chmodSync(root, 0o755);
  const dir = join(root, 'app', 'wafris');
  const fw = createManagedFirewall({ ...FAST, apiKey: hub.apiKey, downsyncUrl: hub.downsyncUrl, dir, publicKey: hub.enableSigning().raw });
  try {
    hub.serve('custom_rules', rulesBytes({ block: { paths: ['/x'] } }).body, 'x.db');
    await fw.ready();
    await waitFor(() => fw.status().customRules.notModified > 0, 'the pointer rewritten after a 304');
    await fw.close(); // no lock or temporary file comes and goes while the files are looked at
    assert.equal(mode(dir), 0o700);
    const files = readdirSync(dir);
    assert.ok(files.includes('current-custom_rules.json') && files.some((f) => f.endsWith('.db')), files.join(', '));
    for (const file of files) assert.equal(mode(join(dir, file)), 0o600, file);
  } finally {
    await fw.close();
    await hub.stop();
    cleanup();
  }
});

test('a sync directory group or others may write to is refused at start (MOAT_ERR_SYNC_DIR), before anything is read from it', async () => {
  const hub = await new FakeHub().start();
  const { dir: root, cleanup } = tempDir();
  try {
    // Files someone planted: a pointer to rules of their own.
    const dir = join(root, 'shared');
    mkdirSync(dir);
    const planted = rulesBytes({ block: { paths: ['/planted'] } }).body;
    writeFileSync(join(dir, 'custom_rules-planted.db'), planted);
    writeFileSync(join(dir, 'current-custom_rules.json'), JSON.stringify({ category: 'custom_rules', file: 'custom_rules-planted.db', sha256: '' }));
    for (const bits of [0o775, 0o757, 0o1777, 0o770]) {
      chmodSync(dir, bits);
      assert.throws(
        () => createManagedFirewall({ ...FAST, apiKey: hub.apiKey, downsyncUrl: hub.downsyncUrl, dir }),
        (error: Error & { code?: string }) => error.code === 'MOAT_ERR_SYNC_DIR' && /writable by (group|others)/.test(error.message) && error.message.includes('chmod 700'),
        bits.toString(8),
      );
    }
    assert.equal(hub.downsyncs.length, 0, 'nothing asked of the hub either');
    chmodSync(dir, 0o755); // not writable by others: trusted (readable is fine)
    const fw = createManagedFirewall({ ...FAST, apiKey: hub.apiKey, downsyncUrl: hub.downsyncUrl, dir });
    await fw.close();
  } finally {
    await hub.stop();
    cleanup();
  }
});

test('a sync directory another user owns is refused; one root owns is trusted', async (t: TestContext) => {
  // Everywhere: the rule itself.
  assert.match(untrustedBecause({ uid: 1001, mode: 0o40700 }, 1000) ?? '', /owned by user 1001/);
  assert.equal(untrustedBecause({ uid: 0, mode: 0o40755 }, 1000), null, 'root');
  assert.equal(untrustedBecause({ uid: 1000, mode: 0o40700 }, 1000), null);
  assert.equal(untrustedBecause({ uid: 1001, mode: 0o40777 }, null), null, 'no POSIX owners (Windows)');
  if (process.getuid?.() !== 0) {
    t.diagnostic('not root: a directory of another user cannot be made here');
    return;
  }
  // As root: a real directory of another user, with a rules file in it.
  const { dir: root, cleanup } = tempDir();
  try {
    const dir = join(root, 'theirs');
    mkdirSync(dir, { mode: 0o700 });
    const rules = join(root, 'rules.db');
    writeFileSync(rules, rulesBytes({ block: { paths: ['/x'] } }).body);
    copyFileSync(rules, join(dir, 'rules.db'));
    chownSync(dir, 4321, 4321);
    assert.throws(() => createManagedFirewall({ ...FAST, dir }), (error: Error & { code?: string }) =>
      error.code === 'MOAT_ERR_SYNC_DIR' && /owned by user 4321/.test(error.message));
    chownSync(dir, 0, 0);
    const fw = createManagedFirewall({ ...FAST, dir, rules });
    assert.notEqual(fw.currentEngine, null);
    await fw.close();
  } finally {
    cleanup();
  }
});
