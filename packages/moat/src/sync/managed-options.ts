// Managed-mode settings: explicit options first, then the Wafris environment names (intervals in
// seconds there, as in Wafris), then defaults. Everything here is pure: env in, settings out.
import type { DataMode } from '../data/data-set.js';
import { DEFAULT_REDACTED_PARAMS } from './redact-params.js';
import { MIN_BATCH_BYTES } from './report-record.js';
import { OptionError } from '../errors/moat-error.js';

export interface UpsyncOptions {
  /** Off with false. Default: on when an API key and an upsync URL are known. */
  enabled?: boolean;
  /** `WAFRIS_UPSYNC_URL`: the `…/v2/upsync` base; several for failover (see `hubUrl`). */
  url?: string | readonly string[];
  /** Records per batch; `WAFRIS_UPSYNC_QUEUE_LIMIT`; default 250. */
  batchSize?: number;
  /** Longest wait of a record before its batch is sent; `WAFRIS_UPSYNC_INTERVAL` (s); default 10 s. */
  flushIntervalMs?: number;
  /**
   * Longest wait of every other decision than a plain Passed one (blocked, rate-limited, allowed by a rule,
   * monitored) before its batch is sent; `MOAT_UPSYNC_FLUSH_BLOCKED_MS`; default 1 s (at most
   * `flushIntervalMs`), so the hub's auto-ban and dashboard see an attack within seconds while a quiet app
   * still sends one batch per interval.
   */
  flushBlockedMs?: number;
  /** Records held at most while the hub is unreachable; `MOAT_UPSYNC_MAX_QUEUE`; default 10 000. */
  maxQueue?: number;
  /** Memory held at most by queued and in-flight records (counted from above, two bytes per character); `MOAT_UPSYNC_MAX_QUEUE_BYTES`; default 16 MiB. */
  maxQueueBytes?: number;
  /** JSON bytes per POST at most (keep it under the hub's limit); `MOAT_UPSYNC_MAX_BATCH_BYTES`; default 1 MiB, at least 64 KiB. */
  maxBatchBytes?: number;
  /** Share of plain Passed records reported, 0..1; `MOAT_UPSYNC_PASSED_SAMPLE_RATE`; default 1. */
  passedSampleRate?: number;
  /**
   * How plain Passed decisions (no monitor match) reach the hub; `MOAT_UPSYNC_REPORT_PASSED`.
   * 'aggregate' (default): counted per key (IP, user agent, path, host, method) and minute in the report
   * worker; the first of each key per window and `passedSamplesPerSecond` more a second go in full, the
   * rest as counts, so the hub's totals are exact and its request log holds a sample. 'all': each in full.
   */
  reportPassed?: 'aggregate' | 'all';
  /** With 'aggregate': further Passed records sent in full per second; `MOAT_UPSYNC_PASSED_SAMPLES_PER_SECOND`; default 10. */
  passedSamplesPerSecond?: number;
  /** Parameter names (substrings, case-insensitive) whose values are redacted; default password, token, secret, key, authorization, … */
  redactParams?: readonly string[];
  /** Per-request timeout; default 5 s. */
  timeoutMs?: number;
  /**
   * Wire format: 'compact' (Moat's columnar encoding, default; a hub that answers 415 gets Wafris JSON
   * from then on) or 'wafris' (the Wafris v2 JSON body); `MOAT_UPSYNC_FORMAT`.
   */
  format?: 'compact' | 'wafris';
  /** Shared memory between the serving thread and the report worker, in bytes (a power of two, at least 64 KiB); `MOAT_UPSYNC_RING_BYTES`; default 4 MiB. */
  ringBytes?: number;
}

