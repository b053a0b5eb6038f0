/**
 * The hub's storage interface. Every method is async so that a networked database (PostgreSQL, a later
 * issue) can implement it; the embedded SQLite store answers synchronously inside the promise.
 * Times are Unix seconds unless a name says otherwise.
 */
import type { RuleLookup } from './rule-lookup.js';
import type { Rule } from 'moat-waf';
import type { FeedStore } from './feed-records.js';
import type { BotCatalogueStore } from './bot-catalogue-records.js';
import type { ReportScanSource } from './report-scan.js';
import type { ThresholdStore } from '../thresholds/threshold-store.js';

/** admin: everything, every site; viewer: reads the sites granted to them, changes nothing. */
export type Role = 'admin' | 'viewer';
export const ROLES: readonly Role[] = ['admin', 'viewer'];

/** What a user may reach: a role, and for viewers the sites granted (admins see every site). */
export interface UserAccess {
  role: Role;
  siteIds: number[];
}

export interface User extends UserAccess {
  id: number;
  email: string;
  mustChangePassword: boolean;
  createdAt: number;
}

export interface UserWithSecret extends User {
  passwordHash: string;
}

export interface Session extends UserAccess {
  userId: number;
  email: string;
  mustChangePassword: boolean;
  csrfToken: string;
  expiresAt: number;
}

/** Outcome of a change that must leave the hub with at least one admin. */
export type UserChange = 'done' | 'not_found' | 'last_admin';

/** One line of the audit log: who did what, when, from where. Never updated once written. */
export interface AuditRecord {
  /** Unix seconds. */
  at: number;
  /** null for the hub itself (a rule expiring). */
  userId: number | null;
  userEmail: string;
  ip: string | null;
  /** e.g. rule.create, rule.update, rule.delete, rule.import, rule.expire, site.create, key.create, user.invite. */
  action: string;
  siteId: number | null;
  /** What was acted on: a rule id, a key id, a user's email. */
  target: string | null;
  /** Short descriptions (JSON of the rule's fields for rules), before and after the change. */
  before: string | null;
  after: string | null;
}

export interface AuditEntry extends AuditRecord {
  id: number;
}

export interface AuditPage {
  entries: AuditEntry[];
  /** Pass as `before` for the next (older) page; null when there is none. */
  next: number | null;
}

export interface Site {
  id: number;
  name: string;
  createdAt: number;
}

export interface ApiKeyInfo {
  id: number;
  siteId: number;
  label: string;
  /** The first characters of the key, shown so people can tell keys apart; never enough to use it. */
  prefix: string;
  createdAt: number;
  revokedAt: number | null;
  lastUsedAt: number | null;
}

/**
 * Which rules a list shows: all (no `search`), or those whose value or note holds `search` (both folded
 * by rules/rule-filter.ts `foldForSearch`: give it folded) or whose kind is one of `kinds` (the kinds whose label holds it).
 */
export interface RuleFilter {
  search?: string;
  kinds?: readonly string[];
}

/** Where a rule sits in list order: by position, then by id (the tie-breaker that makes the order total). */
export interface RuleListKey {
  position: number;
  id: string;
}

/** Where a page of rules starts: at the `offset`-th (0-based) matching rule, or right after the rule at `after`. */
export type RulePageStart = { offset: number } | { after: RuleListKey };

export interface RulePage {
  rules: StoredRule[];
  /** The last rule's key, to pass as `after` for the next page; null when no matching rule follows. */
  next: RuleListKey | null;
}

/** A rule as the hub stores it: the engine's Rule (a union on `kind`) plus bookkeeping. */
export type StoredRule = Rule & {
  siteId: number;
  createdAt: number;
  updatedAt: number;
};

export type RulesFormat = 'moat' | 'wafris';

export interface RulesBuild {
  siteId: number;
  format: RulesFormat;
  fileName: string;
  hash: string;
  /** When the compile judged expiry (a whole second): the files hold every rule expiring after it. */
  builtAt: number;
  ruleCount: number;
}

export interface ClientContact {
  siteId: number;
  apiKeyId: number;
  hostname: string;
  processId: string;
  client: string;
  version: string;
  framework: string;
  category: string;
  format: RulesFormat;
  /** The file the client said it has (`client_db`). */
  clientDb: string;
  /** The file the hub served or confirmed. */
  servedFile: string;
  ip: string;
  lastSeen: number;
}

export interface ReporterContact {
  siteId: number;
  client: string;
  version: string;
  framework: string;
  lastSeen: number;
  records: number;
}

