import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Rule } from 'moat-waf';
import { BATCH_ID_RETENTION_SECONDS, CONTACTS_PER_SITE } from '../store.js';
import { PRUNE_CHUNK } from '../report-rows.js';
import type {
  ApiKeyInfo, AuditPage, BatchKey, InsertOutcome, AuditRecord, ClientContact, HubStore, ReportFilter, ReportPage, ReportRecord, ReporterContact, RetentionPolicy,
  PassedSampling, RuleFilter, RuleHitKeys, RuleHits, RulePage, RulePageStart, RulesBuild, RulesFormat, Session, Site, StoredRule, TimeBucket, TopDimension, TopEntry,
  Totals, User, ValueHour, UserAccess, UserChange, UserWithSecret,
} from '../store.js';
import { foldForSearch } from '../../rules/rule-filter.js';
import { MIGRATIONS } from './migrations.js';
import type { ReportScanSource } from '../report-scan.js';
import { migrate } from './migrate.js';
import { SqliteReports } from './reports.js';
import { SqliteUpsyncBatches } from './upsync-batches.js';
import { SqliteFeeds } from './feeds.js';
import { SqliteBotCatalogues } from './bot-catalogues.js';
import { SqliteThresholds } from './thresholds.js';
import { startWalCheckpointer, type WalCheckpointer } from './wal-checkpointer.js';
import { readSiteRules, RULE_COLUMNS, ruleOfColumns, type RuleColumns } from './rule-columns.js';
import { fillRuleIpBounds, sqliteRuleLookups } from './rule-lookups.js';
import { foldedHaystack, ipLookupKeys, ruleIpBounds, type RuleLookup } from '../rule-lookup.js';
import {
  type AuditRow, type BuildRow, type ClientRow, type KeyRow, type ReporterRow, type RuleRow, type SessionRow, type SiteRow, type UserRow,
  grantable, nowSeconds, ruleColumns, toAuditEntry, toBuild, toClient, toKey, toReporter, toRule, toRulePage, toSession, toSite, toUser, withoutSecret,
} from '../rows.js';

/** The contact tables and their primary keys, for deletes in chunks (both are WITHOUT ROWID). */
const CONTACT_TABLES = [
  ['clients', 'site_id, api_key_id, hostname, process_id, client, category'],
  ['reporters', 'site_id, client, version, framework'],
] as const;

/** A user's columns with their granted site ids, as `site_ids` ("1,3"). */
const USER_SELECT = `SELECT u.*, (SELECT group_concat(site_id) FROM user_sites WHERE user_id = u.id) AS site_ids FROM users u`;

/** SQLite returns booleans as 0/1. */
type SqliteFlags<Row> = Omit<Row, 'must_change_password'> & { must_change_password: number };

/** The default store: one embedded SQLite file in WAL mode, synchronous API wrapped in promises. */
export class SqliteStore implements HubStore {
  readonly db: Database.Database;
  private readonly reports: SqliteReports;
  private readonly batches: SqliteUpsyncBatches;
  readonly feeds: SqliteFeeds;
  readonly botCatalogues: SqliteBotCatalogues;
  readonly thresholds: SqliteThresholds;
  private readonly checkpointer: WalCheckpointer | undefined;
  private readonly ruleLookups;