export interface ManagedSyncOptions {
  /** `WAFRIS_API_KEY`. Without it nothing is polled: the files on disk (or the fallback files) are used. */
  apiKey?: string;
  /**
   * Hub base URL (`MOAT_HUB_URL`), e.g. `http://127.0.0.1:8080`: sets both `…/v2/downsync` and `…/v2/upsync`.
   * Several hubs (a list, or comma-separated): requests stay on one hub while it answers and move to the
   * next when it is unreachable or answers 5xx/408/429, downsync and upsync each on their own.
   */
  hubUrl?: string | readonly string[];
  /** `WAFRIS_DOWNSYNC_URL`: the `…/v2/downsync` base; several for failover (see `hubUrl`). */
  downsyncUrl?: string | readonly string[];
  /** Directory of the downloaded files, pointers and locks; `WAFRIS_DB_FILE_PATH`; default `./tmp/wafris`. */
  dir?: string;
  /** `WAFRIS_DOWNSYNC_CUSTOM_RULES_INTERVAL` (s); default 60 s. */
  customRulesIntervalMs?: number;
  /** `WAFRIS_DOWNSYNC_DATA_SUBSCRIPTIONS_INTERVAL` (s); default 1 day. */
  dataIntervalMs?: number;
  /**
   * Push-speed rules: seconds a Moat hub may hold a rules downsync until the rules change (long-poll);
   * `MOAT_LONG_POLL_SECONDS`; default 25; 0 polls at `customRulesIntervalMs` only. Hubs that do not
   * hold are polled at that interval anyway.
   */
  longPollSeconds?: number;
  /** Poll interval spread, a fraction (default 0.1: ±10 %). */
  jitter?: number;
  /** First retry delay after a failure (default 1 s), doubling up to `backoffMaxMs` (default 5 min, at most the interval). */
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /** Longest wait for the hub's headers or any pause in a download (default 30 s). */
  requestTimeoutMs?: number;
  /** Longest time for a whole download (default 10 min). */
  downloadTimeoutMs?: number;
  /** Largest data file accepted, and the ceiling of `maxRulesDownloadBytes` (default 2 GiB). */
  maxDownloadBytes?: number;
  /**
   * Largest rules file accepted (default 64 MiB, at most `maxDownloadBytes`). A hub's rules file is small:
   * at its caps (10,000 rules of 1 KiB values and 500-character notes, 10,000 automatic bans) about 27 MiB.
   */
  maxRulesDownloadBytes?: number;
  /** Ed25519 public key of the hub (base64 raw 32 bytes, or SPKI PEM); `MOAT_HUB_PUBLIC_KEY`. Downloads must then be signed. */
  publicKey?: string;
  /**
   * With `publicKey`: whether the hub's answers must carry a signed freshness statement (sync/freshness.ts);
   * `MOAT_HUB_FRESHNESS`. 'auto' (default): once this sync directory has had one; 'required': always (closes
   * the first contact too; hubs from before statements are then refused); 'optional': never (for moving
   * back to such a hub; a statement sent is still checked).
   */
  freshness?: 'auto' | 'required' | 'optional';
  /**
   * Longest time a worker may take to check and load a downloaded file (default 10 min); past it the worker
   * is stopped, the file in use stays, and the file is tried again after a backoff.
   */
  loadTimeoutMs?: number;
  /** How often the directory's pointer is re-read for files other processes downloaded (default 1 s). */
  watchIntervalMs?: number;
  /** A download lock not refreshed for this long is broken even if its holder seems alive (default 2 min). */
  lockStaleMs?: number;
  /** Longest wait of `ready()` (default 10 s). */
  readyTimeoutMs?: number;
  /** How long a replaced data file stays open for requests still using it (default 60 s). */
  engineGraceMs?: number;
  /** Reported to the hub as `framework` (default `node`). */
  framework?: string;
  /** Reported to the hub as `hostname` (default os.hostname()). */
  hostname?: string;
  /** Data file kept in memory (default, fastest) or read in place (`light`). */
  dataMode?: DataMode;
  upsync?: UpsyncOptions | false;
}

