import { join } from 'node:path';
import cookie from '@fastify/cookie';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { apiRoutes } from '../api/api-routes.js';
import { HUB_ACTOR } from '../audit/actor.js';
import { AuditLog } from '../audit/audit-log.js';
import { loginRoutes } from '../auth/login-routes.js';
import { LoginRateLimiter } from '../auth/login-rate-limit.js';
import { generatePassword, hashPassword } from '../auth/password.js';
import { resolveConfig, type HubConfig, type HubOptions } from '../config.js';
import { countryLookupFromDataFile } from '../distribution/country-lookup.js';
import { findDataFile } from '../distribution/data-files.js';
import { ensureDefaultDataFiles } from '../distribution/default-data-files.js';
import { downsyncRoutes } from '../distribution/downsync-routes.js';
import { feedApiRoutes } from '../feeds/feed-api-routes.js';
import { FeedService } from '../feeds/feed-service.js';
import { BotCatalogueService } from '../feeds/bot-catalogue-service.js';
import { dataRoutes } from '../ui/routes/data-routes.js';
import { ChangeWaiters } from '../distribution/change-waiters.js';
import { RulesBuilder } from '../distribution/rules-builder.js';
import { BanService } from '../thresholds/ban-service.js';
import { PostgresChangeFeed } from '../store/postgres/change-feed.js';
import { upsyncRoutes } from '../ingest/upsync-routes.js';
import { registerMetrics } from '../metrics/metrics-routes.js';
import { registerSelfProtection } from '../protection/self-protection.js';
import { RuleService } from '../rules/rule-service.js';
import { loadOrCreateSigningKey } from '../signing/signing-key.js';
import { publicKeyRoutes } from '../signing/public-key-routes.js';
import { SiteService } from '../sites/site-service.js';
import { PostgresStore } from '../store/postgres/postgres-store.js';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import type { HubStore } from '../store/store.js';
import { dashboardRoutes } from '../ui/routes/dashboard-routes.js';
import { attacksRoutes } from '../ui/routes/attacks-routes.js';
import { botsRoutes } from '../ui/routes/bots-routes.js';
import { userRoutes } from '../ui/routes/users-routes.js';
import { thresholdsRoutes } from '../ui/routes/thresholds-routes.js';
import { assetRoutes } from './asset-routes.js';
import type { HubContext } from './context.js';
import { DEFAULT_BODY_LIMIT, registerEdgePolicy } from './edge-policy.js';
import { errorHandler } from './error-handler.js';
import { registerFormParser } from './form-body.js';
import { healthRoutes } from './health-routes.js';
import { registerJsonParser } from './json-body.js';
import { errorSerializer, LOG_REDACT_PATHS, requestSerializer } from './log-redaction.js';
import { startMaintenance, type Maintenance } from './maintenance.js';
import { securityHeaders } from './security-headers.js';

export interface FirstRun {
  /** Set when this start created the first admin. */
  adminEmail?: string;
  /** The one-time password, when none was configured (also printed). */
  oneTimePassword?: string;
  /** Set when this start created the demo site: its id and API key (shown this once). */
  demoSiteId?: number;
  demoApiKey?: string;
}

/** A running hub; its store is a SqliteStore unless options.databaseUrl chose PostgreSQL (`Hub<HubStore>`). */
export interface Hub<S extends HubStore = SqliteStore> {
  app: FastifyInstance;
  /** e.g. http://127.0.0.1:8787 */
  url: string;
  config: HubConfig;
  store: S;
  context: HubContext;
  sites: SiteService;
  /** Threat-intelligence feeds (the Data page); `feeds.idle()` resolves when queued refreshes are done. */
  feeds: FeedService;
  firstRun: FirstRun;
  /** Folds every report stored so far into the rollups now (the timer does it every rollupIntervalMs). */
  rollUpNow(): Promise<number>;
  /** Runs retention now. */
  pruneNow(): Promise<number>;
  close(): Promise<void>;
}

/**
 * Starts a hub: opens the store (SQLite in the data dir, or PostgreSQL with `databaseUrl`), registers
 * every route, listens, and starts the rollup and retention timers.
 */
