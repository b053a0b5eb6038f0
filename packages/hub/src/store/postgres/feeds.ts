import type { Pool } from 'pg';
import {
  STATE_COLUMNS, toFeedSource, toFeedVersion,
  type FeedSource, type FeedSourceFields, type FeedSourceRow, type FeedSourceState, type FeedStore, type FeedVersion, type FeedVersionRow,
} from '../feed-records.js';
import { withTransaction } from './transaction.js';

/** Feed sources and built versions in PostgreSQL (migration 8); the same meaning as SqliteFeeds. */
export class PostgresFeeds implements FeedStore {
  constructor(private readonly pool: Pool) {}

  async listSources(): Promise<FeedSource[]> {
    return (await this.pool.query<FeedSourceRow>('SELECT * FROM feed_sources ORDER BY name')).rows.map(toFeedSource);
  }

  async getSource(id: number): Promise<FeedSource | undefined> {
    const row = (await this.pool.query<FeedSourceRow>('SELECT * FROM feed_sources WHERE id = $1', [id])).rows[0];
    return row ? toFeedSource(row) : undefined;
  }

  async createSource(f: FeedSourceFields, now: number): Promise<FeedSource | undefined> {
    const row = (await this.pool.query<FeedSourceRow>(`INSERT INTO feed_sources (name, format, origin, url, list, refresh_seconds, created_at, updated_at)
      VALUES ($1, $2, $3, $4, $5, $6, $7, $7) ON CONFLICT (name) DO NOTHING RETURNING *`,
    [f.name, f.format, f.origin, f.url, f.list, f.refreshSeconds, now])).rows[0];
    return row ? toFeedSource(row) : undefined;
  }

  async updateSource(id: number, f: FeedSourceFields, now: number): Promise<'done' | 'not_found' | 'name_taken'> {
    return withTransaction(this.pool, async (client) => {
      const before = (await client.query<FeedSourceRow>('SELECT * FROM feed_sources WHERE id = $1 FOR UPDATE', [id])).rows[0];
      if (!before) return 'not_found' as const;
      const other = await client.query('SELECT id FROM feed_sources WHERE name = $1 AND id <> $2', [f.name, id]);
      if (other.rowCount) return 'name_taken' as const;
      const sameFetch = before.url === f.url && before.format === f.format;
      await client.query(`UPDATE feed_sources SET name = $1, format = $2, origin = $3, url = $4, list = $5, refresh_seconds = $6,
        updated_at = $7, etag = CASE WHEN $8 THEN etag END, last_modified = CASE WHEN $8 THEN last_modified END WHERE id = $9`,
      [f.name, f.format, f.origin, f.url, f.list, f.refreshSeconds, now, sameFetch, id]);
      return 'done' as const;
    });
  }

  async deleteSource(id: number): Promise<boolean> {
    return ((await this.pool.query('DELETE FROM feed_sources WHERE id = $1', [id])).rowCount ?? 0) > 0;
  }

  async saveState(id: number, state: Partial<FeedSourceState>): Promise<void> {
    const keys = (Object.keys(state) as (keyof FeedSourceState)[]).filter((k) => k in STATE_COLUMNS);
    if (keys.length === 0) return;
    const sets = keys.map((k, i) => `${STATE_COLUMNS[k]} = $${i + 1}`).join(', ');
    await this.pool.query(`UPDATE feed_sources SET ${sets} WHERE id = $${keys.length + 1}`, [...keys.map((k) => state[k] ?? null), id]);
  }

  async addVersion(v: Omit<FeedVersion, 'version'>): Promise<FeedVersion> {
    return withTransaction(this.pool, async (client) => {
      // The table lock orders concurrent builders (several hub instances) so version numbers stay unique.
      await client.query('LOCK TABLE feed_versions IN EXCLUSIVE MODE');
      const version = Number((await client.query<{ next: string }>('SELECT coalesce(max(version), 0) + 1 AS next FROM feed_versions')).rows[0]!.next);
      await client.query('INSERT INTO feed_versions (version, built_at, file_name, ranges, content_hash, diff) VALUES ($1, $2, $3, $4, $5, $6)',
        [version, v.builtAt, v.fileName, v.ranges, v.contentHash, JSON.stringify(v.diff)]);
      return { ...v, version };
    });
  }

  async listVersions(limit: number): Promise<FeedVersion[]> {
    return (await this.pool.query<FeedVersionRow>('SELECT * FROM feed_versions ORDER BY version DESC LIMIT $1', [limit])).rows.map(toFeedVersion);
  }
}
