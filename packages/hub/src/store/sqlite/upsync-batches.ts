import type Database from 'better-sqlite3';
import type { BatchKey, InsertOutcome, ReportRecord } from '../store.js';
import type { SqliteReports } from './reports.js';

/**
 * Report batches stored in slices of this many rows, each its own transaction, with other requests let
 * in between: 10,000 rows in one transaction held the event loop ~150 ms; 2,000 take ~30 ms. Measured
 * again with batch ids on a faster machine: 10,000 rows in one transaction 33–44 ms, one slice with its
 * progress row ~12 ms; the progress row costs under a millisecond per batch. So batches with an id keep
 * the slices rather than one transaction.
 */
export const INSERT_SLICE = 2_000;

interface Progress {
  stored_rows: number;
  done: number;
}

/**
 * Stores report batches in slices, exactly once per batch id. Each slice's transaction reads the batch's
 * progress (`upsync_batches.stored_rows`), stores the next slice from there and moves the progress on, all
 * at once. So a batch whose hub stopped between slices is finished by the client's retry where it stopped;
 * a retry arriving while the first try is still storing continues the same progress instead of starting
 * over; and a complete batch is answered 'duplicate' without a row written. Progress counts positions in
 * the accepted records: a retry carries the same body, so the same records in the same order.
 */
export class SqliteUpsyncBatches {
  private readonly progressGet;
  private readonly progressPut;

  constructor(private readonly db: Database.Database, private readonly reports: SqliteReports) {
    this.progressGet = db.prepare<[number, string], Progress>('SELECT stored_rows, done FROM upsync_batches WHERE site_id = ? AND batch_id = ?');
    this.progressPut = db.prepare(`INSERT INTO upsync_batches (site_id, batch_id, received_at, stored_rows, done) VALUES (?, ?, ?, ?, ?)
      ON CONFLICT (site_id, batch_id) DO UPDATE SET stored_rows = excluded.stored_rows, done = excluded.done`);
  }

  async insert(siteId: number, records: readonly ReportRecord[], batch?: BatchKey): Promise<InsertOutcome> {
    if (!batch) {
      // No id (the Wafris gem's batches): every call stores, each slice all or nothing.
      for (let start = 0; start < records.length; start += INSERT_SLICE) {
        if (start > 0) await new Promise((resolve) => setImmediate(resolve));
        this.reports.insert(siteId, start === 0 && records.length <= INSERT_SLICE ? records : records.slice(start, start + INSERT_SLICE));
      }
      return 'stored';
    }
    let storedAny = false;
    for (;;) {
      // IMMEDIATE: the progress read and its update cannot interleave with another writer.
      const finished = this.db.transaction((): boolean | 'was_done' => {
        const progress = this.progressGet.get(siteId, batch.id);
        if (progress?.done) return 'was_done';
        const from = Math.min(progress?.stored_rows ?? 0, records.length);
        const to = Math.min(from + INSERT_SLICE, records.length);
        this.reports.insertRows(siteId, records, from, to);
        const done = to >= records.length;
        this.progressPut.run(siteId, batch.id, batch.receivedAt, to, done ? 1 : 0);
        return done;
      }).immediate();
      if (finished === 'was_done') return storedAny ? 'stored' : 'duplicate';
      storedAny = true;
      if (finished) return 'stored';
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  /** Forgets ids received before `cutoff`, a chunk at a time; returns ids deleted. */
  pruneChunk(cutoff: number, chunk: number): number {
    return this.db.prepare(`DELETE FROM upsync_batches WHERE rowid IN (
      SELECT rowid FROM upsync_batches WHERE received_at < ? LIMIT ?)`).run(cutoff, chunk).changes;
  }
}
