import type { Pool } from 'pg';
import {
  SUMMARY_COLUMNS, toBotCatalogueEntry, toBotCatalogueSummary,
  type BotCatalogueEntry, type BotCatalogueRow, type BotCatalogueStore, type BotCatalogueSummary,
} from '../bot-catalogue-records.js';

/** The bot catalogues in PostgreSQL (migration 14), shared by every hub of the fleet; the same meaning as SqliteBotCatalogues. */
export class PostgresBotCatalogues implements BotCatalogueStore {
  constructor(private readonly pool: Pool) {}

  async add(e: Omit<BotCatalogueEntry, 'version'>): Promise<BotCatalogueEntry> {
    const row = (await this.pool.query<{ version: string }>(`INSERT INTO bot_catalogues (state, content, hash, source, source_id, fetched_at, recorded_at, bots, edition, diff)
      VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING version`,
    [e.state, e.content, e.hash, e.source, e.sourceId, e.fetchedAt, e.recordedAt, e.bots, e.edition, JSON.stringify(e.diff)])).rows[0]!;
    return { ...e, version: Number(row.version) };
  }

  async current(): Promise<BotCatalogueEntry | undefined> {
    const row = (await this.pool.query<BotCatalogueRow>(`SELECT * FROM bot_catalogues WHERE state = 'accepted' ORDER BY version DESC LIMIT 1`)).rows[0];
    return row ? toBotCatalogueEntry(row) : undefined;
  }

  async get(version: number): Promise<BotCatalogueEntry | undefined> {
    const row = (await this.pool.query<BotCatalogueRow>('SELECT * FROM bot_catalogues WHERE version = $1', [version])).rows[0];
    return row ? toBotCatalogueEntry(row) : undefined;
  }

  async held(): Promise<BotCatalogueEntry | undefined> {
    const row = (await this.pool.query<BotCatalogueRow>(`SELECT * FROM bot_catalogues WHERE state = 'held' ORDER BY version DESC LIMIT 1`)).rows[0];
    return row ? toBotCatalogueEntry(row) : undefined;
  }

  async decide(version: number, state: 'confirmed' | 'dismissed'): Promise<boolean> {
    return ((await this.pool.query(`UPDATE bot_catalogues SET state = $1 WHERE version = $2 AND state = 'held'`, [state, version])).rowCount ?? 0) > 0;
  }

  async list(limit: number): Promise<BotCatalogueSummary[]> {
    return (await this.pool.query<BotCatalogueRow>(`SELECT ${SUMMARY_COLUMNS} FROM bot_catalogues ORDER BY version DESC LIMIT $1`, [limit])).rows
      .map(toBotCatalogueSummary);
  }

  async prune(keep: number): Promise<number> {
    return (await this.pool.query(`DELETE FROM bot_catalogues
      WHERE version NOT IN (SELECT version FROM bot_catalogues ORDER BY version DESC LIMIT $1)
        AND version <> coalesce((SELECT max(version) FROM bot_catalogues WHERE state = 'accepted'), -1)`, [keep])).rowCount ?? 0;
  }
}
