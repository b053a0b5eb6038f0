import { resolve } from 'node:path';
import type { onRequestHookHandler } from 'fastify';
import { z } from 'zod';
import { resolveFeedsConfig, type FeedsConfig, type FeedsOptions } from './feeds/feeds-config.js';

/** Options of createHub(); everything but dataDir has a default. */
export interface HubOptions {
  /** Where the database and compiled rule files live (with PostgreSQL: this instance's local file cache). */
  dataDir: string;
  /**
   * postgres://user:pass@host:port/db — keep everything in PostgreSQL instead of `<dataDir>/hub.db`, so
   * several hub instances can share it behind a load balancer. main.ts reads MOAT_HUB_DATABASE_URL.
   */
  databaseUrl?: string;
  /** Most PostgreSQL connections this instance opens (default 10). */
  databasePoolSize?: number;
  /**
   * The ed25519 signing key file (default `<dataDir>/signing-key.pem`). Hub instances behind one load
   * balancer must share one key, since clients pin its public key.
   */
  signingKeyFile?: string;
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** First-run admin; without a password a one-time password is generated and printed. */
  adminEmail?: string;
  adminPassword?: string;
  /** Create a demo site with an API key when the hub has no site yet (main.ts does). */
  createDemoSite?: boolean;
  retention?: { rawDays?: number; rollupDays?: number };
  /** Folder with data_subscriptions files: `<dir>/moat/*.db` and `<dir>/wafris/*.db`, newest served (default `<dataDir>/data-files`). */
  dataFilesDir?: string;
  /**
   * When the data-files folder holds no data file, build one at start from the bundled CC0 country
   * ranges (both layouts; a minute or so, once). The command line turns this on: the Wafris gem applies
   * no rule until it has a data file. Default false, so embedding code and tests start at once.
   */
  defaultDataFiles?: boolean;
  /** Mark the session cookie Secure (set when the hub is served over HTTPS). */
  secureCookies?: boolean;
  /** Trust X-Forwarded-For from these proxies (Fastify's trustProxy), for login rate limiting and client IPs. */
  trustProxy?: boolean | string | string[];
  /**
   * The hub's log: pino JSON lines (Fastify's logger) on stderr. Default `warn`: errors and warnings only
   * (5xx answers, failed rollups and retention, database outages and recoveries, signing and data-file
   * failures); `info` adds one line per request. `true` is `info`; `false` logs nothing at all. API keys in
   * URLs, cookies, Authorization and database passwords are redacted (server/log-redaction.ts).
   */
  logger?: boolean | { level?: string; stream?: { write(line: string): void } };
  /** Milliseconds between rollup passes over newly ingested reports. */
  rollupIntervalMs?: number;
  /** Milliseconds between retention runs. */
  pruneIntervalMs?: number;
  /** Largest accepted upsync body in bytes, before and after gzip. */
  upsyncMaxBytes?: number;
  /** Most records one upsync may carry. */
  upsyncMaxRecords?: number;
  /**
   * Failed sign-ins: `maxFailures` per window for one account from one client IP (then 429 for that
   * pair), five times that for one client across accounts; an account failing `maxFailures` times from
   * anywhere slows every attempt on it by `accountSlowdownMs` (default 2000) instead of locking it.
   */
  loginRateLimit?: { maxFailures: number; windowMs: number; accountSlowdownMs?: number };
  /** Session lifetime in seconds. */
  sessionTtlSeconds?: number;
  /**
   * Runs first on every request: the place for protecting the hub with Moat's own Fastify middleware
   * once the adapters exist.
   */
  onRequest?: onRequestHookHandler;
  /** Country of an IP for the top-countries list; without it only country-rule blocks carry one. */
  countryOf?: (ip: string) => string | null;
  /** Where first-run messages (admin password, demo key) go; default console.log. */
  print?: (line: string) => void;
  /** Clock in milliseconds, for tests. */
  now?: () => number;
  /**
   * Sign downsync bodies with the hub's ed25519 key (`<dataDir>/signing-key.pem`, created on first
   * start). Default true.
   */
  signing?: boolean;
  /** The URL clients reach the hub on (setup page); default the listening address. */
  publicUrl?: string;
  /**
   * Moat's own firewall in front of the hub: a rules document (the engine's JSON format) compiled at
   * start, merged with the built-in baseline. false turns it off. Default: the baseline only.
   */
  selfProtection?: false | { rules?: object; trustedProxies?: string[] };
  /**
   * Serve `GET /metrics` (Prometheus text) to requests carrying `Authorization: Bearer <token>`; 16–256
   * characters. Without it there is no metrics route (404).
   */
  metricsToken?: string;
  /** Threat-intelligence feeds (the Data page): fetch bounds, and whether non-public addresses may be fetched. */
  feeds?: FeedsOptions;
  /**
   * Long-poll downsync (Moat clients): longest hold of one request (default 25 000 ms), held requests
   * on this hub (default 10 000) and per API key (default 2 000) at most; over a cap a request is answered
   * at once and told to poll.
   */
  longPoll?: { timeoutMs?: number; maxWaiters?: number; maxWaitersPerKey?: number };
  /**
   * Auto-ban limits: counter keys in memory (default 200 000), standing bans per site (default 10 000),
   * crossings waiting to be stored (default 10 000), records of big batches waiting to be counted (200 000);
   * on PostgreSQL the fleet counting (fleetHubs 10, maxPendingCounts 20 000, fleetFlushMs 250); ended bans
   * kept banHistoryDays (7), pruned every housekeepingMs (10 minutes).
   */
  thresholds?: {
    maxCounterKeys?: number; maxActiveBansPerSite?: number; maxPendingCrossings?: number; maxPendingRecords?: number;
    fleetHubs?: number; maxPendingCounts?: number; fleetFlushMs?: number; banHistoryDays?: number; housekeepingMs?: number;
  };
}

