// `npm start`: the hub with its dashboard on an embedded SQLite, a demo shop protected by Moat in
// managed mode, and bounded synthetic traffic, so the dashboard fills within a minute. Ctrl-C stops it all.
// Everything listens on 127.0.0.1 and lives under .data/demo. A restart keeps the hub's data (rules,
// users, password, the demo site and its key); `--fresh` starts over. Conflicts (another demo on the
// same folder, a port in use) are checked before anything on disk is touched.

import { createHash } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { createHub, type Hub } from 'moat-hub';
import { startDemoApp } from './app.js';
import { buildDemoData, DEMO_TOR_EXITS } from './data.js';
import { adminPasswordFor, readDemoState, resetDemoDir, writeDemoState } from './demo-state.js';
import { seedDemoRules } from './seed.js';
import { acquireDemoLock, assertPortFree, DemoConflictError, LOCK_FILE } from './start-guard.js';
import { runTraffic } from './traffic.js';

const USAGE = `Usage: npm start [-- --fresh]

Starts the Moat hub (http://127.0.0.1:8787), a demo shop protected by Moat (http://127.0.0.1:8788)
and synthetic traffic. Data is kept in .data/demo and reused by the next start.

  --fresh    delete the hub's data first (rules, users, password, site and key) and start over
  --help     this text

Environment: MOAT_HUB_PORT, MOAT_DEMO_SHOP_PORT, MOAT_HUB_ADMIN_PASSWORD (first start only),
MOAT_DEMO_MINUTES, MOAT_DEMO_RATE, MOAT_DEMO_DIR.`;

const args = process.argv.slice(2);
if (args.includes('--help') || args.includes('-h')) {
  console.log(USAGE);
  process.exit(0);
}
const unknown = args.filter((a) => a !== '--fresh');
if (unknown.length > 0) {
  console.error(`Moat demo: unknown option ${unknown.join(' ')}\n\n${USAGE}`);
  process.exit(2);
}
const fresh = args.includes('--fresh');

const env = process.env;
const root = resolve(env.MOAT_DEMO_DIR ?? '.data/demo');
const shownRoot = relative(process.cwd(), root).startsWith('..') ? root : relative(process.cwd(), root) || '.';
const host = env.MOAT_HUB_HOST ?? '127.0.0.1';
const port = Number(env.MOAT_HUB_PORT ?? 8787);
const shopPort = Number(env.MOAT_DEMO_SHOP_PORT ?? 8788);
const trafficMinutes = Number(env.MOAT_DEMO_MINUTES ?? 30);
const DATA_FILES = 'data-files';

function fail(message: string, code = 1): never {
  console.error(`Moat demo: ${message}`);
  process.exit(code);
}

for (const [name, value] of [['MOAT_HUB_PORT', port], ['MOAT_DEMO_SHOP_PORT', shopPort]] as const) {
  if (!Number.isInteger(value) || value < 0 || value > 65535) fail(`${name} must be a port number from 0 to 65535`, 2);
}
if (!(trafficMinutes >= 0)) fail('MOAT_DEMO_MINUTES must be a number of minutes', 2);

// 1. Conflicts first: nothing below may run while another demo uses this folder or the ports are taken.
mkdirSync(root, { recursive: true });
let lock: ReturnType<typeof acquireDemoLock>;
try {
  lock = acquireDemoLock(root);
  process.on('exit', () => lock.release());
  await assertPortFree(host, port, 'MOAT_HUB_PORT');
  await assertPortFree('127.0.0.1', shopPort, 'MOAT_DEMO_SHOP_PORT');
} catch (error) {
  fail(error instanceof DemoConflictError ? `${error.message} Nothing was changed.` : String(error));
}

// 2. Only now may data be removed, and only when asked for.
if (fresh) {
  // The data file is built from bundled ranges, not anyone's state: kept, it saves ~20 s.
  resetDemoDir(root, [LOCK_FILE, DATA_FILES]);
  console.log(`Moat demo: --fresh: removed the previous hub data, rules, password, site and key in ${shownRoot}.`);
}
const firstStart = !existsSync(join(root, 'hub'));

const data = buildDemoData(join(root, DATA_FILES));
console.log(data.built
  ? `Moat demo: built the data file (countries + a Tor exit list): ${data.ranges.toLocaleString('en')} ranges, ${(data.bytes / 2 ** 20).toFixed(1)} MiB`
  : `Moat demo: reusing the data file in ${shownRoot}/data-files (${data.ranges.toLocaleString('en')} ranges)`);

const adminEmail = env.MOAT_HUB_ADMIN_EMAIL ?? 'admin@moat.local';
const password = adminPasswordFor(root, firstStart, env.MOAT_HUB_ADMIN_PASSWORD || undefined);
const hub = await createHub({
  dataDir: join(root, 'hub'),
  host,
  port,
  adminEmail,
  adminPassword: password.password,
  createDemoSite: true,
  dataFilesDir: join(root, DATA_FILES),
  countryOf: data.countryOf,
  rollupIntervalMs: 2_000,
  print: () => undefined,
}).catch((error: Error & { code?: string }) => fail(error.code === 'EADDRINUSE'
  ? `port ${port} is in use; set MOAT_HUB_PORT to another port. The demo data was left as it was.`
  : `the hub did not start: ${error.message}`));

