/**
 * The hub's command line: flags and their environment variables in, createHub() options out. Pure
 * apart from reading the files a flag names. One table drives parsing, validation and `--help`, so
 * they cannot drift apart; a flag wins over its environment variable.
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { parseArgs } from 'node:util';
import type { HubOptions } from '../config.js';

export type Env = Record<string, string | undefined>;

/** A bad flag or environment value: main prints the message and exits with status 2. */
export class UsageError extends Error {
  readonly code = 'MOAT_HUB_USAGE';
}

export type CommandLine =
  | { kind: 'help'; text: string }
  | { kind: 'start'; options: HubOptions };

type Kind = 'text' | 'flag' | 'int' | 'number';

export interface Setting {
  flag: string;
  env?: string;
  kind: Kind;
  /** Placeholder in the help, for options with a value; FILE: the value names a file. */
  value?: string;
  /** A valid value (for FILE: the file's content), so a test can drive every row of the table. */
  example?: string;
  help: string;
  /** Range of numbers, inclusive. */
  min?: number;
  max?: number;
  /** Puts the checked value into the options; throws UsageError (via `fail`) for a bad one. */
  apply(options: HubOptions, value: string | number | boolean, fail: (message: string) => never): void;
}

/** Fastify's (proxy-addr's) names for address groups, accepted in the trust list. */
const PROXY_GROUPS = new Set(['loopback', 'linklocal', 'uniquelocal']);
const LOG_LEVELS = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace']);

