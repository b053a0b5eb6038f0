import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Rule } from 'moat';
import type {
  ApiKeyInfo, ClientContact, HubStore, ReportFilter, ReportPage, ReportRecord, ReporterContact, RetentionPolicy,
  RuleHits, RulesBuild, RulesFormat, Session, Site, StoredRule, TimeBucket, TopDimension, TopEntry, Totals, User,
  UserWithSecret,
} from '../store.js';
import { MIGRATIONS } from './migrations.js';
import { migrate } from './migrate.js';
import { SqliteReports } from './reports.js';
import {
  type BuildRow, type ClientRow, type KeyRow, type ReporterRow, type RuleRow, type SessionRow, type SiteRow, type UserRow,
  nowSeconds, ruleColumns, toBuild, toClient, toKey, toReporter, toRule, toSession, toSite, toUser,
} from '../rows.js';

/** SQLite returns booleans as 0/1. */
type SqliteFlags<Row> = Omit<Row, 'must_change_password'> & { must_change_password: number };

/** The default store: one embedded SQLite file in WAL mode, synchronous API wrapped in promises. */
export class SqliteStore implements HubStore {
  readonly db: Database.Database;
  private readonly reports: SqliteReports;

  private constructor(db: Database.Database) {
    this.db = db;
    this.reports = new SqliteReports(db);
  }

  /** Opens (creating if needed) and migrates the database at `file`; `:memory:` works for quick use. */
  static open(file: string): SqliteStore {
    if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
    const db = new Database(file, { timeout: 5000 });
    db.pragma('journal_mode = WAL');
    // NORMAL in WAL mode survives a process crash; only an OS crash can lose the last commits.
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    db.pragma('cache_size = -65536');
    db.pragma('temp_store = MEMORY');
    // Ingestion writes megabytes per second: checkpoint every ~32 MiB of WAL instead of every 4 MiB.
    db.pragma('wal_autocheckpoint = 8000');
    db.pragma('mmap_size = 268435456');
    migrate(db, MIGRATIONS);
    const store = new SqliteStore(db);
    store.reports.backfillSketches();
    return store;
  }

  schemaVersion(): number {
    return this.db.pragma('user_version', { simple: true }) as number;
  }

  // Users and sessions

  async countUsers(): Promise<number> {
    return this.db.prepare<[], number>('SELECT count(*) FROM users').pluck().get() ?? 0;
  }

  async createUser(email: string, passwordHash: string, mustChangePassword: boolean): Promise<User> {
    const now = nowSeconds();
    const result = this.db.prepare('INSERT INTO users (email, password_hash, must_change_password, created_at) VALUES (?, ?, ?, ?)')
      .run(email, passwordHash, mustChangePassword ? 1 : 0, now);
    return { id: Number(result.lastInsertRowid), email, mustChangePassword, createdAt: now };
  }

  async findUserByEmail(email: string): Promise<UserWithSecret | undefined> {
    const row = this.db.prepare<[string], SqliteFlags<UserRow>>('SELECT * FROM users WHERE email = ?').get(email);
    return row && toUser(fromSqliteFlags(row));
  }

  async getUserWithSecret(id: number): Promise<UserWithSecret | undefined> {
    const row = this.db.prepare<[number], SqliteFlags<UserRow>>('SELECT * FROM users WHERE id = ?').get(id);
    return row && toUser(fromSqliteFlags(row));
  }

  async setUserPassword(id: number, passwordHash: string, mustChangePassword: boolean): Promise<void> {
    this.db.prepare('UPDATE users SET password_hash = ?, must_change_password = ? WHERE id = ?')
      .run(passwordHash, mustChangePassword ? 1 : 0, id);
  }

  async createSession(tokenHash: string, userId: number, csrfToken: string, expiresAt: number): Promise<void> {
    this.db.prepare('INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at) VALUES (?, ?, ?, ?, ?)')
      .run(tokenHash, userId, csrfToken, nowSeconds(), expiresAt);
  }

  async findSession(tokenHash: string, now: number): Promise<Session | undefined> {
    const row = this.db.prepare<[string, number], SqliteFlags<SessionRow>>(
      `SELECT s.user_id, u.email, u.must_change_password, s.csrf_token, s.expires_at
       FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = ? AND s.expires_at > ?`,
    ).get(tokenHash, now);
    return row && toSession(fromSqliteFlags(row));
  }

  async deleteSession(tokenHash: string): Promise<void> {
    this.db.prepare('DELETE FROM sessions WHERE token_hash = ?').run(tokenHash);
  }

