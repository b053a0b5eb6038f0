// The steps a category's sync is made of, each alone: the request's URL and what an answer's status
// means, the directory's part and installed files, and the status counters with their error codes.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { emptySyncCounters, recordSyncError, recordSyncSuccess } from '../src/sync/category-sync-status.js';
import { answerOf } from '../src/sync/downsync-answer.js';
import { downsyncUrl, pushAnswerOf, throwUnlessOk } from '../src/sync/downsync-request.js';
import { redact, redirectTarget, timedFetch } from '../src/sync/http-fetch.js';
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import { LONG_POLL_HEADER } from '../src/sync/long-poll.js';
import { installedFileName, partFilePath, removeAbandonedParts, removeOldFiles } from '../src/sync/sync-dir-files.js';
import { SyncError } from '../src/sync/sync-error.js';
import { tempDir } from './helpers/fake-hub.js';

const config = {
  category: 'custom_rules' as const, apiKey: 'key/with slash', requestTimeoutMs: 1000, downloadTimeoutMs: 1000, maxRedirects: 2,
  client: { client: 'moat', version: '1.2.3', framework: 'express', hostname: 'web-1', processId: '42' },
};

/** An answer as a fetch on this thread hands it on, its reads unbounded (a Response in memory always ends). */
const answer = (body: string | null, init: ResponseInit) => answerOf({
  response: new Response(body, init), url: 'http://hub/x', signal: new AbortController().signal,
  within: <T>(work: Promise<T>) => work, activity: () => {}, dispose: () => {},
});

test('the downsync URL carries the Wafris parameters, the key path-escaped, and wait only when long-polling', () => {
  const plain = new URL(downsyncUrl(config, 'http://127.0.0.1:1/v2/downsync/', 'custom_rules-v1.db', -1));
  assert.equal(plain.pathname, '/v2/downsync/custom_rules/key%2Fwith%20slash');
  assert.deepEqual(Object.fromEntries(plain.searchParams), {
    client: 'moat', client_db: 'custom_rules-v1.db', framework: 'express', hostname: 'web-1', process_id: '42', version: '1.2.3',
  });
  assert.equal(new URL(downsyncUrl(config, 'http://127.0.0.1:1/v2/downsync', '', 25)).searchParams.get('wait'), '25');
});

test('an answer other than 200 or 304 is a SyncError: 401/403 stop syncing, any other status is http-<status>', async () => {
  await throwUnlessOk(answer(null, { status: 304 }), config, 'http://hub/x');
  await throwUnlessOk(answer('file', { status: 200 }), config, 'http://hub/x');
  for (const status of [401, 403]) {
    await assert.rejects(throwUnlessOk(answer('no', { status }), config, 'http://hub/x?k=1'),
      (e: unknown) => e instanceof SyncError && e.reason === 'unauthorized' && e.code === 'MOAT_ERR_SYNC_UNAUTHORIZED');
  }
  await assert.rejects(throwUnlessOk(answer('down for maintenance', { status: 503 }), config, 'http://hub/x'),
    (e: unknown) => e instanceof SyncError && e.reason === 'http-503' && e.code === 'MOAT_ERR_SYNC_HTTP' && e.message.includes('down for maintenance'));
});

test('only a 200 or 304 to a long-poll request says whether the hub holds', () => {
  const held = (status: number) => new Response(status === 304 ? null : 'x', { status, headers: { [LONG_POLL_HEADER]: '25' } });
  assert.equal(pushAnswerOf(held(304), 25).kind, 'held');
  assert.equal(pushAnswerOf(held(304), -1).kind, 'none', 'not long-polling: nothing read');
  assert.equal(pushAnswerOf(held(503), 25).kind, 'none');
});

test('part files of dead processes go, ours and other categories\' stay; installed files keep the current and the previous one', () => {
  const { dir, cleanup } = tempDir();
  try {
    const ours = partFilePath(dir, 'custom_rules');
    writeFileSync(ours, 'x');
    // A process that has exited: its PID names no living process.
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString();
    const deadPart = join(dir, `.custom_rules.${dead}.abcd1234.part`);
    writeFileSync(deadPart, 'x');
    const otherCategory = join(dir, `.data_subscriptions.${dead}.abcd1234.part`);
    writeFileSync(otherCategory, 'x');
    removeAbandonedParts(dir, 'custom_rules', Date.now(), 60_000);
    assert.ok(existsSync(ours), 'our own download in progress stays');
    assert.ok(!existsSync(deadPart), 'a dead process\'s part file is removed');
    assert.ok(existsSync(otherCategory), 'another category is not touched');

    const names = ['a', 'b', 'c', 'd'].map((c) => installedFileName('custom_rules', c.repeat(64)));
    for (const n of names) writeFileSync(join(dir, n), 'x');
    writeFileSync(join(dir, installedFileName('data_subscriptions', 'e'.repeat(64))), 'x');
    removeOldFiles(dir, 'custom_rules', names[3]!, names[2]!);
    const left = readdirSync(dir).filter((n) => n.endsWith('.db')).sort();
    assert.deepEqual(left, [names[2], names[3], installedFileName('data_subscriptions', 'e'.repeat(64))].sort());
  } finally {
    cleanup();
  }
});

