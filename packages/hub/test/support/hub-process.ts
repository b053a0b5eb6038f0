/**
 * A hub in its own process, for fault tests where a crash must show as an exit:
 *   node --import tsx hub-process.ts <dataDir> <databaseUrl> <signingKeyFile>
 * Prints `{"url": …}` on one stdout line once it listens; closes cleanly on SIGTERM. Short rollup and
 * retention intervals keep the background jobs running while faults are injected.
 */
import { createHub } from '../../src/index.js';
import { ADMIN_EMAIL, ADMIN_PASSWORD } from './hub-fixture.js';

const [dataDir, databaseUrl, signingKeyFile] = process.argv.slice(2);
if (!dataDir || !databaseUrl || !signingKeyFile) throw new Error('usage: hub-process.ts <dataDir> <databaseUrl> <signingKeyFile>');

const hub = await createHub({
  dataDir, databaseUrl, signingKeyFile, host: '127.0.0.1', port: 0, adminEmail: ADMIN_EMAIL, adminPassword: ADMIN_PASSWORD,
  rollupIntervalMs: 100, pruneIntervalMs: 1_000, print: () => undefined, databasePoolSize: 4,
});
process.stdout.write(`${JSON.stringify({ url: hub.url })}\n`);
process.once('SIGTERM', () => {
  void hub.close().then(() => process.exit(0), () => process.exit(1));
});