/**
 * Where an operator sets each createHub() option: `command line` (a flag and a MOAT_HUB_* variable of
 * main.ts), or only in code, with the reason. `satisfies` makes a new option a compile error until it is
 * placed here; main.test.ts checks every `command line` entry against the flag table.
 */
export const OPTION_REACH = {
  dataDir: 'command line', databaseUrl: 'command line', databasePoolSize: 'command line', signingKeyFile: 'command line',
  host: 'command line', port: 'command line', adminEmail: 'command line', adminPassword: 'command line',
  createDemoSite: 'command line', retention: 'command line', dataFilesDir: 'command line', defaultDataFiles: 'command line',
  secureCookies: 'command line', trustProxy: 'command line', logger: 'command line', rollupIntervalMs: 'command line',
  pruneIntervalMs: 'command line', upsyncMaxBytes: 'command line', upsyncMaxRecords: 'command line',
  loginRateLimit: 'command line', sessionTtlSeconds: 'command line', signing: 'command line', publicUrl: 'command line',
  selfProtection: 'command line', metricsToken: 'command line', feeds: 'command line',
  longPoll: 'code only: tuning for tests and benches; the defaults fit a hub of 10 000 clients',
  thresholds: 'code only: memory and ban caps for tests and benches; the defaults fit one hub',
  onRequest: 'code only: a function (a Fastify hook)',
  countryOf: 'code only: a function (the command line uses the served data file)',
  print: 'code only: a function (main.ts prints to stdout)',
  now: 'code only: a test clock',
} as const satisfies Record<keyof HubOptions, 'command line' | `code only: ${string}`>;

export interface HubConfig {
  dataDir: string;
  databaseFile: string;
  /** Set when the hub keeps its data in PostgreSQL. */
  databaseUrl: string | undefined;
  databasePoolSize: number;
  signingKeyFile: string;
  rulesDir: string;
  dataFilesDir: string;
  defaultDataFiles: boolean;
  host: string;
  port: number;
  adminEmail: string | undefined;
  adminPassword: string | undefined;
  createDemoSite: boolean;
  retention: { rawSeconds: number; rollupSeconds: number };
  secureCookies: boolean;
  rollupIntervalMs: number;
  pruneIntervalMs: number;
  upsyncMaxBytes: number;
  upsyncMaxRecords: number;
  loginRateLimit: { maxFailures: number; windowMs: number; accountSlowdownMs?: number };
  sessionTtlSeconds: number;
  signing: boolean;
  publicUrl: string | undefined;
  metricsToken: string | undefined;
  feeds: FeedsConfig;
  longPoll: { timeoutMs: number; maxWaiters: number; maxWaitersPerKey: number };
}

const DAY = 86_400;