  async deleteUserSessions(userId: number): Promise<void> {
    this.db.prepare('DELETE FROM sessions WHERE user_id = ?').run(userId);
  }

  // Sites and keys

  async listSites(): Promise<Site[]> {
    return this.db.prepare<[], SiteRow>('SELECT * FROM sites ORDER BY id').all().map(toSite);
  }

  async getSite(id: number): Promise<Site | undefined> {
    const r = this.db.prepare<[number], SiteRow>('SELECT * FROM sites WHERE id = ?').get(id);
    return r && toSite(r);
  }

  async createSite(name: string): Promise<Site> {
    const now = nowSeconds();
    const result = this.db.prepare('INSERT INTO sites (name, created_at) VALUES (?, ?)').run(name, now);
    return { id: Number(result.lastInsertRowid), name, createdAt: now };
  }

  async createApiKey(siteId: number, label: string, keyHash: string, prefix: string): Promise<ApiKeyInfo> {
    const now = nowSeconds();
    const result = this.db.prepare('INSERT INTO api_keys (site_id, label, key_hash, prefix, created_at) VALUES (?, ?, ?, ?, ?)')
      .run(siteId, label, keyHash, prefix, now);
    return { id: Number(result.lastInsertRowid), siteId, label, prefix, createdAt: now, revokedAt: null, lastUsedAt: null };
  }

  async listApiKeys(siteId: number): Promise<ApiKeyInfo[]> {
    return this.db.prepare<[number], KeyRow>(
      'SELECT id, site_id, label, prefix, created_at, revoked_at, last_used_at FROM api_keys WHERE site_id = ? ORDER BY id',
    ).all(siteId).map(toKey);
  }

  async revokeApiKey(siteId: number, keyId: number, now: number): Promise<boolean> {
    return this.db.prepare('UPDATE api_keys SET revoked_at = ? WHERE id = ? AND site_id = ? AND revoked_at IS NULL')
      .run(now, keyId, siteId).changes === 1;
  }

  async findActiveApiKey(keyHash: string): Promise<{ id: number; siteId: number } | undefined> {
    const row = this.db.prepare<[string], { id: number; site_id: number }>(
      'SELECT id, site_id FROM api_keys WHERE key_hash = ? AND revoked_at IS NULL',
    ).get(keyHash);
    return row && { id: row.id, siteId: row.site_id };
  }

  async touchApiKey(keyId: number, now: number): Promise<void> {
    // Written at most once a minute per key: downsync and upsync call this on every request.
    this.db.prepare('UPDATE api_keys SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ? - 60)')
      .run(now, keyId, now);
  }

  // Rules

  async listRules(siteId: number): Promise<StoredRule[]> {
    return this.db.prepare<[number], RuleRow>('SELECT * FROM rules WHERE site_id = ? ORDER BY position, id').all(siteId).map(toRule);
  }

  async getRule(siteId: number, ruleId: string): Promise<StoredRule | undefined> {
    const row = this.db.prepare<[number, string], RuleRow>('SELECT * FROM rules WHERE site_id = ? AND id = ?').get(siteId, ruleId);
    return row && toRule(row);
  }

