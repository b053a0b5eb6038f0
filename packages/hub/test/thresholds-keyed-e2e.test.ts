// Threshold rules keyed by a header or a cookie, end to end with real processes: one hub, two node:http
// apps in managed mode. The hub lists the rules' keys in the site's rules file; the apps report the
// hashes of those keys with each request; a client flooding app A with one API key gets that key banned,
// and app B then answers 403 to the key from any address while another key from the same address passes,
// an allow-listed address with the key passes (allow wins), a monitor-mode rule bans nobody, and a client
// that leaves the header out is counted (and banned) by its IP, never as "no key". The raw key values
// never reach the hub: not its database files, not its log, not its API or pages.
import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { startHubWithSite } from './support/hub-fixture.js';
import { startManagedApp, type ManagedApp } from './support/managed-app.js';
import { createThreshold, listBans, waitFor } from './support/thresholds-kit.js';

const API_KEY_VALUE = 'sk_live_raw_4242_do_not_store';
const OTHER_KEY_VALUE = 'sk_live_other_1717_do_not_store';
const SESSION_VALUE = 'sess_raw_9191_do_not_store';

/** The hash a Moat client reports for a key's value (128 bits of SHA-256 over kind, name, value). */
function hashOf(by: string, name: string, value: string): string {
  return createHash('sha256').update(`${by}\0${name}\0${value}`).digest('hex').slice(0, 32);
}

async function statusFor(app: ManagedApp, path: string, ip: string, headers: Record<string, string> = {}): Promise<number> {
  const response = await fetch(app.url + path, { headers: { 'x-forwarded-for': ip, ...headers } });
  await response.arrayBuffer();
  return response.status;
}

/** Every file under `dir`, read whole (the SQLite database with its WAL and the rules files). */
function allBytes(dir: string): Buffer[] {
  const out: Buffer[] = [];
  for (const name of readdirSync(dir)) {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) out.push(...allBytes(full));
    else out.push(readFileSync(full));
  }
  return out;
}

describe('threshold rules keyed by a header or a cookie, across real processes', () => {
  it('an API key flooding app A is banned on app B from any IP; another key, an allow-listed IP and a monitor rule ban nobody else; no header counts by IP; raw values never reach the hub', async () => {
    const logLines: string[] = [];
    const { hub, client, siteId, apiKey } = await startHubWithSite('keyed', { logger: { level: 'info', stream: { write: (line) => { logLines.push(line); } } } });
    const dirs = ['a', 'b'].map((name) => mkdtempSync(join(tmpdir(), `moat-keyed-${name}-`)));
    const apps: ManagedApp[] = [];
    try {
      const allow = await client.api('POST', `/api/sites/${siteId}/rules`, { action: 'allow', kind: 'ip', value: '10.9.9.9' });
      assert.equal(allow.status, 201);
      await createThreshold(client, siteId, {
        name: 'api key flood', condition: { requests: 'any', path: '/api', pathMatch: 'prefix' }, threshold: 8, windowSeconds: 300, key: 'header:X-Api-Key',
      });
      await createThreshold(client, siteId, {
        name: 'session watch', condition: { requests: 'any', path: '/api', pathMatch: 'prefix' }, threshold: 4, windowSeconds: 300, key: 'cookie:session', mode: 'monitor',
      });
      const options = (dir: string) => ({
        apiKey, hubUrl: hub.url, dir, customRulesIntervalMs: 150, longPollSeconds: 0, dataIntervalMs: 600_000,
        backoffBaseMs: 20, backoffMaxMs: 200, trustedProxies: ['127.0.0.1'], upsync: { flushIntervalMs: 100, batchSize: 50 },
      });
      apps.push(await startManagedApp(options(dirs[0]!)), await startManagedApp(options(dirs[1]!)));
      const [a, b] = apps as [ManagedApp, ManagedApp];
      const flooder = '203.0.113.10';
      const elsewhere = '198.51.100.20';
      const withKey = { 'x-api-key': API_KEY_VALUE, cookie: `session=${SESSION_VALUE}` };

      assert.equal(await statusFor(b, '/api/items', elsewhere, withKey), 200, 'B serves the key before any ban');
      // Passed requests, all alike: the apps fold such requests into counts, but never those that carry a key.
      for (let i = 0; i < 8; i++) assert.equal(await statusFor(a, '/api/items', flooder, withKey), 200);
      await waitFor(async () => (await statusFor(b, '/api/items', elsewhere, { 'x-api-key': API_KEY_VALUE })) === 403,
        'app B to answer the banned key 403 from another address');
      assert.equal(await statusFor(b, '/api/items', flooder, { 'x-api-key': OTHER_KEY_VALUE }), 200, 'another key from the same address passes');
      assert.equal(await statusFor(b, '/', flooder), 200, 'the address itself is not banned');
      assert.equal(await statusFor(a, '/api/items', '10.9.9.9', { 'x-api-key': API_KEY_VALUE }), 200, 'an allow-listed address with the banned key passes');
      assert.equal(await statusFor(b, '/api/items', '198.51.100.21', { cookie: `session=${SESSION_VALUE}` }), 200, 'the monitor-mode cookie rule banned nobody');

      const bans = await listBans(client, siteId);
      assert.deepEqual(bans.map((ban) => ban.key), [`header:x-api-key=${hashOf('header', 'x-api-key', API_KEY_VALUE)}`]);
      const wouldBan = `cookie:session=${hashOf('cookie', 'session', SESSION_VALUE)}`;
      await waitFor(async () => (await listBans(client, siteId, 'monitor')).some((ban) => ban.key === wouldBan), 'the would-be ban of the session');

      // A client that leaves the header out is counted by its address: banned as that address, never as "no key".
      const keyless = '203.0.113.30';
      for (let i = 0; i < 8; i++) assert.equal(await statusFor(a, '/api/items', keyless), 200);
      await waitFor(async () => (await statusFor(b, '/api/items', keyless)) === 403, 'app B to answer the keyless flooder 403 by its IP');
      assert.equal(await statusFor(b, '/api/items', '198.51.100.22'), 200, 'another request without the header passes');
      assert.deepEqual((await listBans(client, siteId)).map((ban) => ban.key).sort(),
        [keyless, `header:x-api-key=${hashOf('header', 'x-api-key', API_KEY_VALUE)}`].sort());

      // The dashboard shows the kind and a prefix of the hash; nothing anywhere holds the raw values.
      const page = await (await client.request(`/sites/${siteId}/thresholds`)).text();
      assert.ok(page.includes(`header:x-api-key #${hashOf('header', 'x-api-key', API_KEY_VALUE).slice(0, 8)}…`), 'the ban as kind and hash prefix');
      const api = await (await client.api('GET', `/api/sites/${siteId}/bans?mode=monitor`)).text();
      await hub.context.thresholds.idle();
      for (const raw of [API_KEY_VALUE, OTHER_KEY_VALUE, SESSION_VALUE]) {
        assert.ok(!page.includes(raw) && !api.includes(raw), `${raw} on a page or in the API`);
        assert.ok(!logLines.some((line) => line.includes(raw)), `${raw} in the hub's log`);
        assert.ok(!allBytes(hub.dataDir).some((bytes) => bytes.includes(raw)), `${raw} in the hub's files`);
      }
      assert.ok(logLines.length > 0, 'the log was captured');
    } finally {
      for (const app of apps) await app.close();
      await hub.stop();
      for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    }
  });
});
