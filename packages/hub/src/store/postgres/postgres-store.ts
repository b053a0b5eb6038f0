import type { Pool, PoolClient } from 'pg';
import type { Rule } from 'moat-waf';
import { BATCH_ID_RETENTION_SECONDS, CONTACTS_PER_SITE } from '../store.js';
import { PRUNE_CHUNK } from '../report-rows.js';
import type {
  ApiKeyInfo, AuditPage, AuditRecord, BatchKey, ClientContact, HubStore, InsertOutcome, ReportFilter, ReportPage, ReportRecord, ReporterContact, RetentionPolicy,
  PassedSampling, RuleFilter, RuleHitKeys, RuleHits, RulePage, RulePageStart, RulesBuild, RulesFormat, Session, Site, StoredRule, TimeBucket, TopDimension, TopEntry,
  Totals, User, ValueHour, UserAccess, UserChange, UserWithSecret,
} from '../store.js';
import { migrate, schemaVersion } from './migrate.js';
import { PG_MIGRATIONS } from './migrations.js';
import { createPool, type PoolOptions } from './pool.js';
import type { ReportScanSource } from '../report-scan.js';
import { PostgresReports } from './reports.js';
import { PostgresFeeds } from './feeds.js';
import { PostgresBotCatalogues } from './bot-catalogues.js';
import { PostgresThresholds } from './thresholds.js';
import { dropExpiredPartitions, ensureDayPartitions } from './report-partitions.js';
import { withTransaction } from './transaction.js';
import { fillRuleFolds, foldedTextHolds, ruleFolds } from './rule-folds.js';
import { fillRuleIpBounds, RULES_FOR } from './rule-lookups.js';
import { foldedHaystack, ipLookupKeys, ruleIpBounds, type RuleLookup } from '../rule-lookup.js';
import {
  type AuditRow, type BuildRow, type ClientRow, type KeyRow, type ReporterRow, type RuleRow, type SessionRow, type SiteRow, type UserRow,
  grantable, nowSeconds, ruleColumns, toAuditEntry, toBuild, toClient, toKey, toReporter, toRule, toRulePage, toSession, toSite, toUser, withoutSecret,
} from '../rows.js';

const RULE_INSERT = `INSERT INTO rules (site_id, id, action, kind, value, note, mode, expires, rl_method, rl_path,
  rl_match, rl_limit, rl_window_ms, rl_key, position, created_at, updated_at, value_folded, note_folded, ip_lo, ip_hi)
  SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::bigint[],
    $9::text[], $10::text[], $11::text[], $12::bigint[], $13::bigint[], $14::text[], $15::bigint[], $16::bigint[], $17::bigint[],
    $18::text[], $19::text[], $20::text[], $21::text[])`;

/** The contact tables and their primary keys, for deletes in chunks. */
const CONTACT_TABLES = [
  ['clients', 'site_id, api_key_id, hostname, process_id, client, category'],
  ['reporters', 'site_id, client, version, framework'],
] as const;

/** Granted site ids as "1,3", the shape SQLite's group_concat gives. */
const SITE_IDS = `(SELECT string_agg(site_id::text, ',') FROM user_sites WHERE user_id = u.id) AS site_ids`;
const USER_SELECT = `SELECT u.*, ${SITE_IDS} FROM users u`;

/**
 * The hub's store on PostgreSQL, for several stateless hub instances behind a load balancer: everything
 * an instance needs (users, sessions, sites, keys, rules, build records, reports, rollups) is in the
 * database, and every method means what it means in SqliteStore. Only parameterised SQL.
 */
export class PostgresStore implements HubStore {
  private readonly reports: PostgresReports;
  readonly feeds: PostgresFeeds;
  readonly botCatalogues: PostgresBotCatalogues;
  readonly thresholds: PostgresThresholds;
  private closed = false;

  private constructor(readonly pool: Pool) {
    this.reports = new PostgresReports(pool);
    this.feeds = new PostgresFeeds(pool);
    this.botCatalogues = new PostgresBotCatalogues(pool);
    this.thresholds = new PostgresThresholds(pool);
  }

