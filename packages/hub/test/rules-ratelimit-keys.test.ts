// Rate limits keyed by a header, cookie or user id through a real hub: the add-a-rule form and the REST
// API store the key, the rules page shows it, the export/import document carries it, the Moat rules file
// a client downloads counts by it, and the Wafris file for the gem leaves it out (the gem counts per IP).
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { Engine } from 'moat-waf';
import { Client, createSiteWithKey, startHubWithSite, type TestHub } from './support/hub-fixture.js';

const scratch = mkdtempSync(join(tmpdir(), 'moat-hub-keys-'));

describe('keyed rate limits on the hub', () => {
  let hub: TestHub;
  let client: Client;
  let siteId: number;
  let apiKey: string;

  before(async () => {
    ({ hub, client, siteId, apiKey } = await startHubWithSite('keys'));
  });
  after(async () => {
    await hub.stop();
    rmSync(scratch, { recursive: true, force: true });
  });

  const post = (form: Record<string, string>) => client.request(`/sites/${siteId}/rules`, {
    method: 'POST', form: { _csrf: client.csrf, action: 'block', kind: 'rateLimit', mode: 'block', rl_window: '1m', ...form },
  });

  it('the form stores a header key; the rules page shows it; a missing or forbidden name is an error beside the name field', async () => {
    const added = await post({ rl_path: '/api/*', rl_limit: '3', rl_key_by: 'header', rl_key_name: 'X-Api-Key' });
    assert.equal(added.status, 303);
    const rule = (await hub.store.listRules(siteId)).find((r) => r.kind === 'rateLimit' && r.rateLimit.path === '/api/');
    assert.ok(rule?.kind === 'rateLimit');
    assert.deepEqual(rule.rateLimit.key, { by: 'header', name: 'x-api-key' });
    const html = await (await client.request(`/sites/${siteId}/rules`)).text();
    assert.match(html, /3 per 60s per header:x-api-key/);
    assert.match(html, /<select name="rl_key_by">/);

    for (const [form, text] of [
      [{ rl_key_by: 'header', rl_key_name: '' }, /header name/],
      [{ rl_key_by: 'header', rl_key_name: 'X-Forwarded-For' }, /trusted proxies only/],
      [{ rl_key_by: 'cookie', rl_key_name: 'a b' }, /cookie name/],
    ] as const) {
      const response = await post({ rl_path: '/login', rl_limit: '5', ...form });
      assert.equal(response.status, 400, JSON.stringify(form));
      const body = await response.text();
      const error = /<span class="field-error" id="error-rl_key_name" data-error-for="rl_key_name">([^<]*)<\/span>/.exec(body);
      assert.ok(error, `an error beside the name field for ${JSON.stringify(form)}`);
      assert.match(error[1]!, text);
      assert.match(body, /<option value="header" selected>|<option value="cookie" selected>/, 'what was chosen is kept');
    }
    assert.equal((await hub.store.listRules(siteId)).some((r) => r.kind === 'rateLimit' && r.rateLimit.path === '/login'), false);
  });

  it('the API takes cookie and user keys; export and import carry them; the served Moat file counts per key', async () => {
    const cookie = await client.api('POST', `/api/sites/${siteId}/rules`, { kind: 'rateLimit', rateLimit: { path: '/cart', limit: 2, window: '1m', key: 'cookie:sid' } });
    assert.equal(cookie.status, 201, await cookie.clone().text());
    const user = await client.api('POST', `/api/sites/${siteId}/rules`, { kind: 'rateLimit', rateLimit: { path: '/me', limit: 2, window: '1m', key: 'user' } });
    assert.equal(user.status, 201);
    const bad = await client.api('POST', `/api/sites/${siteId}/rules`, { kind: 'rateLimit', rateLimit: { path: '/x', limit: 2, window: '1m', key: 'query:k' } });
    assert.equal(bad.status, 400);

    const document = (await (await client.request(`/api/sites/${siteId}/rules/export`)).json()) as { rateLimits: { key?: string }[] };
    assert.deepEqual(document.rateLimits.map((r) => r.key).sort(), ['cookie:sid', 'header:x-api-key', 'user']);
    const copy = await createSiteWithKey(client, 'copy');
    assert.equal((await client.api('POST', `/api/sites/${copy.siteId}/rules/import`, { document, replace: true })).status, 200);
    assert.deepEqual(await (await client.request(`/api/sites/${copy.siteId}/rules/export`)).json(), document);

    // Changing the mode of a keyed rule keeps its key.
    const stored = (await hub.store.listRules(siteId)).find((r) => r.kind === 'rateLimit' && r.rateLimit.path === '/cart')!;
    assert.equal((await client.api('PATCH', `/api/sites/${siteId}/rules/${stored.id}`, { mode: 'monitor' })).status, 200);
    assert.equal((await client.api('PATCH', `/api/sites/${siteId}/rules/${stored.id}`, { mode: 'block' })).status, 200);
    const after = (await hub.store.getRule(siteId, stored.id))!;
    assert.deepEqual(after.rateLimit?.key, { by: 'cookie', name: 'sid' });

    const served = await fetch(`${hub.url}/v2/downsync/custom_rules/${apiKey}?client=moat&hostname=web-1&process_id=1&version=0.1.0&framework=express`);
    assert.equal(served.status, 200);
    const file = join(scratch, 'served.db');
    writeFileSync(file, Buffer.from(await served.arrayBuffer()));
    const engine = Engine.open({ rules: file, now: () => 1_000_000 });
    try {
      assert.equal(engine.rules.info.formatVersion, 2);
      const cart = (sid: string) => engine.evaluate({ ip: '203.0.113.9', method: 'POST', path: '/cart', headers: { cookie: `sid=${sid}` } }).treatment;
      assert.deepEqual([cart('a'), cart('a'), cart('a'), cart('b')], ['Passed', 'Passed', 'Blocked', 'Passed']);
      const api = (key: string) => engine.evaluate({ ip: '203.0.113.9', method: 'GET', path: '/api/x', headers: { 'x-api-key': key } }).treatment;
      assert.deepEqual([api('k1'), api('k1'), api('k1'), api('k1'), api('k2')], ['Passed', 'Passed', 'Passed', 'Blocked', 'Passed']);
    } finally {
      engine.close();
    }

    const gem = await fetch(`${hub.url}/v2/downsync/custom_rules/${apiKey}?client=wafris-ruby`);
    assert.equal(gem.status, 200);
    const gemFile = join(scratch, 'gem.db');
    writeFileSync(gemFile, Buffer.from(await gem.arrayBuffer()));
    const db = new Database(gemFile, { readonly: true });
    try {
      assert.equal(db.prepare('SELECT count(*) FROM blocked_rate_limits').pluck().get(), 0, 'keyed limits are not exported to the gem');
    } finally {
      db.close();
    }
  });
});