export type Treatment = 'Passed' | 'Allowed' | 'Blocked';

export interface MonitoredHit {
  category: string;
  rule: string;
  rule_id: string | null;
}

/** One request report as stored (already validated and trimmed). */
export interface ReportRecord {
  ts: number;
  ip: string;
  method: string;
  host: string;
  path: string;
  parameter: string;
  userAgent: string;
  requestId: string;
  treatment: Treatment;
  category: string;
  rule: string;
  ruleId: string | null;
  monitored: MonitoredHit[] | null;
  ipSource: string | null;
  country: string | null;
  /**
   * Set on a count, not a request: this many Passed requests of one key (ip, user agent, path, host,
   * method) in the minute of `ts`, reported as a number by a Moat client (compact upsync `aggregates`).
   * Counted in every total and top list; never listed in the request log.
   */
  aggregateCount?: number;
  /** The response status a Moat client reported (100–599); stored (`status`, null when none) for threshold rules and their preview. */
  status?: number | null;
  /** The hashed keys a Moat client reported (header, cookie, user id): threshold rules count by them; stored (`keys`) for the rule preview. */
  keys?: readonly { kind: string; hash: string }[] | null;
}

/** Passed requests in a range, and how many of them arrived only as counts (the rest are in the request log). */
export interface PassedSampling {
  passed: number;
  counted: number;
}

export interface StoredReport extends ReportRecord {
  id: number;
}

export interface Totals {
  total: number;
  blocked: number;
  allowed: number;
  passed: number;
  monitored: number;
}

export interface TimeBucket extends Totals {
  /** Bucket start, Unix seconds. */
  t: number;
}

/** Dimensions kept in the hourly top-N rollup. */
export type TopDimension = 'ip' | 'path' | 'userAgent' | 'country' | 'rule';
export const TOP_DIMENSIONS: readonly TopDimension[] = ['ip', 'path', 'userAgent', 'country', 'rule'];

/** The most hours valueHours reads: 31 days. */
export const MAX_VALUE_HOURS = 31 * 24;

export interface TopEntry {
  value: string;
  total: number;
  blocked: number;
  /**
   * Set when the counts may be low (a range of many distinct values, counted from each hour's and each
   * day's largest values, see store/top-heads.ts): the true total is at most total + lowBy, and so is the
   * true blocked count at most blocked + lowBy. Absent when the counts are exact.
   */
  lowBy?: number;
}

/** What rule hits are looked up by: rule ids (reports that carry one) and `category\trule` entries (Wafris clients). */
export interface RuleHitKeys {
  ids: readonly string[];
  matches: readonly string[];
}

export interface RuleHits {
  /** Hits by rule id (reports that carried one). */
  byId: Map<string, { hits: number; monitored: number }>;
  /** Hits by `category\trule` (reports without an id, such as Wafris clients'). */
  byMatch: Map<string, number>;
}

export interface ReportFilter {
  from?: number;
  to?: number;
  treatment?: Treatment;
  ip?: string;
  /** Path prefix. */
  path?: string;
  /** Matches the reported rule text or the rule id. */
  rule?: string;
}

export interface ReportPage {
  rows: StoredReport[];
  /** Pass as `before` to get the next (older) page; null when there is none. */
  next: string | null;
  /** True when the walk stopped on its time budget before the page was full; `next` continues it. */
  partial?: boolean;
}

/** One hour of one top-list value (an IP, a path …) from the hourly rollup. */
export interface ValueHour {
  /** Hour start, Unix seconds. */
  hour: number;
  total: number;
  blocked: number;
}

/** A batch's identity for exactly-once storage: the client's id, unique per site. */
export interface BatchKey {
  id: string;
  /** Unix seconds the hub received the batch (its id's retention starts here). */
  receivedAt: number;
}

export type InsertOutcome = 'stored' | 'duplicate';

/** How long a batch id is remembered: a retry arriving later is stored again. */
export const BATCH_ID_RETENTION_SECONDS = 24 * 3600;

/**
 * Client contacts (downsyncs) and reporters (upsyncs) kept per site and table: the newest by last_seen.
 * Their keys come from the clients (hostname, process id, framework…), so one API key could otherwise
 * make the tables grow with every request; contacts unseen for the rollup retention go as well.
 */
export const CONTACTS_PER_SITE = 10_000;

export interface RetentionPolicy {
  rawSeconds: number;
  rollupSeconds: number;
}

