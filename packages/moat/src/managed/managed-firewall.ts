// Managed mode: a Firewall (so every adapter takes it as is) whose rules come from a hub and whose
// decisions go back to it. Start-up uses the last good files on disk at once; sync runs on unref'd
// timers beside the app and never on a request's path.
import type { DataSet } from '../data/data-set.js';
import type { RuleSet } from '../engine/rule-set.js';
import { Firewall } from '../firewall/firewall.js';
import { consoleLogger, silentLogger, type MoatLogger } from '../firewall/logger.js';
import type { FirewallEngine, MoatOptions } from '../firewall/options.js';
import { checkOptionNames, FIREWALL_OPTIONS, firewallOptionsOf } from '../firewall/option-names.js';
import { RateBoundedLog } from '../firewall/rate-bounded-log.js';
import type { FirewallStats } from '../firewall/stats.js';
import { loadDataFile, loadRulesFile } from '../format/load-files.js';
import { loadDataOffThread, loadRulesOffThread, RULES_OFF_THREAD_MIN_BYTES } from '../loading/load-off-thread.js';
import { CategorySync, type CategorySyncStatus } from '../sync/category-sync.js';
import { clientInfo } from '../sync/client-info.js';
import { DownsyncThread, type DownsyncThreadCounts } from '../sync/downsync-thread.js';
import { HubFailover, type HubFailoverStatus } from '../sync/hub-failover.js';
import { MANAGED_SYNC_OPTIONS, resolveSyncOptions, type ManagedSyncOptions, type ResolvedSync } from '../sync/managed-options.js';
import { parsePublicKey } from '../sync/signature.js';
import type { SyncCategory } from '../sync/sync-dir-files.js';
import { SyncError } from '../sync/sync-error.js';
import { prepareSyncDir } from '../sync/sync-dir-trust.js';
import { Upsync, type UpsyncStatus } from '../sync/upsync.js';
import { EngineSlot } from './engine-slot.js';
import { ResponseStatusReporter } from './response-status.js';
import { MoatError, errorCodeOf } from '../errors/moat-error.js';
import type { MoatErrorCode } from '../errors/codes.js';

export interface ManagedFirewallOptions extends Omit<MoatOptions, 'engine' | 'rules' | 'data'>, ManagedSyncOptions {
  /** Rules file shipped with the app, used until a file from the hub is on disk. */
  rules?: string;
  /** Data file shipped with the app, used until one from the hub is on disk. */
  data?: string;
  /** Called for every sync problem (download, verification, upsync); logged at a bounded rate too. */
  onSyncError?: (event: SyncErrorEvent) => void;
}

export interface SyncErrorEvent {
  source: SyncCategory | 'upsync';
  /** The stable code to match on (docs/errors.md); `error.reason` of a SyncError is finer. */
  code: MoatErrorCode;
  error: Error;
}

export interface ManagedStatus {
  dir: string;
  /** The hub refused the API key: sync stopped until restart with another key. */
  keyRefused: boolean;
  customRules: CategorySyncStatus;
  dataSubscriptions: CategorySyncStatus;
  upsync: UpsyncStatus;
  /** Which hub downsync and upsync use now, and each hub's failures (null: not configured). */
  hubs: { downsync: HubFailoverStatus | null; upsync: HubFailoverStatus | null };
  firewall: FirewallStats;
  /** Milliseconds since the hub last confirmed each file in use is current (downloaded or 304); null: never (a shipped fallback file, or no hub). */
  syncAgeMs: { customRules: number | null; dataSubscriptions: number | null };
  /**
   * With a pinned public key: milliseconds since the newest signed freshness statement naming each file in
   * use was issued (the hub's clock); null: none (a hub from before statements, no key). Unlike `syncAgeMs`
   * this cannot be kept young by someone on the path answering 304.
   */
  freshnessAgeMs: { customRules: number | null; dataSubscriptions: number | null };
  errors: { customRules: number; dataSubscriptions: number; upsync: number; engine: number; hooks: number };
  /** Where downsync's requests and downloads run: exchanges in the worker and on the serving thread (null: not polling). */
  downsyncWorker: DownsyncThreadCounts | null;
}