  private constructor(db: Database.Database, checkpointer: WalCheckpointer | undefined) {
    this.db = db;
    this.checkpointer = checkpointer;
    this.ruleLookups = sqliteRuleLookups(db);
    this.thresholds = new SqliteThresholds(db);
    this.reports = new SqliteReports(db);
    this.batches = new SqliteUpsyncBatches(db, this.reports);
    this.feeds = new SqliteFeeds(db);
    this.botCatalogues = new SqliteBotCatalogues(db);
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
    // Ingestion writes megabytes per second: checkpoint every ~32 MiB of WAL instead of every 4 MiB. A
    // file's log is checkpointed from a worker (wal-checkpointer.ts) long before: this is the fallback.
    db.pragma('wal_autocheckpoint = 8000');
    db.pragma('mmap_size = 268435456');
    migrate(db, MIGRATIONS);
    // For rule filters (ruleFilterSql): the search's own case folding, the same in every store.
    db.function('moat_lower_contains', { deterministic: true }, (text: unknown, needle: unknown) =>
      typeof text === 'string' && typeof needle === 'string' && foldForSearch(text).includes(needle) ? 1 : 0);
    const store = new SqliteStore(db, file === ':memory:' ? undefined : startWalCheckpointer(file));
    store.reports.backfillSketches();
    fillRuleIpBounds(db);
    return store;
  }

  reportScanSource(): ReportScanSource | undefined {
    return this.db.memory ? undefined : { kind: 'sqlite', file: this.db.name };
  }

  schemaVersion(): number {
    return this.db.pragma('user_version', { simple: true }) as number;
  }

  // Users and sessions

  async countUsers(): Promise<number> {
    return this.db.prepare<[], number>('SELECT count(*) FROM users').pluck().get() ?? 0;
  }

  async createUser(email: string, passwordHash: string, mustChangePassword: boolean, access?: UserAccess): Promise<User> {
    const now = nowSeconds();
    const { role, siteIds } = grantable(access ?? { role: 'admin', siteIds: [] });
    const id = this.db.transaction(() => {
      const result = this.db.prepare('INSERT INTO users (email, password_hash, must_change_password, created_at, role) VALUES (?, ?, ?, ?, ?)')
        .run(email, passwordHash, mustChangePassword ? 1 : 0, now, role);
      const userId = Number(result.lastInsertRowid);
      this.grantSites(userId, siteIds);
      return userId;
    }).immediate();
    return { id, email, mustChangePassword, createdAt: now, role, siteIds };
  }

  async findUserByEmail(email: string): Promise<UserWithSecret | undefined> {
    const row = this.db.prepare<[string], SqliteFlags<UserRow>>(`${USER_SELECT} WHERE u.email = ?`).get(email);
    return row && toUser(fromSqliteFlags(row));
  }

  async getUserWithSecret(id: number): Promise<UserWithSecret | undefined> {
    const row = this.db.prepare<[number], SqliteFlags<UserRow>>(`${USER_SELECT} WHERE u.id = ?`).get(id);
    return row && toUser(fromSqliteFlags(row));
  }

  async listUsers(): Promise<User[]> {
    return this.db.prepare<[], SqliteFlags<UserRow>>(`${USER_SELECT} ORDER BY u.id`).all()
      .map((row) => withoutSecret(toUser(fromSqliteFlags(row))));
  }

  async setUserAccess(id: number, access: UserAccess): Promise<UserChange> {
    const { role, siteIds } = grantable(access);
    // One immediate transaction: the admin count read and the change cannot interleave with another writer.
    return this.db.transaction((): UserChange => {
      const current = this.db.prepare<[number], string>('SELECT role FROM users WHERE id = ?').pluck().get(id);
      if (current === undefined) return 'not_found';
      if (current === 'admin' && role !== 'admin' && this.otherAdmins(id) === 0) return 'last_admin';
      this.db.prepare('UPDATE users SET role = ? WHERE id = ?').run(role, id);
      this.db.prepare('DELETE FROM user_sites WHERE user_id = ?').run(id);
      this.grantSites(id, siteIds);
      return 'done';
    }).immediate();
  }

  async deleteUser(id: number): Promise<UserChange> {
    return this.db.transaction((): UserChange => {
      const current = this.db.prepare<[number], string>('SELECT role FROM users WHERE id = ?').pluck().get(id);
      if (current === undefined) return 'not_found';
      if (current === 'admin' && this.otherAdmins(id) === 0) return 'last_admin';
      // Sessions and site grants go with the user (ON DELETE CASCADE).
      this.db.prepare('DELETE FROM users WHERE id = ?').run(id);
      return 'done';
    }).immediate();
  }

