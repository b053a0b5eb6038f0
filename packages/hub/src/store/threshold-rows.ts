import type { Ban, ThresholdEvent, ThresholdRule, ThresholdRuleInput } from '../thresholds/threshold-types.js';

/** Columns shared by the SQLite and PostgreSQL tables of migration 7. */
export interface ThresholdRuleRow {
  id: number;
  site_id: number;
  name: string;
  condition: string;
  window_seconds: number;
  threshold: number;
  key_kind: string;
  ban_seconds: number;
  mode: string;
  max_bans_per_minute: number;
  created_at: number;
  updated_at: number;
}

export interface BanRow {
  id: number;
  site_id: number;
  ban_key: string;
  reason: string;
  rule_id: number | null;
  source: string;
  mode: string;
  created_at: number;
  expires_at: number;
  lifted_at: number | null;
}

export interface ThresholdEventRow {
  id: number;
  site_id: number;
  rule_id: number | null;
  at: number;
  kind: string;
  detail: string;
}

/** The input's columns in table order after site_id (name … max_bans_per_minute). */
export function thresholdRuleValues(input: ThresholdRuleInput): (string | number)[] {
  return [input.name, JSON.stringify(input.condition), input.windowSeconds, input.threshold, input.key, input.banSeconds, input.mode, input.maxBansPerMinute];
}

export function toThresholdRule(row: ThresholdRuleRow): ThresholdRule {
  return {
    id: Number(row.id), siteId: Number(row.site_id), name: row.name,
    condition: JSON.parse(row.condition) as ThresholdRule['condition'],
    windowSeconds: row.window_seconds, threshold: row.threshold, key: row.key_kind as ThresholdRule['key'],
    banSeconds: row.ban_seconds, mode: row.mode as ThresholdRule['mode'], maxBansPerMinute: row.max_bans_per_minute,
    createdAt: row.created_at, updatedAt: row.updated_at,
  };
}

export function toBan(row: BanRow): Ban {
  return {
    id: Number(row.id), siteId: Number(row.site_id), key: row.ban_key, reason: row.reason,
    ruleId: row.rule_id === null ? null : Number(row.rule_id), source: 'auto', mode: row.mode as Ban['mode'],
    createdAt: row.created_at, expiresAt: row.expires_at, liftedAt: row.lifted_at,
  };
}

export function toThresholdEvent(row: ThresholdEventRow): ThresholdEvent {
  return {
    id: Number(row.id), siteId: Number(row.site_id), ruleId: row.rule_id === null ? null : Number(row.rule_id),
    at: row.at, kind: row.kind as ThresholdEvent['kind'], detail: row.detail,
  };
}