  /** Connects and migrates (under an advisory lock, so instances starting together migrate once). */
  static async open(connectionString: string, options: PoolOptions = {}): Promise<PostgresStore> {
    const pool = createPool(connectionString, options);
    try {
      await migrate(pool, PG_MIGRATIONS);
      await fillRuleFolds(pool);
      await fillRuleIpBounds(pool);
      // Today's and the next days' report partitions, before the first report arrives.
      await ensureDayPartitions(pool, nowSeconds());
    } catch (error) {
      await pool.end().catch(() => undefined);
      throw error;
    }
    return new PostgresStore(pool);
  }

  reportScanSource(): ReportScanSource | undefined {
    const connectionString = this.pool.options.connectionString;
    return connectionString ? { kind: 'postgres', connectionString } : undefined;
  }

  /** One `SELECT 1` through the pool: fails while the database is away (DatabaseUnavailableError). */
  async ping(): Promise<void> {
    await this.pool.query('SELECT 1');
  }

  schemaVersion(): Promise<number> {
    return schemaVersion(this.pool);
  }

  // Users and sessions

  async countUsers(): Promise<number> {
    return (await this.pool.query<{ n: number }>('SELECT count(*) AS n FROM users')).rows[0]!.n;
  }

  async createUser(email: string, passwordHash: string, mustChangePassword: boolean, access?: UserAccess): Promise<User> {
    const now = nowSeconds();
    const { role, siteIds } = grantable(access ?? { role: 'admin', siteIds: [] });
    const id = await withTransaction(this.pool, async (client) => {
      const { rows } = await client.query<{ id: number }>(
        'INSERT INTO users (email, password_hash, must_change_password, created_at, role) VALUES ($1, $2, $3, $4, $5) RETURNING id',
        [email, passwordHash, mustChangePassword, now, role]);
      await grantSites(client, rows[0]!.id, siteIds);
      return rows[0]!.id;
    });
    return { id, email, mustChangePassword, createdAt: now, role, siteIds };
  }

  async findUserByEmail(email: string): Promise<UserWithSecret | undefined> {
    const { rows } = await this.pool.query<UserRow>(`${USER_SELECT} WHERE lower(u.email) = lower($1)`, [email]);
    return rows[0] && toUser(rows[0]);
  }

  async getUserWithSecret(id: number): Promise<UserWithSecret | undefined> {
    const { rows } = await this.pool.query<UserRow>(`${USER_SELECT} WHERE u.id = $1`, [id]);
    return rows[0] && toUser(rows[0]);
  }

  async listUsers(): Promise<User[]> {
    const { rows } = await this.pool.query<UserRow>(`${USER_SELECT} ORDER BY u.id`);
    return rows.map((row) => withoutSecret(toUser(row)));
  }

  async setUserAccess(id: number, access: UserAccess): Promise<UserChange> {
    const { role, siteIds } = grantable(access);
    return withTransaction(this.pool, async (client): Promise<UserChange> => {
      const admins = await lockAdmins(client);
      const current = (await client.query<{ role: string }>('SELECT role FROM users WHERE id = $1 FOR UPDATE', [id])).rows[0];
      if (!current) return 'not_found';
      if (current.role === 'admin' && role !== 'admin' && admins.every((a) => a === id)) return 'last_admin';
      await client.query('UPDATE users SET role = $1 WHERE id = $2', [role, id]);
      await client.query('DELETE FROM user_sites WHERE user_id = $1', [id]);
      await grantSites(client, id, siteIds);
      return 'done';
    });
  }

  async deleteUser(id: number): Promise<UserChange> {
    return withTransaction(this.pool, async (client): Promise<UserChange> => {
      const admins = await lockAdmins(client);
      const current = (await client.query<{ role: string }>('SELECT role FROM users WHERE id = $1 FOR UPDATE', [id])).rows[0];
      if (!current) return 'not_found';
      if (current.role === 'admin' && admins.every((a) => a === id)) return 'last_admin';
      // Sessions and site grants go with the user (ON DELETE CASCADE).
      await client.query('DELETE FROM users WHERE id = $1', [id]);
      return 'done';
    });
  }

  async setUserPassword(id: number, passwordHash: string, mustChangePassword: boolean): Promise<void> {
    await this.pool.query('UPDATE users SET password_hash = $1, must_change_password = $2 WHERE id = $3',
      [passwordHash, mustChangePassword, id]);
  }

