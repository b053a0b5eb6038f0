// `npm start`: the hub with its dashboard on an embedded SQLite, a demo shop protected by Moat in
// managed mode, and bounded synthetic traffic, so the dashboard fills within a minute. Ctrl-C stops it all.
// Everything listens on 127.0.0.1 and lives under .data/demo (started afresh each run).

import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createHub } from '@moat/hub';
import { startDemoApp } from './app.js';
import { buildDemoData, DEMO_TOR_EXITS } from './data.js';
import { seedDemoRules } from './seed.js';
import { runTraffic } from './traffic.js';

const env = process.env;
const root = resolve(env.MOAT_DEMO_DIR ?? '.data/demo');
const port = Number(env.MOAT_HUB_PORT ?? 8787);
const trafficMinutes = Number(env.MOAT_DEMO_MINUTES ?? 30);

rmSync(root, { recursive: true, force: true });
mkdirSync(root, { recursive: true });

console.log('Moat demo: building the data file (countries + a Tor exit list)…');
const data = buildDemoData(join(root, 'data-files'));
console.log(`  ${data.ranges.toLocaleString()} ranges, ${(data.bytes / 2 ** 20).toFixed(1)} MiB, hash ${data.hash.slice(0, 12)}`);

const adminEmail = env.MOAT_HUB_ADMIN_EMAIL ?? 'admin@moat.local';
const adminPassword = env.MOAT_HUB_ADMIN_PASSWORD ?? randomBytes(9).toString('base64url');
const hub = await createHub({
  dataDir: join(root, 'hub'),
  host: env.MOAT_HUB_HOST ?? '127.0.0.1',
  port,
  adminEmail,
  adminPassword,
  createDemoSite: true,
  dataFilesDir: join(root, 'data-files'),
  countryOf: data.countryOf,
  rollupIntervalMs: 2_000,
  print: () => undefined,
}).catch((error: Error & { code?: string }) => {
  console.error(error.code === 'EADDRINUSE'
    ? `Moat demo: port ${port} is in use; set MOAT_HUB_PORT to another port.`
    : `Moat demo: the hub did not start: ${error.message}`);
  process.exit(1);
});

const siteId = hub.firstRun.demoSiteId!;
const apiKey = hub.firstRun.demoApiKey!;
const rules = await seedDemoRules(hub, siteId);

const app = await startDemoApp({
  hubUrl: hub.url,
  apiKey,
  publicKey: hub.context.signingKey?.publicKeyBase64,
  dir: join(root, 'app'),
});
const first = await app.firewall.ready();
// Kept beside the data so a person (or a script) can use the demo key again; the hub stores only its hash.
writeFileSync(join(root, 'demo.json'), JSON.stringify({ hub: hub.url, app: app.url, apiKey, adminEmail }, null, 2), { mode: 0o600 });

console.log(`
Moat hub:   ${hub.url}
Sign in:    ${adminEmail} / ${adminPassword}
Demo shop:  ${app.url}  (managed mode; rules v${first.customRules.file?.contentHash?.slice(0, 8) ?? '?'}, ${rules} demo rules)
Traffic:    visitors, scanners, credential stuffing and a Tor exit for ${trafficMinutes} min — watch the dashboard.
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
  console.log(`Moat demo: sent ${summary.sent} requests (${Object.entries(summary.byStatus).map(([s, n]) => `${n}×${s}`).join(', ')}). Bye.`);
  process.exit(0);
}
process.on('SIGINT', () => void shutdown('Ctrl-C'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
traffic.then((summary) => {
  if (!stopping) console.log(`Moat demo: traffic finished (${summary.sent} requests); the hub stays up until Ctrl-C.`);
});