export async function createHub(options: HubOptions & { databaseUrl?: undefined }): Promise<Hub<SqliteStore>>;
export async function createHub(options: HubOptions): Promise<Hub<HubStore>>;
export async function createHub(options: HubOptions): Promise<Hub<HubStore>> {
  const config = resolveConfig(options);
  const now = options.now ?? Date.now;
  const print = options.print ?? ((line: string) => console.log(line));
  // Made first, so the store and the start-up steps log through the hub's logger too.
  const logger = loggerOptions(options.logger);
  const requestLines = logger !== false && REQUEST_LEVELS.has(logger.level);
  const app: FastifyInstance = Fastify({
    logger,
    // Without request lines a per-request child logger (its reqId binding) has nothing to tie together,
    // and making one is most of what logging costs a request (measured, CPU per injected GET /healthz
    // against logger: false in the same run: +10–20 µs of ~160 with it, +6 µs without); errors then log
    // on the root logger, with method and URL.
    ...(requestLines ? {} : { childLoggerFactory: (parent: FastifyBaseLogger) => parent }),
    trustProxy: options.trustProxy ?? false,
    // Each route's own limit comes from the edge policy; this covers the rest (404s).
    bodyLimit: DEFAULT_BODY_LIMIT,
    routerOptions: { maxParamLength: 500 },
  });
  let store: HubStore;
  try {
    store = await openStore(config, app.log);
  } catch (error) {
    await app.close().catch(() => undefined);
    throw error;
  }
  let maintenance: Maintenance | undefined;
  let changeFeed: PostgresChangeFeed | null = null;
  let banService: BanService | undefined;
  try {
    const builder = new RulesBuilder(store, config.rulesDir, now);
    const audit = new AuditLog(store, now);
    const rules = new RuleService(store, builder, now, audit);
    const sites = new SiteService(store, builder, now, audit);
    builder.onExpired((siteId, expired) => audit.rulesExpired(HUB_ACTOR, siteId, expired));
    const thresholds = new BanService(store, builder, audit, now, (error, message) => app.log.error({ err: error }, message), options.thresholds);
    builder.addRuleSource((siteId) => thresholds.ruleSource(siteId));
    builder.setReportKeySource((siteId) => thresholds.reportKeys(siteId));
    banService = thresholds;
    await thresholds.start();
    const signingKey = config.signing ? loadOrCreateSigningKey(config.signingKeyFile) : null;
    if (config.defaultDataFiles) {
      print(`Checking the data files in ${config.dataFilesDir} (the first start builds them from the bundled CC0 country ranges: about a minute)…`);
      const outcome = await ensureDefaultDataFiles(config.dataFilesDir, now);
      if (outcome.kind === 'built') print(`  built ${outcome.fileName}: ${outcome.ranges.toLocaleString('en')} country ranges in ${outcome.seconds.toFixed(0)} s`);
      if (outcome.kind === 'failed') {
        print(`  could not build a data file (${outcome.message}); Wafris clients apply no rule until one is in ${config.dataFilesDir}`);
        app.log.error({ detail: outcome.message, dir: config.dataFilesDir }, 'could not build the default data file; Wafris clients apply no rule until one is in the data-files folder');
      }
    }
    const countryOf = options.countryOf ?? await countryLookupFromServedFile(config.dataFilesDir);
    if (config.databaseUrl) {
      changeFeed = new PostgresChangeFeed(config.databaseUrl, (message, error) => app.log.warn({ err: error }, message));
      await changeFeed.start();
    }
    const feeds = new FeedService(store, {
      ...config.feeds, dir: join(config.dataDir, 'feeds'), dataFilesDir: config.dataFilesDir, bundledCountries: config.defaultDataFiles,
    }, now, app.log, new BotCatalogueService({ store, builder, audit, now, log: app.log }));
    let url = '';
    const context: HubContext = {
      feeds,
      waiters: new ChangeWaiters(config.longPoll), changeFeed,
      config, store, builder, rules, audit, signingKey, thresholds,
      loginLimiter: new LoginRateLimiter(config.loginRateLimit, now),
      hasCountryLookup: countryOf !== undefined,
      countryOf: countryOf ?? (() => null),
      publicUrl: () => config.publicUrl ?? url,
      now,
    };

    app.setErrorHandler(errorHandler);
    app.setNotFoundHandler((_request, reply) => reply.code(404).send({ error: 'not_found', message: 'not found' }));
    securityHeaders(app);
    if (options.onRequest) app.addHook('onRequest', options.onRequest);
    if (options.selfProtection !== false) {
      const trusted = options.selfProtection?.trustedProxies
        ?? (Array.isArray(options.trustProxy) ? options.trustProxy : typeof options.trustProxy === 'string' ? [options.trustProxy] : []);
      await registerSelfProtection(app, config.dataDir, { rules: options.selfProtection?.rules, trustedProxies: trusted });
    }
    await app.register(cookie);
    // Before any route: sessions are checked and body limits set before a body is read.
    registerEdgePolicy(app, context);
    // Root hooks, before the routes they time and count.
    if (config.metricsToken) registerMetrics(app, context, config.metricsToken);
    registerJsonParser(app);
    registerFormParser(app);

    await app.register(async (scope) => healthRoutes(scope, context));
    await app.register(assetRoutes);
    await app.register(async (scope) => publicKeyRoutes(scope, context));
    await app.register(async (scope) => downsyncRoutes(scope, context));
    // Own encapsulation context: upsync replaces the JSON parser (gzip, size caps) for itself only.
    await app.register(async (scope) => upsyncRoutes(scope, context));
    await app.register(async (scope) => loginRoutes(scope, context));
    await app.register(async (scope) => apiRoutes(scope, context, sites));
    await app.register(async (scope) => dashboardRoutes(scope, context, sites));
    await app.register(async (scope) => attacksRoutes(scope, context, sites));
    await app.register(async (scope) => botsRoutes(scope, context, sites));
    await app.register(async (scope) => userRoutes(scope, context));
    await app.register(async (scope) => feedApiRoutes(scope, context));
    await app.register(async (scope) => dataRoutes(scope, context));
    await app.register(async (scope) => thresholdsRoutes(scope, context, sites));

    const firstRun = await firstRunSetup(config, store, sites, print);

    const address = await app.listen({ host: config.host, port: config.port });
    url = listenUrl(address, config.host);
    maintenance = startMaintenance(context, config, app.log);
    feeds.start();

    const started = app;
    const running = maintenance;
    let closing: Promise<void> | undefined;
    return {
      app: started, url, config, store, context, sites, feeds, firstRun,
      rollUpNow: () => running.rollUpAll(),
      pruneNow: () => running.prune(),
      close: () => {
        closing ??= (async () => {
          running.stop();
          thresholds.stop();
          await started.close();
          await feeds.stop();
          await changeFeed?.close();
          await running.idle();
          await thresholds.idle();
          await builder.idle();
          await store.close();
        })();
        return closing;
      },
    };
  } catch (error) {
    maintenance?.stop();
    banService?.stop(); // its timers would keep a process whose hub failed to start alive
    await changeFeed?.close();
    await app.close().catch(() => undefined);
    await store.close().catch(() => undefined);
    throw error;
  }
}