  async createSession(tokenHash: string, userId: number, csrfToken: string, expiresAt: number): Promise<void> {
    await this.pool.query('INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)',
      [tokenHash, userId, csrfToken, nowSeconds(), expiresAt]);
  }

  async findSession(tokenHash: string, now: number): Promise<Session | undefined> {
    const { rows } = await this.pool.query<SessionRow>(
      `SELECT s.user_id, u.email, u.must_change_password, s.csrf_token, s.expires_at, u.role, ${SITE_IDS}
       FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = $1 AND s.expires_at > $2`, [tokenHash, now]);
    return rows[0] && toSession(rows[0]);
  }

  async deleteSession(tokenHash: string): Promise<void> {
    await this.pool.query('DELETE FROM sessions WHERE token_hash = $1', [tokenHash]);
  }

  async deleteUserSessions(userId: number): Promise<void> {
    await this.pool.query('DELETE FROM sessions WHERE user_id = $1', [userId]);
  }

  // Sites and keys

  async listSites(): Promise<Site[]> {
    const { rows } = await this.pool.query<SiteRow>('SELECT * FROM sites ORDER BY id');
    return rows.map(toSite);
  }

  async getSite(id: number): Promise<Site | undefined> {
    const { rows } = await this.pool.query<SiteRow>('SELECT * FROM sites WHERE id = $1', [id]);
    return rows[0] && toSite(rows[0]);
  }

  async createSite(name: string): Promise<Site> {
    const now = nowSeconds();
    const { rows } = await this.pool.query<{ id: number }>('INSERT INTO sites (name, created_at) VALUES ($1, $2) RETURNING id', [name, now]);
    return { id: rows[0]!.id, name, createdAt: now };
  }

  async createApiKey(siteId: number, label: string, keyHash: string, prefix: string): Promise<ApiKeyInfo> {
    const now = nowSeconds();
    const { rows } = await this.pool.query<{ id: number }>(
      'INSERT INTO api_keys (site_id, label, key_hash, prefix, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id',
      [siteId, label, keyHash, prefix, now]);
    return { id: rows[0]!.id, siteId, label, prefix, createdAt: now, revokedAt: null, lastUsedAt: null };
  }

  async listApiKeys(siteId: number): Promise<ApiKeyInfo[]> {
    const { rows } = await this.pool.query<KeyRow>(
      'SELECT id, site_id, label, prefix, created_at, revoked_at, last_used_at FROM api_keys WHERE site_id = $1 ORDER BY id', [siteId]);
    return rows.map(toKey);
  }

  async revokeApiKey(siteId: number, keyId: number, now: number): Promise<boolean> {
    const result = await this.pool.query('UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND site_id = $3 AND revoked_at IS NULL',
      [now, keyId, siteId]);
    return result.rowCount === 1;
  }

  async findActiveApiKey(keyHash: string): Promise<{ id: number; siteId: number } | undefined> {
    const { rows } = await this.pool.query<{ id: number; site_id: number }>(
      'SELECT id, site_id FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL', [keyHash]);
    return rows[0] && { id: rows[0].id, siteId: rows[0].site_id };
  }

  async touchApiKey(keyId: number, now: number): Promise<void> {
    // Written at most once a minute per key: downsync and upsync call this on every request.
    await this.pool.query('UPDATE api_keys SET last_used_at = $1 WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $1 - 60)',
      [now, keyId]);
  }

  // Rules

  async listRules(siteId: number): Promise<StoredRule[]> {
    const { rows } = await this.pool.query<RuleRow>('SELECT * FROM rules WHERE site_id = $1 ORDER BY position, id COLLATE "C"', [siteId]);
    return rows.map(toRule);
  }

  async rulesFor(siteId: number, lookup: RuleLookup): Promise<StoredRule[]> {
    const { rows } = await this.pool.query<RuleRow>(RULES_FOR, [
      siteId, ipLookupKeys(lookup.ips), (lookup.ips?.length ?? 0) > 0, lookup.countries ?? [], lookup.asns ?? [], lookup.lists ?? [],
      foldedHaystack(lookup.paths), foldedHaystack(lookup.userAgents), lookup.ids ?? [],
    ]);
    return rows.map(toRule);
  }