/** Every name ManagedSyncOptions has (the compiler keeps the two in step), for the check of option names. */
export const MANAGED_SYNC_OPTIONS = {
  apiKey: true, hubUrl: true, downsyncUrl: true, dir: true, customRulesIntervalMs: true, dataIntervalMs: true,
  longPollSeconds: true, jitter: true, backoffBaseMs: true, backoffMaxMs: true, requestTimeoutMs: true,
  downloadTimeoutMs: true, maxDownloadBytes: true, maxRulesDownloadBytes: true, publicKey: true, freshness: true,
  loadTimeoutMs: true, watchIntervalMs: true, lockStaleMs: true,
  readyTimeoutMs: true, engineGraceMs: true, framework: true, hostname: true, dataMode: true, upsync: true,
} satisfies Record<keyof ManagedSyncOptions, true>;

/** Poll spread, retry backoff and download limits: resolved once from the options, used by every category sync. */
export interface DownloadLimits {
  /** Poll interval spread, a fraction. */
  jitter: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  requestTimeoutMs: number;
  downloadTimeoutMs: number;
  /** Largest file accepted: the data file's bound (in a category's config: that category's). */
  maxDownloadBytes: number;
  /** Largest rules file accepted. */
  maxRulesDownloadBytes: number;
}

export interface ResolvedSync extends DownloadLimits {
  apiKey: string | null;
  /** The first of `downsyncUrls`, or null. */
  downsyncUrl: string | null;
  /** The first of `upsyncUrls`, or null. */
  upsyncUrl: string | null;
  /** Downsync endpoints in failover order (empty: no polling). */
  downsyncUrls: readonly string[];
  /** Upsync endpoints in failover order (empty: no reporting). */
  upsyncUrls: readonly string[];
  dir: string;
  customRulesIntervalMs: number;
  dataIntervalMs: number;
  longPollSeconds: number;
  publicKey: string | null;
  freshness: 'auto' | 'required' | 'optional';
  loadTimeoutMs: number;
  watchIntervalMs: number;
  lockStaleMs: number;
  readyTimeoutMs: number;
  engineGraceMs: number;
  framework: string | undefined;
  hostname: string | undefined;
  dataMode: DataMode;
  upsync: {
    enabled: boolean;
    batchSize: number;
    flushIntervalMs: number;
    flushBlockedMs: number;
    maxQueue: number;
    maxQueueBytes: number;
    maxBatchBytes: number;
    passedSampleRate: number;
    reportPassed: 'aggregate' | 'all';
    passedSamplesPerSecond: number;
    redactParams: readonly string[];
    timeoutMs: number;
    format: 'compact' | 'wafris';
    ringBytes: number;
  };
}

type Env = Record<string, string | undefined>;

