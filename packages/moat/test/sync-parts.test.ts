// The pure and file-level parts of sync: the directory lock (dead, zombie-free and hung holders),
// backoff and jitter bounds, parameter redaction, Content-Disposition names and the Wafris env names.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { backoffDelay, jittered } from '../src/sync/backoff.js';
import { DirLock } from '../src/sync/dir-lock.js';
import { resolveSyncOptions } from '../src/sync/managed-options.js';
import { paramRedactor } from '../src/sync/redact-params.js';
import { servedFileName } from '../src/sync/install-download.js';
import { BoundedQueue } from '../src/sync/bounded-queue.js';
import { hostname } from 'node:os';
import { tempDir } from './helpers/fake-hub.js';

test('lock: one holder at a time; released locks can be taken again', () => {
  const { dir, cleanup } = tempDir();
  try {
    const a = new DirLock(dir, 'custom_rules', { staleMs: 60_000 });
    const held = a.tryAcquire();
    assert.ok(held);
    assert.equal(new DirLock(dir, 'custom_rules', { staleMs: 60_000 }).tryAcquire(), null, 'a live holder keeps it');
    assert.ok(new DirLock(dir, 'data_subscriptions', { staleMs: 60_000 }).tryAcquire(), 'categories lock apart');
    held.release();
    const again = a.tryAcquire();
    assert.ok(again);
    again.release();
  } finally {
    cleanup();
  }
});

test('lock: a dead holder\'s lock is broken at once; a silent live holder\'s after staleMs', () => {
  const { dir, cleanup } = tempDir();
  try {
    const lockPath = join(dir, '.custom_rules.lock');
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString();
    writeFileSync(lockPath, JSON.stringify({ pid: Number(dead), token: null, host: hostname(), id: 'dead' }));
    const taken = new DirLock(dir, 'custom_rules', { staleMs: 60_000 }).tryAcquire();
    assert.ok(taken, 'dead PID: broken');
    taken.release();

    // Our own (live) PID with another start token: the PID was reused, the holder is gone.
    writeFileSync(lockPath, JSON.stringify({ pid: process.pid, token: 'not-my-start-time', host: hostname(), id: 'reused' }));
    const reused = new DirLock(dir, 'custom_rules', { staleMs: 60_000 }).tryAcquire();
    if (process.platform === 'linux') {
      assert.ok(reused, 'reused PID: broken');
      reused.release();
    } else {
      reused?.release();
    }

    // A live holder that stopped refreshing its lock (hung, or on another host).
    writeFileSync(lockPath, JSON.stringify({ pid: process.pid, token: null, host: 'another-host', id: 'hung' }));
    assert.equal(new DirLock(dir, 'custom_rules', { staleMs: 60_000 }).tryAcquire(), null, 'fresh: kept');
    const old = new Date(Date.now() - 120_000);
    utimesSync(lockPath, old, old);
    const stale = new DirLock(dir, 'custom_rules', { staleMs: 60_000 }).tryAcquire();
    assert.ok(stale, 'older than staleMs: broken');
    stale.release();
  } finally {
    cleanup();
  }
});

test('backoff doubles within bounds, with jitter; intervals spread', () => {
  for (let n = 1; n <= 12; n++) {
    for (const r of [0, 0.5, 0.999]) {
      const d = backoffDelay(n, 100, 5000, () => r);
      const ceiling = Math.min(5000, 100 * 2 ** (n - 1));
      assert.ok(d >= ceiling / 2 && d <= ceiling, `${n}: ${d}`);
    }
  }
  assert.equal(jittered(1000, 0.1, () => 0), 900);
  assert.equal(jittered(1000, 0.1, () => 1), 1100);
});

test('redaction by name substring, case-insensitive; other parameters untouched', () => {
  const redact = paramRedactor(['password', 'token', 'secret', 'key', 'authorization']);
  assert.equal(redact.query('a=1&Password=x&user[password]=y&access_token=z&b=2'),
    'a=1&Password=[redacted]&user[password]=[redacted]&access_token=[redacted]&b=2');
  assert.equal(redact.query('apikey=k&q=key'), 'apikey=[redacted]&q=key', 'names, not values, decide');
  assert.equal(redact.query('password='), 'password=', 'nothing to hide');
  assert.equal(redact.query('q=a%20b&page=2'), 'q=a b&page=2', 'reported decoded');
  assert.equal(paramRedactor([]).query('password=x'), 'password=x');
});

test('redaction holds on the raw structure: encoded separators, double encoding, `;`, encoded names', () => {
  const redact = paramRedactor(['password', 'token']);
  assert.equal(redact.query('password=Pa55%26w0rd%3D42&u=1'), 'password=[redacted]&u=1');
  assert.equal(redact.query('password=Pa55%2526w0rd%253D42'), 'password=[redacted]');
  assert.equal(redact.query('pass%77ord=x&pass%2577ord=y'), 'password=[redacted]&pass%77ord=[redacted]');
  assert.equal(redact.query('a=1;password=x;b=2&c=3'), 'a=1;password=[redacted]&c=3', 'the rest of the piece may be the value');
  assert.equal(redact.query('a=x%26password%3Dsecret&b=2'), 'a=[redacted]&b=2', 'a value that decodes to a sensitive parameter');
  assert.equal(redact.query('a=x%2526token%253Dsecret'), 'a=[redacted]');
  // Decoded text (bodies): everything from the sensitive name on is hidden.
  assert.equal(redact.decoded('user=bob&password=Pa55&w0rd=42&remember=1'), 'user=bob&password=[redacted]&[redacted]');
  assert.equal(redact.decoded('{"password":"hunter2"}'), '[redacted]', 'raw JSON text: no name to keep');
  assert.equal(redact.decoded('user.name=bob'), 'user.name=bob');
});