  async rulesExpiredBetween(siteId: number, afterMs: number, untilMs: number): Promise<StoredRule[]> {
    const { rows } = await this.pool.query<RuleRow>(
      'SELECT * FROM rules WHERE site_id = $1 AND expires > $2 AND expires <= $3 ORDER BY position, id COLLATE "C"', [siteId, afterMs, untilMs]);
    return rows.map(toRule);
  }

  async ruleIds(siteId: number): Promise<string[]> {
    const { rows } = await this.pool.query<{ id: string }>('SELECT id FROM rules WHERE site_id = $1', [siteId]);
    return rows.map((r) => r.id);
  }

  async countRules(siteId: number, filter: RuleFilter = {}): Promise<number> {
    const where = ruleFilterSql(filter, 2);
    const { rows } = await this.pool.query<{ count: string }>(`SELECT count(*) AS count FROM rules WHERE site_id = $1${where.sql}`, [siteId, ...where.params]);
    return Number(rows[0]?.count ?? 0);
  }

  async rulesPage(siteId: number, filter: RuleFilter, start: RulePageStart, limit: number): Promise<RulePage> {
    // One row more than the page: it only tells whether another page follows.
    const [from, fromParams] = 'after' in start
      ? [' AND (position > $3 OR (position = $3 AND id COLLATE "C" > $4))', [start.after.position, start.after.id]]
      : ['', [start.offset]];
    const where = ruleFilterSql(filter, 3 + fromParams.length);
    const { rows } = await this.pool.query<RuleRow & { position: string | number }>(
      `SELECT * FROM rules WHERE site_id = $1${from}${where.sql} ORDER BY position, id COLLATE "C" LIMIT $2${'after' in start ? '' : ' OFFSET $3'}`,
      [siteId, limit + 1, ...fromParams, ...where.params]);
    return toRulePage(rows.map((row) => ({ position: Number(row.position), rule: toRule(row) })), limit);
  }

  async ruleIndex(siteId: number, ruleId: string, filter: RuleFilter): Promise<number> {
    const own = ruleFilterSql(filter, 3);
    const found = await this.pool.query<{ position: string | number }>(`SELECT position FROM rules WHERE site_id = $1 AND id = $2${own.sql}`, [siteId, ruleId, ...own.params]);
    if (found.rows.length === 0) return -1;
    const where = ruleFilterSql(filter, 4);
    const { rows } = await this.pool.query<{ count: string }>(
      `SELECT count(*) AS count FROM rules WHERE site_id = $1 AND (position < $2 OR (position = $2 AND id COLLATE "C" < $3))${where.sql}`,
      [siteId, Number(found.rows[0]!.position), ruleId, ...where.params]);
    return Number(rows[0]?.count ?? 0);
  }

  async allowIpRules(siteId: number): Promise<{ value: string; expires?: number }[]> {
    const { rows } = await this.pool.query<{ value: string; expires: string | number | null }>(
      "SELECT value, expires FROM rules WHERE site_id = $1 AND action = 'allow' AND kind = 'ip' AND mode = 'block'", [siteId]);
    return rows.map((r) => (r.expires === null ? { value: r.value } : { value: r.value, expires: Number(r.expires) }));
  }

  async getRule(siteId: number, ruleId: string): Promise<StoredRule | undefined> {
    const { rows } = await this.pool.query<RuleRow>('SELECT * FROM rules WHERE site_id = $1 AND id = $2', [siteId, ruleId]);
    return rows[0] && toRule(rows[0]);
  }

  async saveRules(siteId: number, rules: Rule[], options: { replace: boolean; now: number }): Promise<void> {
    await withTransaction(this.pool, async (client) => {
      // Saves of one site queue on its row, so two instances never hand out the same positions.
      await client.query('SELECT id FROM sites WHERE id = $1 FOR UPDATE', [siteId]);
      if (options.replace) await client.query('DELETE FROM rules WHERE site_id = $1', [siteId]);
      if (rules.length === 0) return;
      const start = (await client.query<{ p: number }>('SELECT coalesce(max(position), 0) AS p FROM rules WHERE site_id = $1', [siteId])).rows[0]!.p;
      const columns: unknown[][] = Array.from({ length: 20 }, () => []);
      rules.forEach((rule, i) => {
        const row = [...ruleColumns(rule), start + i + 1, options.now, options.now, ...ruleFolds(rule.value, rule.note),
          ...ruleIpBounds(rule.kind, rule.value)];
        row.forEach((value, c) => columns[c]!.push(value));
      });
      await client.query(RULE_INSERT, [siteId, ...columns]);
    });
  }