/** Every flag of the hub, read-only for tests and docs checks. */
export const SETTINGS: readonly Setting[] = [
  { flag: 'data-dir', env: 'MOAT_HUB_DATA_DIR', kind: 'text', value: 'DIR', example: '/var/lib/moat-hub', help: 'database, compiled rules, signing key (default ./moat-hub-data)',
    apply: (o, v) => { o.dataDir = v as string; } },
  { flag: 'host', env: 'MOAT_HUB_HOST', kind: 'text', value: 'HOST', example: '0.0.0.0', help: 'listen address (default 127.0.0.1; 0.0.0.0 or :: for all)',
    apply: (o, v) => { o.host = v as string; } },
  { flag: 'port', env: 'MOAT_HUB_PORT', kind: 'int', value: 'PORT', min: 0, max: 65535, example: '9000', help: 'listen port, 0 = any free port (default 8787)',
    apply: (o, v) => { o.port = v as number; } },
  { flag: 'public-url', env: 'MOAT_HUB_PUBLIC_URL', kind: 'text', value: 'URL', example: 'https://hub.example.test', help: 'URL clients reach the hub on, shown on the Setup page',
    apply: (o, v, fail) => { o.publicUrl = httpUrl(v as string, fail); } },
  { flag: 'database-url', env: 'MOAT_HUB_DATABASE_URL', kind: 'text', value: 'URL', example: 'postgres://moat@db.internal/moat', help: 'postgres://… to keep everything in PostgreSQL (prefer the variable: flags show in ps)',
    apply: (o, v, fail) => {
      if (!/^postgres(ql)?:\/\/\S+$/.test(v as string)) fail('must start with postgres:// or postgresql://');
      o.databaseUrl = v as string;
    } },
  { flag: 'database-pool-size', env: 'MOAT_HUB_DATABASE_POOL_SIZE', kind: 'int', value: 'N', min: 1, max: 1000, example: '4', help: 'most PostgreSQL connections of this instance (default 10)',
    apply: (o, v) => { o.databasePoolSize = v as number; } },
  { flag: 'signing-key-file', env: 'MOAT_HUB_SIGNING_KEY_FILE', kind: 'text', value: 'FILE', example: 'key', help: 'ed25519 key, shared by all instances (default <data-dir>/signing-key.pem)',
    apply: (o, v) => { o.signingKeyFile = v as string; } },
  { flag: 'no-signing', env: 'MOAT_HUB_NO_SIGNING', kind: 'flag', help: 'do not sign rule files (clients cannot pin a key)',
    apply: (o, v) => { if (v) o.signing = false; } },
  { flag: 'data-files-dir', env: 'MOAT_HUB_DATA_FILES_DIR', kind: 'text', value: 'DIR', example: '/srv/data-files', help: 'data_subscriptions files: DIR/moat/*.db and DIR/wafris/*.db, newest served',
    apply: (o, v) => { o.dataFilesDir = v as string; } },
  { flag: 'no-default-data', env: 'MOAT_HUB_NO_DEFAULT_DATA', kind: 'flag', help: 'do not build a data file from the bundled CC0 country ranges when the data-files folder has none',
    apply: (o, v) => { if (v) o.defaultDataFiles = false; } },
  { flag: 'trust-proxy', env: 'MOAT_HUB_TRUST_PROXY', kind: 'text', value: 'LIST', example: '10.0.0.0/8', help: 'proxies whose X-Forwarded-For is believed: IPs, CIDRs, loopback, linklocal, uniquelocal (comma-separated)',
    apply: (o, v, fail) => { o.trustProxy = proxyList(v as string, fail); } },
  { flag: 'secure-cookies', env: 'MOAT_HUB_SECURE_COOKIES', kind: 'flag', help: 'mark cookies Secure (the hub is served over HTTPS)',
    apply: (o, v) => { o.secureCookies = v as boolean; } },
  { flag: 'retention-raw-days', env: 'MOAT_HUB_RETENTION_RAW_DAYS', kind: 'number', value: 'DAYS', min: 0.001, max: 3650, example: '3', help: 'keep raw reports this long (default 7)',
    apply: (o, v) => { o.retention = { ...o.retention, rawDays: v as number }; } },
  { flag: 'retention-rollup-days', env: 'MOAT_HUB_RETENTION_ROLLUP_DAYS', kind: 'number', value: 'DAYS', min: 0.001, max: 3650, example: '30', help: 'keep dashboard rollups this long (default 90)',
    apply: (o, v) => { o.retention = { ...o.retention, rollupDays: v as number }; } },
  { flag: 'rollup-interval-ms', env: 'MOAT_HUB_ROLLUP_INTERVAL_MS', kind: 'int', value: 'MS', example: '500', min: 10, max: 3_600_000, help: 'how often new reports are folded into the dashboard (default 2000)',
    apply: (o, v) => { o.rollupIntervalMs = v as number; } },
  { flag: 'prune-interval-ms', env: 'MOAT_HUB_PRUNE_INTERVAL_MS', kind: 'int', value: 'MS', example: '60000', min: 1000, max: 86_400_000, help: 'how often retention runs (default 3600000, an hour)',
    apply: (o, v) => { o.pruneIntervalMs = v as number; } },
  { flag: 'session-ttl-seconds', env: 'MOAT_HUB_SESSION_TTL_SECONDS', kind: 'int', value: 'S', min: 60, max: 400 * 86_400, example: '3600', help: 'sign-in session lifetime (default 604800, 7 days)',
    apply: (o, v) => { o.sessionTtlSeconds = v as number; } },
  { flag: 'upsync-max-bytes', env: 'MOAT_HUB_UPSYNC_MAX_BYTES', kind: 'int', value: 'N', min: 1024, max: 1024 ** 3, example: '65536', help: 'largest report batch, before and after gzip (default 8388608)',
    apply: (o, v) => { o.upsyncMaxBytes = v as number; } },
  { flag: 'upsync-max-records', env: 'MOAT_HUB_UPSYNC_MAX_RECORDS', kind: 'int', value: 'N', min: 1, max: 1_000_000, example: '500', help: 'most records per report batch (default 10000)',
    apply: (o, v) => { o.upsyncMaxRecords = v as number; } },
  { flag: 'login-max-failures', env: 'MOAT_HUB_LOGIN_MAX_FAILURES', kind: 'int', value: 'N', min: 1, max: 10_000, example: '5', help: 'failed sign-ins per account and client per window (default 10)',
    apply: (o, v) => { o.loginRateLimit = { ...loginDefaults(o), maxFailures: v as number }; } },
  { flag: 'login-window-seconds', env: 'MOAT_HUB_LOGIN_WINDOW_SECONDS', kind: 'int', value: 'S', min: 1, max: 86_400, example: '60', help: 'window of the failed sign-in limit (default 900)',
    apply: (o, v) => { o.loginRateLimit = { ...loginDefaults(o), windowMs: (v as number) * 1000 }; } },
  { flag: 'login-slowdown-ms', env: 'MOAT_HUB_LOGIN_SLOWDOWN_MS', kind: 'int', value: 'MS', min: 0, max: 60_000, example: '0', help: 'wait per attempt on an account failing from many addresses (default 2000)',
    apply: (o, v) => { o.loginRateLimit = { ...loginDefaults(o), accountSlowdownMs: v as number }; } },
  { flag: 'admin-email', env: 'MOAT_HUB_ADMIN_EMAIL', kind: 'text', value: 'EMAIL', example: 'ops@example.test', help: 'first admin, created on the first start (default admin@localhost)',
    apply: (o, v, fail) => {
      if (!/^[^\s@]+@[^\s@]+$/.test(v as string)) fail('must be an email address');
      o.adminEmail = v as string;
    } },
  { flag: 'admin-password-file', env: 'MOAT_HUB_ADMIN_PASSWORD_FILE', kind: 'text', value: 'FILE', example: 'a long enough password', help: 'first admin\'s password, read from FILE (or MOAT_HUB_ADMIN_PASSWORD); else a one-time password is printed',
    apply: (o, v, fail) => { o.adminPassword = adminPassword(readText(v as string, fail), fail); } },
  { flag: 'demo', env: 'MOAT_HUB_DEMO', kind: 'flag', help: 'create a demo site and print its API key when the hub has no site',
    apply: (o, v) => { o.createDemoSite = v as boolean; } },
  { flag: 'log', env: 'MOAT_HUB_LOG', kind: 'text', value: 'LEVEL', example: 'info', help: 'JSON log on stderr: error, warn (default: errors, outages), info (+ a line per request), debug; off',
    apply: (o, v, fail) => { o.logger = logLevel(v as string, fail); } },
  { flag: 'log-requests', env: 'MOAT_HUB_LOG_REQUESTS', kind: 'flag', help: 'log one line per request (the same as --log info, unless --log is more verbose)',
    apply: (o, v) => { if (v) o.logger = withRequests(o.logger); } },
  { flag: 'metrics-token', env: 'MOAT_HUB_METRICS_TOKEN', kind: 'text', value: 'TOKEN', example: 'a-metrics-token-of-32-characters', help: 'serve GET /metrics to Authorization: Bearer TOKEN (16+ characters; prefer the variable)',
    apply: (o, v, fail) => {
      if ((v as string).length < 16) fail('must be at least 16 characters');
      o.metricsToken = v as string;
    } },
  { flag: 'feeds-allow-private', env: 'MOAT_HUB_FEEDS_ALLOW_PRIVATE', kind: 'flag', help: 'let data feeds be fetched from loopback, private and other non-public addresses (off: SSRF)',
    apply: (o, v) => { if (v) o.feeds = { ...o.feeds, allowPrivate: true }; } },
  { flag: 'feeds-max-bytes', env: 'MOAT_HUB_FEEDS_MAX_BYTES', kind: 'int', value: 'N', min: 1024, max: 2 * 1024 ** 3, example: '1048576', help: 'largest data feed or upload, on the wire and unzipped (default 67108864)',
    apply: (o, v) => { o.feeds = { ...o.feeds, maxBytes: v as number }; } },
  { flag: 'no-self-protection', env: 'MOAT_HUB_NO_SELF_PROTECTION', kind: 'flag', help: 'turn off Moat\'s own firewall in front of the hub',
    apply: (o, v) => { if (v) o.selfProtection = false; } },
  { flag: 'self-protection-rules', env: 'MOAT_HUB_SELF_PROTECTION_RULES', kind: 'text', value: 'FILE', example: '{"block":{"paths":["/x"]}}', help: 'extra rules (a JSON rules document) for that firewall',
    apply: (o, v, fail) => {
      let rules: unknown;
      try {
        rules = JSON.parse(readText(v as string, fail));
      } catch (error) {
        if (error instanceof UsageError) throw error;
        fail(`is not a JSON rules document: ${(error as Error).message}`);
      }
      if (rules === null || typeof rules !== 'object' || Array.isArray(rules)) fail('must hold a JSON object (a rules document)');
      if (o.selfProtection !== false) o.selfProtection = { ...o.selfProtection, rules: rules as object };
    } },
];

