#!/usr/bin/env node
/**
 * Starts a hub from the command line:
 *   node packages/hub/dist/main.js [options]      (or node --import tsx packages/hub/src/main.ts)
 * Every option has an environment variable (`--help` lists them; the table is in cli/command-line.ts).
 * Prints the URL and the sign-in; stops cleanly on SIGINT/SIGTERM. Exit status 2: a bad option;
 * 1: the hub could not start (port taken, database unreachable, …).
 */
import { z } from 'zod';
import { parseCommandLine, UsageError } from './cli/command-line.js';
import { resolveConfig, type HubConfig, type HubOptions } from './config.js';
import { createHub } from './server/create-hub.js';
import { redactText } from './server/log-redaction.js';

let command;
try {
  command = parseCommandLine(process.argv.slice(2), process.env);
  // The same checks createHub makes, first, so a bad value is a usage error and not a failed start.
  if (command.kind === 'start') resolveConfig(command.options);
} catch (error) {
  if (error instanceof UsageError) usageExit(error.message);
  if (error instanceof z.ZodError) usageExit(`invalid option:\n${z.prettifyError(error)}`);
  throw error;
}
if (command.kind === 'help') {
  process.stdout.write(command.text);
  process.exit(0);
}

let hub;
try {
  hub = await createHub(command.options);
} catch (error) {
  // Never the options themselves: the database URL may hold a password.
  console.error(`moat-hub: could not start: ${redactText((error as Error).message)}`);
  process.exit(1);
}

// Before the banner: a supervisor (or a test) that stops the hub as soon as it sees the banner must find
// the handlers in place, or Node's default action kills the process without closing the store.
const running = hub;
let stopping = false;
const stop = (signal: string) => {
  if (stopping) return;
  stopping = true;
  console.log(`Moat hub: ${signal}, stopping`);
  running.close().then(() => process.exit(0), (error: unknown) => {
    console.error(`moat-hub: could not stop cleanly: ${redactText(error instanceof Error ? error.stack ?? error.message : String(error))}`);
    process.exit(1);
  });
};
process.on('SIGINT', () => stop('SIGINT'));
process.on('SIGTERM', () => stop('SIGTERM'));

const login = hub.firstRun.oneTimePassword
  ? `${hub.firstRun.adminEmail} / ${hub.firstRun.oneTimePassword} (one-time)`
  : hub.firstRun.adminEmail
    ? `${hub.firstRun.adminEmail} / the configured password`
    : 'your existing admin account';
console.log(`Moat hub running at ${hub.url}  (data: ${hub.config.dataDir})`);
console.log(`Settings: ${settingsSummary(command.options, hub.config)}`);
console.log(`Sign in: ${login}`);
if (hub.firstRun.demoApiKey) {
  console.log(`Demo site API key: ${hub.firstRun.demoApiKey}`);
  console.log(`  rules:   ${hub.url}/v2/downsync/custom_rules/<key>`);
  console.log(`  reports: ${hub.url}/v2/upsync/<key>`);
}
if (hub.context.signingKey) console.log(`Signing public key (ed25519, raw base64): ${hub.context.signingKey.publicKeyBase64}`);

/** What an operator checks after a deploy; nothing secret (the database URL is named, not shown). */
function settingsSummary(options: HubOptions, config: HubConfig): string {
  const trust = options.trustProxy;
  return [
    `database ${config.databaseUrl ? 'PostgreSQL (MOAT_HUB_DATABASE_URL)' : config.databaseFile}`,
    `trust proxy ${Array.isArray(trust) ? trust.join(',') : trust ? String(trust) : 'none'}`,
    `secure cookies ${config.secureCookies ? 'on' : 'off'}`,
    `data files ${config.dataFilesDir}`,
    `retention ${config.retention.rawSeconds / 86_400} d raw, ${config.retention.rollupSeconds / 86_400} d rollups`,
    `signing ${config.signing ? 'on' : 'off'}`,
    `public URL ${config.publicUrl ?? 'the listen address'}`,
    `log ${logSummary(options.logger)}`,
    `metrics ${config.metricsToken ? 'on (GET /metrics, bearer token)' : 'off'}`,
  ].join('; ');
}

/** The default (undefined) is createHub's: errors and warnings as JSON lines on stderr. */
function logSummary(logger: HubOptions['logger']): string {
  if (logger === false) return 'off';
  const level = typeof logger === 'object' && logger.level ? logger.level : logger === true ? 'info' : 'warn';
  return `${level} on stderr${['info', 'debug', 'trace'].includes(level) ? ', with requests' : ''}`;
}

function usageExit(message: string): never {
  console.error(`moat-hub: ${message}`);
  process.exit(2);
}
