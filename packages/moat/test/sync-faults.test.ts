// Hub faults, each against a real HTTP server on 127.0.0.1: the client keeps its last good file,
// never installs anything unverified, leaves no partial file, backs off, and ready() never hangs.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { createManagedFirewall, type ManagedFirewall, type ManagedFirewallOptions } from '../src/managed/managed-firewall.js';
import { parseRange } from '../src/ip/range.js';
import { dataBytes, FakeHub, rulesBytes, tempDir, verdict, waitFor, type Fault } from './helpers/fake-hub.js';

const FAST = {
  customRulesIntervalMs: 30, dataIntervalMs: 30, watchIntervalMs: 15, backoffBaseMs: 10, backoffMaxMs: 40,
  requestTimeoutMs: 2000, readyTimeoutMs: 5000, logger: false as const, env: {}, upsync: false as const,
} satisfies ManagedFirewallOptions;

function partFiles(dir: string): string[] {
  return readdirSync(dir).filter((f) => f.endsWith('.part'));
}

/** A real rules file edited after the fact, e.g. to claim another format version. */
function editedRules(sql: string): Buffer {
  const { dir, cleanup } = tempDir();
  try {
    const path = join(dir, 'edit.db');
    writeFileSync(path, rulesBytes({ block: { paths: ['/edited'] } }).body);
    const db = new Database(path);
    db.exec(sql);
    db.close();
    return readFileSync(path);
  } finally {
    cleanup();
  }
}

/** The rules table replaced by a view with its columns that never finishes (a recursive query without end). */
const ENDLESS_VIEW = 'ALTER TABLE rules RENAME TO kept; CREATE VIEW rules AS SELECT * FROM kept WHERE ' +
  '(SELECT count(*) FROM (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x FROM c)) > 0';

/** A real SQLite file with damaged pages: the header is fine, quick_check is not. */
function corruptSqlite(): Buffer {
  const body = Buffer.from(rulesBytes({ block: { paths: Array.from({ length: 300 }, (_, i) => `/corrupt-${i}-${'x'.repeat(40)}`) } }).body);
  for (let i = 4096; i < body.length; i += 97) body[i] = body[i] ^ 0xff;
  return body;
}

test('hub down at start: the last good file is used at once and ready() does not hang', async () => {
  const hub = await new FakeHub().start();
  const { dir, cleanup } = tempDir();
  try {
    hub.serve('custom_rules', rulesBytes({ block: { paths: ['/kept'] } }).body, 'kept.db');
    const first = createManagedFirewall({ ...FAST, apiKey: hub.apiKey, downsyncUrl: hub.downsyncUrl, dir });
    await first.ready();
    await first.close();
    const url = hub.downsyncUrl;
    await hub.stop(); // nothing listens on that port now

    const fw = createManagedFirewall({ ...FAST, apiKey: hub.apiKey, downsyncUrl: url, dir });
    try {
      assert.equal(verdict(fw, '/kept'), 'Blocked:bp', 'before any sync: the file on disk');
      const status = await fw.ready();
      assert.equal(status.customRules.lastResult, 'error');
      assert.equal(status.customRules.lastErrorReason, 'network');
      assert.equal(status.customRules.file?.servedName, 'kept.db');
      assert.equal(verdict(fw, '/kept'), 'Blocked:bp');
      await waitFor(() => fw.status().customRules.consecutiveFailures >= 3, 'retries with backoff');
    } finally {
      await fw.close();
    }
  } finally {
    await hub.stop();
    cleanup();
  }
});

test('hub hanging: requests time out; ready() resolves by its own timeout at the latest', async () => {
  const hub = await new FakeHub().start();
  const { dir, cleanup } = tempDir();
  hub.fault('custom_rules', { kind: 'hang' });
  hub.fault('data_subscriptions', { kind: 'hang' });
  try {
    let fw = createManagedFirewall({ ...FAST, apiKey: hub.apiKey, downsyncUrl: hub.downsyncUrl, dir, requestTimeoutMs: 150 });
    let status = await fw.ready();
    assert.equal(status.customRules.lastErrorReason, 'timeout');
    assert.equal(fw.currentEngine, null, 'no rules anywhere: not judged (fail open, counted)');
    await fw.close();

    fw = createManagedFirewall({ ...FAST, apiKey: hub.apiKey, downsyncUrl: hub.downsyncUrl, dir, requestTimeoutMs: 60_000, readyTimeoutMs: 150 });
    status = await fw.ready();
    assert.equal(status.customRules.lastResult, null, 'still waiting for the hub when ready() gave up');
    await fw.close(); // aborts the hanging request
    assert.deepEqual(partFiles(dir), []);
  } finally {
    await hub.stop();
    cleanup();
  }
});