export function parseCommandLine(argv: readonly string[], env: Env): CommandLine {
  let values: Record<string, string | boolean | undefined>;
  try {
    const options = Object.fromEntries(SETTINGS.map((s) => [s.flag, { type: s.kind === 'flag' ? 'boolean' as const : 'string' as const }]));
    ({ values } = parseArgs({ args: [...argv], options: { ...options, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: false }));
  } catch (error) {
    throw new UsageError(`${(error as Error).message}; see --help`);
  }
  if (values.help) return { kind: 'help', text: helpText() };

  const options: HubOptions = { dataDir: './moat-hub-data', host: '127.0.0.1', port: 8787, defaultDataFiles: true };
  const envPassword = nonEmpty(env.MOAT_HUB_ADMIN_PASSWORD);
  if (envPassword !== undefined) {
    options.adminPassword = adminPassword(envPassword, (m) => { throw new UsageError(`MOAT_HUB_ADMIN_PASSWORD ${m}`); });
  }
  for (const setting of SETTINGS) {
    const fromFlag = values[setting.flag];
    const fromEnv = setting.env === undefined ? undefined : nonEmpty(env[setting.env]);
    if (fromFlag === undefined && fromEnv === undefined) continue;
    const source = fromFlag !== undefined ? `--${setting.flag}` : setting.env!;
    const fail = (message: string): never => { throw new UsageError(`${source} ${message}`); };
    const value = fromFlag !== undefined ? fromFlag : fromEnv!;
    setting.apply(options, checked(setting, value, fromFlag === undefined && setting.kind === 'flag', fail), fail);
  }
  return { kind: 'start', options };
}

export function helpText(): string {
  const rows = SETTINGS.map((s) => {
    const left = `  --${s.flag}${s.value ? ` ${s.value}` : ''}`;
    return `${left.padEnd(36)}${s.help}${s.env ? `\n${' '.repeat(36)}[${s.env}${s.kind === 'flag' ? '=1' : ''}]` : ''}`;
  });
  return [
    'usage: moat-hub [options]',
    '',
    'Starts a Moat hub. Every option can also be set by the environment variable shown in brackets;',
    'a flag wins over its variable. Invalid values stop the hub with exit status 2.',
    '',
    ...rows,
    `${'  --help, -h'.padEnd(36)}this text`,
    '',
  ].join('\n');
}

/** The raw text of a flag or variable, checked against the setting's kind and range. */
function checked(setting: Setting, value: string | boolean, booleanFromEnv: boolean, fail: (m: string) => never): string | number | boolean {
  if (typeof value === 'boolean') return value;
  if (booleanFromEnv) {
    const lower = value.toLowerCase();
    if (['1', 'true', 'yes', 'on'].includes(lower)) return true;
    if (['0', 'false', 'no', 'off'].includes(lower)) return false;
    return fail(`must be 1 or 0 (true/false, yes/no, on/off), got ${JSON.stringify(value)}`);
  }
  if (setting.kind === 'text') {
    if (value.trim() === '') fail('needs a value');
    return value;
  }
  const n = Number(value);
  const whole = setting.kind === 'int';
  if (value.trim() === '' || !Number.isFinite(n) || (whole && !Number.isInteger(n))) {
    return fail(`must be ${whole ? 'a whole number' : 'a number'}, got ${JSON.stringify(value)}`);
  }
  if ((setting.min !== undefined && n < setting.min) || (setting.max !== undefined && n > setting.max)) {
    return fail(`must be from ${setting.min} to ${setting.max}, got ${value}`);
  }
  return n;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

function httpUrl(text: string, fail: (m: string) => never): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return fail(`must be an absolute http(s) URL, got ${JSON.stringify(text)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') fail(`must be an http(s) URL, got ${JSON.stringify(text)}`);
  return text;
}

/** Addresses, CIDR ranges and proxy-addr's group names; a bare `true` is refused (it trusts anyone). */
function proxyList(text: string, fail: (m: string) => never): string[] {
  const entries = text.split(',').map((e) => e.trim()).filter((e) => e !== '');
  if (entries.length === 0) fail('needs at least one address or range');
  for (const entry of entries) {
    if (PROXY_GROUPS.has(entry)) continue;
    const [address, prefix, extra] = entry.split('/');
    const family = isIP(address ?? '');
    const bits = family === 4 ? 32 : 128;
    const prefixOk = prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= bits);
    if (family === 0 || !prefixOk || extra !== undefined) {
      fail(`has ${JSON.stringify(entry)}, which is not an IP address, a CIDR range or one of ${[...PROXY_GROUPS].join(', ')}`);
    }
  }
  return entries;
}

function loginDefaults(o: HubOptions): NonNullable<HubOptions['loginRateLimit']> {
  return o.loginRateLimit ?? { maxFailures: 10, windowMs: 15 * 60_000 };
}

function adminPassword(text: string, fail: (m: string) => never): string {
  const password = text.replace(/\r?\n$/, '');
  if (password.length < 8) fail('must hold a password of at least 8 characters');
  if (password.length > 1024) fail('must hold a password of at most 1024 characters');
  return password;
}

/** `--log`: a level, 1/on (info) or 0/off (nothing, not even errors). */
function logLevel(text: string, fail: (m: string) => never): HubOptions['logger'] {
  const lower = text.toLowerCase();
  if (['0', 'false', 'off', 'no'].includes(lower)) return false;
  const level = ['1', 'true', 'on', 'yes'].includes(lower) ? 'info' : lower;
  if (!LOG_LEVELS.has(level)) fail(`must be one of ${[...LOG_LEVELS].join(', ')} (or 1 / 0), got ${JSON.stringify(text)}`);
  return { level };
}

/**
 * `--log-requests`: request lines are logged at info, so the level is lowered to info (never raised). Its
 * row comes after `--log` in the table, so it sees the level `--log` chose.
 */
function withRequests(logger: HubOptions['logger']): HubOptions['logger'] {
  if (logger === false) return logger; // --log off wins: the operator asked for no log at all
  const level = typeof logger === 'object' ? logger.level : undefined;
  return { level: level === 'debug' || level === 'trace' ? level : 'info' };
}

function readText(path: string, fail: (m: string) => never): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    return fail(`names a file that cannot be read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}