export interface HubStore {
  /** Threshold rules, automatic bans and their events (auto-ban). */
  readonly thresholds: ThresholdStore;

  // Users and sessions
  countUsers(): Promise<number>;
  /** Without `access` the user is an admin (the first user is created this way). */
  createUser(email: string, passwordHash: string, mustChangePassword: boolean, access?: UserAccess): Promise<User>;
  listUsers(): Promise<User[]>;
  /**
   * Sets a user's role and granted sites in one step; 'last_admin' (and no change) when it would leave
   * no admin. Atomic against concurrent changes, also across hub instances on one database.
   */
  setUserAccess(id: number, access: UserAccess): Promise<UserChange>;
  /** Removes a user and their sessions; 'last_admin' (and no change) for the only admin. */
  deleteUser(id: number): Promise<UserChange>;
  findUserByEmail(email: string): Promise<UserWithSecret | undefined>;
  getUserWithSecret(id: number): Promise<UserWithSecret | undefined>;
  setUserPassword(id: number, passwordHash: string, mustChangePassword: boolean): Promise<void>;
  createSession(tokenHash: string, userId: number, csrfToken: string, expiresAt: number): Promise<void>;
  findSession(tokenHash: string, now: number): Promise<Session | undefined>;
  deleteSession(tokenHash: string): Promise<void>;
  deleteUserSessions(userId: number): Promise<void>;

  // Sites and API keys
  listSites(): Promise<Site[]>;
  getSite(id: number): Promise<Site | undefined>;
  createSite(name: string): Promise<Site>;
  createApiKey(siteId: number, label: string, keyHash: string, prefix: string): Promise<ApiKeyInfo>;
  listApiKeys(siteId: number): Promise<ApiKeyInfo[]>;
  /** Returns false when no such active key exists for the site. */
  revokeApiKey(siteId: number, keyId: number, now: number): Promise<boolean>;
  /** Active (not revoked) key by its hash. */
  findActiveApiKey(keyHash: string): Promise<{ id: number; siteId: number } | undefined>;
  touchApiKey(keyId: number, now: number): Promise<void>;

  // Rules
  /** Every rule of a site, in list order (position, then id). */
  listRules(siteId: number): Promise<StoredRule[]>;
  /**
   * The site's rules that may cover the values of `lookup` (see RuleLookup), in list order: by index, or
   * compared inside the database, never by reading the whole list (expired ones too: the caller judges).
   */
  rulesFor(siteId: number, lookup: RuleLookup): Promise<StoredRule[]>;
  /** The ids of a site's rules, in no particular order: what an import needs, without reading whole rules. */
  ruleIds(siteId: number): Promise<string[]>;
  /** How many rules a site holds (those matching `filter`, when given), without reading them. */
  countRules(siteId: number, filter?: RuleFilter): Promise<number>;
  /**
   * `limit` rules from `start` in list order, among those matching `filter`: one page, not the site's whole
   * list. Paging by `after` (keyset) sees every rule present throughout exactly once, whatever is added or
   * deleted between pages; by `offset`, a rule deleted before the offset shifts the next page by one.
   */
  rulesPage(siteId: number, filter: RuleFilter, start: RulePageStart, limit: number): Promise<RulePage>;
  /** Where a rule sits (0-based) in list order among those matching `filter`; -1 when it is not one of them. */
  ruleIndex(siteId: number, ruleId: string, filter: RuleFilter): Promise<number>;
  /** A site's rules whose expiry is after `afterMs` and at or before `untilMs` (list order). */
  rulesExpiredBetween(siteId: number, afterMs: number, untilMs: number): Promise<StoredRule[]>;
  /** The values and expiries of a site's blocking-mode allow rules on addresses: what automatic bans must never cover. */
  allowIpRules(siteId: number): Promise<{ value: string; expires?: number }[]>;
  getRule(siteId: number, ruleId: string): Promise<StoredRule | undefined>;
  /** Inserts new rules; with `replace`, the site's rules are replaced by these, in one transaction. */
  saveRules(siteId: number, rules: Rule[], options: { replace: boolean; now: number }): Promise<void>;
  updateRule(siteId: number, rule: Rule, now: number): Promise<boolean>;
  deleteRule(siteId: number, ruleId: string): Promise<boolean>;

  // Attack-detection settings (JSON of moat-waf's attack settings document); none stored = the defaults.
  getAttackSettings(siteId: number): Promise<string | undefined>;
  saveAttackSettings(siteId: number, settingsJson: string, now: number): Promise<void>;

