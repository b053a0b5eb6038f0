// Rows written many to a statement (format/batch-insert.ts) land as they would one by one: every row,
// in order, whether the count fills the last statement or not, with blobs and nulls intact.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { BatchInsert } from '../src/format/batch-insert.js';

test('every row added is written once, in order, for counts around the batch size', () => {
  for (const count of [0, 1, 127, 128, 129, 256, 300]) {
    const db = new Database(':memory:');
    db.exec('CREATE TABLE t (n INTEGER, label TEXT, data BLOB)');
    const rows = new BatchInsert(db, 't', ['n', 'label', 'data'], 128);
    for (let n = 0; n < count; n++) rows.add(n, n % 7 === 0 ? null : `r${n}`, Buffer.from([n & 255, n >> 8]));
    rows.flush();
    const read = db.prepare('SELECT rowid, n, label, data FROM t ORDER BY rowid').all() as { rowid: number; n: number; label: string | null; data: Buffer }[];
    assert.equal(read.length, count);
    read.forEach((row, i) => {
      assert.deepEqual([row.rowid, row.n, row.label, [...row.data]], [i + 1, i, i % 7 === 0 ? null : `r${i}`, [i & 255, i >> 8]]);
    });
    db.close();
  }
});

test('a wide row keeps a statement under the parameter bound', () => {
  const db = new Database(':memory:');
  const columns = Array.from({ length: 600 }, (_, i) => `c${i}`);
  db.exec(`CREATE TABLE w (${columns.join(', ')})`);
  const rows = new BatchInsert(db, 'w', columns, 128);
  for (let r = 0; r < 5; r++) rows.add(...columns.map((_, i) => r * 1000 + i));
  rows.flush();
  assert.deepEqual(db.prepare('SELECT c0, c599 FROM w ORDER BY rowid').all(), [0, 1, 2, 3, 4].map((r) => ({ c0: r * 1000, c599: r * 1000 + 599 })));
  db.close();
});
