import type Database from 'better-sqlite3';
import {
  STATE_COLUMNS, toFeedSource, toFeedVersion,
  type FeedSource, type FeedSourceFields, type FeedSourceRow, type FeedSourceState, type FeedStore, type FeedVersion, type FeedVersionRow,
} from '../feed-records.js';

/** Feed sources and built versions in the hub's SQLite database (migration 8). */
export class SqliteFeeds implements FeedStore {
  constructor(private readonly db: Database.Database) {}

  async listSources(): Promise<FeedSource[]> {
    return this.db.prepare<[], FeedSourceRow>('SELECT * FROM feed_sources ORDER BY name').all().map(toFeedSource);
  }

  async getSource(id: number): Promise<FeedSource | undefined> {
    const row = this.db.prepare<[number], FeedSourceRow>('SELECT * FROM feed_sources WHERE id = ?').get(id);
    return row ? toFeedSource(row) : undefined;
  }

  async createSource(f: FeedSourceFields, now: number): Promise<FeedSource | undefined> {
    const result = this.db.prepare(`INSERT INTO feed_sources (name, format, origin, url, list, refresh_seconds, created_at, updated_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO NOTHING`).run(f.name, f.format, f.origin, f.url, f.list, f.refreshSeconds, now, now);
    return result.changes === 0 ? undefined : this.getSource(Number(result.lastInsertRowid));
  }

  async updateSource(id: number, f: FeedSourceFields, now: number): Promise<'done' | 'not_found' | 'name_taken'> {
    return this.db.transaction(() => {
      const before = this.db.prepare<[number], FeedSourceRow>('SELECT * FROM feed_sources WHERE id = ?').get(id);
      if (!before) return 'not_found' as const;
      const other = this.db.prepare<[string, number], { id: number }>('SELECT id FROM feed_sources WHERE name = ? AND id <> ?').get(f.name, id);
      if (other) return 'name_taken' as const;
      const sameFetch = before.url === f.url && before.format === f.format;
      this.db.prepare(`UPDATE feed_sources SET name = ?, format = ?, origin = ?, url = ?, list = ?, refresh_seconds = ?, updated_at = ?,
        etag = CASE WHEN ? THEN etag END, last_modified = CASE WHEN ? THEN last_modified END WHERE id = ?`)
        .run(f.name, f.format, f.origin, f.url, f.list, f.refreshSeconds, now, sameFetch ? 1 : 0, sameFetch ? 1 : 0, id);
      return 'done' as const;
    }).immediate();
  }

  async deleteSource(id: number): Promise<boolean> {
    return this.db.prepare('DELETE FROM feed_sources WHERE id = ?').run(id).changes > 0;
  }

  async saveState(id: number, state: Partial<FeedSourceState>): Promise<void> {
    const keys = (Object.keys(state) as (keyof FeedSourceState)[]).filter((k) => k in STATE_COLUMNS);
    if (keys.length === 0) return;
    const sets = keys.map((k) => `${STATE_COLUMNS[k]} = ?`).join(', ');
    this.db.prepare(`UPDATE feed_sources SET ${sets} WHERE id = ?`).run(...keys.map((k) => state[k] ?? null), id);
  }

  async addVersion(v: Omit<FeedVersion, 'version'>): Promise<FeedVersion> {
    return this.db.transaction(() => {
      const version = (this.db.prepare<[], number>('SELECT coalesce(max(version), 0) + 1 FROM feed_versions').pluck().get() ?? 1);
      this.db.prepare('INSERT INTO feed_versions (version, built_at, file_name, ranges, content_hash, diff) VALUES (?, ?, ?, ?, ?, ?)')
        .run(version, v.builtAt, v.fileName, v.ranges, v.contentHash, JSON.stringify(v.diff));
      return { ...v, version };
    }).immediate();
  }

  async listVersions(limit: number): Promise<FeedVersion[]> {
    return this.db.prepare<[number], FeedVersionRow>('SELECT * FROM feed_versions ORDER BY version DESC LIMIT ?').all(limit).map(toFeedVersion);
  }
}
