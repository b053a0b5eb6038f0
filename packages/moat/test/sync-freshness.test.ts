// Signed freshness statements (X-Moat-Freshness) against a real HTTP hub on 127.0.0.1 that can replay
// any answer it gave: an older file signed for this site, a file signed for another site or category,
// 304s for ever, and a stripped statement are each refused or made visible, across restarts too.
// Clocks are injected (the hub's `issued` and the client's `now`), so nothing depends on speed.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { createManagedFirewall, type ManagedFirewall, type ManagedFirewallOptions } from '../src/managed/managed-firewall.js';
import { parseRange } from '../src/ip/range.js';
import { dataBytes, fakeSiteTag, FakeHub, rulesBytes, tempDir, verdict, waitFor } from './helpers/fake-hub.js';

const FAST = {
  customRulesIntervalMs: 30, dataIntervalMs: 60_000, watchIntervalMs: 10, backoffBaseMs: 10, backoffMaxMs: 40,
  longPollSeconds: 0, requestTimeoutMs: 5000, readyTimeoutMs: 10_000, logger: false as const, env: {}, upsync: false as const,
} satisfies ManagedFirewallOptions;

/** A hub whose `issued` moves a second on every answer: later answers are always later. */
async function signingHub(apiKey?: string): Promise<{ hub: FakeHub; publicKey: string }> {
  const hub = await new FakeHub(apiKey).start();
  let t = 1_800_000_000_000;
  hub.clock = () => (t += 1000);
  return { hub, publicKey: hub.enableSigning().raw };
}

function lastAnswer(hub: FakeHub, category: 'custom_rules' | 'data_subscriptions', status: number) {
  const answer = hub.answers.filter((a) => a.category === category && a.status === status).at(-1);
  assert.ok(answer, `a recorded ${status} for ${category}`);
  return answer;
}

test('an older file the hub signed for this site, replayed, is refused, and still after a restart', async () => {
  const { hub, publicKey } = await signingHub();
  const { dir, cleanup } = tempDir();
  const options = { ...FAST, apiKey: hub.apiKey, downsyncUrl: hub.downsyncUrl, dir, publicKey };
  let fw = createManagedFirewall(options);
  try {
    hub.serve('custom_rules', rulesBytes({ block: { paths: ['/before'] } }).body, 'v1.db');
    await waitFor(() => verdict(fw, '/before') === 'Blocked:bp', 'version 1');
    const old = lastAnswer(hub, 'custom_rules', 200);
    assert.match(old.headers['x-moat-freshness']!, new RegExp(`^moat-file-v2 site=${fakeSiteTag(hub.apiKey)} category=custom_rules sha256=[0-9a-f]{64} issued=\\d+$`));

    // A block rule is added; then someone on the path answers with the file from before it.
    hub.serve('custom_rules', rulesBytes({ block: { paths: ['/added'] } }).body, 'v2.db');
    await waitFor(() => verdict(fw, '/added') === 'Blocked:bp', 'version 2');
    const installed = fw.status().customRules.freshness.issuedAt;
    assert.ok(installed !== null && installed > Number(/issued=(\d+)/.exec(old.headers['x-moat-freshness']!)![1]));
    hub.fault('custom_rules', { kind: 'replay', answer: old });
    await waitFor(() => fw.status().customRules.lastErrorReason === 'statement-old', 'the replay refused');
    assert.equal(fw.status().customRules.lastErrorCode, 'MOAT_ERR_SYNC_SIGNATURE');
    assert.equal(verdict(fw, '/added'), 'Blocked:bp', 'the newer rules stay');
    assert.equal(verdict(fw, '/before'), 'Passed:passed', 'the older file is never used');
    assert.equal(fw.status().customRules.downloads, 2);
    await fw.close();

    // The age floor is kept beside the pointer: a restarted process refuses the same replay.
    const pointer = JSON.parse(readFileSync(join(dir, 'current-custom_rules.json'), 'utf8'));
    assert.equal(pointer.freshness.issuedAt, installed);
    fw = createManagedFirewall(options);
    assert.equal(verdict(fw, '/added'), 'Blocked:bp', 'from disk at start');
    await waitFor(() => fw.status().customRules.lastErrorReason === 'statement-old', 'refused after a restart');
    assert.equal(verdict(fw, '/before'), 'Passed:passed');
  } finally {
    await fw.close();
    await hub.stop();
    cleanup();
  }
});