  private otherAdmins(id: number): number {
    return this.db.prepare<[number], number>("SELECT count(*) FROM users WHERE role = 'admin' AND id <> ?").pluck().get(id) ?? 0;
  }

  /** Grants only sites that exist, so a stale id from a form is dropped rather than failing the change. */
  private grantSites(userId: number, siteIds: readonly number[]): void {
    const insert = this.db.prepare('INSERT OR IGNORE INTO user_sites (user_id, site_id) SELECT ?, id FROM sites WHERE id = ?');
    for (const siteId of siteIds) insert.run(userId, siteId);
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
      `SELECT s.user_id, u.email, u.must_change_password, s.csrf_token, s.expires_at, u.role,
         (SELECT group_concat(site_id) FROM user_sites WHERE user_id = u.id) AS site_ids
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
    return readSiteRules(this.db, siteId);
  }

  async rulesFor(siteId: number, lookup: RuleLookup): Promise<StoredRule[]> {
    const ids = new Set<string>();
    const add = (found: string[]) => { for (const id of found) ids.add(id); };
    for (const key of ipLookupKeys(lookup.ips)) add(this.ruleLookups.ipHolding.all(siteId, key, key));
    if (lookup.ips && lookup.ips.length > 0) add(this.ruleLookups.ipUnbounded.all(siteId));
    for (const [kind, values] of [['country', lookup.countries], ['asn', lookup.asns], ['list', lookup.lists]] as const) {
      if (values && values.length > 0) add(this.ruleLookups.valueIn.all(siteId, kind, JSON.stringify(values)));
    }
    for (const [kind, texts] of [['path', lookup.paths], ['userAgent', lookup.userAgents]] as const) {
      const haystack = foldedHaystack(texts);
      if (haystack !== null) add(this.ruleLookups.within.all(siteId, kind, haystack));
    }
    if (lookup.ids && lookup.ids.length > 0) add(this.ruleLookups.idIn.all(siteId, JSON.stringify(lookup.ids)));
    if (ids.size === 0) return [];
    return this.ruleLookups.rows.all(siteId, JSON.stringify([...ids])).map(ruleOfColumns);
  }

  async rulesExpiredBetween(siteId: number, afterMs: number, untilMs: number): Promise<StoredRule[]> {
    return this.db.prepare<[number, number, number], RuleColumns>(
      `SELECT ${RULE_COLUMNS} FROM rules WHERE site_id = ? AND expires > ? AND expires <= ? ORDER BY position, id`,
    ).raw().all(siteId, afterMs, untilMs).map(ruleOfColumns);
  }

  async ruleIds(siteId: number): Promise<string[]> {
    return this.db.prepare<[number], string>('SELECT id FROM rules WHERE site_id = ?').pluck().all(siteId);
  }

  async countRules(siteId: number, filter: RuleFilter = {}): Promise<number> {
    const where = ruleFilterSql(filter);
    return this.db.prepare<unknown[], number>(`SELECT count(*) FROM rules WHERE site_id = ?${where.sql}`).pluck().get(siteId, ...where.params) ?? 0;
  }

  async rulesPage(siteId: number, filter: RuleFilter, start: RulePageStart, limit: number): Promise<RulePage> {
    const where = ruleFilterSql(filter);
    // One row more than the page: it only tells whether another page follows.
    const rows = 'after' in start
      ? this.db.prepare<unknown[], [number, ...RuleColumns]>(
        `SELECT position, ${RULE_COLUMNS} FROM rules WHERE site_id = ? AND (position > ? OR (position = ? AND id > ?))${where.sql} ORDER BY position, id LIMIT ?`,
      ).raw().all(siteId, start.after.position, start.after.position, start.after.id, ...where.params, limit + 1)
      : this.db.prepare<unknown[], [number, ...RuleColumns]>(`SELECT position, ${RULE_COLUMNS} FROM rules WHERE site_id = ?${where.sql} ORDER BY position, id LIMIT ? OFFSET ?`)
        .raw().all(siteId, ...where.params, limit + 1, start.offset);
    return toRulePage(rows.map(([position, ...columns]) => ({ position, rule: ruleOfColumns(columns) })), limit);
  }

  async ruleIndex(siteId: number, ruleId: string, filter: RuleFilter): Promise<number> {
    const where = ruleFilterSql(filter);
    const position = this.db.prepare<unknown[], number>(`SELECT position FROM rules WHERE site_id = ? AND id = ?${where.sql}`)
      .pluck().get(siteId, ruleId, ...where.params);
    if (position === undefined) return -1;
    return this.db.prepare<unknown[], number>(
      `SELECT count(*) FROM rules WHERE site_id = ? AND (position < ? OR (position = ? AND id < ?))${where.sql}`,
    ).pluck().get(siteId, position, position, ruleId, ...where.params) ?? 0;
  }

  async allowIpRules(siteId: number): Promise<{ value: string; expires?: number }[]> {
    return this.db.prepare<[number], { value: string; expires: number | null }>(
      "SELECT value, expires FROM rules WHERE site_id = ? AND action = 'allow' AND kind = 'ip' AND mode = 'block'",
    ).all(siteId).map((r) => (r.expires === null ? { value: r.value } : { value: r.value, expires: r.expires }));
  }

  async getRule(siteId: number, ruleId: string): Promise<StoredRule | undefined> {
    const row = this.db.prepare<[number, string], RuleRow>('SELECT * FROM rules WHERE site_id = ? AND id = ?').get(siteId, ruleId);
    return row && toRule(row);
  }

  async saveRules(siteId: number, rules: Rule[], options: { replace: boolean; now: number }): Promise<void> {
    const insert = this.db.prepare(`INSERT INTO rules (site_id, id, action, kind, value, note, mode, expires, rl_method,
      rl_path, rl_match, rl_limit, rl_window_ms, rl_key, position, created_at, updated_at, ip_lo, ip_hi)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    this.db.transaction(() => {
      if (options.replace) this.db.prepare('DELETE FROM rules WHERE site_id = ?').run(siteId);
      let position = this.db.prepare<[number], number>('SELECT coalesce(max(position), 0) FROM rules WHERE site_id = ?')
        .pluck().get(siteId) ?? 0;
      for (const rule of rules) {
        position += 1;
        insert.run(siteId, ...ruleColumns(rule), position, options.now, options.now, ...ruleIpBounds(rule.kind, rule.value));
      }
    }).immediate();
  }