const { engine: _engine, ...FIREWALL_OPTIONS_BUT_ENGINE } = FIREWALL_OPTIONS;
/** Every name ManagedFirewallOptions has (the compiler keeps the two in step). */
const MANAGED_OPTION_NAMES = Object.keys({ ...FIREWALL_OPTIONS_BUT_ENGINE, ...MANAGED_SYNC_OPTIONS, onSyncError: true } satisfies
  Record<keyof ManagedFirewallOptions, true>);

/** No engine yet: the real one is installed before the constructor returns. */
const NOT_YET: FirewallEngine = { evaluate: () => { throw new MoatError('MOAT_ERR_INTERNAL', 'no engine'); } };

export class ManagedFirewall extends Firewall {
  readonly settings: ResolvedSync;
  private readonly slot: EngineSlot;
  private readonly rulesSync: CategorySync<RuleSet>;
  private readonly dataSync: CategorySync<DataSet>;
  private readonly upsync: Upsync;
  private statusReporter: ResponseStatusReporter | null = null;
  private readonly downsyncHubs: HubFailover | null;
  /** Both categories' requests and downloads, off the serving thread (null: not polling). */
  private readonly downsyncThread: DownsyncThread | null;
  private readonly syncLogger: MoatLogger;
  private readonly syncLog: RateBoundedLog;
  private readonly onSyncError: ((event: SyncErrorEvent) => void) | undefined;
  private upsyncErrors = 0;
  private readonly clock: () => number;
  private keyRefused = false;
  private closing: Promise<void> | null = null;

