// What the hub logs when started as operators start it (src/main.ts, default flags): failures at error
// level as JSON lines on stderr, ordinary requests not at all, and never an API key — even when the URL
// that failed carries one. The failure is real: the reports table of the hub's SQLite file is renamed
// under the running hub, so upsync answers 500 and every rollup tick fails.
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import type { FastifyBaseLogger } from 'fastify';
import { errorSerializer, redactText, redactUrl } from '../src/server/log-redaction.js';
import { RecurringFailureLog, REPEAT_MS } from '../src/server/recurring-failure-log.js';
import { killMain, runMain, stopMain, waitForStart, type MainProcess } from './support/main-process.js';

interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

/** Every stderr line, parsed: a line that is not JSON fails the test. */
function logLines(hub: MainProcess): LogLine[] {
  return hub.stderr().split('\n').filter((line) => line !== '').map((line) => {
    try {
      return JSON.parse(line) as LogLine;
    } catch {
      throw new assert.AssertionError({ message: `not a JSON log line: ${line}` });
    }
  });
}

async function waitForLine(hub: MainProcess, what: string, match: (line: LogLine) => boolean): Promise<LogLine> {
  const deadline = Date.now() + 60_000; // a guard against a hang, not a speed requirement
  for (;;) {
    const found = logLines(hub).find(match);
    if (found) return found;
    if (Date.now() > deadline || hub.child.exitCode !== null) throw new Error(`no ${what} line; stderr:\n${hub.stderr()}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

function report(requestId: string) {
  return {
    ip: '203.0.113.9', timestamp: Math.floor(Date.now() / 1000), method: 'GET', host: 'shop.test', path: '/cart',
    parameter: '', user_agent: 'ua', request_id: requestId, treatment: 'Passed', category: 'passed', rule: '-',
  };
}

async function upsync(url: string, key: string, requestId: string): Promise<number> {
  const response = await fetch(`${url}/v2/upsync/${key}`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ meta: { version: '1', client: 'test', framework: 'none' }, batch: [report(requestId)] }),
  });
  await response.arrayBuffer();
  return response.status;
}

/** Ordinary traffic: a health check, the sign-in page, a rule download and a report batch. */
async function ordinaryRequests(url: string, key: string): Promise<void> {
  for (const path of ['/healthz', '/login', `/v2/downsync/custom_rules/${key}`]) {
    const response = await fetch(url + path);
    await response.arrayBuffer();
    assert.equal(response.status, 200, path);
  }
  assert.equal(await upsync(url, key, 'ordinary'), 200);
}

describe('hub log by default (a real hub process, default flags)', () => {
  it('logs a 500 and a failing rollup at error level, once for many failing ticks, never an ordinary request, never the API key', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'moat-hub-log-'));
    const hub = runMain(['--data-dir', dataDir, '--port', '0', '--demo', '--no-default-data', '--rollup-interval-ms', '20']);
    try {
      const url = await waitForStart(hub);
      const key = /Demo site API key: (moat_\S+)/.exec(hub.stdout())![1]!;
      assert.match(hub.stdout(), /log warn on stderr/, 'the Settings line names the log');

      await ordinaryRequests(url, key);
      assert.deepEqual(logLines(hub), [], 'ordinary requests log nothing at the default level');

      // The fault: the table every report goes into disappears under the running hub.
      const db = new Database(join(dataDir, 'hub.db'));
      db.exec('ALTER TABLE reports RENAME TO reports_gone');
      assert.equal(await upsync(url, key, 'fails'), 500);
      const failed = await waitForLine(hub, 'request failed', (l) => l.msg === 'request failed');
      assert.equal(failed.level, 50, 'error level');
      assert.equal(failed.status, 500);
      assert.equal(failed.method, 'POST');
      assert.equal(failed.url, `/v2/upsync/${key.slice(0, 8)}…`, 'the URL with its key cut to a prefix');
      assert.match(JSON.stringify(failed.err), /no such table: reports/);

      const rollup = await waitForLine(hub, 'rollup failed', (l) => /^rollup failed/.test(l.msg));
      assert.equal(rollup.level, 50);
      // Many ticks fail (one each 20 ms) while we wait; they are counted, not logged one by one.
      await new Promise((r) => setTimeout(r, 1_000));
      db.exec('ALTER TABLE reports_gone RENAME TO reports');
      db.close();
      const recovered = await waitForLine(hub, 'rollup works again', (l) => l.msg === 'rollup works again');
      assert.equal(recovered.level, 40, 'the recovery is a warning, visible at the default level');
      assert.ok((recovered.failures as number) >= 2, `several failing ticks: ${JSON.stringify(recovered)}`);
      const rollupLines = logLines(hub).filter((l) => /^rollup/.test(l.msg));
      assert.ok(rollupLines.length <= 3, `one line for the failure, at most one a minute, one for the recovery: ${rollupLines.length}`);

      assert.equal(await upsync(url, key, 'after'), 200, 'the hub serves again');
      const lines = logLines(hub);
      assert.ok(lines.every((l) => l.level >= 40), `only warnings and errors: ${hub.stderr()}`);
      assert.ok(!lines.some((l) => /incoming request|request completed/.test(l.msg)), 'no request lines');
      assert.ok(!hub.stderr().includes(key), 'the API key never reaches the log');
      assert.ok(!hub.stderr().includes(key.slice(8)), 'not even its secret part');
      await stopMain(hub);
    } finally {
      killMain(hub);
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('--log-requests logs one line per request with the key cut off; --log off logs nothing, not even a failure', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'moat-hub-log-'));
    const verbose = runMain(['--data-dir', dataDir, '--port', '0', '--demo', '--no-default-data', '--log-requests']);
    try {
      const url = await waitForStart(verbose);
      const key = /Demo site API key: (moat_\S+)/.exec(verbose.stdout())![1]!;
      await ordinaryRequests(url, key);
      const logged = await waitForLine(verbose, 'upsync request', (l) => l.msg === 'incoming request' && /upsync/.test(JSON.stringify(l.req)));
      assert.equal(logged.level, 30);
      assert.deepEqual(logged.req, { method: 'POST', url: `/v2/upsync/${key.slice(0, 8)}…`, remoteAddress: '127.0.0.1' });
      assert.ok(logLines(verbose).some((l) => l.msg === 'request completed'));
      assert.ok(!verbose.stderr().includes(key.slice(8)), 'no API key in request lines');
      // A session cookie and an Authorization header are sent, and never logged.
      await (await fetch(`${url}/login`, { headers: { cookie: 'moat_session=secret-session-value', authorization: 'Bearer secret-token' } })).arrayBuffer();
      await waitForLine(verbose, 'the request with a cookie', (l) => l.msg === 'incoming request' && /"url":"\/login"/.test(JSON.stringify(l.req)));
      assert.ok(!/secret-session-value|secret-token/.test(verbose.stderr()));
      await stopMain(verbose);

      const silent = runMain(['--data-dir', dataDir, '--port', '0', '--no-default-data', '--log', 'off']);
      try {
        const silentUrl = await waitForStart(silent);
        const db = new Database(join(dataDir, 'hub.db'));
        db.exec('ALTER TABLE reports RENAME TO reports_gone');
        db.close();
        assert.equal(await upsync(silentUrl, key, 'fails'), 500);
        await stopMain(silent);
        assert.equal(silent.stderr(), '', 'off means off');
      } finally {
        killMain(silent);
      }
    } finally {
      killMain(verbose);
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('redaction: API keys in URLs and in error texts are cut to a prefix, database URL passwords removed', () => {
    const key = 'moat_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdefg';
    assert.equal(redactUrl(`/v2/upsync/${key}`), '/v2/upsync/moat_AbC…');
    assert.equal(redactUrl(`/v2/downsync/custom_rules/${key}?client_db=x.db`), '/v2/downsync/custom_rules/moat_AbC…?client_db=x.db');
    const error = new Error(`insert for ${key} failed on postgres://moat:s3cret-pass@db.internal:5432/moat`, { cause: new Error(`key ${key}`) });
    const logged = JSON.stringify(errorSerializer(error));
    assert.ok(!logged.includes(key.slice(8)), logged);
    assert.ok(!logged.includes('s3cret-pass'), logged);
    assert.match(logged, /postgres:\/\/moat:…@db\.internal/);
    assert.equal(redactText('no secrets here'), 'no secrets here');
  });

  it('a job failing on every tick for an hour logs one line, one a minute after, and one when it works again (deterministic clock)', () => {
    const lines: { level: string; msg: string; failures?: number }[] = [];
    const sink = (level: string) => (object: object, msg: string) => { lines.push({ level, msg, ...(object as { failures?: number }) }); };
    const log = { error: sink('error'), warn: sink('warn') } as unknown as FastifyBaseLogger;
    let t = 0;
    const failures = new RecurringFailureLog(log, 'rollup', () => t);
    for (; t < 3_600_000; t += 2_000) failures.failed(new Error('no such table: reports'));
    failures.succeeded();
    failures.succeeded();
    assert.equal(lines.length, 1 + 3_600_000 / REPEAT_MS - 1 + 1, '1,800 failures: the first, one a minute, the recovery');
    assert.equal(lines[0]!.msg.startsWith('rollup failed'), true);
    assert.deepEqual([lines[1]!.msg, lines[1]!.failures], ['rollup still failing', 30]);
    assert.deepEqual([lines.at(-1)!.level, lines.at(-1)!.msg, lines.at(-1)!.failures], ['warn', 'rollup works again', 1_800]);
  });
});