/**
 * SQLite in the data dir, or PostgreSQL when a database URL is set. The PostgreSQL store reports an outage
 * (when it starts, at most once a minute while it lasts) as an error and its end as a warning, so both
 * show at the default level; its lines never hold the URL.
 */
async function openStore(config: HubConfig, log: FastifyBaseLogger): Promise<HubStore> {
  if (!config.databaseUrl) return SqliteStore.open(config.databaseFile);
  return PostgresStore.open(config.databaseUrl, {
    max: config.databasePoolSize,
    // The outage log's lines are plain text; the one that ends an outage says "is back".
    log: (line) => (/ is back /.test(line) ? log.warn(line) : log.error(line)),
  });
}

/** Levels at which Fastify's request lines (info) are written. */
const REQUEST_LEVELS: ReadonlySet<string> = new Set(['info', 'debug', 'trace']);

/**
 * pino options: JSON lines on stderr (stdout carries the start-up banner), `warn` unless told otherwise.
 * Request lines are Fastify's, at `info`, so the default level leaves them out.
 */

function loggerOptions(logger: HubOptions['logger']) {
  if (logger === false) return false;
  const chosen = typeof logger === 'object' ? logger : {};
  return {
    level: chosen.level ?? (logger === true ? 'info' : 'warn'),
    stream: chosen.stream ?? process.stderr,
    serializers: { req: requestSerializer, err: errorSerializer },
    redact: LOG_REDACT_PATHS,
  };
}

/** http://host:port; a wildcard listen address is shown as localhost, which a browser can open. */
function listenUrl(address: string, host: string): string {
  const port = new URL(address).port;
  const shown = host === '0.0.0.0' || host === '::' ? 'localhost' : host.includes(':') ? `[${host}]` : host;
  return `http://${shown}:${port}`;
}

async function firstRunSetup(config: HubConfig, store: HubStore, sites: SiteService, print: (line: string) => void): Promise<FirstRun> {
  const firstRun: FirstRun = {};
  if ((await store.countUsers()) === 0) {
    const email = config.adminEmail ?? 'admin@localhost';
    const password = config.adminPassword ?? generatePassword();
    try {
      await store.createUser(email, await hashPassword(password), !config.adminPassword);
      if (!config.adminPassword) {
        firstRun.oneTimePassword = password;
        print(`Moat hub: created admin ${email} with one-time password ${password} (you will be asked to change it)`);
      }
      firstRun.adminEmail = email;
    } catch (error) {
      // Hub instances sharing one PostgreSQL database may start together: the other one created the admin.
      if ((await store.countUsers()) === 0) throw error;
    }
  }
  if (config.createDemoSite && (await store.listSites()).length === 0) {
    const site = await sites.createSite('Demo site', HUB_ACTOR);
    const { key } = await sites.createKey(site.id, 'demo', HUB_ACTOR);
    firstRun.demoSiteId = site.id;
    firstRun.demoApiKey = key;
    print(`Moat hub: created "Demo site" with API key ${key} (shown once; the hub stores only its hash)`);
  }
  return firstRun;
}

/** Countries from the Moat data file the hub serves, when there is one that loads. */
async function countryLookupFromServedFile(dir: string): Promise<((ip: string) => string | null) | undefined> {
  const found = await findDataFile(dir, 'moat');
  if (found === undefined) return undefined;
  try {
    return countryLookupFromDataFile(found.path);
  } catch {
    return undefined; // a file the clients will refuse too; the downsync side reports it
  }
}
