// Attacks that Moat answers with an error rather than a decision: the error carries its documented code
// (docs/errors.md) and the protection holds. Real hub and app servers on 127.0.0.1, real files.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { withMoat } from '../../src/adapters/node.js';
import { createFirewall } from '../../src/firewall/firewall.js';
import type { MoatErrorEvent } from '../../src/firewall/options.js';
import { writeRulesFile } from '../../src/format/write-rules.js';
import { createManagedFirewall, type SyncErrorEvent } from '../../src/managed/managed-firewall.js';
import { parseRulesDocument } from '../../src/rules/document.js';
import { FakeHub, rulesBytes, tempDir, waitFor } from '../helpers/fake-hub.js';
import { serveApp } from '../helpers/served-app.js';

const ok = (_req: unknown, res: { end(body: string): void }) => res.end('ok');

test('a forged rules file pushed by a hub in the middle (bad X-Moat-Signature) is refused with MOAT_ERR_SYNC_SIGNATURE, and GET /admin stays blocked on node:http', async () => {
  const hub = await new FakeHub().start();
  const keys = hub.enableSigning();
  hub.serve('custom_rules', rulesBytes({ block: { paths: ['/admin'] } }).body, 'signed.db');
  const { dir, cleanup } = tempDir();
  const events: SyncErrorEvent[] = [];
  const fw = createManagedFirewall({
    apiKey: hub.apiKey, downsyncUrl: hub.downsyncUrl, dir, publicKey: keys.raw, customRulesIntervalMs: 40, dataIntervalMs: 60_000,
    watchIntervalMs: 20, backoffBaseMs: 20, backoffMaxMs: 80, logger: false, env: {}, upsync: false, onSyncError: (e) => events.push(e),
  });
  const app = await serveApp(createServer(withMoat(ok, fw)), fw, cleanup);
  try {
    await fw.ready();
    assert.equal(await app.get('/admin'), 403, 'the signed rules block /admin');
    // The attacker's file drops the block and is signed with another key.
    hub.fault('custom_rules', { kind: 'bad-signature' });
    hub.serve('custom_rules', rulesBytes({ block: { paths: ['/nothing'] } }).body, 'forged.db');
    await waitFor(() => fw.status().customRules.lastErrorCode === 'MOAT_ERR_SYNC_SIGNATURE', 'the forged file refused');
    assert.equal(fw.status().customRules.lastErrorReason, 'bad-signature');
    assert.ok(events.some((e) => e.source === 'custom_rules' && e.code === 'MOAT_ERR_SYNC_SIGNATURE'), 'onSyncError carries the code');
    assert.equal(await app.get('/admin'), 403, 'the forged file is never used: /admin is still blocked');
    assert.equal(fw.status().customRules.file?.servedName, 'signed.db');
  } finally {
    await app.stop();
    await hub.stop();
  }
});

test('a rules file edited on disk to drop its /admin block is refused at start with MOAT_ERR_FILE_CORRUPT; with failClosed GET /admin answers 503, never 200', async () => {
  const { dir, cleanup } = tempDir();
  const rules = join(dir, 'rules.db');
  writeRulesFile(parseRulesDocument(JSON.stringify({ block: { paths: ['/admin'] } })), rules);
  // The attacker can write the file but not recompute its content hash under the same rules.
  const db = new Database(rules);
  db.prepare('UPDATE rules SET value = ?').run('/nothing');
  db.close();
  const events: MoatErrorEvent[] = [];
  const fw = createFirewall({ rules, failClosed: true, logger: false, env: {}, onError: (e) => events.push(e) });
  const app = await serveApp(createServer(withMoat(ok, fw)), fw, cleanup);
  try {
    assert.equal(await app.get('/admin'), 503);
    assert.equal(await app.get('/'), 503, 'nothing is judged by an edited file');
    assert.equal(events.length, 1);
    assert.equal(events[0]!.kind, 'startup');
    assert.equal(events[0]!.code, 'MOAT_ERR_FILE_CORRUPT');
  } finally {
    await app.stop();
  }
});

test('a decision listener that throws on GET /admin is MOAT_ERR_HOOK and the block holds on node:http', async () => {
  const { dir, cleanup } = tempDir();
  const rules = join(dir, 'rules.db');
  writeRulesFile(parseRulesDocument(JSON.stringify({ block: { paths: ['/admin'] } })), rules);
  const events: MoatErrorEvent[] = [];
  const fw = createFirewall({
    rules, logger: false, env: {}, onError: (e) => events.push(e),
    onDecision: () => { throw new Error('listener bug'); },
  });
  const app = await serveApp(createServer(withMoat(ok, fw)), fw, cleanup);
  try {
    assert.equal(await app.get('/admin'), 403);
    assert.ok(events.length >= 1);
    assert.ok(events.every((e) => e.kind === 'hook' && e.code === 'MOAT_ERR_HOOK'), JSON.stringify(events.map((e) => [e.kind, e.code])));
    assert.equal(fw.stats().hookErrors, events.length);
  } finally {
    await app.stop();
  }
});