export function resolveSyncOptions(options: ManagedSyncOptions, env: Env): ResolvedSync {
  const hubs = urlList('hubUrl', options.hubUrl, true) ?? urlList('MOAT_HUB_URL', env.MOAT_HUB_URL, true) ?? [];
  const up = options.upsync === false ? { enabled: false } : options.upsync ?? {};
  // The Wafris names hold one URL each, as the gem reads them; lists come through options or MOAT_HUB_URL.
  const downsyncUrls = urlList('downsyncUrl', options.downsyncUrl, false) ?? urlList('WAFRIS_DOWNSYNC_URL', env.WAFRIS_DOWNSYNC_URL, false) ??
    hubs.map((base) => `${base}/v2/downsync`);
  const upsyncUrls = urlList('upsync.url', up.url, false) ?? urlList('WAFRIS_UPSYNC_URL', env.WAFRIS_UPSYNC_URL, false) ??
    hubs.map((base) => `${base}/v2/upsync`);
  const apiKey = options.apiKey ?? nonEmpty(env.WAFRIS_API_KEY) ?? null;
  const customRulesIntervalMs = options.customRulesIntervalMs ?? seconds(env, 'WAFRIS_DOWNSYNC_CUSTOM_RULES_INTERVAL') ?? 60_000;
  const dataIntervalMs = options.dataIntervalMs ?? seconds(env, 'WAFRIS_DOWNSYNC_DATA_SUBSCRIPTIONS_INTERVAL') ?? 86_400_000;
  const backoffBaseMs = positive('backoffBaseMs', options.backoffBaseMs ?? 1000);
  const requestTimeoutMs = positive('requestTimeoutMs', options.requestTimeoutMs ?? 30_000);
  const maxDownloadBytes = positive('maxDownloadBytes', options.maxDownloadBytes ?? 2 * 1024 ** 3);
  const rate = up.passedSampleRate ?? number(env, 'MOAT_UPSYNC_PASSED_SAMPLE_RATE') ?? 1;
  const flushInterval = positive('upsync.flushIntervalMs', up.flushIntervalMs ?? seconds(env, 'WAFRIS_UPSYNC_INTERVAL') ?? 10_000);
  if (!(rate >= 0 && rate <= 1)) throw new OptionError(`passedSampleRate must be between 0 and 1, got ${rate}`);
  return {
    apiKey,
    downsyncUrl: downsyncUrls[0] ?? null,
    upsyncUrl: upsyncUrls[0] ?? null,
    downsyncUrls,
    upsyncUrls,
    dir: options.dir ?? nonEmpty(env.WAFRIS_DB_FILE_PATH) ?? './tmp/wafris',
    customRulesIntervalMs: positive('customRulesIntervalMs', customRulesIntervalMs),
    dataIntervalMs: positive('dataIntervalMs', dataIntervalMs),
    longPollSeconds: longPollSeconds(options.longPollSeconds ?? integer(env, 'MOAT_LONG_POLL_SECONDS') ?? 25),
    jitter: Math.min(Math.max(options.jitter ?? 0.1, 0), 0.5),
    backoffBaseMs,
    backoffMaxMs: positive('backoffMaxMs', options.backoffMaxMs ?? 300_000),
    requestTimeoutMs,
    downloadTimeoutMs: positive('downloadTimeoutMs', options.downloadTimeoutMs ?? 600_000),
    maxDownloadBytes,
    maxRulesDownloadBytes: Math.min(maxDownloadBytes, positive('maxRulesDownloadBytes', options.maxRulesDownloadBytes ?? 64 * 1024 ** 2)),
    publicKey: options.publicKey ?? nonEmpty(env.MOAT_HUB_PUBLIC_KEY) ?? null,
    freshness: freshnessMode(options.freshness ?? nonEmpty(env.MOAT_HUB_FRESHNESS) ?? 'auto'),
    loadTimeoutMs: positive('loadTimeoutMs', options.loadTimeoutMs ?? 600_000),
    watchIntervalMs: positive('watchIntervalMs', options.watchIntervalMs ?? 1000),
    lockStaleMs: positive('lockStaleMs', options.lockStaleMs ?? 120_000),
    readyTimeoutMs: positive('readyTimeoutMs', options.readyTimeoutMs ?? 10_000),
    engineGraceMs: Math.max(0, options.engineGraceMs ?? 60_000),
    framework: options.framework,
    hostname: options.hostname,
    dataMode: options.dataMode ?? 'memory',
    upsync: {
      enabled: up.enabled !== false,
      batchSize: positive('upsync.batchSize', up.batchSize ?? integer(env, 'WAFRIS_UPSYNC_QUEUE_LIMIT') ?? 250),
      flushIntervalMs: flushInterval,
      flushBlockedMs: Math.min(flushInterval,
        positive('upsync.flushBlockedMs', up.flushBlockedMs ?? integer(env, 'MOAT_UPSYNC_FLUSH_BLOCKED_MS') ?? 1000)),
      maxQueue: positive('upsync.maxQueue', up.maxQueue ?? integer(env, 'MOAT_UPSYNC_MAX_QUEUE') ?? 10_000),
      maxQueueBytes: positive('upsync.maxQueueBytes', up.maxQueueBytes ?? integer(env, 'MOAT_UPSYNC_MAX_QUEUE_BYTES') ?? 16 * 1024 * 1024),
      maxBatchBytes: atLeast('upsync.maxBatchBytes', up.maxBatchBytes ?? integer(env, 'MOAT_UPSYNC_MAX_BATCH_BYTES') ?? 1024 * 1024, MIN_BATCH_BYTES),
      passedSampleRate: rate,
      reportPassed: reportPassed(up.reportPassed ?? nonEmpty(env.MOAT_UPSYNC_REPORT_PASSED) ?? 'aggregate'),
      passedSamplesPerSecond: atLeast('upsync.passedSamplesPerSecond',
        up.passedSamplesPerSecond ?? integer(env, 'MOAT_UPSYNC_PASSED_SAMPLES_PER_SECOND') ?? 10, 0),
      redactParams: up.redactParams ?? DEFAULT_REDACTED_PARAMS,
      timeoutMs: positive('upsync.timeoutMs', up.timeoutMs ?? 5000),
      format: upsyncFormat(up.format ?? nonEmpty(env.MOAT_UPSYNC_FORMAT) ?? 'compact'),
      ringBytes: atLeast('upsync.ringBytes', up.ringBytes ?? integer(env, 'MOAT_UPSYNC_RING_BYTES') ?? 4 * 1024 * 1024, 64 * 1024),
    },
  };
}

