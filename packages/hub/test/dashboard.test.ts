import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { Client, createSiteWithKey, record, startTestHub, upsyncBody, type TestHub } from './support/hub-fixture.js';

describe('dashboard pages', () => {
  let hub: TestHub;
  let client: Client;
  let siteId: number;
  let apiKey: string;

  before(async () => {
    hub = await startTestHub();
    client = new Client(hub.url);
    await client.login();
    ({ siteId, apiKey } = await createSiteWithKey(client, 'pages <site>'));
    const monitor = await client.api('POST', `/api/sites/${siteId}/rules`, { kind: 'path', value: '/admin', mode: 'monitor' });
    const monitorId = ((await monitor.json()) as { rule: { id: string } }).rule.id;
    const batch = [
      ...Array.from({ length: 5 }, (_, i) => record({ request_id: `s${i}`, ip: '198.51.100.66', path: '/admin', monitored: [{ category: 'bp', rule: '/admin', rule_id: monitorId }] })),
      record({ ip: '192.0.2.10', path: '/home' }),
    ];
    const up = await fetch(`${hub.url}/v2/upsync/${apiKey}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(upsyncBody(batch)) });
    assert.equal(up.status, 200);
    await hub.rollUpNow();
  });
  after(() => hub.stop());

  const page = async (path: string) => {
    const response = await client.request(path);
    assert.equal(response.status, 200, path);
    assert.match(response.headers.get('content-type')!, /text\/html/);
    return response.text();
  };

  it('overview shows totals, chart data and top lists, escaping user data', async () => {
    const html = await page(`/sites/${siteId}?range=1h`);
    assert.match(html, /data-stat="total">6</);
    assert.match(html, /data-stat="uniqueIps">2</);
    assert.match(html, /id="traffic-data">\{/);
    assert.match(html, /data-top="ip"[\s\S]*198\.51\.100\.66/);
    assert.ok(html.includes('pages &lt;site&gt;') && !html.includes('pages <site>'));
    // uPlot and the hub's script are served locally.
    for (const asset of ['uPlot.iife.min.js', 'uPlot.min.css', 'hub.js', 'hub.css']) {
      assert.ok(html.includes(`/assets/${asset}`));
      const response = await fetch(`${hub.url}/assets/${asset}`);
      assert.equal(response.status, 200, asset);
      assert.ok((await response.arrayBuffer()).byteLength > 500);
    }
  });

  it('one-click block and monitor from a top list create rules (CSRF-protected)', async () => {
    const form = { kind: 'ip', value: '198.51.100.66', mode: 'block', back: `/sites/${siteId}?range=1h` };
    const refused = await client.request(`/sites/${siteId}/rules/quick`, { method: 'POST', form });
    assert.equal(refused.status, 403);
    const created = await client.request(`/sites/${siteId}/rules/quick`, { method: 'POST', form: { ...form, _csrf: client.csrf } });
    assert.equal(created.status, 303);
    assert.equal(created.headers.get('location'), `/sites/${siteId}?range=1h&done=rule-created`);
    const monitor = await client.request(`/sites/${siteId}/rules/quick`, { method: 'POST', form: { kind: 'userAgent', value: 'curl/8', mode: 'monitor', _csrf: client.csrf } });
    assert.equal(monitor.status, 303);
    const rules = await hub.store.listRules(siteId);
    assert.ok(rules.some((r) => r.kind === 'ip' && r.value === '198.51.100.66' && r.mode === 'block'));
    assert.ok(rules.some((r) => r.kind === 'userAgent' && r.value === 'curl/8' && r.mode === 'monitor'));
    // Clicking "monitor" on an IP that is already blocked switches its mode instead of failing.
    const again = await client.request(`/sites/${siteId}/rules/quick`, { method: 'POST', form: { ...form, mode: 'monitor', _csrf: client.csrf } });
    assert.match(again.headers.get('location')!, /done=rule-exists/);
    assert.equal((await hub.store.listRules(siteId)).find((r) => r.value === '198.51.100.66')!.mode, 'monitor');
    // An off-site "back" is not followed.
    const offsite = await client.request(`/sites/${siteId}/rules/quick`, { method: 'POST', form: { ...form, value: '192.0.2.10', back: 'https://evil.example/', _csrf: client.csrf } });
    assert.match(offsite.headers.get('location')!, new RegExp(`^/sites/${siteId}\\?done=`));
  });

  it('rules page shows hit counts and would-have-blocked counts; its forms add, switch and delete', async () => {
    const html = await page(`/sites/${siteId}/rules`);
    const row = /<tr data-rule-id="[^"]+" class="">\s*<td>block<\/td>\s*<td>Path contains<\/td>[\s\S]*?<\/tr>/.exec(html)?.[0];
    assert.ok(row, 'the monitor rule has a row');
    assert.match(row, /mode-monitor/);
    assert.match(row, /<td class="num">5<\/td>\s*<td>/, 'five would-have-blocked matches');

    const add = await client.request(`/sites/${siteId}/rules`, { method: 'POST', form: { _csrf: client.csrf, action: 'block', kind: 'rateLimit', rl_path: '/api/*', rl_method: 'POST', rl_limit: '10', rl_window: '30s', mode: 'block', note: 'api cap', expires: '2099-01-01T00:00' } });
    assert.equal(add.status, 303);
    const rl = (await hub.store.listRules(siteId)).find((r) => r.kind === 'rateLimit')!;
    assert.deepEqual(rl.rateLimit, { method: 'POST', path: '/api/', match: 'prefix', limit: 10, windowMs: 30_000 });
    assert.equal(rl.expires, Date.parse('2099-01-01T00:00:00Z'));
    const bad = await client.request(`/sites/${siteId}/rules`, { method: 'POST', form: { _csrf: client.csrf, kind: 'ip', value: 'nope' } });
    assert.equal(bad.status, 400);
    assert.match(await bad.text(), /invalid IP/);

    const mode = await client.request(`/sites/${siteId}/rules/${rl.id}/mode`, { method: 'POST', form: { _csrf: client.csrf, mode: 'monitor' } });
    assert.equal(mode.status, 303);
    assert.equal((await hub.store.getRule(siteId, rl.id))!.mode, 'monitor');
    const del = await client.request(`/sites/${siteId}/rules/${rl.id}/delete`, { method: 'POST', form: { _csrf: client.csrf } });
    assert.equal(del.status, 303);
    assert.equal(await hub.store.getRule(siteId, rl.id), undefined);
    const imported = await client.request(`/sites/${siteId}/rules/import`, { method: 'POST', form: { _csrf: client.csrf, document: '{"block":{"hosts":["bad.example"]}}' } });
    assert.equal(imported.status, 303);
    assert.ok((await hub.store.listRules(siteId)).some((r) => r.kind === 'host'));
  });

  it('request log filters and pages', async () => {
    const html = await page(`/sites/${siteId}/requests?ip=192.0.2.10`);
    assert.match(html, /192\.0\.2\.10/);
    assert.doesNotMatch(html, /198\.51\.100\.66<\/a>/);
    const paged = await page(`/sites/${siteId}/requests?limit=2`);
    assert.match(paged, /rel="next"/);
  });

  it('setup page shows a new key once, the public key and per-framework snippets', async () => {
    const created = await client.request(`/sites/${siteId}/keys`, { method: 'POST', form: { _csrf: client.csrf, label: 'prod' } });
    assert.equal(created.status, 200);
    const html = await created.text();
    const key = /<code id="new-key">(moat_[^<]+)<\/code>/.exec(html)?.[1];
    assert.ok(key);
    assert.ok(html.includes(`WAFRIS_API_KEY=${key}`));
    for (const framework of ['Express', 'Fastify', 'Koa', 'Hono', 'Wafris']) assert.ok(html.includes(framework), framework);
    assert.ok(html.includes(hub.context.signingKey!.publicKeyBase64), /hub-public-key">[^<]*/.exec(html)?.[0] + " vs " + hub.context.signingKey!.publicKeyBase64);
    const later = await page(`/sites/${siteId}/setup`);
    assert.equal(later.includes(key), false, 'the key is not shown again');
  });

  it('clients page lists each client instance with its last contact and file', async () => {
    const down = await fetch(`${hub.url}/v2/downsync/custom_rules/${apiKey}?client=moat&hostname=app-7&process_id=99&version=0.1.0&framework=fastify`);
    await down.arrayBuffer();
    const html = await page(`/sites/${siteId}/clients`);
    assert.match(html, /app-7/);
    assert.match(html, /<td>99<\/td>/);
    assert.match(html, /fastify/);
  });
});

describe('rules hit on the overview', () => {
  it('names what a rate-limit rule limits, not just its id', async () => {
    const hub = await startTestHub();
    try {
      const client = new Client(hub.url);
      await client.login();
      const { siteId, apiKey } = await createSiteWithKey(client, 'limits');
      const created = await client.api('POST', `/api/sites/${siteId}/rules`, {
        kind: 'rateLimit', value: '/login', rateLimit: { method: 'POST', path: '/login', limit: 5, window: '60s' },
      });
      const ruleId = ((await created.json()) as { rule: { id: string } }).rule.id;
      const batch = Array.from({ length: 3 }, (_, i) => record({
        request_id: `rl${i}`, method: 'POST', path: '/login', treatment: 'Blocked', category: 'brl', rule: ruleId,
      }));
      const up = await fetch(`${hub.url}/v2/upsync/${apiKey}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(upsyncBody(batch)) });
      assert.equal(up.status, 200);
      await hub.rollUpNow();
      const html = await (await client.request(`/sites/${siteId}?range=1h`)).text();
      const rulesHit = html.slice(html.indexOf('data-top="rule"'));
      assert.match(rulesHit, /<code>brl<\/code> POST \/login 5 per 60s/);
      assert.ok(rulesHit.includes(`rule=${encodeURIComponent(ruleId)}`), 'the link still filters by the rule id');
    } finally {
      await hub.stop();
    }
  });
});