test('status counters: an error records its message, reason and code; a success clears them', () => {
  const st = emptySyncCounters();
  recordSyncError(st, new SyncError('bad-signature', 'does not verify'));
  assert.deepEqual([st.errors, st.lastError, st.lastErrorReason, st.lastErrorCode], [1, 'does not verify', 'bad-signature', 'MOAT_ERR_SYNC_SIGNATURE']);
  recordSyncError(st, new Error('ENOSPC'));
  assert.deepEqual([st.errors, st.lastErrorReason, st.lastErrorCode], [2, 'error', 'MOAT_ERR_SYNC_FAILED']);
  st.consecutiveFailures = 3;
  recordSyncSuccess(st, 1234);
  assert.deepEqual([st.consecutiveFailures, st.lastError, st.lastErrorReason, st.lastErrorCode, st.lastSuccessAt, st.errors], [0, null, null, null, 1234, 2]);
});

test('the API key is hidden in every URL shown, whatever path the hub URL has, and so is the query', () => {
  const key = 'mk_live_5f3a9c0d2e7b4a61';
  for (const url of [`https://hub.example/v2/downsync/custom_rules/${key}?client=moat&version=1`, `https://hub.example/v2/upsync/${key}`,
    `https://hub.example/waf/sync/custom_rules/${key}?x=1`, `http://127.0.0.1:8080/${key}#frag`]) {
    const shown = redact(url);
    assert.ok(!shown.includes(key.slice(4)), `${url} shown as ${shown}`);
    assert.ok(shown.endsWith(`${key.slice(0, 4)}…`), shown);
    assert.ok(!shown.includes('?') && !shown.includes('#'), shown);
  }
  assert.equal(redact('https://hub.example'), 'https://hub.example');
});

test('a redirect from https to http, to another scheme, or of a POST by 301/302/303 is refused', () => {
  assert.equal(redirectTarget('https://hub.example/v2/downsync/a/k', '/v2/downsync/a/k2', 302, 'GET'), 'https://hub.example/v2/downsync/a/k2');
  assert.equal(redirectTarget('http://hub.example/x', 'https://hub2.example/x', 301, 'GET'), 'https://hub2.example/x', 'up to https is fine');
  const refused = (f: () => unknown, what: RegExp) => assert.throws(f, (e: unknown) => e instanceof SyncError && e.reason === 'bad-redirect' && what.test(e.message));
  refused(() => redirectTarget('https://hub.example/x', 'http://hub.example/x', 302, 'GET'), /https to http/);
  refused(() => redirectTarget('https://hub.example/x', 'file:///etc/passwd', 302, 'GET'), /file:/);
  refused(() => redirectTarget('https://hub.example/x', '/y', 302, 'POST'), /only 307\/308/);
  assert.equal(redirectTarget('https://hub.example/x', '/y', 307, 'POST'), 'https://hub.example/y');
});

test('an error answer with an endless body is read no further than the part quoted (a hub streaming 500s cannot fill memory)', async () => {
  let written = 0;
  const offer = 256 * 1024 * 1024; // what the server would send, at most: a bounded stand-in for "endless"
  const server: Server = createServer((_req, res) => {
    res.writeHead(500, { 'content-type': 'text/plain' });
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    const more = () => {
      while (written < offer && !res.destroyed) {
        written += chunk.length;
        if (!res.write(chunk)) return void res.once('drain', more);
      }
      res.end();
    };
    more();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/v2/downsync/custom_rules/k`;
  try {
    const timed = await timedFetch(url, { idleTimeoutMs: 30_000, totalTimeoutMs: 60_000, maxRedirects: 0 });
    try {
      await assert.rejects(throwUnlessOk(answerOf(timed), config, url), (e: unknown) => e instanceof SyncError && e.reason === 'http-500' && /a{200}$/.test(e.message));
    } finally {
      timed.dispose();
    }
    // Socket buffers take a few MiB before the server sees the reader stop; a full read takes all 256.
    assert.ok(written < 64 * 1024 * 1024, `the server wrote ${written} bytes`);
  } finally {
    server.closeAllConnections();
    server.close();
  }
});
