// A file store copies its write-ahead log into the database file from a worker thread, so no commit on
// the event loop pays for a checkpoint of up to 32 MiB (90–135 ms measured during a rollup). Pinned by
// what the files show, not by time: with the hub connection's own checkpoints off, the database file
// still receives the committed pages; and close() ends the worker too, whose connection, closed last,
// removes the log as SQLite does.
import { strict as assert } from 'node:assert';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import type { ReportRecord } from '../src/store/store.js';
import { until } from './support/until.js';

function report(i: number): ReportRecord {
  return {
    ts: 1_700_002_800 + i, ip: `10.0.${(i >> 8) & 255}.${i & 255}`, method: 'GET', host: 'h.test', path: `/p/${i}`, parameter: '',
    userAgent: `ua-${i}`, requestId: `r${i}`, treatment: 'Passed', category: 'passed', rule: '-', ruleId: null, monitored: null,
    ipSource: null, country: null,
  };
}

describe('SQLite write-ahead log checkpoints', () => {
  it('are made by a worker: the database file grows while the hub connection never checkpoints', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'moat-wal-'));
    try {
      const file = join(dir, 'hub.db');
      const store = SqliteStore.open(file);
      try {
        store.db.pragma('wal_autocheckpoint = 0');
        const before = statSync(file).size;
        const site = await store.createSite('s');
        await store.insertReports(site.id, Array.from({ length: 20_000 }, (_, i) => report(i)));
        assert.ok(statSync(`${file}-wal`).size > 1_000_000, 'the reports went to the log');
        await until(() => statSync(file).size > before + 1_000_000, 'the log copied into the database file');
      } finally {
        await store.close();
      }
      await until(() => !existsSync(`${file}-wal`), 'the worker, closed last, to remove the log');
      const reopened = SqliteStore.open(file);
      try {
        assert.equal(reopened.db.prepare('SELECT count(*) FROM reports').pluck().get(), 20_000);
      } finally {
        await reopened.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
