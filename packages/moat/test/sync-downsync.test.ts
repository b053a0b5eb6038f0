// Downsync against a real Wafris-v2-speaking HTTP server on 127.0.0.1: first download, 304s with the
// Wafris query parameters and If-None-Match, swapping to a new version, redirects, 401, signatures.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { createManagedFirewall, type ManagedFirewallOptions } from '../src/managed/managed-firewall.js';
import { parseRange } from '../src/ip/range.js';
import { dataBytes, FakeHub, rulesBytes, tempDir, waitFor } from './helpers/fake-hub.js';

const FAST = {
  customRulesIntervalMs: 40, dataIntervalMs: 60_000, watchIntervalMs: 20, backoffBaseMs: 20, backoffMaxMs: 80,
  requestTimeoutMs: 2000, readyTimeoutMs: 5000, logger: false as const, env: {}, upsync: false as const,
} satisfies ManagedFirewallOptions;

function verdict(fw: ReturnType<typeof createManagedFirewall>, request: { ip?: string; path?: string }): string {
  const engine = fw.currentEngine;
  if (engine === null) return 'no-engine';
  const d = engine.evaluate({ ip: request.ip ?? '192.0.2.10', method: 'GET', host: 'example.test', path: request.path ?? '/' });
  return `${d.treatment}:${d.category}`;
}

test('downloads custom rules and data at start, then polls with the Wafris parameters and gets 304s', async () => {
  const hub = await new FakeHub().start();
  const { dir, cleanup } = tempDir();
  const rules = rulesBytes({ block: { paths: ['/wp-admin'], lists: ['tor'] } });
  hub.serve('custom_rules', rules.body, 'custom_rules-v1.db');
  hub.serve('data_subscriptions', dataBytes({
    lists: [{ name: 'tor', ranges: [parseRange('198.51.100.0/24')], summary: { name: 'tor', kind: 'list', ranges: 1, invalidLines: 0 } }],
  }), 'data-v1.db');
  const fw = createManagedFirewall({ ...FAST, apiKey: hub.apiKey, downsyncUrl: hub.downsyncUrl, dir, framework: 'node-test' });
  try {
    assert.equal(fw.currentEngine, null, 'nothing on disk yet: no engine');
    const status = await fw.ready();
    assert.equal(status.customRules.lastResult, 'updated');
    assert.equal(verdict(fw, { path: '/wp-admin/x' }), 'Blocked:bp');
    await waitFor(() => fw.status().dataSubscriptions.file !== null, 'the data file');
    assert.equal(verdict(fw, { ip: '198.51.100.7' }), 'Blocked:brep', 'list rule uses the data file');
    assert.equal(verdict(fw, { ip: '192.0.2.1' }), 'Passed:passed');

    const first = hub.downsyncs.find((h) => h.category === 'custom_rules')!;
    assert.equal(first.query.client, 'moat');
    assert.equal(first.query.client_db, '');
    assert.equal(first.query.framework, 'node-test');
    assert.equal(first.query.process_id, String(process.pid));
    assert.ok(first.query.hostname && first.query.version, 'hostname and version are sent');

    await waitFor(() => fw.status().customRules.notModified >= 1, 'a 304');
    const later = hub.downsyncs.find((h) => h.category === 'custom_rules' && h.status === 304)!;
    assert.equal(later.query.client_db, 'custom_rules-v1.db');
    assert.equal(later.ifNoneMatch, '"custom_rules-v1.db"');
    assert.equal(hub.downloads('custom_rules'), 1);

    const st = fw.status();
    assert.equal(st.customRules.file?.servedName, 'custom_rules-v1.db');
    assert.equal(st.customRules.file?.contentHash, rules.hash);
    assert.equal(st.customRules.file?.source, 'hub');
    assert.ok(st.customRules.file!.ageMs >= 0);
    const pointer = JSON.parse(readFileSync(join(dir, 'current-custom_rules.json'), 'utf8'));
    assert.equal(pointer.contentHash, rules.hash);
    assert.ok(existsSync(join(dir, pointer.file)));
  } finally {
    await fw.close();
    await hub.stop();
    cleanup();
  }
});

test('swaps to a new rules version, keeping only recent files on disk', async () => {
  const hub = await new FakeHub().start();
  const { dir, cleanup } = tempDir();
  hub.serve('custom_rules', rulesBytes({ block: { paths: ['/one'] } }).body, 'r1.db');
  const fw = createManagedFirewall({ ...FAST, apiKey: hub.apiKey, downsyncUrl: hub.downsyncUrl, dir });
  try {
    await fw.ready();
    assert.equal(verdict(fw, { path: '/one' }), 'Blocked:bp');
    for (let v = 2; v <= 4; v++) {
      hub.serve('custom_rules', rulesBytes({ block: { paths: [`/v${v}`] } }).body, `r${v}.db`);
      await waitFor(() => verdict(fw, { path: `/v${v}` }) === 'Blocked:bp', `version ${v}`);
      assert.equal(verdict(fw, { path: '/one' }), 'Passed:passed');
    }
    assert.equal(fw.status().customRules.downloads, 4);
    const files = readdirSync(dir).filter((f) => f.startsWith('custom_rules-') && f.endsWith('.db'));
    assert.equal(files.length, 2, `current and previous only: ${files.join(', ')}`);
  } finally {
    await fw.close();
    await hub.stop();
    cleanup();
  }
});

