// The feeds part of the store (migration 8) means the same in SQLite and PostgreSQL: sources with their
// fetch state, unique names, validators forgotten when the URL changes, versions numbered in order.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PostgresStore } from '../src/store/postgres/postgres-store.js';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import type { FeedSourceFields } from '../src/store/feed-records.js';
import type { HubStore } from '../src/store/store.js';
import { freshDatabase, type TestDatabase } from './support/postgres.js';

const DROP: FeedSourceFields = { name: 'drop', format: 'ip-list', origin: 'url', url: 'https://feeds.example.test/drop.txt', list: 'drop', refreshSeconds: 3600 };

function contract(name: string, open: () => Promise<{ store: HubStore; close: () => Promise<void> }>) {
  describe(`feed store contract: ${name}`, () => {
    let store: HubStore;
    let close: () => Promise<void>;
    before(async () => ({ store, close } = await open()));
    after(async () => close());

    it('creates, lists, updates state, and refuses a second source of the same name', async () => {
      const created = (await store.feeds.createSource(DROP, 1000))!;
      assert.equal(created.status, 'pending');
      assert.equal(created.failures, 0);
      assert.equal(await store.feeds.createSource({ ...DROP, url: 'https://other.example.test/' }, 1001), undefined);
      await store.feeds.saveState(created.id, { status: 'ok', etag: '"v1"', lastModified: 'Mon, 01 Jan 2024 00:00:00 GMT', entries: 5, checkedAt: 1002, changedAt: 1002 });
      const read = (await store.feeds.getSource(created.id))!;
      assert.deepEqual([read.status, read.etag, read.entries, read.changedAt], ['ok', '"v1"', 5, 1002]);
      assert.equal((await store.feeds.listSources()).length, 1);
    });

    it('keeps validators on a rename, forgets them when the URL changes; refuses a taken name', async () => {
      const [source] = await store.feeds.listSources();
      assert.equal(await store.feeds.updateSource(source!.id, { ...DROP, name: 'drop v2' }, 1003), 'done');
      assert.equal((await store.feeds.getSource(source!.id))!.etag, '"v1"');
      assert.equal(await store.feeds.updateSource(source!.id, { ...DROP, name: 'drop v2', url: 'https://feeds.example.test/new.txt' }, 1004), 'done');
      const moved = (await store.feeds.getSource(source!.id))!;
      assert.equal(moved.etag, null);
      assert.equal(moved.lastModified, null);
      const other = (await store.feeds.createSource({ ...DROP, name: 'tor', list: 'tor' }, 1005))!;
      assert.equal(await store.feeds.updateSource(other.id, { ...DROP, name: 'drop v2' }, 1006), 'name_taken');
      assert.equal(await store.feeds.updateSource(99_999, DROP, 1006), 'not_found');
      assert.equal(await store.feeds.deleteSource(other.id), true);
      assert.equal(await store.feeds.deleteSource(other.id), false);
    });

    it('numbers versions in order and keeps their diffs', async () => {
      const diff = [{ list: 'drop', added: 1, removed: 0, addedSample: ['192.0.2.0/24'], removedSample: [] }];
      const v1 = await store.feeds.addVersion({ builtAt: 2000, fileName: 'feeds-a.db', ranges: 10, contentHash: 'aa', diff });
      const v2 = await store.feeds.addVersion({ builtAt: 2001, fileName: 'feeds-b.db', ranges: 11, contentHash: 'bb', diff: [] });
      assert.equal(v2.version, v1.version + 1);
      const listed = await store.feeds.listVersions(10);
      assert.deepEqual(listed.map((v) => v.fileName), ['feeds-b.db', 'feeds-a.db']);
      assert.deepEqual(listed[1]!.diff, diff);
      assert.equal((await store.feeds.listVersions(1)).length, 1);
    });
  });
}

contract('SQLite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'moat-feeds-store-'));
  const store = SqliteStore.open(join(dir, 'hub.db'));
  return { store, close: async () => { await store.close(); rmSync(dir, { recursive: true, force: true }); } };
});

contract('PostgreSQL', async () => {
  const db: TestDatabase = await freshDatabase();
  const store = await PostgresStore.open(db.url);
  return { store, close: async () => { await store.close(); await db.drop(); } };
});
