/**
 * The hub's storage interface. Every method is async so that a networked database (PostgreSQL, a later
 * issue) can implement it; the embedded SQLite store answers synchronously inside the promise.
 * Times are Unix seconds unless a name says otherwise.
 */
import type { Rule } from 'moat';

export interface User {
  id: number;
  email: string;
  mustChangePassword: boolean;
  createdAt: number;
}

export interface UserWithSecret extends User {
  passwordHash: string;
}

export interface Session {
  userId: number;
  email: string;
  mustChangePassword: boolean;
  csrfToken: string;
  expiresAt: number;
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

export interface StoredRule extends Rule {
  siteId: number;
  createdAt: number;
  updatedAt: number;
}

export type RulesFormat = 'moat' | 'wafris';

export interface RulesBuild {
  siteId: number;
  format: RulesFormat;
  fileName: string;
  hash: string;
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

export interface TopEntry {
  value: string;
  total: number;
  blocked: number;
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

export interface RetentionPolicy {
  rawSeconds: number;
  rollupSeconds: number;
}

export interface HubStore {
  // Users and sessions
  countUsers(): Promise<number>;
  createUser(email: string, passwordHash: string, mustChangePassword: boolean): Promise<User>;
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
  listRules(siteId: number): Promise<StoredRule[]>;
  getRule(siteId: number, ruleId: string): Promise<StoredRule | undefined>;
  /** Inserts new rules; with `replace`, the site's rules are replaced by these, in one transaction. */
  saveRules(siteId: number, rules: Rule[], options: { replace: boolean; now: number }): Promise<void>;
  updateRule(siteId: number, rule: Rule, now: number): Promise<boolean>;
  deleteRule(siteId: number, ruleId: string): Promise<boolean>;

  // Compiled rule files
  getBuild(siteId: number, format: RulesFormat): Promise<RulesBuild | undefined>;
  saveBuild(build: RulesBuild): Promise<void>;

  // Clients
  recordClientContact(contact: ClientContact): Promise<void>;
  recordReporter(contact: ReporterContact): Promise<void>;
  listClients(siteId: number): Promise<ClientContact[]>;
  listReporters(siteId: number): Promise<ReporterContact[]>;

  // Reports
  /** Stores a batch atomically: all records or none. */
  insertReports(siteId: number, records: ReportRecord[]): Promise<void>;
  /** Folds reports stored since the last call into the rollups; returns how many were folded. */
  rollUp(): Promise<number>;
  /** Deletes raw reports and rollups older than the policy allows; returns rows deleted. */
  prune(policy: RetentionPolicy, now: number): Promise<number>;

  // Dashboard queries (read the rollups, except the request log)
  totals(siteId: number, from: number, to: number): Promise<Totals>;
  timeSeries(siteId: number, from: number, to: number, stepSeconds: number): Promise<TimeBucket[]>;
  top(siteId: number, dimension: TopDimension, from: number, to: number, limit: number): Promise<TopEntry[]>;
  uniqueIps(siteId: number, from: number, to: number): Promise<number>;
  ruleHits(siteId: number, from: number, to: number): Promise<RuleHits>;
  queryReports(siteId: number, filter: ReportFilter, page: { limit: number; before?: string }): Promise<ReportPage>;

  close(): Promise<void>;
}