  /**
   * Throws only on invalid options (a bad number, a bad public key) and on a sync directory another user
   * could write to (MOAT_ERR_SYNC_DIR); hub and file problems are sync errors.
   */
  constructor(options: ManagedFirewallOptions = {}) {
    checkOptionNames(options, MANAGED_OPTION_NAMES, 'createManagedFirewall');
    const env = options.env ?? process.env;
    const settings = resolveSyncOptions(options, env);
    const publicKey = settings.publicKey === null ? null : parsePublicKey(settings.publicKey);
    // Before anything is read from it (sync-dir-trust.ts); a directory that cannot be made is a sync error below.
    const dirProblem = prepareSyncDir(settings.dir);
    super({ ...firewallOptionsOf(options), rules: undefined, data: undefined, engine: NOT_YET });
    this.settings = settings;
    this.onSyncError = options.onSyncError;
    this.syncLogger = options.logger === false ? silentLogger : options.logger ?? consoleLogger;
    const now = options.now ?? Date.now;
    this.clock = now;
    this.syncLog = new RateBoundedLog(options.logIntervalMs ?? 60_000, now);
    this.slot = new EngineSlot(this, options.now, settings.engineGraceMs);

    if (dirProblem !== null) {
      this.syncError('custom_rules', new SyncError('dir', `cannot create ${settings.dir}: ${dirProblem.message}`, { cause: dirProblem }));
    }
    const client = clientInfo(settings.framework, settings.hostname);
    const polling = settings.apiKey !== null && settings.downsyncUrls.length > 0;
    // One list for both files: a hub that is away for the rules is away for the data too.
    this.downsyncHubs = polling ? new HubFailover(settings.downsyncUrls, now, (from, to, error) => this.hubSwitched('downsync', from, to, error)) : null;
    this.downsyncThread = polling ? new DownsyncThread((error) => this.noDownsyncWorker(error)) : null;
    const common = {
      dir: settings.dir, hubs: this.downsyncHubs, apiKey: polling ? settings.apiKey : null, client,
      jitter: settings.jitter, backoffBaseMs: settings.backoffBaseMs, requestTimeoutMs: settings.requestTimeoutMs,
      downloadTimeoutMs: settings.downloadTimeoutMs, maxDownloadBytes: settings.maxDownloadBytes, maxRedirects: 2, fetch: this.downsyncThread?.fetch,
      watchIntervalMs: settings.watchIntervalMs, lockStaleMs: settings.lockStaleMs, publicKey, now,
      freshness: settings.freshness, loadTimeoutMs: settings.loadTimeoutMs,
      onStale: (category: SyncCategory, ageMs: number) => this.stale(category, ageMs),
      onError: (category: SyncCategory, error: Error) => this.syncError(category, error),
      onUnauthorized: (category: SyncCategory, error: Error) => this.refuseKey(category, error),
    };
    this.rulesSync = new CategorySync<RuleSet>({
      ...common, category: 'custom_rules', intervalMs: settings.customRulesIntervalMs, longPollSeconds: settings.longPollSeconds,
      maxDownloadBytes: settings.maxRulesDownloadBytes,
      backoffMaxMs: Math.min(settings.backoffMaxMs, settings.customRulesIntervalMs), fallbackPath: options.rules,
      load: (path) => {
        const rules = loadRulesFile(path);
        return { value: rules, contentHash: rules.info.hash, formatVersion: rules.info.formatVersion };
      },
      // Updates while serving: checked and compiled in a worker, swapped in ready (loading/).
      offThreadMinBytes: RULES_OFF_THREAD_MIN_BYTES,
      loadOffThread: async (path, verify, signal) => {
        const rules = await loadRulesOffThread({ path, verify, signal, timeoutMs: settings.loadTimeoutMs });
        return { value: rules, contentHash: rules.info.hash, formatVersion: rules.info.formatVersion };
      },
      install: (rules) => this.slot.setRules(rules),
    });
    this.dataSync = new CategorySync<DataSet>({
      ...common, category: 'data_subscriptions', intervalMs: settings.dataIntervalMs,
      backoffMaxMs: Math.min(settings.backoffMaxMs, settings.dataIntervalMs), fallbackPath: options.data,
      load: (path) => {
        const data = loadDataFile(path, settings.dataMode);
        return { value: data, contentHash: data.info.hash, formatVersion: data.info.formatVersion };
      },
      // Updates while serving: checked and loaded in a worker, swapped in ready (loading/).
      loadOffThread: async (path, verify, signal) => {
        const data = await loadDataOffThread({ path, mode: settings.dataMode, verify, signal, timeoutMs: settings.loadTimeoutMs });
        return { value: data, contentHash: data.info.hash, formatVersion: data.info.formatVersion };
      },
      install: (data) => this.slot.setData(data),
    });
    // Each file on its own: custom rules run even when the data file is missing or broken.
    this.slot.init(this.rulesSync.loadInitial(), this.dataSync.loadInitial());

    // The upsync hubs' failover runs in the report worker, beside the sender; status() shows its last word.
    this.upsync = new Upsync({
      hubUrls: settings.upsync.enabled ? settings.upsyncUrls : [], apiKey: settings.apiKey, client, format: settings.upsync.format,
      batchSize: settings.upsync.batchSize, flushIntervalMs: settings.upsync.flushIntervalMs, flushBlockedMs: settings.upsync.flushBlockedMs,
      maxQueue: settings.upsync.maxQueue,
      maxQueueBytes: settings.upsync.maxQueueBytes, ringBytes: settings.upsync.ringBytes, maxBatchBytes: settings.upsync.maxBatchBytes,
      passedSampleRate: settings.upsync.passedSampleRate, redactParams: settings.upsync.redactParams,
      reportPassed: settings.upsync.reportPassed, passedSamplesPerSecond: settings.upsync.passedSamplesPerSecond,
      requestTimeoutMs: settings.upsync.timeoutMs, backoffBaseMs: settings.backoffBaseMs,
      backoffMaxMs: Math.min(settings.backoffMaxMs, 60_000), now,
      onError: (error) => { this.upsyncErrors++; this.syncError('upsync', error); },
      onUnauthorized: (error) => { this.upsyncErrors++; this.refuseKey('upsync', error); },
      onHubSwitch: (from, to, error) => this.hubSwitched('upsync', from, to, error),
    });
    if (this.upsync.enabled) {
      this.statusReporter = new ResponseStatusReporter(this.upsync);
      this.addDecisionListener(this.statusReporter.record);
    }

    if (!polling && this.rulesSync.value === null) {
      this.syncError('custom_rules', new SyncError('configuration', 'managed mode without an API key and hub URL (WAFRIS_API_KEY, ' +
        'WAFRIS_DOWNSYNC_URL or MOAT_HUB_URL) and without a rules file on disk: requests are not judged'));
    }
    this.rulesSync.start();
    this.dataSync.start();
  }

