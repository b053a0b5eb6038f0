// Managed mode on Bun and Deno, whose binaries come from the npm registry (the `bun` and `deno`
// packages): a node:http app behind createManagedFirewall, importing the published build from
// node_modules as an app there would, downloads its site's rules file from a real hub (run by Node.js),
// verifies and reads it through the runtime's own SQLite (bun:sqlite, node:sqlite: better-sqlite3's addon
// loads in neither), enforces a path rule and an attack setting from ready() on, reports its decisions
// through the report worker, and picks up a rule changed on the hub. Deno runs with the permissions such
// an app needs and no more: reading files, writing its sync folder only, the environment, the system's
// details and the network on 127.0.0.1.
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { startHubWithSite } from './support/hub-fixture.js';
import { startManagedApp } from './support/managed-app.js';
import { waitFor } from './support/thresholds-kit.js';

const requireHere = createRequire(import.meta.url);
const RUNTIMES = [
  { name: 'bun', execPath: join(dirname(requireHere.resolve('bun/package.json')), 'bin', 'bun.exe'), execArgv: (_dir: string) => [] },
  {
    name: 'deno', execPath: join(dirname(requireHere.resolve('deno/package.json')), 'deno'),
    execArgv: (dir: string) => ['run', '--allow-read', `--allow-write=${dir}`, '--allow-env', '--allow-sys', '--allow-net=127.0.0.1'],
  },
];

async function status(url: string): Promise<number> {
  const response = await fetch(url);
  await response.arrayBuffer();
  return response.status;
}

type Rows = { rows: { treatment: string; category: string; path: string }[] };

describe('managed mode on Bun and Deno', () => {
  for (const runtime of RUNTIMES) {
    it(`${runtime.name}: the hub's rules and attack settings are enforced, decisions are reported, and a change arrives`, async () => {
      const { hub, client, siteId, apiKey } = await startHubWithSite(`managed on ${runtime.name}`);
      const dir = mkdtempSync(join(tmpdir(), `moat-managed-${runtime.name}-`));
      let app: Awaited<ReturnType<typeof startManagedApp>> | undefined;
      try {
        const imported = await client.api('POST', `/api/sites/${siteId}/rules/import`, { document: { block: { paths: ['/wp-admin'] }, attacks: { sqli: 'block' } }, replace: true });
        assert.equal(imported.status, 200, await imported.clone().text());
        app = await startManagedApp({
          apiKey, hubUrl: hub.url, dir, customRulesIntervalMs: 150, longPollSeconds: 0, dataIntervalMs: 600_000,
          backoffBaseMs: 20, backoffMaxMs: 200, upsync: { flushIntervalMs: 100, batchSize: 50 },
        }, { execPath: runtime.execPath, execArgv: runtime.execArgv(dir), tsx: false });
        assert.equal(await status(`${app.url}/wp-admin`), 403);
        assert.equal(await status(`${app.url}/search?q=x'%20OR%201=1--`), 403);
        assert.equal(await status(`${app.url}/search?q=O'Brien`), 200);
        await waitFor(async () => {
          const rows = ((await (await client.api('GET', `/api/sites/${siteId}/requests?limit=200`)).json()) as Rows).rows;
          const seen = new Set(rows.map((r) => `${r.treatment} ${r.category} ${r.path}`));
          return seen.has('Blocked bp /wp-admin') && seen.has('Blocked attack-sqli /search') && seen.has('Passed passed /search');
        }, `the ${runtime.name} app's decisions in the hub's reports`);
        const state = await app.status() as { customRules: { lastError: string | null; downloads: number }; upsync: { workerRunning: boolean; dropped: number; lastError: string | null } };
        assert.equal(state.customRules.lastError, null);
        assert.ok(state.customRules.downloads >= 1);
        assert.equal(state.upsync.workerRunning, true, String(state.upsync.lastError));
        assert.equal(state.upsync.dropped, 0);
        const again = await client.api('POST', `/api/sites/${siteId}/rules/import`, { document: { block: { paths: ['/wp-admin', '/private'] }, attacks: { sqli: 'block' } }, replace: true });
        assert.equal(again.status, 200, await again.clone().text());
        await waitFor(async () => (await status(`${app!.url}/private`)) === 403, `the new rule to reach the ${runtime.name} app`);
      } finally {
        await app?.close();
        await hub.stop();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