test('a file signed for another site, or for the other category, is refused', async () => {
  const { hub, publicKey } = await signingHub('site-a-key-0001');
  const other = await new FakeHub('site-b-key-0002').start();
  other.signingKey = hub.signingKey; // one hub, one key, two sites
  const { dir, cleanup } = tempDir();
  const fw = createManagedFirewall({ ...FAST, apiKey: hub.apiKey, downsyncUrl: hub.downsyncUrl, dir, publicKey });
  try {
    hub.serve('custom_rules', rulesBytes({ block: { paths: ['/site-a'] } }).body, 'a.db');
    hub.serve('data_subscriptions', dataBytes({
      lists: [{ name: 'tor', ranges: [parseRange('198.51.100.0/24')], summary: { name: 'tor', kind: 'list', ranges: 1, invalidLines: 0 } }],
    }), 'data.db');
    await waitFor(() => verdict(fw, '/site-a') === 'Blocked:bp' && fw.status().dataSubscriptions.file !== null, 'site A files');

    // Site B's rules (allowing what A blocks), fetched with B's key from the same hub and key pair.
    other.serve('custom_rules', rulesBytes({ block: { paths: ['/site-b'] } }).body, 'b.db');
    await (await fetch(`${other.downsyncUrl}/custom_rules/${other.apiKey}`)).arrayBuffer();
    hub.fault('custom_rules', { kind: 'replay', answer: lastAnswer(other, 'custom_rules', 200) });
    await waitFor(() => fw.status().customRules.lastErrorReason === 'statement-site', 'another site refused');
    assert.equal(fw.status().customRules.lastErrorCode, 'MOAT_ERR_SYNC_SIGNATURE');
    assert.equal(verdict(fw, '/site-b'), 'Passed:passed');
    assert.equal(verdict(fw, '/site-a'), 'Blocked:bp');

    // The data file's answer, for this very site, where the rules file belongs.
    hub.fault('custom_rules', { kind: 'replay', answer: lastAnswer(hub, 'data_subscriptions', 200) });
    await waitFor(() => fw.status().customRules.lastErrorReason === 'statement-category', 'the other category refused');
    assert.equal(verdict(fw, '/site-a'), 'Blocked:bp');
    assert.equal(fw.status().customRules.downloads, 1);
  } finally {
    await fw.close();
    await other.stop();
    await hub.stop();
    cleanup();
  }
});

test('304s for ever: a replayed 304 keeps syncAgeMs young but not the freshness age, which turns stale and is logged', async () => {
  const { dir, cleanup } = tempDir();
  const hub = await new FakeHub().start();
  const publicKey = hub.enableSigning().raw;
  // One simulated clock for hub and client; each poll is due only when the test moves it on.
  let offset = 0;
  const clock = () => Date.now() + offset;
  hub.clock = clock;
  const interval = 60_000;
  const warnings: string[] = [];
  const fw = createManagedFirewall({
    ...FAST, customRulesIntervalMs: interval, jitter: 0, apiKey: hub.apiKey, downsyncUrl: hub.downsyncUrl, dir, publicKey,
    now: clock, logIntervalMs: 10 * interval, logger: { error: () => {}, warn: (_o, message) => warnings.push(message ?? '') },
  });
  const pollOnce = async () => {
    const seen = fw.status().customRules.notModified;
    offset += interval + 1000;
    await waitFor(() => fw.status().customRules.notModified > seen, 'the next poll');
  };
  try {
    hub.serve('custom_rules', rulesBytes({ block: { paths: ['/x'] } }).body, 'x.db');
    await fw.ready();
    await pollOnce();
    const confirmedAt = fw.status().customRules.freshness.confirmedAt!;
    assert.ok(confirmedAt >= fw.status().customRules.freshness.issuedAt!, 'a 304 naming our file confirms it');
    assert.equal(fw.status().customRules.freshness.stale, false);

    hub.fault('custom_rules', { kind: 'replay', answer: lastAnswer(hub, 'custom_rules', 304) });
    for (let i = 0; i < 4; i++) await pollOnce();
    const st = fw.status();
    assert.equal(st.customRules.freshness.confirmedAt, confirmedAt, 'an old statement confirms nothing new');
    assert.ok(st.syncAgeMs.customRules! < interval, 'the 304s alone look fine');
    assert.ok(st.freshnessAgeMs.customRules! > 3 * interval, `freshness age ${st.freshnessAgeMs.customRules}`);
    await waitFor(() => fw.status().customRules.freshness.stale, 'stale');
    await waitFor(() => warnings.some((w) => /signed statement .* is \d+ s old/.test(w)), 'a warning');
    assert.equal(warnings.filter((w) => w.includes('signed statement')).length, 1, 'logged at a bounded rate');

    hub.fault('custom_rules', { kind: 'serve' });
    await pollOnce();
    assert.equal(fw.status().customRules.freshness.stale, false, 'a new statement: fresh again');
    assert.ok(fw.status().customRules.freshness.confirmedAt! > confirmedAt);
  } finally {
    await fw.close();
    await hub.stop();
    cleanup();
  }
});

