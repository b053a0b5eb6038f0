import { parseRateLimitKey, formatRateLimitKey, type MatchRule, type RateLimitSpec, type Rule } from 'moat-waf';
import type {
  ApiKeyInfo, AuditEntry, ClientContact, ReporterContact, Role, RulePage, RulesBuild, RulesFormat, Session, Site, StoredRule, User, UserAccess, UserWithSecret,
} from './store.js';

// Table rows as both drivers return them, and their mapping to the store's types. Flags are booleans
// here; SQLite returns them as 0/1 and its store converts them first.

/** `site_ids`: the granted site ids joined by commas (both databases aggregate them the same way). */
export interface UserRow {
  id: number; email: string; password_hash: string; must_change_password: boolean; created_at: number; role: string; site_ids: string | null;
}
export interface SessionRow {
  user_id: number; email: string; must_change_password: boolean; csrf_token: string; expires_at: number; role: string; site_ids: string | null;
}
export interface AuditRow {
  id: number; at: number; user_id: number | null; user_email: string; ip: string | null; action: string; site_id: number | null;
  target: string | null; before: string | null; after: string | null;
}
export interface SiteRow { id: number; name: string; created_at: number }
export interface KeyRow {
  id: number; site_id: number; label: string; prefix: string; created_at: number; revoked_at: number | null; last_used_at: number | null;
}
export interface RuleRow {
  site_id: number; id: string; action: string; kind: string; value: string; note: string | null; mode: string;
  expires: number | null; rl_method: string | null; rl_path: string | null; rl_match: string | null;
  rl_limit: number | null; rl_window_ms: number | null; created_at: number; updated_at: number;
  /** `header:<name>`, `cookie:<name>` or `user`; null counts by IP (schema version 11). */
  rl_key: string | null;
}
export interface BuildRow { site_id: number; format: RulesFormat; file_name: string; hash: string; built_at: number; rule_count: number }
export interface ClientRow {
  site_id: number; hostname: string; process_id: string; client: string; category: string; api_key_id: number;
  version: string; framework: string; format: string; client_db: string; served_file: string; ip: string; last_seen: number;
}
export interface ReporterRow { site_id: number; client: string; version: string; framework: string; last_seen: number; records: number }

export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

export function toUser(row: UserRow): UserWithSecret {
  return {
    id: row.id, email: row.email, passwordHash: row.password_hash,
    mustChangePassword: row.must_change_password, createdAt: row.created_at,
    role: toRole(row.role), siteIds: toSiteIds(row.site_ids),
  };
}

export function toSession(row: SessionRow): Session {
  return {
    userId: row.user_id, email: row.email, mustChangePassword: row.must_change_password,
    csrfToken: row.csrf_token, expiresAt: row.expires_at, role: toRole(row.role), siteIds: toSiteIds(row.site_ids),
  };
}

/** Anything but 'admin' reads as the least privileged role, so a bad value never grants more. */
function toRole(role: string): Role {
  return role === 'admin' ? 'admin' : 'viewer';
}

function toSiteIds(list: string | null): number[] {
  return list ? list.split(',').map(Number).filter(Number.isInteger).sort((a, b) => a - b) : [];
}

export function toAuditEntry(r: AuditRow): AuditEntry {
  return {
    id: r.id, at: r.at, userId: r.user_id, userEmail: r.user_email, ip: r.ip, action: r.action, siteId: r.site_id,
    target: r.target, before: r.before, after: r.after,
  };
}

export function toSite(r: SiteRow): Site {
  return { id: r.id, name: r.name, createdAt: r.created_at };
}

export function toKey(r: KeyRow): ApiKeyInfo {
  return {
    id: r.id, siteId: r.site_id, label: r.label, prefix: r.prefix, createdAt: r.created_at,
    revokedAt: r.revoked_at, lastUsedAt: r.last_used_at,
  };
}

/** Rule fields in table column order, from `id` to `rl_window_ms`, then `rl_key`. */
export function ruleColumns(rule: Rule): unknown[] {
  const rl = rule.rateLimit;
  return [
    rule.id, rule.action, rule.kind, rule.value, rule.note ?? null, rule.mode, rule.expires ?? null,
    rl ? rl.method : null, rl ? rl.path : null, rl ? rl.match : null, rl ? rl.limit : null, rl ? rl.windowMs : null,
    rl?.key === undefined ? null : formatRateLimitKey(rl.key),
  ];
}

/** Object literals, no spread: a site's 10,000 rules are mapped on every whole-list read (spread took a third of it). */
export function toRule(r: RuleRow): StoredRule {
  const mode = r.mode as Rule['mode'];
  let rule: StoredRule;
  if (r.kind === 'rateLimit') {
    const rateLimit: RateLimitSpec = {
      method: r.rl_method, path: r.rl_path ?? '/', match: r.rl_match === 'prefix' ? 'prefix' : 'exact',
      limit: r.rl_limit ?? 0, windowMs: r.rl_window_ms ?? 0,
    };
    const key = parseRateLimitKey(r.rl_key);
    if (key !== undefined) rateLimit.key = key;
    rule = { siteId: r.site_id, id: r.id, action: 'block', kind: 'rateLimit', value: r.value, mode, rateLimit, createdAt: r.created_at, updatedAt: r.updated_at };
  } else {
    rule = { siteId: r.site_id, id: r.id, action: r.action as Rule['action'], kind: r.kind as MatchRule['kind'], value: r.value, mode, createdAt: r.created_at, updatedAt: r.updated_at };
  }
  if (r.note !== null) rule.note = r.note;
  if (r.expires !== null) rule.expires = r.expires;
  return rule;
}

/** A page of `limit` rules from up to `limit + 1` rows read in list order: the extra row only says that more follow. */
export function toRulePage(rows: readonly { position: number; rule: StoredRule }[], limit: number): RulePage {
  const last = rows[limit - 1];
  return {
    rules: rows.slice(0, limit).map((row) => row.rule),
    next: rows.length > limit && last !== undefined ? { position: last.position, id: last.rule.id } : null,
  };
}

export function toBuild(row: BuildRow): RulesBuild {
  return {
    siteId: row.site_id, format: row.format, fileName: row.file_name, hash: row.hash, builtAt: row.built_at, ruleCount: row.rule_count,
  };
}

export function toClient(r: ClientRow): ClientContact {
  return {
    siteId: r.site_id, apiKeyId: r.api_key_id, hostname: r.hostname, processId: r.process_id, client: r.client,
    version: r.version, framework: r.framework, category: r.category, format: r.format as RulesFormat,
    clientDb: r.client_db, servedFile: r.served_file, ip: r.ip, lastSeen: r.last_seen,
  };
}

export function toReporter(r: ReporterRow): ReporterContact {
  return {
    siteId: r.site_id, client: r.client, version: r.version, framework: r.framework, lastSeen: r.last_seen, records: r.records,
  };
}

/** Admins are granted no sites (they see all); duplicate ids are dropped. */
export function grantable(access: UserAccess): UserAccess {
  return { role: access.role, siteIds: access.role === 'admin' ? [] : [...new Set(access.siteIds)].sort((a, b) => a - b) };
}

export function withoutSecret(user: UserWithSecret): User {
  const { passwordHash: _secret, ...rest } = user;
  return rest;
}
