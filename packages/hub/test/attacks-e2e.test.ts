// Attack detection managed from the hub, end to end with real processes: a node:http app in managed
// mode (its own child process) downloads its site's rules file from a real hub. A new site watches every
// category (monitor): a SQL injection reaches the app and shows on the Attacks panel with its location
// and redacted snippet. The admin sets SQL injection to block in the Rules page's form: the same attack
// is answered 403 by the app, an O'Brien search still passes, and an exclusion for the field lets it through again.
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { startHubWithSite, type Client } from './support/hub-fixture.js';
import { startManagedApp } from './support/managed-app.js';
import { waitFor } from './support/thresholds-kit.js';

const ATTACK = "/search?q=x'%20OR%201=1--";

async function status(url: string, headers?: Record<string, string>): Promise<number> {
  const response = await fetch(url, { headers });
  await response.arrayBuffer();
  return response.status;
}

/** Posts the Rules page's attack settings form as a browser would (session cookie + CSRF field). */
async function saveSettings(client: Client, siteId: number, modes: Record<string, string>, exclusions = '', headers = ''): Promise<Response> {
  const page = await (await client.request(`/sites/${siteId}/rules`)).text();
  assert.match(page, /id="attack-settings"/, 'the Rules page has the attack settings section');
  const csrf = /name="_csrf" value="([^"]+)"/.exec(page)![1]!;
  const form: Record<string, string> = { _csrf: csrf, back: `/sites/${siteId}/rules`, exclusions, headers };
  for (const c of ['sqli', 'xss', 'traversal', 'shell', 'ssrf', 'nosql', 'prototype', 'template']) form[`mode_${c}`] = modes[c] ?? 'monitor';
  return client.request(`/sites/${siteId}/attacks`, { method: 'POST', form });
}

describe('attack detection managed from the hub', () => {
  it('Rules page settings reach the client: monitor reports, block answers 403, an exclusion lets the field through', async () => {
    const { hub, client, siteId, apiKey } = await startHubWithSite('attacks');
    const dir = mkdtempSync(join(tmpdir(), 'moat-attacks-app-'));
    let app: Awaited<ReturnType<typeof startManagedApp>> | undefined;
    try {
      app = await startManagedApp({
        apiKey, hubUrl: hub.url, dir, customRulesIntervalMs: 150, longPollSeconds: 0, dataIntervalMs: 600_000,
        backoffBaseMs: 20, backoffMaxMs: 200, upsync: { flushIntervalMs: 100, batchSize: 50 },
      });
      // A new site: every category in monitor. The attack reaches the app and is reported.
      assert.equal(await status(app.url + ATTACK), 200);
      await waitFor(async () => {
        const page = await (await client.request(`/sites/${siteId}/attacks`)).text();
        return page.includes('data-attack-example="sqli"');
      }, 'the monitored SQL injection on the Attacks panel');
      const panel = await (await client.request(`/sites/${siteId}/attacks`)).text();
      assert.match(panel, /<code>query\.q<\/code>/);
      assert.match(panel, /monitored/);
      assert.ok(panel.includes('x&#39; OR 1=1--') || panel.includes("x' OR 1=1--"), 'the redacted snippet is shown, escaped');

      const saved = await saveSettings(client, siteId, { sqli: 'block' });
      assert.equal(saved.status, 303);
      assert.equal(saved.headers.get('location'), `/sites/${siteId}/rules?done=attacks-saved`);
      const rules = await (await client.request(`/sites/${siteId}/rules`)).text();
      assert.match(rules, /<option value="block" selected>block<\/option>/);

      await waitFor(async () => (await status(app!.url + ATTACK)) === 403, 'the app to block the SQL injection');
      assert.equal(await status(`${app.url}/search?q=O'Brien`), 200, "an O'Brien search passes");

      assert.equal((await saveSettings(client, siteId, { sqli: 'block' }, '/search sqli query.q')).status, 303);
      await waitFor(async () => (await status(app!.url + ATTACK)) === 200, 'the exclusion to reach the app');
      assert.equal(await status(`${app.url}/other?q=x'%20OR%201=1--`), 403, 'the exclusion covers only its path');

      // A header the app acts on, named on the Rules page: judged by the client once its file arrives.
      const headerAttack = { 'x-search': "x' UNION SELECT password FROM users-- " };
      assert.equal(await status(`${app.url}/search?q=shoes`, headerAttack), 200, 'not named yet: not judged');
      assert.equal((await saveSettings(client, siteId, { sqli: 'block' }, '', 'X-Search, x-tenant')).status, 303);
      assert.match(await (await client.request(`/sites/${siteId}/rules`)).text(), /name="headers" maxlength="4000" value="x-search, x-tenant"/);
      await waitFor(async () => (await status(`${app!.url}/search?q=shoes`, headerAttack)) === 403, 'the named header to be judged');
      assert.equal(await status(`${app.url}/search?q=shoes`, { 'x-search': "O'Brien's shop" }), 200);
      const refused = await saveSettings(client, siteId, { sqli: 'block' }, '', 'x-search, cookie');
      assert.equal(refused.status, 400);
      assert.match(await refused.text(), /&quot;cookie&quot; is judged already|"cookie" is judged already/);
      assert.equal(await status(`${app.url}/search?q=shoes`, headerAttack), 403, 'the refused form changed nothing');

      // Refused input comes back as a 400 page, nothing stored.
      const bad = await saveSettings(client, siteId, { sqli: 'sometimes' });
      assert.equal(bad.status, 400);
      assert.match(await bad.text(), /mode must be one of block, monitor, off/);
    } finally {
      await app?.close();
      await hub.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a rules document imported with an attacks section sets them; the export carries them; a bad one is refused whole', async () => {
    const { hub, client, siteId } = await startHubWithSite('attacks import');
    try {
      const document = { block: { paths: ['/wp-admin'] }, attacks: { sqli: 'block', xss: 'off', exclude: [{ path: '/admin/editor', categories: ['xss'] }], headers: ['X-Search'] } };
      const imported = await client.api('POST', `/api/sites/${siteId}/rules/import`, { document, replace: true });
      assert.equal(imported.status, 200, await imported.clone().text());
      const exported = (await (await client.request(`/api/sites/${siteId}/rules/export`)).json()) as { attacks: Record<string, unknown> };
      assert.equal(exported.attacks.sqli, 'block');
      assert.equal(exported.attacks.xss, 'off');
      assert.equal(exported.attacks.shell, 'monitor');
      assert.deepEqual(exported.attacks.exclude, [{ path: '/admin/editor', categories: ['xss'] }]);
      assert.deepEqual(exported.attacks.headers, ['x-search']);
      const bad = await client.api('POST', `/api/sites/${siteId}/rules/import`, { document: { block: { paths: ['/x'] }, attacks: { sqli: 'maybe' } }, replace: true });
      assert.equal(bad.status, 400);
      assert.match(await bad.text(), /mode must be one of/);
      const after = (await (await client.request(`/api/sites/${siteId}/rules/export`)).json()) as { block: { paths: string[] }; attacks: Record<string, unknown> };
      assert.deepEqual(after.block.paths, ['/wp-admin'], 'nothing of the refused document was stored');
      assert.equal(after.attacks.sqli, 'block');
    } finally {
      await hub.stop();
    }
  });
});
