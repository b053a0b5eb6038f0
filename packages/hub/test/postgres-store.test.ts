import { strict as assert } from 'node:assert';
import { afterEach, beforeEach, describe, it } from 'node:test';
import pg from 'pg';
import { ruleFilter } from '../src/rules/rule-filter.js';
import { PostgresStore } from '../src/store/postgres/postgres-store.js';
import { PG_MIGRATIONS as POSTGRES_MIGRATIONS } from '../src/store/postgres/migrations.js';
import { freshDatabase, type TestDatabase } from './support/postgres.js';
import { report, storeContract } from './support/store-contract.js';

// Each contract test gets its own empty database (CREATE DATABASE takes a few tens of milliseconds).
storeContract('PostgreSQL', async () => {
  const db = await freshDatabase('moat_contract');
  const store = await PostgresStore.open(db.url, { max: 4 });
  return { store, dispose: async () => { await store.close(); await db.drop(); } };
});

describe('PostgresStore with several hub instances on one database', () => {
  // A fresh database per test, so counts and retention see only that test's rows.
  let db: TestDatabase;
  beforeEach(async () => { db = await freshDatabase('moat_multi'); });
  afterEach(async () => { await db.drop(); });

  it('instances starting together migrate once, under the advisory lock', async () => {
    const stores = await Promise.all([1, 2, 3].map(() => PostgresStore.open(db.url, { max: 2 })));
    try {
      const latest = Math.max(...POSTGRES_MIGRATIONS.map((m) => m.version));
      for (const s of stores) assert.equal(await s.schemaVersion(), latest);
      const client = new pg.Client({ connectionString: db.url });
      await client.connect();
      try {
        // Partitions of the reports table (version 5) are not counted: how many exist depends on the day.
        const tables = await client.query(`SELECT count(*)::int AS n FROM pg_class c JOIN pg_namespace ns ON ns.oid = c.relnamespace
          WHERE ns.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition`);
        assert.equal(tables.rows[0].n, 29, '12 tables of version 1, 2 of version 2, 2 of version 3, 1 of version 4, 3 of version 7, 2 of version 8, 1 of version 9, 1 of version 10, 1 of version 12, 1 of version 14, 2 of version 19, and moat_schema');
        // A database from a newer hub is refused rather than misread.
        await client.query('UPDATE moat_schema SET version = 99');
        await assert.rejects(PostgresStore.open(db.url), new RegExp(`schema version 99 is newer than this hub knows \\(${latest}\\)`));
        await client.query('UPDATE moat_schema SET version = $1', [latest]);
      } finally {
        await client.end();
      }
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  it('the audit log is append-only: an UPDATE of an entry is refused by the database', async () => {
    const store = await PostgresStore.open(db.url, { max: 2 });
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      await store.appendAudit({
        at: 1, userId: 1, userEmail: 'admin@x.test', ip: null, action: 'rule.create', siteId: null, target: 'r', before: null, after: null,
      });
      await assert.rejects(client.query("UPDATE audit_log SET user_email = 'someone else'"), /append-only/);
      assert.equal((await store.listAudit({ limit: 5 })).entries[0]?.userEmail, 'admin@x.test');
    } finally {
      await client.end();
      await store.close();
    }
  });

  it('a rollup never passes ids of an ingest transaction that has not committed yet', async () => {
    const a = await PostgresStore.open(db.url, { max: 4 });
    const b = await PostgresStore.open(db.url, { max: 4 });
    const admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
    try {
      // Fault injection on the real server: batches marked 'slow' stay uncommitted for 400 ms after
      // their ids were drawn, as a batch from a slow or far-away hub instance would.
      await admin.query(`CREATE FUNCTION moat_test_slow_commit() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF EXISTS (SELECT 1 FROM new_rows WHERE request_id = 'slow') THEN PERFORM pg_sleep(0.4); END IF;
          RETURN NULL;
        END $$`);
      await admin.query(`CREATE TRIGGER moat_test_slow_commit AFTER INSERT ON reports REFERENCING NEW TABLE AS new_rows
        FOR EACH STATEMENT EXECUTE FUNCTION moat_test_slow_commit()`);
      const site = await a.createSite('late commits');
      const before = (await b.totals(site.id, 0, 2_000_000_000)).total;
      const slow = a.insertReports(site.id, Array.from({ length: 100 }, () => report({ requestId: 'slow' })));
      await new Promise((resolve) => setTimeout(resolve, 100));
      // Larger ids, committed first; then instance B rolls up while A's batch is still open.
      await b.insertReports(site.id, Array.from({ length: 10 }, () => report({ requestId: 'fast' })));
      const folded = await b.rollUp();
      await slow;
      for (let i = 0; i < 10 && (await a.rollUp()) > 0; i++);
      assert.equal(before, 0);
      assert.equal(folded, 110, 'the rollup waited for the open batch instead of skipping its ids');
      assert.equal((await b.totals(site.id, 0, 2_000_000_000)).total, 110);
    } finally {
      await admin.query('DROP TRIGGER IF EXISTS moat_test_slow_commit ON reports').catch(() => undefined);
      await admin.end();
      await a.close();
      await b.close();
    }
  });

  it('concurrent ingestion and rollups on two instances count every report exactly once', async () => {
    const a = await PostgresStore.open(db.url, { max: 4 });
    const b = await PostgresStore.open(db.url, { max: 4 });
    try {
      const site = await a.createSite('shared');
      const batches = 40;
      const perBatch = 200;
      let inserting = true;
      // Both instances roll up in a loop while both ingest: watermark and barrier must neither skip
      // reports whose ids committed late nor fold a report twice.
      const roller = async (store: PostgresStore) => {
        let folded = 0;
        for (let i = 0; i < 10_000 && inserting; i++) folded += await store.rollUp();
        return folded;
      };
      const rolling = [roller(a), roller(b)];
      await Promise.all([a, b, a, b].map(async (store, w) => {
        for (let i = w; i < batches; i += 4) {
          await store.insertReports(site.id, Array.from({ length: perBatch }, (_, j) =>
            report({ ts: 1_700_002_800 + ((i * perBatch + j) % 7200), ip: `10.0.${i}.${j % 200}`, treatment: j % 4 === 0 ? 'Blocked' : 'Passed' })));
        }
      }));
      inserting = false;
      const foldedWhileIngesting = (await Promise.all(rolling)).reduce((x, y) => x + y, 0);
      let rest = 0;
      for (let i = 0; i < 100; i++) {
        const n = await (i % 2 ? a : b).rollUp();
        if (n === 0) break;
        rest += n;
      }
      assert.equal(foldedWhileIngesting + rest, batches * perBatch, 'every report folded once');
      const totals = await b.totals(site.id, 0, 2_000_000_000);
      assert.deepEqual(totals, { total: batches * perBatch, blocked: batches * perBatch / 4, allowed: 0, passed: batches * perBatch * 3 / 4, monitored: 0 });
      assert.equal(await a.uniqueIps(site.id, 0, 2_000_000_000), batches * 200);
      // Two instances pruning at once delete each row once and lose no rollup.
      const now = 1_700_002_800 + 30 * 86_400;
      const deleted = await Promise.all([a, b].map((s) => s.prune({ rawSeconds: 86_400, rollupSeconds: 90 * 86_400 }, now)));
      assert.equal(deleted[0]! + deleted[1]!, batches * perBatch);
      assert.equal((await a.totals(site.id, 0, 2_000_000_000)).total, batches * perBatch);
    } finally {
      await a.close();
      await b.close();
    }
  });
});

describe('PostgresStore: the rules search folds case as the hub does, not by the database', () => {
  const rule = (id: string, value: string, note?: string) => ({ id, action: 'block' as const, kind: 'path' as const, value, mode: 'block' as const, ...(note ? { note } : {}) });
  const found = async (store: PostgresStore, siteId: number, q: string) => (await store.rulesPage(siteId, ruleFilter(q), { offset: 0 }, 50)).rules.map((r) => r.id);

  it('on a database of the C locale, where lower() folds ASCII letters only, ÉCOLE finds école', async () => {
    const db = await freshDatabase('moat_c_locale', { cLocale: true });
    const store = await PostgresStore.open(db.url, { max: 2 });
    try {
      const site = await store.createSite('c');
      await store.saveRules(site.id, [rule('v', '/école'), rule('n', '/x', 'ÉCOLE'), rule('other', '/ecole')], { replace: false, now: 1 });
      assert.deepEqual(await found(store, site.id, 'ÉCOLE'), ['v', 'n']);
      assert.deepEqual(await found(store, site.id, 'école'), ['v', 'n']);
    } finally {
      await store.close();
      await db.drop();
    }
  });

  it('rules an older hub wrote or changed (a rolling deploy) are searched by their text, and folded at the next start', async () => {
    const db = await freshDatabase('moat_folds');
    let store = await PostgresStore.open(db.url, { max: 2 });
    const older = new pg.Client({ connectionString: db.url });
    await older.connect();
    try {
      const site = await store.createSite('s');
      await store.saveRules(site.id, [rule('ours', '/ΟΔΟΣ')], { replace: false, now: 1 });
      // What a hub of schema version 16 writes: no folded text.
      await older.query(`INSERT INTO rules (site_id, id, action, kind, value, note, mode, position, created_at, updated_at)
        VALUES ($1, 'theirs', 'block', 'path', '/Older-Path', 'Older Note', 'block', 2, 1, 1)`, [site.id]);
      assert.deepEqual(await found(store, site.id, 'OLDER-PATH'), ['theirs'], 'found by lower() until folded');
      await older.query("UPDATE rules SET value = '/Changed', updated_at = 2 WHERE id = 'ours'");
      assert.deepEqual(await found(store, site.id, 'οδος'), [], 'the folded text of the old value is dropped with it');
      assert.deepEqual(await found(store, site.id, 'changed'), ['ours'], 'the new value is searched');
      await store.close();
      store = await PostgresStore.open(db.url, { max: 2 });
      const folds = await older.query("SELECT id, value_folded, note_folded FROM rules ORDER BY id");
      assert.deepEqual(folds.rows, [
        { id: 'ours', value_folded: '/changed', note_folded: '' },
        { id: 'theirs', value_folded: '/older-path', note_folded: 'older note' },
      ], 'the next start folds them');
      assert.deepEqual(await found(store, site.id, 'older note'), ['theirs']);
    } finally {
      await older.end();
      await store.close();
      await db.drop();
    }
  });
});