  async updateRule(siteId: number, rule: Rule, now: number): Promise<boolean> {
    const [id, ...rest] = ruleColumns(rule);
    return this.db.prepare(`UPDATE rules SET action = ?, kind = ?, value = ?, note = ?, mode = ?, expires = ?,
      rl_method = ?, rl_path = ?, rl_match = ?, rl_limit = ?, rl_window_ms = ?, rl_key = ?, updated_at = ?, ip_lo = ?, ip_hi = ?
      WHERE site_id = ? AND id = ?`).run(...rest, now, ...ruleIpBounds(rule.kind, rule.value), siteId, id).changes === 1;
  }

  async deleteRule(siteId: number, ruleId: string): Promise<boolean> {
    return this.db.prepare('DELETE FROM rules WHERE site_id = ? AND id = ?').run(siteId, ruleId).changes === 1;
  }

  // Builds

  async getAttackSettings(siteId: number): Promise<string | undefined> {
    const row = this.db.prepare<[number], { settings: string }>('SELECT settings FROM site_attack_settings WHERE site_id = ?').get(siteId);
    return row?.settings;
  }

  async saveAttackSettings(siteId: number, settingsJson: string, now: number): Promise<void> {
    this.db.prepare(`INSERT INTO site_attack_settings (site_id, settings, updated_at) VALUES (?, ?, ?)
      ON CONFLICT (site_id) DO UPDATE SET settings = excluded.settings, updated_at = excluded.updated_at`).run(siteId, settingsJson, now);
  }