const BAD_DOWNLOADS: { name: string; fault?: Fault; body?: () => Buffer; reason: RegExp }[] = [
  { name: '500', fault: { kind: 'status', status: 500, body: 'boom' }, reason: /^http-500$/ },
  { name: 'garbage body', fault: { kind: 'garbage' }, reason: /^not-sqlite$/ },
  { name: 'truncated file', fault: { kind: 'truncate' }, reason: /^(truncated|network)$/ },
  { name: 'not SQLite', body: () => randomBytes(8192), reason: /^not-sqlite$/ },
  { name: 'damaged SQLite pages', body: corruptSqlite, reason: /^(corrupt|rejected)$/ },
  { name: 'newer format version', body: () => editedRules("UPDATE meta SET value = '99' WHERE key = 'format_version'"), reason: /^rejected$/ },
  { name: 'old format version', body: () => editedRules("UPDATE meta SET value = '0' WHERE key = 'format_version'"), reason: /^rejected$/ },
  { name: 'content hash mismatch', body: () => editedRules("UPDATE rules SET value = '/tampered'"), reason: /^rejected$/ },
  { name: 'a data file as custom rules', body: () => dataBytes({}), reason: /^rejected$/ },
  // A view where the rules table should be runs its query when read: an endless one hung the loader
  // (on the serving thread, for a file this small) and with it the app.
  { name: 'rules as a view of an endless query', body: () => editedRules(ENDLESS_VIEW), reason: /^(corrupt|rejected)$/ },
  { name: 'hub stalls mid-body', fault: { kind: 'stall-body', bytes: 1000 }, reason: /^timeout$/ },
];

test('bad downloads are never installed; the last good file stays and sync recovers', async () => {
  const hub = await new FakeHub().start();
  const { dir, cleanup } = tempDir();
  hub.serve('custom_rules', rulesBytes({ block: { paths: ['/good'] } }).body, 'good.db');
  const fw = createManagedFirewall({ ...FAST, apiKey: hub.apiKey, downsyncUrl: hub.downsyncUrl, dir, requestTimeoutMs: 500 });
  try {
    // On a busy machine the first try may hit the short timeout this test needs: wait for the file.
    await waitFor(() => verdict(fw, '/good') === 'Blocked:bp', 'the good file', 30_000);
    const pointer = readFileSync(join(dir, 'current-custom_rules.json'), 'utf8');
    for (const [i, bad] of BAD_DOWNLOADS.entries()) {
      const errorsBefore = fw.status().customRules.errors;
      hub.serve('custom_rules', bad.body?.() ?? rulesBytes({ block: { paths: ['/new'] } }).body, `bad-${i}.db`);
      hub.fault('custom_rules', bad.fault ?? { kind: 'serve' });
      // A new error of the expected kind (a slow machine may add timeouts in between).
      await waitFor(() => fw.status().customRules.errors > errorsBefore && bad.reason.test(fw.status().customRules.lastErrorReason ?? ''), bad.name, 30_000);
      const st = fw.status().customRules;
      assert.match(st.lastErrorReason ?? '', bad.reason, `${bad.name}: ${st.lastError}`);
      assert.equal(st.file?.servedName, 'good.db', bad.name);
      assert.equal(verdict(fw, '/good'), 'Blocked:bp', `${bad.name}: old rules still decide`);
      assert.equal(verdict(fw, '/new'), 'Passed:passed');
      assert.equal(JSON.parse(readFileSync(join(dir, 'current-custom_rules.json'), 'utf8')).file, JSON.parse(pointer).file,
        `${bad.name}: the pointer never moves to a bad file`);
      await waitFor(() => partFiles(dir).length === 0, `${bad.name}: no partial file left`, 2000);
    }
    const failures = fw.status().customRules.consecutiveFailures;
    assert.ok(failures >= BAD_DOWNLOADS.length, `consecutive failures counted: ${failures}`);
    // (How far the backoff pushes the next poll is pinned on an injected clock in adversarial/sync-reporting.)
    assert.equal(fw.status().customRules.lastResult, 'error', 'still failing, so still backing off');

    hub.fault('custom_rules', { kind: 'serve' });
    hub.serve('custom_rules', rulesBytes({ block: { paths: ['/recovered'] } }).body, 'recovered.db');
    await waitFor(() => verdict(fw, '/recovered') === 'Blocked:bp', 'recovery', 5000);
    assert.equal(fw.status().customRules.consecutiveFailures, 0);
  } finally {
    await fw.close();
    await hub.stop();
    cleanup();
  }
});