test('bounded queue keeps the newest items, by count and by bytes, reservations included', () => {
  const q = new BoundedQueue<number>(3);
  let dropped = 0;
  for (let i = 0; i < 7; i++) dropped += q.push(i);
  assert.equal(dropped, 4);
  assert.equal(q.droppedFull, 4);
  assert.deepEqual(q.take(10), [4, 5, 6]);
  assert.equal(q.size, 0);

  const b = new BoundedQueue<number>(100, 10, (n) => n);
  for (const n of [3, 3, 3]) b.push(n);
  assert.equal(b.bytes, 9);
  b.push(4); // 13 > 10: the oldest makes room
  assert.equal(b.droppedBytes, 1);
  assert.deepEqual(b.take(10, 5), [3], 'take stops at the byte budget');
  b.reserve(1, 3);
  assert.equal(b.push(5), 2, 'reserved bytes count: 3 + 4 + 5 > 10 - 3');
  assert.equal(b.push(11), 1, 'an item larger than the bound is itself dropped');
  assert.equal(b.droppedBytes, 4);
  b.release(1, 3);
  assert.equal(b.push(5), 0);
  assert.deepEqual(b.take(10), [5, 5]);
});

test('served file names: quoted, plain, RFC 5987; paths stripped', () => {
  assert.equal(servedFileName('attachment; filename=custom_rules-1.db'), 'custom_rules-1.db');
  assert.equal(servedFileName('attachment; filename="a b.db"'), 'a_b.db');
  assert.equal(servedFileName("attachment; filename*=UTF-8''r%C3%A8gles.db"), 'r_gles.db');
  assert.equal(servedFileName('attachment; filename="../../etc/passwd"'), 'passwd');
  assert.equal(servedFileName(null), null);
});

test('Wafris environment names are honoured (seconds), options win over them', () => {
  const env = {
    WAFRIS_API_KEY: 'k', WAFRIS_DB_FILE_PATH: '/tmp/x', WAFRIS_DOWNSYNC_URL: 'http://127.0.0.1:1/v2/downsync',
    WAFRIS_UPSYNC_URL: 'http://127.0.0.1:1/v2/upsync', WAFRIS_DOWNSYNC_CUSTOM_RULES_INTERVAL: '30',
    WAFRIS_DOWNSYNC_DATA_SUBSCRIPTIONS_INTERVAL: '3600', WAFRIS_UPSYNC_INTERVAL: '5', WAFRIS_UPSYNC_QUEUE_LIMIT: '100',
    MOAT_UPSYNC_MAX_QUEUE: '500', MOAT_UPSYNC_PASSED_SAMPLE_RATE: '0.25', MOAT_UPSYNC_MAX_QUEUE_BYTES: '1048576',
    MOAT_UPSYNC_MAX_BATCH_BYTES: '131072',
  };
  const s = resolveSyncOptions({}, env);
  assert.equal(s.apiKey, 'k');
  assert.equal(s.dir, '/tmp/x');
  assert.equal(s.downsyncUrl, env.WAFRIS_DOWNSYNC_URL);
  assert.equal(s.upsyncUrl, env.WAFRIS_UPSYNC_URL);
  assert.equal(s.customRulesIntervalMs, 30_000);
  assert.equal(s.dataIntervalMs, 3_600_000);
  assert.equal(s.upsync.flushIntervalMs, 5000);
  assert.equal(s.upsync.batchSize, 100);
  assert.equal(s.upsync.maxQueue, 500);
  assert.equal(s.upsync.passedSampleRate, 0.25);
  assert.equal(s.upsync.maxQueueBytes, 1_048_576);
  assert.equal(s.upsync.maxBatchBytes, 131_072);
  assert.equal(resolveSyncOptions({ customRulesIntervalMs: 10 }, env).customRulesIntervalMs, 10);
  const hub = resolveSyncOptions({ hubUrl: 'http://127.0.0.1:9/' }, {});
  assert.equal(hub.downsyncUrl, 'http://127.0.0.1:9/v2/downsync');
  assert.equal(hub.upsyncUrl, 'http://127.0.0.1:9/v2/upsync');
  const defaults = resolveSyncOptions({}, {});
  assert.equal(defaults.dir, './tmp/wafris');
  assert.equal(defaults.customRulesIntervalMs, 60_000);
  assert.equal(defaults.upsync.batchSize, 250);
  assert.equal(defaults.upsync.flushIntervalMs, 10_000);
  assert.throws(() => resolveSyncOptions({}, { WAFRIS_DOWNSYNC_CUSTOM_RULES_INTERVAL: 'soon' }), /must be a number/);
  assert.throws(() => resolveSyncOptions({ upsync: { passedSampleRate: 2 } }, {}), /between 0 and 1/);
  assert.equal(defaults.upsync.maxQueueBytes, 16 * 1024 * 1024);
  assert.equal(defaults.upsync.maxBatchBytes, 1024 * 1024);
  assert.throws(() => resolveSyncOptions({ upsync: { maxBatchBytes: 1000 } }, {}), /maxBatchBytes must be at least 65536/);
});