test('statements once seen are required (a stripped one is refused, after a restart too); older hubs work; `freshness` says otherwise', async () => {
  const { hub, publicKey } = await signingHub();
  const { dir, cleanup } = tempDir();
  const options = { ...FAST, apiKey: hub.apiKey, downsyncUrl: hub.downsyncUrl, dir, publicKey };
  hub.statements = false; // a hub from before statements
  let fw = createManagedFirewall(options);
  try {
    hub.serve('custom_rules', rulesBytes({ block: { paths: ['/old-hub'] } }).body, 'v1.db');
    await waitFor(() => verdict(fw, '/old-hub') === 'Blocked:bp', 'a file without a statement, as today');
    await waitFor(() => fw.status().customRules.notModified > 0, 'a 304 without one');
    assert.deepEqual(fw.status().customRules.freshness, { required: false, issuedAt: null, confirmedAt: null, ageMs: null, stale: false });

    hub.statements = true; // the hub is upgraded
    hub.serve('custom_rules', rulesBytes({ block: { paths: ['/new-hub'] } }).body, 'v2.db');
    await waitFor(() => verdict(fw, '/new-hub') === 'Blocked:bp', 'a file with a statement');
    assert.equal(fw.status().customRules.freshness.required, true);

    // Someone on the path strips the statement to serve an older, validly signed file.
    hub.fault('custom_rules', { kind: 'no-statement' });
    hub.serve('custom_rules', rulesBytes({ block: { paths: ['/old-hub'] } }).body, 'v1-again.db');
    await waitFor(() => fw.status().customRules.lastErrorReason === 'statement-missing', 'refused');
    assert.equal(verdict(fw, '/new-hub'), 'Blocked:bp');
    assert.equal(verdict(fw, '/old-hub'), 'Passed:passed');
    await fw.close();

    fw = createManagedFirewall(options);
    await waitFor(() => fw.status().customRules.lastErrorReason === 'statement-missing', 'refused after a restart');
    assert.equal(verdict(fw, '/new-hub'), 'Blocked:bp');
    await fw.close();

    // Moving back to a hub without statements is a choice made in the open.
    fw = createManagedFirewall({ ...options, freshness: 'optional' });
    await waitFor(() => verdict(fw, '/old-hub') === 'Blocked:bp', 'accepted with freshness: optional');
    await fw.close();

    // 'required' closes the first contact too: a fresh directory refuses an answer without one.
    const fresh = tempDir();
    fw = createManagedFirewall({ ...options, dir: fresh.dir, freshness: 'required' });
    const status = await fw.ready();
    assert.equal(status.customRules.lastErrorReason, 'statement-missing');
    assert.equal(fw.currentEngine, null);
    await fw.close();
    fresh.cleanup();
  } finally {
    await fw.close();
    await hub.stop();
    cleanup();
  }
});

test('a 304 whose statement names other bytes (equal rules rebuilt) fetches the file whole, once', async () => {
  const { hub, publicKey } = await signingHub();
  const { dir, cleanup } = tempDir();
  const fw = createManagedFirewall({ ...FAST, apiKey: hub.apiKey, downsyncUrl: hub.downsyncUrl, dir, publicKey });
  try {
    hub.serve('custom_rules', rulesBytes({ block: { paths: ['/same'] } }).body, 'same.db');
    await fw.ready();
    const first = fw.status().customRules.file!.sha256;
    // Same name and ETag, other bytes: the hub answers 304 by name, its statement names the new bytes.
    const rebuilt = Buffer.from(rulesBytes({ block: { paths: ['/same'] } }).body);
    rebuilt.writeUInt32BE(rebuilt.readUInt32BE(24) + 1, 24); // SQLite's change counter: still a valid file
    hub.serve('custom_rules', rebuilt, 'same.db');
    await waitFor(() => fw.status().customRules.file!.sha256 !== first, 'the rebuilt bytes');
    const asked = hub.downsyncs.filter((h) => h.category === 'custom_rules' && h.status === 200).at(-1)!;
    assert.equal(asked.query.client_db, '', 'asked without naming the file');
    assert.equal(asked.ifNoneMatch, undefined);
    const { downloads, notModified } = fw.status().customRules;
    await waitFor(() => fw.status().customRules.notModified > notModified + 3, 'more 304s');
    assert.equal(fw.status().customRules.downloads, downloads, 'once');
    assert.equal(fw.status().customRules.lastErrorReason, null);
  } finally {
    await fw.close();
    await hub.stop();
    cleanup();
  }
});

test('a 304 to a request that named no file is an error, not a reason to keep the fallback for ever', async () => {
  const { hub, publicKey } = await signingHub();
  const { dir, cleanup } = tempDir();
  try {
    hub.serve('custom_rules', rulesBytes({ block: { paths: ['/x'] } }).body, 'x.db');
    // Recorded from another client, then replayed to a new one.
    await (await fetch(`${hub.downsyncUrl}/custom_rules/${hub.apiKey}?client_db=x.db`)).arrayBuffer();
    hub.fault('custom_rules', { kind: 'replay', answer: lastAnswer(hub, 'custom_rules', 304) });
    const fw = createManagedFirewall({ ...FAST, apiKey: hub.apiKey, downsyncUrl: hub.downsyncUrl, dir, publicKey });
    try {
      const status = await fw.ready();
      assert.equal(status.customRules.lastErrorReason, 'unasked-304');
      assert.equal(status.customRules.notModified, 0);
      assert.equal(status.syncAgeMs.customRules, null, 'nothing was confirmed');
    } finally {
      await fw.close();
    }
  } finally {
    await hub.stop();
    cleanup();
  }
});