test('custom rules work while the data file keeps failing', async () => {
  const hub = await new FakeHub().start();
  const { dir, cleanup } = tempDir();
  hub.serve('custom_rules', rulesBytes({ block: { paths: ['/admin'], lists: ['tor'] } }).body);
  hub.serve('data_subscriptions', dataBytes({
    lists: [{ name: 'tor', ranges: [parseRange('198.51.100.0/24')], summary: { name: 'tor', kind: 'list', ranges: 1, invalidLines: 0 } }],
  }));
  hub.fault('data_subscriptions', { kind: 'garbage' });
  const fw = createManagedFirewall({ ...FAST, apiKey: hub.apiKey, downsyncUrl: hub.downsyncUrl, dir });
  try {
    await fw.ready();
    await waitFor(() => fw.status().dataSubscriptions.errors >= 2, 'data failures');
    assert.equal(verdict(fw, '/admin'), 'Blocked:bp');
    assert.equal(verdict(fw, '/', '198.51.100.9'), 'Passed:passed', 'no data file: list rules cannot match');
    assert.equal(fw.status().dataSubscriptions.file, null);

    hub.fault('data_subscriptions', { kind: 'serve' });
    await waitFor(() => verdict(fw, '/', '198.51.100.9') === 'Blocked:brep', 'data file arrives', 5000);
    assert.equal(verdict(fw, '/admin'), 'Blocked:bp', 'rules kept across the data swap');
  } finally {
    await fw.close();
    await hub.stop();
    cleanup();
  }
});

test('a broken current file on disk at start falls back to the bundled rules file', async () => {
  const { dir, cleanup } = tempDir();
  const bundled = tempDir();
  try {
    const bundledPath = join(bundled.dir, 'bundled.db');
    writeFileSync(bundledPath, rulesBytes({ block: { paths: ['/bundled'] } }).body);
    writeFileSync(join(dir, 'custom_rules-broken.db'), 'not a database');
    writeFileSync(join(dir, 'current-custom_rules.json'), JSON.stringify({ category: 'custom_rules', file: 'custom_rules-broken.db', checkedAt: 0 }));
    const errors: string[] = [];
    const fw = createManagedFirewall({ ...FAST, dir, rules: bundledPath, onSyncError: (e) => errors.push(e.error.message) });
    try {
      assert.equal(verdict(fw, '/bundled'), 'Blocked:bp');
      assert.equal(fw.status().customRules.file?.source, 'fallback');
      assert.match(errors.join('\n'), /cannot be used/);
      const status = await fw.ready();
      assert.equal(status.customRules.polling, false, 'no API key: nothing polled');
    } finally {
      await fw.close();
    }
  } finally {
    bundled.cleanup();
    cleanup();
  }
});

test('a body read the platform never settles: closing ends the download at once, and so does the idle timeout', { timeout: 60_000 }, async () => {
  // What a fetch body can do after an abort when its socket is already gone: never end, never fail. Here
  // a stream that never answers stands in for it, behind a real exchange with a server that stalls.
  const { createServer } = await import('node:http');
  const { timedFetch } = await import('../src/sync/http-fetch.js');
  const { downloadBody } = await import('../src/sync/download-body.js');
  const { SyncError } = await import('../src/sync/sync-error.js');
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-length': '100000' });
    res.write(Buffer.alloc(1000));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/`;
  const { dir, cleanup } = tempDir();
  const silent = () => new Response(new ReadableStream<Uint8Array>({ pull: () => new Promise<void>(() => undefined) }));
  try {
    const closing = new AbortController();
    const timed = await timedFetch(url, { idleTimeoutMs: 600_000, totalTimeoutMs: 600_000, maxRedirects: 0, signal: closing.signal });
    const stuck = { ...timed, response: silent() };
    const download = downloadBody(stuck, join(dir, 'a.part'), 1 << 20, () => undefined);
    closing.abort(new SyncError('closed', 'the firewall is closing'));
    await assert.rejects(download, (e: unknown) => e instanceof SyncError && e.reason === 'closed');
    timed.dispose();

    const idle = await timedFetch(url, { idleTimeoutMs: 50, totalTimeoutMs: 600_000, maxRedirects: 0 });
    await assert.rejects(downloadBody({ ...idle, response: silent() }, join(dir, 'b.part'), 1 << 20, () => undefined),
      (e: unknown) => e instanceof SyncError && e.reason === 'timeout' && /no answer/.test(e.message));
    idle.dispose();
  } finally {
    server.closeAllConnections();
    server.close();
    cleanup();
  }
});
