// Managed mode under Node.js 22 and 24 (scripts/ensure-node-runtimes.sh fetches their official binaries
// from the npm registry): a node:http app run by each release downloads its site's rules file from a real
// hub (the hub runs on the project's Node.js). better-sqlite3's addon there is built for the project's
// Node.js and does not load in those releases, so the client verifies (SQLite quick_check) and reads
// the file through node:sqlite. A path rule and an attack setting made on the hub must reach the app,
// and the app's decisions must reach the hub through the report worker. Then the same app under Node's
// permission model (`--permission`), which refuses fsync to everyone and worker threads unless allowed:
// the downloads are installed without fsync; with `--allow-worker` the reports flow from the worker, and
// without it from the serving thread (status() says which), up to the last decision before close().
import { strict as assert } from 'node:assert';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { startHubWithSite } from './support/hub-fixture.js';
import { startManagedApp } from './support/managed-app.js';
import { waitFor } from './support/thresholds-kit.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

async function status(url: string): Promise<number> {
  const response = await fetch(url);
  await response.arrayBuffer();
  return response.status;
}

const MANAGED = (apiKey: string, hubUrl: string, dir: string) => ({
  apiKey, hubUrl, dir, customRulesIntervalMs: 150, longPollSeconds: 0, dataIntervalMs: 600_000,
  backoffBaseMs: 20, backoffMaxMs: 200, upsync: { flushIntervalMs: 100, batchSize: 50 },
});

type Rows = { rows: { treatment: string; category: string; path: string }[] };

describe('managed mode under other Node.js releases', () => {
  for (const version of ['22.23.3', '24.22.3']) {
    it(`node ${version}: rules and attack settings from the hub are enforced, and decisions are reported`, async () => {
      const execPath = join(ROOT, 'node_modules', '.cache', 'node-runtimes', version, 'bin', 'node');
      assert.ok(existsSync(execPath), `Node.js ${version} is not there: run bash scripts/ensure-node-runtimes.sh (npm test does)`);
      const { hub, client, siteId, apiKey } = await startHubWithSite(`node ${version}`);
      const dir = mkdtempSync(join(tmpdir(), 'moat-node-versions-'));
      let app: Awaited<ReturnType<typeof startManagedApp>> | undefined;
      try {
        const document = { block: { paths: ['/wp-admin'] }, attacks: { sqli: 'block' } };
        const imported = await client.api('POST', `/api/sites/${siteId}/rules/import`, { document, replace: true });
        assert.equal(imported.status, 200, await imported.clone().text());
        app = await startManagedApp(MANAGED(apiKey, hub.url, dir), { execPath });
        // ready() resolved with the site's file in force: the first requests are already judged by it.
        assert.equal(await status(`${app.url}/wp-admin`), 403);
        assert.equal(await status(`${app.url}/search?q=x'%20OR%201=1--`), 403);
        assert.equal(await status(`${app.url}/search?q=O'Brien`), 200);
        await waitFor(async () => {
          const rows = ((await (await client.api('GET', `/api/sites/${siteId}/requests?limit=200`)).json()) as Rows).rows;
          const seen = new Set(rows.map((r) => `${r.treatment} ${r.category}`));
          return seen.has('Blocked bp') && seen.has('Blocked attack-sqli');
        }, 'the app\'s decisions in the hub\'s reports');
        // A change on the hub reaches the running app.
        const again = await client.api('POST', `/api/sites/${siteId}/rules/import`, { document: { block: { paths: ['/wp-admin', '/private'] }, attacks: { sqli: 'block' } }, replace: true });
        assert.equal(again.status, 200, await again.clone().text());
        await waitFor(async () => (await status(`${app!.url}/private`)) === 403, 'the new rule to reach the app');
      } finally {
        await app?.close();
        await hub.stop();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  // The permission model's flags; `--allow-child-process` is tsx's (it runs esbuild), not Moat's.
  const PERMISSION = ['--permission', '--allow-fs-read=*', '--allow-fs-write=*', '--allow-child-process'];

  it('node 24.22.3 under --permission: downloads install without fsync; reports flow from the worker with --allow-worker, and from the serving thread without it', async () => {
    const execPath = join(ROOT, 'node_modules', '.cache', 'node-runtimes', '24.22.3', 'bin', 'node');
    assert.ok(existsSync(execPath), 'Node.js 24.22.3 is not there: run bash scripts/ensure-node-runtimes.sh (npm test does)');
    const { hub, client, siteId, apiKey } = await startHubWithSite('permission model');
    const dirs: string[] = [];
    const apps: Awaited<ReturnType<typeof startManagedApp>>[] = [];
    try {
      const imported = await client.api('POST', `/api/sites/${siteId}/rules/import`, { document: { block: { paths: ['/wp-admin'] } }, replace: true });
      assert.equal(imported.status, 200, await imported.clone().text());
      for (const allowWorker of [true, false]) {
        const dir = mkdtempSync(join(tmpdir(), 'moat-permission-'));
        dirs.push(dir);
        const app = await startManagedApp(MANAGED(apiKey, hub.url, dir), { execPath, execArgv: allowWorker ? [...PERMISSION, '--allow-worker'] : PERMISSION });
        apps.push(app);
        const code = await status(`${app.url}/wp-admin/worker-${allowWorker}`);
        const state = await app.status() as { customRules: { lastError: string | null; downloads: number }; upsync: { workerRunning: boolean; onServingThread: boolean } };
        assert.equal(code, 403, `the downloaded rules are in force: ${JSON.stringify(state.customRules)}`);
        assert.equal(state.customRules.lastError, null);
        assert.ok(state.customRules.downloads >= 1);
        // Reports reach the hub either way: from the worker, or from the serving thread where workers are refused.
        await waitFor(async () => {
          const rows = ((await (await client.api('GET', `/api/sites/${siteId}/requests?limit=200`)).json()) as Rows).rows;
          return rows.some((r) => r.treatment === 'Blocked' && r.path === `/wp-admin/worker-${allowWorker}`);
        }, `the blocked request (worker=${allowWorker}) in the hub's reports`);
        assert.equal(state.upsync.workerRunning, allowWorker);
        assert.equal(state.upsync.onServingThread, !allowWorker);
        // Closing sends what is left: a decision made just before close() reaches the hub too.
        assert.equal(await status(`${app.url}/wp-admin/last-${allowWorker}`), 403);
        await app.close();
        await waitFor(async () => {
          const rows = ((await (await client.api('GET', `/api/sites/${siteId}/requests?limit=200`)).json()) as Rows).rows;
          return rows.some((r) => r.path === `/wp-admin/last-${allowWorker}`);
        }, `the last request (worker=${allowWorker}), sent at close`);
      }
    } finally {
      for (const app of apps) await app.close();
      await hub.stop();
      for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    }
  });
});