  // Verified-bot settings (JSON of moat-waf's bots section: modes by category); none stored = bots off.
  getBotSettings(siteId: number): Promise<string | undefined>;
  saveBotSettings(siteId: number, settingsJson: string, now: number): Promise<void>;

  // Compiled rule files
  getBuild(siteId: number, format: RulesFormat): Promise<RulesBuild | undefined>;
  saveBuild(build: RulesBuild): Promise<void>;

  // Clients
  /**
   * Upserts the row of (site, API key, hostname, process id, client, category): a contact made with another
   * key of the site is another row, never an update of this one.
   */
  recordClientContact(contact: ClientContact): Promise<void>;
  recordReporter(contact: ReporterContact): Promise<void>;
  listClients(siteId: number): Promise<ClientContact[]>;
  listReporters(siteId: number): Promise<ReporterContact[]>;

  // Reports
  /**
   * Stores a batch. Without `batch`: atomically, all records or none, every time it is called. With
   * `batch`: exactly once per (site, batch id) — the id is recorded in the same transaction as the
   * records, and a batch already stored answers 'duplicate' and stores nothing. Ids are kept
   * BATCH_ID_RETENTION_SECONDS after receipt (pruned with the reports).
   */
  insertReports(siteId: number, records: ReportRecord[], batch?: BatchKey): Promise<InsertOutcome>;
  /** Folds reports stored since the last call into the rollups; returns how many were folded. */
  rollUp(): Promise<number>;
  /**
   * Deletes raw reports and rollups older than the policy allows; returns rows deleted. Only reports
   * already rolled up go. PostgreSQL removes raw reports a whole day at a time (a day's partition, once
   * all of it is past `rawSeconds`), so they may outlive `rawSeconds` by up to a day there.
   */
  prune(policy: RetentionPolicy, now: number): Promise<number>;
  /**
   * Deletes client contacts and reporters unseen for `rollupSeconds`, and all but the newest
   * CONTACTS_PER_SITE of a site's in each table; returns how many. In chunks, giving requests turns.
   */
  pruneContacts(policy: RetentionPolicy, now: number): Promise<number>;

  // Dashboard queries (read the rollups, except the request log)
  totals(siteId: number, from: number, to: number): Promise<Totals>;
  timeSeries(siteId: number, from: number, to: number, stepSeconds: number): Promise<TimeBucket[]>;
  top(siteId: number, dimension: TopDimension, from: number, to: number, limit: number): Promise<TopEntry[]>;
  uniqueIps(siteId: number, from: number, to: number): Promise<number>;
  /** Hit counts of exactly these rule ids and reported entries (rules/rule-hits.ts `ruleHitKeys`): a seek per key. */
  ruleHits(siteId: number, from: number, to: number, keys: RuleHitKeys): Promise<RuleHits>;
  queryReports(siteId: number, filter: ReportFilter, page: { limit: number; before?: string }): Promise<ReportPage>;
  /** Start of the first rolled-up minute with reports, or undefined for a site without any (one index seek). */
  earliestMinute(siteId: number): Promise<number | undefined>;
  /** Passed requests in [from, to) and how many arrived only as counts (the request log's "N shown of M"). */
  passedSampling(siteId: number, from: number, to: number): Promise<PassedSampling>;
  /**
   * The hours in [from, to) in which one value of a dimension was reported, oldest first. One primary-key
   * seek per hour (at most `MAX_VALUE_HOURS`), never a scan of the other values.
   */
  valueHours(siteId: number, dimension: TopDimension, value: string, from: number, to: number): Promise<ValueHour[]>;

  // Audit log: append-only; entries older than the rollup retention are pruned with the reports.
  appendAudit(record: AuditRecord): Promise<void>;
  /** Newest first; `siteId` narrows to one site's entries, `before` is the previous page's `next`. */
  listAudit(query: { siteId?: number; before?: number; limit: number }): Promise<AuditPage>;

  /**
   * Where a worker thread can open its own reader of the raw reports (the rule preview); undefined when
   * it cannot (an in-memory SQLite database).
   */
  reportScanSource(): ReportScanSource | undefined;

  /** Threat-intelligence feed sources and the data-file versions built from them (feeds/). */
  readonly feeds: FeedStore;
  /** The bot catalogues offered by `bots` feeds; the newest accepted one is compiled into every site's file. */
  readonly botCatalogues: BotCatalogueStore;

  /** Resolves when the store answers a trivial query (readiness); rejects when it cannot. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
