import type Database from 'better-sqlite3';
import {
  SUMMARY_COLUMNS, toBotCatalogueEntry, toBotCatalogueSummary,
  type BotCatalogueEntry, type BotCatalogueRow, type BotCatalogueStore, type BotCatalogueSummary,
} from '../bot-catalogue-records.js';

/** The bot catalogues in the hub's SQLite database (migration 14). */
export class SqliteBotCatalogues implements BotCatalogueStore {
  constructor(private readonly db: Database.Database) {}

  async add(e: Omit<BotCatalogueEntry, 'version'>): Promise<BotCatalogueEntry> {
    const result = this.db.prepare(`INSERT INTO bot_catalogues (state, content, hash, source, source_id, fetched_at, recorded_at, bots, edition, diff)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
      .run(e.state, e.content, e.hash, e.source, e.sourceId, e.fetchedAt, e.recordedAt, e.bots, e.edition, JSON.stringify(e.diff));
    return { ...e, version: Number(result.lastInsertRowid) };
  }

  async current(): Promise<BotCatalogueEntry | undefined> {
    const row = this.db.prepare<[], BotCatalogueRow>(`SELECT * FROM bot_catalogues WHERE state = 'accepted' ORDER BY version DESC LIMIT 1`).get();
    return row ? toBotCatalogueEntry(row) : undefined;
  }

  async get(version: number): Promise<BotCatalogueEntry | undefined> {
    const row = this.db.prepare<[number], BotCatalogueRow>('SELECT * FROM bot_catalogues WHERE version = ?').get(version);
    return row ? toBotCatalogueEntry(row) : undefined;
  }

  async held(): Promise<BotCatalogueEntry | undefined> {
    const row = this.db.prepare<[], BotCatalogueRow>(`SELECT * FROM bot_catalogues WHERE state = 'held' ORDER BY version DESC LIMIT 1`).get();
    return row ? toBotCatalogueEntry(row) : undefined;
  }

  async decide(version: number, state: 'confirmed' | 'dismissed'): Promise<boolean> {
    return this.db.prepare(`UPDATE bot_catalogues SET state = ? WHERE version = ? AND state = 'held'`).run(state, version).changes > 0;
  }

  async list(limit: number): Promise<BotCatalogueSummary[]> {
    return this.db.prepare<[number], BotCatalogueRow>(`SELECT ${SUMMARY_COLUMNS} FROM bot_catalogues ORDER BY version DESC LIMIT ?`)
      .all(limit).map(toBotCatalogueSummary);
  }

  async prune(keep: number): Promise<number> {
    return this.db.prepare(`DELETE FROM bot_catalogues
      WHERE version NOT IN (SELECT version FROM bot_catalogues ORDER BY version DESC LIMIT ?)
        AND version <> coalesce((SELECT max(version) FROM bot_catalogues WHERE state = 'accepted'), -1)`).run(keep).changes;
  }
}
