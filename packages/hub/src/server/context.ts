import type { AuditLog } from '../audit/audit-log.js';
import type { HubConfig } from '../config.js';
import type { FeedService } from '../feeds/feed-service.js';
import type { LoginRateLimiter } from '../auth/login-rate-limit.js';
import type { ChangeWaiters } from '../distribution/change-waiters.js';
import type { RulesBuilder } from '../distribution/rules-builder.js';
import type { PostgresChangeFeed } from '../store/postgres/change-feed.js';
import type { RuleService } from '../rules/rule-service.js';
import type { HubStore } from '../store/store.js';
import type { SigningKey } from '../signing/signing-key.js';
import type { BanService } from '../thresholds/ban-service.js';

/** What every route plugin gets: the parts of a running hub. */
export interface HubContext {
  config: HubConfig;
  store: HubStore;
  builder: RulesBuilder;
  rules: RuleService;
  audit: AuditLog;
  loginLimiter: LoginRateLimiter;
  /** Signs downsync bodies (managed mode); null when the hub runs without a key. */
  signingKey: SigningKey | null;
  /** The URL clients reach the hub on, for the setup page. */
  publicUrl: () => string;
  /** Whether countryOf can answer (a country data file is loaded). */
  hasCountryLookup: boolean;
  countryOf: (ip: string) => string | null;
  /** Milliseconds. */
  now: () => number;
  /** Threat-intelligence feeds: fetched on schedule, built into the served data file. */
  feeds: FeedService;
  /** Downsync requests held until their site's rules change (long-poll). */
  waiters: ChangeWaiters;
  /** With PostgreSQL: tells the other hubs of rules changes and hears theirs; null with SQLite. */
  changeFeed: PostgresChangeFeed | null;
  /** Auto-ban: threshold rules counted on ingest, and the bans they make. */
  thresholds: BanService;
}