  async updateRule(siteId: number, rule: Rule, now: number): Promise<boolean> {
    const [id, ...rest] = ruleColumns(rule);
    const folds = ruleFolds(rule.value, rule.note);
    // Bounds equal to the old ones are taken by migration 21's trigger for an older hub's write and dropped:
    // the rule is then always a candidate of rulesFor, until the next start fills them in again.
    const result = await this.pool.query<{ folds_dropped: boolean }>(`UPDATE rules SET action = $1, kind = $2, value = $3, note = $4, mode = $5, expires = $6,
      rl_method = $7, rl_path = $8, rl_match = $9, rl_limit = $10, rl_window_ms = $11, rl_key = $12, updated_at = $13, value_folded = $16, note_folded = $17,
      ip_lo = $18, ip_hi = $19
      WHERE site_id = $14 AND id = $15 RETURNING value_folded IS NULL AS folds_dropped`, [...rest, now, siteId, id, ...folds, ...ruleIpBounds(rule.kind, rule.value)]);
    if (result.rowCount !== 1) return false;
    // A change of case alone leaves the folded text as it was, which migration 17's trigger takes for an
    // older hub's write and drops: written again, unless the text changed meanwhile.
    if (result.rows[0]!.folds_dropped) {
      await this.pool.query(`UPDATE rules SET value_folded = $3, note_folded = $4
        WHERE site_id = $1 AND id = $2 AND value = $5 AND note IS NOT DISTINCT FROM $6 AND value_folded IS NULL`, [siteId, id, ...folds, rule.value, rule.note ?? null]);
    }
    return true;
  }

  async deleteRule(siteId: number, ruleId: string): Promise<boolean> {
    return (await this.pool.query('DELETE FROM rules WHERE site_id = $1 AND id = $2', [siteId, ruleId])).rowCount === 1;
  }

  // Builds

  async getAttackSettings(siteId: number): Promise<string | undefined> {
    const { rows } = await this.pool.query<{ settings: string }>('SELECT settings FROM site_attack_settings WHERE site_id = $1', [siteId]);
    return rows[0]?.settings;
  }

  async saveAttackSettings(siteId: number, settingsJson: string, now: number): Promise<void> {
    await this.pool.query(`INSERT INTO site_attack_settings (site_id, settings, updated_at) VALUES ($1, $2, $3)
      ON CONFLICT (site_id) DO UPDATE SET settings = excluded.settings, updated_at = excluded.updated_at`, [siteId, settingsJson, now]);
  }

  async getBotSettings(siteId: number): Promise<string | undefined> {
    const { rows } = await this.pool.query<{ settings: string }>('SELECT settings FROM site_bot_settings WHERE site_id = $1', [siteId]);
    return rows[0]?.settings;
  }

  async saveBotSettings(siteId: number, settingsJson: string, now: number): Promise<void> {
    await this.pool.query(`INSERT INTO site_bot_settings (site_id, settings, updated_at) VALUES ($1, $2, $3)
      ON CONFLICT (site_id) DO UPDATE SET settings = excluded.settings, updated_at = excluded.updated_at`, [siteId, settingsJson, now]);
  }

  async getBuild(siteId: number, format: RulesFormat): Promise<RulesBuild | undefined> {
    const { rows } = await this.pool.query<BuildRow>('SELECT * FROM rule_builds WHERE site_id = $1 AND format = $2', [siteId, format]);
    return rows[0] && toBuild(rows[0]);
  }

  async saveBuild(b: RulesBuild): Promise<void> {
    await this.pool.query(`INSERT INTO rule_builds (site_id, format, file_name, hash, built_at, rule_count) VALUES ($1, $2, $3, $4, $5, $6)
      ON CONFLICT (site_id, format) DO UPDATE SET file_name = excluded.file_name, hash = excluded.hash,
        built_at = excluded.built_at, rule_count = excluded.rule_count`,
    [b.siteId, b.format, b.fileName, b.hash, b.builtAt, b.ruleCount]);
  }

  // Clients

