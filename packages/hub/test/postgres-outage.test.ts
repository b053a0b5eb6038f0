import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { DatabaseUnavailableError, isConnectionLoss } from '../src/store/postgres/database-unavailable.js';
import { OUTAGE_REPEAT_MS, OutageLog } from '../src/store/postgres/outage-log.js';
import { ReadinessProbe } from '../src/server/readiness-probe.js';

describe('PostgreSQL outage handling (pure parts)', () => {
  it('tells a lost connection from a wrong statement', () => {
    const pgError = (code: string, message = 'x') => Object.assign(new Error(message), { code });
    for (const lost of [pgError('57P01', 'terminating connection due to administrator command'), pgError('57P03'), pgError('08006'),
      pgError('53300'), pgError('ECONNREFUSED'), pgError('ECONNRESET'), new Error('Connection terminated unexpectedly'),
      new Error('timeout exceeded when trying to connect'), new DatabaseUnavailableError(new Error('x'))]) {
      assert.equal(isConnectionLoss(lost), true, lost.message);
    }
    for (const wrong of [pgError('23505', 'duplicate key'), pgError('42601', 'syntax error'), pgError('57014', 'canceling statement'),
      new Error('hub database schema version 99 is newer'), 'Connection terminated', null, undefined]) {
      assert.equal(isConnectionLoss(wrong), false, String(wrong));
    }
  });

  it('logs an outage once, then at most once a minute with a count, and once when it ends', () => {
    const lines: string[] = [];
    let now = 1_000_000;
    const log = new OutageLog((line) => lines.push(line), () => now);
    log.succeeded(now);
    assert.deepEqual(lines, [], 'no line without an outage');
    for (let i = 0; i < 1000; i++) log.failed(new Error('Connection terminated unexpectedly'));
    assert.equal(lines.length, 1);
    assert.match(lines[0]!, /PostgreSQL is unavailable \(Connection terminated unexpectedly\)/);
    assert.equal(log.unavailable, true);
    now += OUTAGE_REPEAT_MS;
    log.failed(new Error('connect ECONNREFUSED 127.0.0.1:5432'));
    assert.equal(lines.length, 2);
    assert.match(lines[1]!, /still unavailable after 60 s \(1000 connection errors since the last message\)/);
    now += 5_000;
    log.succeeded(now - 1);
    log.succeeded(now);
    assert.equal(lines.length, 3);
    assert.match(lines[2]!, /PostgreSQL is back after 65 s \(1001 connection errors\)/);
    assert.equal(log.unavailable, false);
  });

  it('a statement answered before the outage began does not end it (no false recovery while the database crashes)', () => {
    const lines: string[] = [];
    let now = 5_000_000;
    const log = new OutageLog((line) => lines.push(line), () => now);
    const inFlight = log.time();
    now += 3;
    log.failed(new Error('Connection terminated unexpectedly'));
    now += 2;
    log.succeeded(inFlight); // sent before the crash, its answer read just after the first error
    assert.equal(log.unavailable, true);
    log.failed(new Error('Connection terminated unexpectedly'));
    assert.equal(lines.length, 1, lines.join('\n'));
    now += 1_000;
    const fresh = log.time();
    log.succeeded(fresh);
    assert.equal(log.unavailable, false);
    assert.deepEqual(lines.map((line) => /is (unavailable|back)/.exec(line)?.[1]), ['unavailable', 'back']);
  });

  it('readiness shares one check among concurrent callers, reuses it briefly, and times out a check that never answers', async () => {
    let now = 0;
    let answer: () => Promise<void> = async () => undefined;
    const probe = new ReadinessProbe(() => answer(), () => now, 20, 1_000);
    const together = await Promise.all(Array.from({ length: 50 }, () => probe.check()));
    assert.equal(probe.checks, 1);
    assert.ok(together.every((r) => r.ready));
    now += 999;
    await probe.check();
    assert.equal(probe.checks, 1, 'reused within the window');
    now += 1;
    answer = async () => { throw new DatabaseUnavailableError(new Error('down')); };
    assert.deepEqual(await probe.check(), { ready: false, reason: 'unavailable' });
    now += 1_000;
    answer = () => new Promise<void>(() => undefined); // a database that never answers
    assert.deepEqual(await probe.check(), { ready: false, reason: 'timeout' });
    assert.equal(probe.checks, 3);
  });
});