const optionsSchema = z.object({
  dataDir: z.string().min(1),
  databaseUrl: z.string().regex(/^postgres(ql)?:\/\/\S+$/, 'the database URL must start with postgres:// or postgresql://').optional(),
  databasePoolSize: z.number().int().min(1).max(1000).default(10),
  signingKeyFile: z.string().min(1).optional(),
  host: z.string().min(1).default('127.0.0.1'),
  port: z.number().int().min(0).max(65535).default(8787),
  adminEmail: z.email().optional(),
  adminPassword: z.string().min(8, 'the admin password needs at least 8 characters').max(1024).optional(),
  createDemoSite: z.boolean().default(false),
  retention: z.object({
    rawDays: z.number().positive().max(3650).default(7),
    rollupDays: z.number().positive().max(3650).default(90),
  }).default({ rawDays: 7, rollupDays: 90 }),
  dataFilesDir: z.string().min(1).optional(),
  defaultDataFiles: z.boolean().default(false),
  secureCookies: z.boolean().optional(),
  rollupIntervalMs: z.number().int().min(10).default(2000),
  pruneIntervalMs: z.number().int().min(1000).default(3_600_000),
  upsyncMaxBytes: z.number().int().min(1024).default(8 * 1024 * 1024),
  upsyncMaxRecords: z.number().int().min(1).default(10_000),
  loginRateLimit: z.object({
    maxFailures: z.number().int().min(1), windowMs: z.number().int().min(1),
    accountSlowdownMs: z.number().int().min(0).max(60_000).optional(),
  }).default({ maxFailures: 10, windowMs: 15 * 60_000 }),
  sessionTtlSeconds: z.number().int().min(60).default(7 * DAY),
  signing: z.boolean().default(true),
  publicUrl: z.url().optional(),
  metricsToken: z.string().min(16, 'the metrics token needs at least 16 characters').max(256).optional(),
  longPoll: z.object({
    timeoutMs: z.number().int().min(1).max(600_000).default(25_000),
    maxWaiters: z.number().int().min(0).max(1_000_000).default(10_000),
    maxWaitersPerKey: z.number().int().min(0).max(1_000_000).default(2_000),
  }).default({ timeoutMs: 25_000, maxWaiters: 10_000, maxWaitersPerKey: 2_000 }),
});

export function resolveConfig(options: HubOptions): HubConfig {
  const o = optionsSchema.parse({
    dataDir: options.dataDir, databaseUrl: options.databaseUrl || undefined, databasePoolSize: options.databasePoolSize,
    signingKeyFile: options.signingKeyFile, host: options.host, port: options.port, adminEmail: options.adminEmail,
    adminPassword: options.adminPassword, createDemoSite: options.createDemoSite, retention: options.retention,
    dataFilesDir: options.dataFilesDir, defaultDataFiles: options.defaultDataFiles, secureCookies: options.secureCookies, rollupIntervalMs: options.rollupIntervalMs,
    pruneIntervalMs: options.pruneIntervalMs, upsyncMaxBytes: options.upsyncMaxBytes,
    upsyncMaxRecords: options.upsyncMaxRecords, loginRateLimit: options.loginRateLimit,
    sessionTtlSeconds: options.sessionTtlSeconds, signing: options.signing, publicUrl: options.publicUrl,
    metricsToken: options.metricsToken, longPoll: options.longPoll,
  });
  const dataDir = resolve(o.dataDir);
  return {
    dataDir,
    databaseFile: resolve(dataDir, 'hub.db'),
    databaseUrl: o.databaseUrl,
    databasePoolSize: o.databasePoolSize,
    signingKeyFile: o.signingKeyFile ? resolve(o.signingKeyFile) : resolve(dataDir, 'signing-key.pem'),
    rulesDir: resolve(dataDir, 'rules'),
    dataFilesDir: o.dataFilesDir ? resolve(o.dataFilesDir) : resolve(dataDir, 'data-files'),
    defaultDataFiles: o.defaultDataFiles,
    host: o.host,
    port: o.port,
    adminEmail: o.adminEmail,
    adminPassword: o.adminPassword,
    createDemoSite: o.createDemoSite,
    retention: { rawSeconds: Math.round(o.retention.rawDays * DAY), rollupSeconds: Math.round(o.retention.rollupDays * DAY) },
    // A hub whose public URL is https is reached over TLS: its cookies go over TLS only, unless told otherwise.
    secureCookies: o.secureCookies ?? (o.publicUrl?.startsWith('https:') === true),
    rollupIntervalMs: o.rollupIntervalMs,
    pruneIntervalMs: o.pruneIntervalMs,
    upsyncMaxBytes: o.upsyncMaxBytes,
    upsyncMaxRecords: o.upsyncMaxRecords,
    loginRateLimit: o.loginRateLimit,
    sessionTtlSeconds: o.sessionTtlSeconds,
    signing: o.signing,
    publicUrl: o.publicUrl?.replace(/\/+$/, ''),
    metricsToken: o.metricsToken,
    feeds: resolveFeedsConfig(options.feeds),
    longPoll: o.longPoll,
  };
}