test('follows up to two redirects and refuses a third', async () => {
  const hub = await new FakeHub().start();
  const { dir, cleanup } = tempDir();
  hub.serve('custom_rules', rulesBytes({ block: { paths: ['/r'] } }).body, 'r.db');
  hub.fault('custom_rules', { kind: 'redirect', count: 2 });
  let fw = createManagedFirewall({ ...FAST, apiKey: hub.apiKey, downsyncUrl: hub.downsyncUrl, dir });
  try {
    await fw.ready();
    assert.equal(verdict(fw, { path: '/r' }), 'Blocked:bp');
    await fw.close();

    const other = tempDir();
    hub.fault('custom_rules', { kind: 'redirect', count: 3 });
    fw = createManagedFirewall({ ...FAST, apiKey: hub.apiKey, downsyncUrl: hub.downsyncUrl, dir: other.dir });
    const status = await fw.ready();
    assert.equal(status.customRules.lastResult, 'error');
    assert.equal(status.customRules.lastErrorReason, 'too-many-redirects');
    assert.equal(fw.currentEngine, null);
    await fw.close();
    other.cleanup();
  } finally {
    await fw.close();
    await hub.stop();
    cleanup();
  }
});

test('a refused API key (401) stops every sync with a clear error', async () => {
  const hub = await new FakeHub('the-right-key').start();
  const { dir, cleanup } = tempDir();
  hub.serve('custom_rules', rulesBytes({ block: { paths: ['/x'] } }).body);
  const errors: string[] = [];
  const fw = createManagedFirewall({
    ...FAST, apiKey: 'a-wrong-key', downsyncUrl: hub.downsyncUrl, dir, onSyncError: (e) => errors.push(e.error.message),
  });
  try {
    const status = await fw.ready();
    assert.equal(status.keyRefused, true);
    assert.equal(status.customRules.lastResult, 'unauthorized');
    assert.equal(status.customRules.stopped, true);
    assert.equal(status.dataSubscriptions.stopped, true);
    assert.match(errors.join('\n'), /refused the API key/);
    assert.doesNotMatch(errors.join('\n'), /a-wrong-key/, 'the key is not logged whole');
    await waitFor(() => fw.status().dataSubscriptions.lastAttemptAt !== null, 'the data request in flight at start');
    await new Promise((r) => setTimeout(r, 20));
    const count = hub.downsyncs.length;
    await new Promise((r) => setTimeout(r, 200)); // five poll intervals
    assert.equal(hub.downsyncs.length, count, 'no more polls after 401');
  } finally {
    await fw.close();
    await hub.stop();
    cleanup();
  }
});

test('signatures: accepted with a raw or PEM key, rejected when bad or missing (last good file kept)', async () => {
  const hub = await new FakeHub().start();
  const keys = hub.enableSigning();
  for (const [label, publicKey] of [['raw', keys.raw], ['pem', keys.pem]] as const) {
    const { dir, cleanup } = tempDir();
    hub.fault('custom_rules', { kind: 'serve' });
    hub.serve('custom_rules', rulesBytes({ block: { paths: ['/signed'] } }).body, `signed-${label}.db`);
    const fw = createManagedFirewall({ ...FAST, apiKey: hub.apiKey, downsyncUrl: hub.downsyncUrl, dir, publicKey });
    try {
      const status = await fw.ready();
      assert.equal(status.customRules.lastResult, 'updated', label);
      assert.equal(verdict(fw, { path: '/signed' }), 'Blocked:bp');

      for (const [fault, reason] of [['bad-signature', 'bad-signature'], ['no-signature', 'unsigned'], ['bad-digest', 'bad-signature']] as const) {
        hub.fault('custom_rules', { kind: fault });
        hub.serve('custom_rules', rulesBytes({ block: { paths: ['/forged'] } }).body, `forged-${label}-${fault}.db`);
        await waitFor(() => fw.status().customRules.lastErrorReason === reason, `${label}: ${reason}`);
        assert.equal(fw.status().customRules.lastErrorCode, 'MOAT_ERR_SYNC_SIGNATURE');
        assert.equal(verdict(fw, { path: '/forged' }), 'Passed:passed', 'the unverified file is never used');
        assert.equal(verdict(fw, { path: '/signed' }), 'Blocked:bp', 'the last good file stays');
        assert.equal(fw.status().customRules.file?.servedName, `signed-${label}.db`);
      }
      // The signed hash alone is enough (the file is then not read again for its signature), and so is
      // the signature of the bytes alone, as a hub from before digest signatures sends.
      for (const fault of ['digest-only', 'full-only'] as const) {
        hub.fault('custom_rules', { kind: fault });
        hub.serve('custom_rules', rulesBytes({ block: { paths: [`/${fault}`] } }).body, `${fault}-${label}.db`);
        await waitFor(() => fw.status().customRules.file?.servedName === `${fault}-${label}.db`, `${label}: ${fault}`);
        assert.equal(verdict(fw, { path: `/${fault}` }), 'Blocked:bp');
      }
    } finally {
      await fw.close();
      cleanup();
    }
  }
  await hub.stop();
});

test('a public key that is not ed25519 is an option error', () => {
  assert.throws(() => createManagedFirewall({ ...FAST, publicKey: Buffer.alloc(16).toString('base64') }), { name: 'OptionError', code: 'MOAT_ERR_OPTION_INVALID' });
});