/**
 * One URL or several, without trailing slashes and duplicates; undefined when none is given. A string is
 * split on commas when `commaList` (MOAT_HUB_URL). Anything but an absolute http(s) URL is refused here,
 * at start, rather than as a sync error on every poll.
 */
function urlList(name: string, value: string | readonly string[] | undefined, commaList: boolean): string[] | undefined {
  if (value === undefined) return undefined;
  const items = typeof value === 'string' ? (commaList ? value.split(',') : [value]) : value;
  const urls: string[] = [];
  for (const item of items) {
    if (typeof item !== 'string') throw new OptionError(`${name} must be a URL or a list of URLs, got ${typeof item}`);
    const url = item.trim().replace(/\/+$/, '');
    if (url === '') continue;
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new OptionError(`${name}: ${JSON.stringify(url)} is not a URL`);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new OptionError(`${name}: ${JSON.stringify(url)} is not an http(s) URL`);
    if (parsed.username !== '' || parsed.password !== '') throw new OptionError(`${name}: credentials in the URL are not supported; the API key authenticates`);
    if (!urls.includes(url)) urls.push(url);
  }
  return urls.length === 0 ? undefined : urls;
}

function reportPassed(value: string): 'aggregate' | 'all' {
  if (value !== 'aggregate' && value !== 'all') throw new OptionError(`upsync.reportPassed must be 'aggregate' or 'all', got ${JSON.stringify(value)}`);
  return value;
}

function freshnessMode(value: string): 'auto' | 'required' | 'optional' {
  if (value !== 'auto' && value !== 'required' && value !== 'optional') {
    throw new OptionError(`freshness must be 'auto', 'required' or 'optional', got ${JSON.stringify(value)}`);
  }
  return value;
}

function longPollSeconds(value: number): number {
  if (!(Number.isInteger(value) && value >= 0 && value <= 300)) throw new OptionError(`longPollSeconds must be a whole number from 0 to 300, got ${value}`);
  return value;
}

function upsyncFormat(value: string): 'compact' | 'wafris' {
  if (value !== 'compact' && value !== 'wafris') throw new OptionError(`upsync.format must be 'compact' or 'wafris', got ${JSON.stringify(value)}`);
  return value;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

function number(env: Env, name: string): number | undefined {
  const value = nonEmpty(env[name]);
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n)) throw new OptionError(`${name} must be a number, got ${JSON.stringify(value)}`);
  return n;
}

function seconds(env: Env, name: string): number | undefined {
  const n = number(env, name);
  return n === undefined ? undefined : Math.round(n * 1000);
}

function integer(env: Env, name: string): number | undefined {
  const n = number(env, name);
  return n === undefined ? undefined : Math.floor(n);
}

function atLeast(name: string, value: number, min: number): number {
  if (!(Number.isFinite(value) && value >= min)) throw new OptionError(`${name} must be at least ${min}, got ${value}`);
  return value;
}

function positive(name: string, value: number): number {
  if (!(Number.isFinite(value) && value > 0)) throw new OptionError(`${name} must be a positive number, got ${value}`);
  return value;
}