  async getBotSettings(siteId: number): Promise<string | undefined> {
    const row = this.db.prepare<[number], { settings: string }>('SELECT settings FROM site_bot_settings WHERE site_id = ?').get(siteId);
    return row?.settings;
  }

  async saveBotSettings(siteId: number, settingsJson: string, now: number): Promise<void> {
    this.db.prepare(`INSERT INTO site_bot_settings (site_id, settings, updated_at) VALUES (?, ?, ?)
      ON CONFLICT (site_id) DO UPDATE SET settings = excluded.settings, updated_at = excluded.updated_at`).run(siteId, settingsJson, now);
  }

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

  /** A row per API key and what the client says it is (migration 20): one key never updates another key's row. */
  async recordClientContact(c: ClientContact): Promise<void> {
    this.db.prepare(`INSERT INTO clients (site_id, hostname, process_id, client, category, api_key_id, version, framework,
        format, client_db, served_file, ip, last_seen)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (site_id, api_key_id, hostname, process_id, client, category) DO UPDATE SET version = excluded.version,
        framework = excluded.framework, format = excluded.format, client_db = excluded.client_db,
        served_file = excluded.served_file, ip = excluded.ip, last_seen = excluded.last_seen`)
      .run(c.siteId, c.hostname, c.processId, c.client, c.category, c.apiKeyId, c.version, c.framework, c.format,
        c.clientDb, c.servedFile, c.ip, c.lastSeen);
  }

  async recordReporter(c: ReporterContact): Promise<void> {
    this.db.prepare(`INSERT INTO reporters (site_id, client, version, framework, last_seen, records) VALUES (?, ?, ?, ?, ?, ?)
      ON CONFLICT (site_id, client, version, framework) DO UPDATE SET last_seen = excluded.last_seen,
        records = records + excluded.records`)
      .run(c.siteId, c.client, c.version, c.framework, c.lastSeen, c.records);
  }

