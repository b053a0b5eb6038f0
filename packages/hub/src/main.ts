#!/usr/bin/env node
/**
 * Starts a hub from the command line:
 *   node --import tsx packages/hub/src/main.ts [--data-dir DIR] [--host H] [--port P] [--demo]
 * Environment: MOAT_HUB_DATA_DIR, MOAT_HUB_HOST, MOAT_HUB_PORT, MOAT_HUB_PUBLIC_URL,
 * MOAT_HUB_ADMIN_EMAIL, MOAT_HUB_ADMIN_PASSWORD, MOAT_HUB_DEMO=1, MOAT_HUB_LOG=1,
 * MOAT_HUB_DATABASE_URL=postgres://… (PostgreSQL instead of SQLite), MOAT_HUB_SIGNING_KEY_FILE.
 * Prints the URL and the login; stops cleanly on SIGINT/SIGTERM.
 */
import { parseArgs } from 'node:util';
import { createHub } from './server/create-hub.js';

const { values } = parseArgs({
  options: {
    'data-dir': { type: 'string' },
    host: { type: 'string' },
    port: { type: 'string' },
    demo: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  },
});

if (values.help) {
  console.log('usage: moat-hub [--data-dir DIR] [--host HOST] [--port PORT] [--demo]');
  process.exit(0);
}

const env = process.env;
const port = Number(values.port ?? env.MOAT_HUB_PORT ?? 8787);
const hub = await createHub({
  dataDir: values['data-dir'] ?? env.MOAT_HUB_DATA_DIR ?? './moat-hub-data',
  host: values.host ?? env.MOAT_HUB_HOST ?? '127.0.0.1',
  port,
  publicUrl: env.MOAT_HUB_PUBLIC_URL || undefined,
  databaseUrl: env.MOAT_HUB_DATABASE_URL || undefined,
  signingKeyFile: env.MOAT_HUB_SIGNING_KEY_FILE || undefined,
  adminEmail: env.MOAT_HUB_ADMIN_EMAIL || undefined,
  adminPassword: env.MOAT_HUB_ADMIN_PASSWORD || undefined,
  createDemoSite: values.demo === true || env.MOAT_HUB_DEMO === '1',
  logger: env.MOAT_HUB_LOG === '1' ? { level: 'info' } : false,
});

const login = hub.firstRun.oneTimePassword
  ? `${hub.firstRun.adminEmail} / ${hub.firstRun.oneTimePassword} (one-time)`
  : hub.firstRun.adminEmail
    ? `${hub.firstRun.adminEmail} / the password from MOAT_HUB_ADMIN_PASSWORD`
    : 'your existing admin account';
console.log(`Moat hub running at ${hub.url}  (data: ${hub.config.dataDir})`);
console.log(`Sign in: ${login}`);
if (hub.firstRun.demoApiKey) {
  console.log(`Demo site API key: ${hub.firstRun.demoApiKey}`);
  console.log(`  rules:   ${hub.url}/v2/downsync/custom_rules/<key>`);
  console.log(`  reports: ${hub.url}/v2/upsync/<key>`);
}
if (hub.context.signingKey) console.log(`Signing public key (ed25519, raw base64): ${hub.context.signingKey.publicKeyBase64}`);

let stopping = false;
const stop = (signal: string) => {
  if (stopping) return;
  stopping = true;
  console.log(`Moat hub: ${signal}, stopping`);
  hub.close().then(() => process.exit(0), (error: unknown) => {
    console.error(error);
    process.exit(1);
  });
};
process.on('SIGINT', () => stop('SIGINT'));
process.on('SIGTERM', () => stop('SIGTERM'));