  /** A row per API key and what the client says it is (migration 20): one key never updates another key's row. */
  async recordClientContact(c: ClientContact): Promise<void> {
    await this.pool.query(`INSERT INTO clients (site_id, hostname, process_id, client, category, api_key_id, version, framework,
        format, client_db, served_file, ip, last_seen)
      VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
      ON CONFLICT (site_id, api_key_id, hostname, process_id, client, category) DO UPDATE SET version = excluded.version,
        framework = excluded.framework, format = excluded.format, client_db = excluded.client_db,
        served_file = excluded.served_file, ip = excluded.ip, last_seen = excluded.last_seen`,
    [c.siteId, c.hostname, c.processId, c.client, c.category, c.apiKeyId, c.version, c.framework, c.format,
      c.clientDb, c.servedFile, c.ip, c.lastSeen]);
  }

  async recordReporter(c: ReporterContact): Promise<void> {
    await this.pool.query(`INSERT INTO reporters (site_id, client, version, framework, last_seen, records) VALUES ($1, $2, $3, $4, $5, $6)
      ON CONFLICT (site_id, client, version, framework) DO UPDATE SET last_seen = excluded.last_seen,
        records = reporters.records + excluded.records`,
    [c.siteId, c.client, c.version, c.framework, c.lastSeen, c.records]);
  }

  async listClients(siteId: number): Promise<ClientContact[]> {
    const { rows } = await this.pool.query<ClientRow>('SELECT * FROM clients WHERE site_id = $1 ORDER BY last_seen DESC LIMIT 500', [siteId]);
    return rows.map(toClient);
  }

  async listReporters(siteId: number): Promise<ReporterContact[]> {
    const { rows } = await this.pool.query<ReporterRow>(
      'SELECT * FROM reporters WHERE site_id = $1 ORDER BY last_seen DESC LIMIT 500', [siteId]);
    return rows.map(toReporter);
  }

  // Reports

  insertReports(siteId: number, records: ReportRecord[], batch?: BatchKey): Promise<InsertOutcome> {
    return this.reports.insert(siteId, records, batch);
  }

  rollUp(): Promise<number> {
    return this.reports.rollUp();
  }

  /**
   * The retention pass: prepares the coming days' report partitions, drops the day partitions past the
   * raw retention, then deletes expired rows elsewhere (default partition, rollups, audit log, batch ids).
   */
  async prune(policy: RetentionPolicy, now: number): Promise<number> {
    await ensureDayPartitions(this.pool, now);
    let total = await dropExpiredPartitions(this.pool, now - policy.rawSeconds);
    total += (await this.pool.query('DELETE FROM audit_log WHERE at < $1', [now - policy.rollupSeconds])).rowCount ?? 0;
    while (await this.reports.pruneBatchIds(now - BATCH_ID_RETENTION_SECONDS, PRUNE_CHUNK) > 0);
    for (;;) {
      const deleted = await this.reports.pruneChunk(policy, now);
      total += deleted;
      if (deleted === 0) return total;
    }
  }

  async pruneContacts(policy: RetentionPolicy, now: number): Promise<number> {
    let total = 0;
    const { rows: sites } = await this.pool.query<{ id: string }>('SELECT id FROM sites');
    for (const [table, key] of CONTACT_TABLES) {
      const inChunks = async (sql: string, params: unknown[]) => {
        for (;;) {
          const deleted = (await this.pool.query(sql, params)).rowCount ?? 0;
          total += deleted;
          if (deleted < PRUNE_CHUNK) return;
        }
      };
      await inChunks(`DELETE FROM ${table} WHERE (${key}) IN (SELECT ${key} FROM ${table} WHERE last_seen < $1 LIMIT ${PRUNE_CHUNK})`,
        [now - policy.rollupSeconds]);
      // A site over the cap keeps its newest: its (cap+1)-th newest and any as old or older go.
      for (const { id } of sites) {
        const { rows } = await this.pool.query<{ last_seen: string }>(
          `SELECT last_seen FROM ${table} WHERE site_id = $1 ORDER BY last_seen DESC LIMIT 1 OFFSET $2`, [id, CONTACTS_PER_SITE]);
        if (rows[0] === undefined) continue;
        await inChunks(`DELETE FROM ${table} WHERE (${key}) IN (SELECT ${key} FROM ${table} WHERE site_id = $1 AND last_seen <= $2 LIMIT ${PRUNE_CHUNK})`,
          [id, rows[0].last_seen]);
      }
    }
    return total;
  }