  /**
   * Resolves after the first sync attempt of the custom rules (downloaded, already current, or failed),
   * or after `readyTimeoutMs`. Never rejects: the status says what happened.
   */
  async ready(): Promise<ManagedStatus> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => { timer = setTimeout(resolve, this.settings.readyTimeoutMs); });
    try {
      await Promise.race([this.rulesSync.firstAttempt, timeout]);
    } finally {
      clearTimeout(timer);
    }
    return this.status();
  }

  status(): ManagedStatus {
    const customRules = this.rulesSync.status();
    const dataSubscriptions = this.dataSync.status();
    const firewall = this.stats();
    return {
      dir: this.settings.dir, keyRefused: this.keyRefused, customRules, dataSubscriptions, upsync: this.upsync.status(),
      hubs: { downsync: this.downsyncHubs?.status() ?? null, upsync: this.upsync.enabled ? this.upsync.hubStatus() : null }, firewall,
      syncAgeMs: { customRules: syncAge(customRules, this.clock()), dataSubscriptions: syncAge(dataSubscriptions, this.clock()) },
      freshnessAgeMs: { customRules: customRules.freshness.ageMs, dataSubscriptions: dataSubscriptions.freshness.ageMs },
      errors: {
        customRules: customRules.errors, dataSubscriptions: dataSubscriptions.errors, upsync: this.upsyncErrors,
        engine: firewall.engineErrors, hooks: firewall.hookErrors,
      },
      downsyncWorker: this.downsyncThread?.status() ?? null,
    };
  }

  /** Sends the queued reports that are due now (tests, and apps that want to flush at a moment of their choosing). */
  flushReports(): Promise<void> {
    return this.upsync.flush(true);
  }

  /** Graceful shutdown: stops polling, sends the queued reports, then closes the files. */
  override close(): Promise<void> {
    this.closing ??= (async () => {
      await Promise.all([this.rulesSync.close(), this.dataSync.close()]);
      await this.downsyncThread?.close();
      this.statusReporter?.close();
      await this.upsync.close();
      this.slot.close();
      super.close();
    })();
    return this.closing;
  }

  private refuseKey(source: SyncCategory | 'upsync', error: Error): void {
    this.syncError(source, error);
    if (this.keyRefused) return;
    this.keyRefused = true;
    // One key serves both files and the reports: a refused key stops all three.
    this.rulesSync.stop();
    this.dataSync.stop();
    this.upsync.stop();
  }

  /** The hub's newest freshness statement about a file grew old: a warning, at most once per log interval per file. */
  private stale(category: SyncCategory, ageMs: number): void {
    this.syncLog.report(`${category}:stale`, (suppressed) => {
      this.syncLogger.warn({ source: category, ageMs, suppressed },
        `moat sync (${category}): the hub's newest signed statement that the file in use is current is ${Math.round(ageMs / 1000)} s old; ` +
        'the hub is away, or something on the path keeps answering for it');
    });
  }

  /** No worker could start: downsync goes on on the serving thread (a warning, at most once per log interval). */
  private noDownsyncWorker(error: Error): void {
    this.syncLog.report('downsync:worker', (suppressed) => {
      this.syncLogger.warn({ code: errorCodeOf(error, 'MOAT_ERR_WORKER'), suppressed, err: error.message }, `moat sync: ${error.message}`);
    });
  }

  /** A move to another hub: a warning, at most once per log interval per direction. */
  private hubSwitched(direction: 'downsync' | 'upsync', from: string, to: string, error: Error): void {
    this.syncLog.report(`${direction}:failover`, (suppressed) => {
      this.syncLogger.warn({ direction, from, to, suppressed, err: error.message }, `moat sync (${direction}): ${from} is unavailable (${error.message}); using ${to}`);
    });
  }

  private syncError(source: SyncCategory | 'upsync', error: Error): void {
    try {
      this.onSyncError?.({ source, code: errorCodeOf(error, 'MOAT_ERR_SYNC_FAILED'), error });
    } catch {
      // A throwing handler must not stop sync.
    }
    const reason = error instanceof SyncError ? error.reason : 'error';
    this.syncLog.report(`${source}:${reason}`, (suppressed) => {
      this.syncLogger.error({ source, code: errorCodeOf(error, 'MOAT_ERR_SYNC_FAILED'), reason, suppressed, err: error.message }, `moat sync (${source}): ${error.message}`);
    });
  }
}

function syncAge(status: CategorySyncStatus, now: number): number | null {
  return status.lastCheckedAt === null ? null : Math.max(0, now - status.lastCheckedAt);
}

/** Creates a managed firewall; pass it to any adapter in place of options. */
export function createManagedFirewall(options: ManagedFirewallOptions = {}): ManagedFirewall {
  return new ManagedFirewall(options);
}
