import type { Pool } from 'pg';
import type { FleetCountStore, ThresholdStore } from '../../thresholds/threshold-store.js';
import type { Ban, BanQuery, NewBan, NewThresholdEvent, ThresholdEvent, ThresholdRule, ThresholdRuleInput } from '../../thresholds/threshold-types.js';
import {
  type BanRow, type ThresholdEventRow, type ThresholdRuleRow, thresholdRuleValues, toBan, toThresholdEvent, toThresholdRule,
} from '../threshold-rows.js';
import { LOCK_NAMESPACE } from './advisory-locks.js';
import { PostgresThresholdCounts } from './threshold-counts.js';
import { withTransaction } from './transaction.js';

/**
 * Advisory locks per banned key (two-int form: this namespace, then a hash of site, mode and key), so two
 * hubs storing a ban of the same key at once store it once. A namespace of its own: a hash can never
 * take one of the store's named locks. A hash collision of two keys only makes one wait a moment.
 */
const BAN_LOCK_NAMESPACE = LOCK_NAMESPACE + 1;

/** Threshold rules, bans and their events in the PostgreSQL store (tables of migration 7; shared counts of 10). */
export class PostgresThresholds implements ThresholdStore {
  readonly fleetCounts: FleetCountStore;

  constructor(private readonly pool: Pool) {
    this.fleetCounts = new PostgresThresholdCounts(pool);
  }

  async listThresholdRules(siteId?: number): Promise<ThresholdRule[]> {
    const { rows } = siteId === undefined
      ? await this.pool.query<ThresholdRuleRow>('SELECT * FROM threshold_rules ORDER BY id')
      : await this.pool.query<ThresholdRuleRow>('SELECT * FROM threshold_rules WHERE site_id = $1 ORDER BY id', [siteId]);
    return rows.map(toThresholdRule);
  }

  async getThresholdRule(siteId: number, id: number): Promise<ThresholdRule | undefined> {
    const { rows } = await this.pool.query<ThresholdRuleRow>('SELECT * FROM threshold_rules WHERE site_id = $1 AND id = $2', [siteId, id]);
    return rows[0] && toThresholdRule(rows[0]);
  }

  async createThresholdRule(siteId: number, input: ThresholdRuleInput, now: number): Promise<ThresholdRule> {
    const { rows } = await this.pool.query<ThresholdRuleRow>(`INSERT INTO threshold_rules
      (site_id, name, condition, window_seconds, threshold, key_kind, ban_seconds, mode, max_bans_per_minute, created_at, updated_at)
      VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING *`, [siteId, ...thresholdRuleValues(input), now, now]);
    return toThresholdRule(rows[0]!);
  }

  async updateThresholdRule(siteId: number, id: number, input: ThresholdRuleInput, now: number): Promise<ThresholdRule | undefined> {
    const { rows } = await this.pool.query<ThresholdRuleRow>(`UPDATE threshold_rules SET
      name = $1, condition = $2, window_seconds = $3, threshold = $4, key_kind = $5, ban_seconds = $6, mode = $7, max_bans_per_minute = $8,
      updated_at = $9 WHERE site_id = $10 AND id = $11 RETURNING *`, [...thresholdRuleValues(input), now, siteId, id]);
    return rows[0] && toThresholdRule(rows[0]);
  }

  async deleteThresholdRule(siteId: number, id: number): Promise<boolean> {
    const result = await this.pool.query('DELETE FROM threshold_rules WHERE site_id = $1 AND id = $2', [siteId, id]);
    return (result.rowCount ?? 0) > 0;
  }

  async insertBan(ban: NewBan): Promise<Ban | undefined> {
    return withTransaction(this.pool, async (client) => {
      // Held to COMMIT: a second hub's insert of this key waits, then sees this one standing.
      await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [BAN_LOCK_NAMESPACE, `${ban.siteId}|${ban.mode}|${ban.key}`]);
      const { rows } = await client.query<BanRow>(`INSERT INTO bans (site_id, ban_key, reason, rule_id, source, mode, created_at, expires_at)
        SELECT $1, $2, $3, $4, $5, $6, $7, $8 WHERE NOT EXISTS (
          SELECT 1 FROM bans WHERE site_id = $1 AND mode = $6 AND ban_key = $2 AND expires_at > $7 AND lifted_at IS NULL)
        RETURNING *`,
      [ban.siteId, ban.key, ban.reason, ban.ruleId, ban.source, ban.mode, ban.createdAt, ban.expiresAt]);
      return rows[0] && toBan(rows[0]);
    });
  }

  async listBans(siteId: number, query: BanQuery): Promise<Ban[]> {
    const { rows } = query.activeAt === undefined
      ? await this.pool.query<BanRow>('SELECT * FROM bans WHERE site_id = $1 AND mode = $2 ORDER BY id DESC LIMIT $3', [siteId, query.mode, query.limit])
      : await this.pool.query<BanRow>(
        'SELECT * FROM bans WHERE site_id = $1 AND mode = $2 AND expires_at > $3 AND lifted_at IS NULL ORDER BY id DESC LIMIT $4',
        [siteId, query.mode, query.activeAt, query.limit]);
    return rows.map(toBan);
  }

  async liftBan(siteId: number, id: number, now: number): Promise<Ban | undefined> {
    const { rows } = await this.pool.query<BanRow>(
      'UPDATE bans SET lifted_at = $1 WHERE site_id = $2 AND id = $3 AND lifted_at IS NULL AND expires_at > $1 RETURNING *', [now, siteId, id]);
    return rows[0] && toBan(rows[0]);
  }

  async activeBanSites(now: number): Promise<{ siteId: number; nextExpiry: number }[]> {
    const { rows } = await this.pool.query<{ site_id: number; next_expiry: number }>(
      `SELECT site_id, min(expires_at) AS next_expiry FROM bans WHERE mode = 'enforce' AND expires_at > $1 AND lifted_at IS NULL GROUP BY site_id`,
      [now]);
    return rows.map((r) => ({ siteId: Number(r.site_id), nextExpiry: Number(r.next_expiry) }));
  }

  async pruneBans(endedBefore: number): Promise<number> {
    const result = await this.pool.query('DELETE FROM bans WHERE expires_at < $1 OR lifted_at < $1', [endedBefore]);
    return result.rowCount ?? 0;
  }

  async pruneThresholdEvents(before: number): Promise<number> {
    const result = await this.pool.query('DELETE FROM threshold_events WHERE at < $1', [before]);
    return result.rowCount ?? 0;
  }

  async appendThresholdEvent(event: NewThresholdEvent): Promise<void> {
    await this.pool.query('INSERT INTO threshold_events (site_id, rule_id, at, kind, detail) VALUES ($1, $2, $3, $4, $5)',
      [event.siteId, event.ruleId, event.at, event.kind, event.detail]);
  }

  async listThresholdEvents(siteId: number, limit: number): Promise<ThresholdEvent[]> {
    const { rows } = await this.pool.query<ThresholdEventRow>('SELECT * FROM threshold_events WHERE site_id = $1 ORDER BY id DESC LIMIT $2', [siteId, limit]);
    return rows.map(toThresholdEvent);
  }
}