  totals(siteId: number, from: number, to: number): Promise<Totals> {
    return this.reports.totals(siteId, from, to);
  }

  timeSeries(siteId: number, from: number, to: number, stepSeconds: number): Promise<TimeBucket[]> {
    return this.reports.timeSeries(siteId, from, to, stepSeconds);
  }

  top(siteId: number, dimension: TopDimension, from: number, to: number, limit: number): Promise<TopEntry[]> {
    return this.reports.top(siteId, dimension, from, to, limit);
  }

  uniqueIps(siteId: number, from: number, to: number): Promise<number> {
    return this.reports.uniqueIps(siteId, from, to);
  }

  ruleHits(siteId: number, from: number, to: number, keys: RuleHitKeys): Promise<RuleHits> {
    return this.reports.ruleHits(siteId, from, to, keys);
  }

  queryReports(siteId: number, filter: ReportFilter, page: { limit: number; before?: string }): Promise<ReportPage> {
    return this.reports.query(siteId, filter, page);
  }

  passedSampling(siteId: number, from: number, to: number): Promise<PassedSampling> {
    return this.reports.passedSampling(siteId, from, to);
  }

  earliestMinute(siteId: number): Promise<number | undefined> {
    return this.reports.earliestMinute(siteId);
  }

  valueHours(siteId: number, dimension: TopDimension, value: string, from: number, to: number): Promise<ValueHour[]> {
    return this.reports.valueHours(siteId, dimension, value, from, to);
  }

  // Audit log

  async appendAudit(r: AuditRecord): Promise<void> {
    await this.pool.query(`INSERT INTO audit_log (at, user_id, user_email, ip, action, site_id, target, before, after)
      VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, [r.at, r.userId, r.userEmail, r.ip, r.action, r.siteId, r.target, r.before, r.after]);
  }

  async listAudit(query: { siteId?: number; before?: number; limit: number }): Promise<AuditPage> {
    const limit = Math.max(1, Math.min(Math.trunc(query.limit), 500));
    const before = query.before ?? Number.MAX_SAFE_INTEGER;
    const { rows } = query.siteId === undefined
      ? await this.pool.query<AuditRow>('SELECT * FROM audit_log WHERE id < $1 ORDER BY id DESC LIMIT $2', [before, limit + 1])
      : await this.pool.query<AuditRow>('SELECT * FROM audit_log WHERE site_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3',
        [query.siteId, before, limit + 1]);
    const entries = rows.slice(0, limit).map(toAuditEntry);
    return { entries, next: rows.length > limit ? entries[entries.length - 1]!.id : null };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }
}

/**
 * Locks every admin's row and returns their ids: two instances demoting or removing the last two admins at
 * once queue here, and the second sees the first one's change (a row no longer 'admin' drops out).
 */
async function lockAdmins(client: PoolClient): Promise<number[]> {
  const { rows } = await client.query<{ id: number }>("SELECT id FROM users WHERE role = 'admin' ORDER BY id FOR UPDATE");
  return rows.map((r) => r.id);
}

/** Grants only sites that exist, so a stale id from a form is dropped rather than failing the change. */
async function grantSites(client: PoolClient, userId: number, siteIds: readonly number[]): Promise<void> {
  if (siteIds.length === 0) return;
  await client.query(`INSERT INTO user_sites (user_id, site_id) SELECT $1, id FROM sites WHERE id = ANY($2::bigint[])
    ON CONFLICT DO NOTHING`, [userId, siteIds]);
}

/**
 * The SQL of a rule filter, its parameters numbered from `$first`. Value and note are compared as the hub
 * folded them (rule-folds.ts), never by the database's locale, so both stores find the same rules.
 */
function ruleFilterSql(filter: RuleFilter, first: number): { sql: string; params: unknown[] } {
  if (filter.search === undefined || filter.search === '') return { sql: '', params: [] };
  return {
    sql: ` AND (${foldedTextHolds(`$${first}`)} OR kind = ANY($${first + 1}::text[]))`,
    params: [filter.search, [...(filter.kinds ?? [])]],
  };
}
