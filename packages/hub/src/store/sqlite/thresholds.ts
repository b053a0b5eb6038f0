import type Database from 'better-sqlite3';
import type { ThresholdStore } from '../../thresholds/threshold-store.js';
import type { Ban, BanQuery, NewBan, NewThresholdEvent, ThresholdEvent, ThresholdRule, ThresholdRuleInput } from '../../thresholds/threshold-types.js';
import {
  type BanRow, type ThresholdEventRow, type ThresholdRuleRow, thresholdRuleValues, toBan, toThresholdEvent, toThresholdRule,
} from '../threshold-rows.js';

/** Threshold rules, bans and their events in the SQLite store (tables of migration 7). */
export class SqliteThresholds implements ThresholdStore {
  constructor(private readonly db: Database.Database) {}

  async listThresholdRules(siteId?: number): Promise<ThresholdRule[]> {
    const rows = siteId === undefined
      ? this.db.prepare<[], ThresholdRuleRow>('SELECT * FROM threshold_rules ORDER BY id').all()
      : this.db.prepare<[number], ThresholdRuleRow>('SELECT * FROM threshold_rules WHERE site_id = ? ORDER BY id').all(siteId);
    return rows.map(toThresholdRule);
  }

  async getThresholdRule(siteId: number, id: number): Promise<ThresholdRule | undefined> {
    const row = this.db.prepare<[number, number], ThresholdRuleRow>('SELECT * FROM threshold_rules WHERE site_id = ? AND id = ?').get(siteId, id);
    return row && toThresholdRule(row);
  }

  async createThresholdRule(siteId: number, input: ThresholdRuleInput, now: number): Promise<ThresholdRule> {
    const row = this.db.prepare<unknown[], ThresholdRuleRow>(`INSERT INTO threshold_rules
      (site_id, name, condition, window_seconds, threshold, key_kind, ban_seconds, mode, max_bans_per_minute, created_at, updated_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *`).get(siteId, ...thresholdRuleValues(input), now, now)!;
    return toThresholdRule(row);
  }

  async updateThresholdRule(siteId: number, id: number, input: ThresholdRuleInput, now: number): Promise<ThresholdRule | undefined> {
    const row = this.db.prepare<unknown[], ThresholdRuleRow>(`UPDATE threshold_rules SET
      name = ?, condition = ?, window_seconds = ?, threshold = ?, key_kind = ?, ban_seconds = ?, mode = ?, max_bans_per_minute = ?, updated_at = ?
      WHERE site_id = ? AND id = ? RETURNING *`).get(...thresholdRuleValues(input), now, siteId, id);
    return row && toThresholdRule(row);
  }

  async deleteThresholdRule(siteId: number, id: number): Promise<boolean> {
    return this.db.prepare('DELETE FROM threshold_rules WHERE site_id = ? AND id = ?').run(siteId, id).changes > 0;
  }

  async insertBan(ban: NewBan): Promise<Ban | undefined> {
    // One statement: the check and the insert cannot be separated by another writer.
    const row = this.db.prepare<unknown[], BanRow>(`INSERT INTO bans (site_id, ban_key, reason, rule_id, source, mode, created_at, expires_at)
      SELECT ?, ?, ?, ?, ?, ?, ?, ? WHERE NOT EXISTS (
        SELECT 1 FROM bans WHERE site_id = ? AND mode = ? AND ban_key = ? AND expires_at > ? AND lifted_at IS NULL)
      RETURNING *`)
      .get(ban.siteId, ban.key, ban.reason, ban.ruleId, ban.source, ban.mode, ban.createdAt, ban.expiresAt, ban.siteId, ban.mode, ban.key, ban.createdAt);
    return row && toBan(row);
  }

  async listBans(siteId: number, query: BanQuery): Promise<Ban[]> {
    const rows = query.activeAt === undefined
      ? this.db.prepare<[number, string, number], BanRow>('SELECT * FROM bans WHERE site_id = ? AND mode = ? ORDER BY id DESC LIMIT ?')
        .all(siteId, query.mode, query.limit)
      : this.db.prepare<[number, string, number, number], BanRow>(
        'SELECT * FROM bans WHERE site_id = ? AND mode = ? AND expires_at > ? AND lifted_at IS NULL ORDER BY id DESC LIMIT ?')
        .all(siteId, query.mode, query.activeAt, query.limit);
    return rows.map(toBan);
  }

  async liftBan(siteId: number, id: number, now: number): Promise<Ban | undefined> {
    const row = this.db.prepare<[number, number, number, number], BanRow>(
      'UPDATE bans SET lifted_at = ? WHERE site_id = ? AND id = ? AND lifted_at IS NULL AND expires_at > ? RETURNING *')
      .get(now, siteId, id, now);
    return row && toBan(row);
  }

  async activeBanSites(now: number): Promise<{ siteId: number; nextExpiry: number }[]> {
    return this.db.prepare<[number], { site_id: number; next_expiry: number }>(
      `SELECT site_id, min(expires_at) AS next_expiry FROM bans WHERE mode = 'enforce' AND expires_at > ? AND lifted_at IS NULL GROUP BY site_id`)
      .all(now).map((r) => ({ siteId: r.site_id, nextExpiry: r.next_expiry }));
  }

  async pruneBans(endedBefore: number): Promise<number> {
    return this.db.prepare('DELETE FROM bans WHERE expires_at < ? OR lifted_at < ?').run(endedBefore, endedBefore).changes;
  }

  async pruneThresholdEvents(before: number): Promise<number> {
    return this.db.prepare('DELETE FROM threshold_events WHERE at < ?').run(before).changes;
  }

  async appendThresholdEvent(event: NewThresholdEvent): Promise<void> {
    this.db.prepare('INSERT INTO threshold_events (site_id, rule_id, at, kind, detail) VALUES (?, ?, ?, ?, ?)')
      .run(event.siteId, event.ruleId, event.at, event.kind, event.detail);
  }

  async listThresholdEvents(siteId: number, limit: number): Promise<ThresholdEvent[]> {
    return this.db.prepare<[number, number], ThresholdEventRow>('SELECT * FROM threshold_events WHERE site_id = ? ORDER BY id DESC LIMIT ?')
      .all(siteId, limit).map(toThresholdEvent);
  }
}