  async pruneContacts(policy: RetentionPolicy, now: number): Promise<number> {
    let total = 0;
    const sites = this.db.prepare<[], number>('SELECT id FROM sites').pluck().all();
    for (const [table, key] of CONTACT_TABLES) {
      const unseen = this.db.prepare<[number]>(
        `DELETE FROM ${table} WHERE (${key}) IN (SELECT ${key} FROM ${table} WHERE last_seen < ? LIMIT ${PRUNE_CHUNK})`);
      const beyondCap = this.db.prepare<[number, number]>(
        `DELETE FROM ${table} WHERE (${key}) IN (SELECT ${key} FROM ${table} WHERE site_id = ? AND last_seen <= ? LIMIT ${PRUNE_CHUNK})`);
      const capSeen = this.db.prepare<[number, number], number>(
        `SELECT last_seen FROM ${table} WHERE site_id = ? ORDER BY last_seen DESC LIMIT 1 OFFSET ?`).pluck();
      const inChunks = async (run: () => number) => {
        for (;;) {
          const deleted = run();
          total += deleted;
          if (deleted < PRUNE_CHUNK) return;
          await new Promise((resolve) => setImmediate(resolve));
        }
      };
      await inChunks(() => unseen.run(now - policy.rollupSeconds).changes);
      // A site over the cap keeps its newest: its (cap+1)-th newest and any as old or older go.
      for (const site of sites) {
        const seen = capSeen.get(site, CONTACTS_PER_SITE);
        if (seen !== undefined) await inChunks(() => beyondCap.run(site, seen).changes);
      }
    }
    return total;
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

  insertReports(siteId: number, records: ReportRecord[], batch?: BatchKey): Promise<InsertOutcome> {
    return this.batches.insert(siteId, records, batch);
  }

  async rollUp(): Promise<number> {
    return this.reports.rollUp();
  }

  async prune(policy: RetentionPolicy, now: number): Promise<number> {
    let total = this.db.prepare('DELETE FROM audit_log WHERE at < ?').run(now - policy.rollupSeconds).changes;
    while (this.batches.pruneChunk(now - BATCH_ID_RETENTION_SECONDS, PRUNE_CHUNK) > 0) {
      await new Promise((resolve) => setImmediate(resolve));
    }
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

  async ruleHits(siteId: number, from: number, to: number, keys: RuleHitKeys): Promise<RuleHits> {
    return this.reports.ruleHits(siteId, from, to, keys);
  }

  async queryReports(siteId: number, filter: ReportFilter, page: { limit: number; before?: string }): Promise<ReportPage> {
    return this.reports.query(siteId, filter, page);
  }

  async passedSampling(siteId: number, from: number, to: number): Promise<PassedSampling> {
    return this.reports.passedSampling(siteId, from, to);
  }

  async earliestMinute(siteId: number): Promise<number | undefined> {
    return this.reports.earliestMinute(siteId);
  }

  async valueHours(siteId: number, dimension: TopDimension, value: string, from: number, to: number): Promise<ValueHour[]> {
    return this.reports.valueHours(siteId, dimension, value, from, to);
  }

  // Audit log

  async appendAudit(r: AuditRecord): Promise<void> {
    this.db.prepare(`INSERT INTO audit_log (at, user_id, user_email, ip, action, site_id, target, before, after)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(r.at, r.userId, r.userEmail, r.ip, r.action, r.siteId, r.target, r.before, r.after);
  }

  async listAudit(query: { siteId?: number; before?: number; limit: number }): Promise<AuditPage> {
    const limit = Math.max(1, Math.min(Math.trunc(query.limit), 500));
    const before = query.before ?? Number.MAX_SAFE_INTEGER;
    const rows = query.siteId === undefined
      ? this.db.prepare<[number, number], AuditRow>('SELECT * FROM audit_log WHERE id < ? ORDER BY id DESC LIMIT ?').all(before, limit + 1)
      : this.db.prepare<[number, number, number], AuditRow>('SELECT * FROM audit_log WHERE site_id = ? AND id < ? ORDER BY id DESC LIMIT ?')
        .all(query.siteId, before, limit + 1);
    const entries = rows.slice(0, limit).map(toAuditEntry);
    return { entries, next: rows.length > limit ? entries[entries.length - 1]!.id : null };
  }

  async ping(): Promise<void> {
    this.db.prepare('SELECT 1').get(); // throws once the database is closed or unreadable
  }

  async close(): Promise<void> {
    if (this.db.open) {
      this.db.pragma('optimize');
      this.db.close();
    }
    // Not awaited: close() stays as quick as the connection's close. The worker keeps the process alive
    // until its connection, closed last, has checkpointed the rest of the log and removed it.
    void this.checkpointer?.stop();
  }
}

function fromSqliteFlags<Row extends { must_change_password: boolean }>(row: SqliteFlags<Row>): Row {
  return { ...row, must_change_password: row.must_change_password === 1 } as Row;
}

/**
 * The SQL of a rule filter. `moat_lower_contains` (registered on the connection) folds as every store's
 * search does (rules/rule-filter.ts `foldForSearch`): SQLite's lower() folds ASCII letters only.
 */
function ruleFilterSql(filter: RuleFilter): { sql: string; params: unknown[] } {
  if (filter.search === undefined || filter.search === '') return { sql: '', params: [] };
  return {
    sql: " AND (moat_lower_contains(value, ?) OR moat_lower_contains(note, ?) OR kind IN (SELECT value FROM json_each(?)))",
    params: [filter.search, filter.search, JSON.stringify(filter.kinds ?? [])],
  };
}