const demo = await demoSiteAndKey(hub);
const seeded = demo.created ? await seedDemoRules(hub, demo.siteId) : 0;
const ruleCount = (await hub.store.listRules(demo.siteId)).length;

const app = await startDemoApp({
  hubUrl: hub.url,
  apiKey: demo.apiKey,
  publicKey: hub.context.signingKey?.publicKeyBase64,
  dir: join(root, 'app'),
  port: shopPort,
}).catch(async (error: Error & { code?: string }) => {
  await hub.close();
  return fail(error.code === 'EADDRINUSE' ? `port ${shopPort} is in use; set MOAT_DEMO_SHOP_PORT to another port.` : `the demo shop did not start: ${error.message}`);
});
const first = await app.firewall.ready();
writeDemoState(root, { hub: hub.url, app: app.url, siteId: demo.siteId, apiKey: demo.apiKey, adminEmail });

const signIn = password.isNew
  ? `${adminEmail} / ${password.password}   (also in ${shownRoot}/admin-password, 0600; kept for the next start)`
  : password.file
    ? `${adminEmail} / the password in ${shownRoot}/admin-password (unless you changed it in the dashboard)`
    : firstStart
      ? `${adminEmail} / the password from MOAT_HUB_ADMIN_PASSWORD`
      : `${adminEmail} / the password chosen on the first start (forgot it? npm start -- --fresh)`;
console.log(`
Moat hub:   ${hub.url}
Sign in:    ${signIn}
Demo shop:  ${app.url}  (managed mode; rules v${first.customRules.file?.contentHash?.slice(0, 8) ?? '?'}, ${ruleCount} rules${demo.created ? `, ${seeded} demo rules just created` : ' kept from the last start'})
            try it as any client IP: curl -H 'X-Forwarded-For: 203.0.113.9' ${app.url}/wp-admin
Traffic:    visitors, scanners, credential stuffing and a Tor exit for ${trafficMinutes} min — watch the dashboard.
Data:       ${shownRoot} (kept across restarts; npm start -- --fresh starts over)
Ctrl-C stops everything.`);

const stop = new AbortController();
const traffic = runTraffic({
  target: app.url,
  rate: Number(env.MOAT_DEMO_RATE ?? 15),
  durationMs: trafficMinutes * 60_000,
  torExits: DEMO_TOR_EXITS,
  signal: stop.signal,
});

let stopping = false;
async function shutdown(reason: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  console.log(`\nMoat demo: ${reason}, stopping…`);
  stop.abort();
  const summary = await traffic;
  await app.close();
  await hub.close();
  lock.release();
  console.log(`Moat demo: sent ${summary.sent} requests (${Object.entries(summary.byStatus).map(([s, n]) => `${n}×${s}`).join(', ')}). Data kept in ${shownRoot}. Bye.`);
  process.exit(0);
}
process.on('SIGINT', () => void shutdown('Ctrl-C'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
traffic.then((summary) => {
  if (!stopping) console.log(`Moat demo: traffic finished (${summary.sent} requests); the hub stays up until Ctrl-C.`);
});

/**
 * The demo site and the key its shop uses. A first start gets both from the hub; a restart reuses the
 * saved key while the hub still accepts it (the hub keeps only SHA-256 hashes of keys, so that is what
 * is looked up), and otherwise makes a new key for the site, so a lost demo.json never blocks a start.
 */
async function demoSiteAndKey(running: Hub): Promise<{ siteId: number; apiKey: string; created: boolean }> {
  if (running.firstRun.demoSiteId !== undefined && running.firstRun.demoApiKey !== undefined) {
    return { siteId: running.firstRun.demoSiteId, apiKey: running.firstRun.demoApiKey, created: true };
  }
  const saved = readDemoState(root);
  if (saved.apiKey !== undefined && saved.siteId !== undefined) {
    const found = await running.store.findActiveApiKey(createHash('sha256').update(saved.apiKey).digest('hex'));
    if (found?.siteId === saved.siteId) return { siteId: saved.siteId, apiKey: saved.apiKey, created: false };
  }
  const sites = await running.store.listSites();
  const site = sites.find((s) => s.id === saved.siteId) ?? sites.find((s) => s.name === 'Demo site') ?? sites[0];
  if (!site) return fail(`the hub in ${shownRoot}/hub has no site; run npm start -- --fresh`);
  const { key } = await running.sites.createKey(site.id, 'demo', { userId: null, email: 'demo setup', ip: null });
  console.log(`Moat demo: ${shownRoot}/${'demo.json'} did not hold a working key; made a new one for "${site.name}".`);
  return { siteId: site.id, apiKey: key, created: false };
}