  async saveRules(siteId: number, rules: Rule[], options: { replace: boolean; now: number }): Promise<void> {
    const insert = this.db.prepare(`INSERT INTO rules (site_id, id, action, kind, value, note, mode, expires, rl_method,
      rl_path, rl_match, rl_limit, rl_window_ms, position, created_at, updated_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    this.db.transaction(() => {
      if (options.replace) this.db.prepare('DELETE FROM rules WHERE site_id = ?').run(siteId);
      let position = this.db.prepare<[number], number>('SELECT coalesce(max(position), 0) FROM rules WHERE site_id = ?')
        .pluck().get(siteId) ?? 0;
      for (const rule of rules) {
        position += 1;
        insert.run(siteId, ...ruleColumns(rule), position, options.now, options.now);
      }
    }).immediate();
  }

  async updateRule(siteId: number, rule: Rule, now: number): Promise<boolean> {
    const [id, ...rest] = ruleColumns(rule);
    return this.db.prepare(`UPDATE rules SET action = ?, kind = ?, value = ?, note = ?, mode = ?, expires = ?,
      rl_method = ?, rl_path = ?, rl_match = ?, rl_limit = ?, rl_window_ms = ?, updated_at = ?
      WHERE site_id = ? AND id = ?`).run(...rest, now, siteId, id).changes === 1;
  }

  async deleteRule(siteId: number, ruleId: string): Promise<boolean> {
    return this.db.prepare('DELETE FROM rules WHERE site_id = ? AND id = ?').run(siteId, ruleId).changes === 1;
  }

  // Builds

  async getBuild(siteId: number, format: RulesFormat): Promise<RulesBuild | undefined> {
    const row = this.db.prepare<[number, string], BuildRow>('SELECT * FROM rule_builds WHERE site_id = ? AND format = ?').get(siteId, format);
    return row && toBuild(row);
  }

  async saveBuild(b: RulesBuild): Promise<void> {
    this.db.prepare(`INSERT INTO rule_builds (site_id, format, file_name, hash, built_at, rule_count) VALUES (?, ?, ?, ?, ?, ?)
      ON CONFLICT (site_id, format) DO UPDATE SET file_name = excluded.file_name, hash = excluded.hash,
        built_at = excluded.built_at, rule_count = excluded.rule_count`)
      .run(b.siteId, b.format, b.fileName, b.hash, b.builtAt, b.ruleCount);
  }

  // Clients

  async recordClientContact(c: ClientContact): Promise<void> {
    this.db.prepare(`INSERT INTO clients (site_id, hostname, process_id, client, category, api_key_id, version, framework,
        format, client_db, served_file, ip, last_seen)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (site_id, hostname, process_id, client, category) DO UPDATE SET api_key_id = excluded.api_key_id,
        version = excluded.version, framework = excluded.framework, format = excluded.format,
        client_db = excluded.client_db, served_file = excluded.served_file, ip = excluded.ip, last_seen = excluded.last_seen`)
      .run(c.siteId, c.hostname, c.processId, c.client, c.category, c.apiKeyId, c.version, c.framework, c.format,
        c.clientDb, c.servedFile, c.ip, c.lastSeen);
  }

  async recordReporter(c: ReporterContact): Promise<void> {
    this.db.prepare(`INSERT INTO reporters (site_id, client, version, framework, last_seen, records) VALUES (?, ?, ?, ?, ?, ?)
      ON CONFLICT (site_id, client, version, framework) DO UPDATE SET last_seen = excluded.last_seen,
        records = records + excluded.records`)
      .run(c.siteId, c.client, c.version, c.framework, c.lastSeen, c.records);
  }

  async listClients(siteId: number): Promise<ClientContact[]> {
    return this.db.prepare<[number], ClientRow>('SELECT * FROM clients WHERE site_id = ? ORDER BY last_seen DESC LIMIT 500')
      .all(siteId).map(toClient);
  }

  async listReporters(siteId: number): Promise<ReporterContact[]> {
    return this.db.prepare<[number], ReporterRow>('SELECT * FROM reporters WHERE site_id = ? ORDER BY last_seen DESC LIMIT 500')
      .all(siteId).map(toReporter);
  }

  // Reports

  async insertReports(siteId: number, records: ReportRecord[]): Promise<void> {
    this.reports.insert(siteId, records);
  }

  async rollUp(): Promise<number> {
    return this.reports.rollUp();
  }

  async prune(policy: RetentionPolicy, now: number): Promise<number> {
    let total = 0;
    for (;;) {
      const deleted = this.reports.pruneChunk(policy, now);
      total += deleted;
      if (deleted === 0) return total;
      // Let requests in between chunks.
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  async totals(siteId: number, from: number, to: number): Promise<Totals> {
    return this.reports.totals(siteId, from, to);
  }

  async timeSeries(siteId: number, from: number, to: number, stepSeconds: number): Promise<TimeBucket[]> {
    return this.reports.timeSeries(siteId, from, to, stepSeconds);
  }

  async top(siteId: number, dimension: TopDimension, from: number, to: number, limit: number): Promise<TopEntry[]> {
    return this.reports.top(siteId, dimension, from, to, limit);
  }

  async uniqueIps(siteId: number, from: number, to: number): Promise<number> {
    return this.reports.uniqueIps(siteId, from, to);
  }

  async ruleHits(siteId: number, from: number, to: number): Promise<RuleHits> {
    return this.reports.ruleHits(siteId, from, to);
  }

  async queryReports(siteId: number, filter: ReportFilter, page: { limit: number; before?: string }): Promise<ReportPage> {
    return this.reports.query(siteId, filter, page);
  }

  async close(): Promise<void> {
    if (this.db.open) {
      this.db.pragma('optimize');
      this.db.close();
    }
  }
}

function fromSqliteFlags<Row extends { must_change_password: boolean }>(row: SqliteFlags<Row>): Row {
  return { ...row, must_change_password: row.must_change_password === 1 } as Row;
}
