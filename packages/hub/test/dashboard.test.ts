import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { Client, createSiteWithKey, record, startTestHub, upsyncBody, type TestHub, startHubWithSite } from './support/hub-fixture.js';

describe('dashboard pages', () => {
  let hub: TestHub;
  let client: Client;
  let siteId: number;
  let apiKey: string;

  before(async () => {
    ({ hub, client, siteId, apiKey } = await startHubWithSite('pages <site>'));
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
    const row = /<tr data-rule-id="[^"]+" id="rule-[^"]+" class="">\s*<td>block<\/td>\s*<td>Path contains<\/td>[\s\S]*?<\/tr>/.exec(html)?.[0];
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

describe('operator dashboard: chart range, list state, IP page, rule form', () => {
  // A fixed clock: 12:30:20 UTC, so the current minute and hour are known.
  const NOW = Date.UTC(2030, 0, 15, 12, 30, 20);
  const nowSeconds = Math.floor(NOW / 1000);
  const SCANNER = '198.51.100.66';
  let hub: TestHub;
  let client: Client;
  let siteId: number;
  let apiKey: string;

  before(async () => {
    ({ hub, client, siteId, apiKey } = await startHubWithSite('operator', { now: () => NOW }));
    const monitor = await client.api('POST', `/api/sites/${siteId}/rules`, { kind: 'userAgent', value: 'masscan', mode: 'monitor' });
    const monitorId = ((await monitor.json()) as { rule: { id: string } }).rule.id;
    // Twenty minutes of traffic, the newest in the current (incomplete) minute.
    const batch: Record<string, unknown>[] = [];
    for (let m = 20; m >= 0; m--) {
      for (let i = 0; i < 3; i++) batch.push(record({ timestamp: nowSeconds - m * 60 - i, ip: SCANNER, path: '/wp-admin/x.php', user_agent: 'masscan/1.3', request_id: `s${m}-${i}`, monitored: [{ category: 'bu', rule: 'masscan', rule_id: monitorId }] }));
      batch.push(record({ timestamp: nowSeconds - m * 60, ip: '192.0.2.10', path: '/home', request_id: `v${m}` }));
      batch.push(record({ timestamp: nowSeconds - m * 60, ip: '192.0.2.44', path: '/wp-login.php', treatment: 'Blocked', category: 'bp', rule: '/wp-login', request_id: `b${m}` }));
    }
    const up = await fetch(`${hub.url}/v2/upsync/${apiKey}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(upsyncBody(batch)) });
    assert.equal(up.status, 200);
    await hub.rollUpNow();
  });
  after(() => hub.stop());

  const page = async (path: string) => {
    const response = await client.request(path);
    assert.equal(response.status, 200, path);
    return response.text();
  };
  const chartData = (html: string) => JSON.parse(/id="traffic-data">([^<]+)</.exec(html)![1]!.replace(/\\u003c/g, '<')) as {
    series: { t: number[]; total: number[]; monitored: number[]; step: number; current: number };
  };

  it('a new site opens on the last hour, per minute, with the unfinished minute marked and a would-have-blocked series', async () => {
    const html = await page(`/sites/${siteId}`);
    assert.match(html, /<a href="[^"]+\?range=1h" aria-current="true">1h<\/a>/, 'twenty minutes of data open on 1h, not 24h');
    assert.match(html, /data-chart-unit>Requests per minute</);
    const { series } = chartData(html);
    assert.equal(series.step, 60);
    assert.equal(series.t.length, 60);
    assert.equal(series.current, series.t.length - 1, 'the last bucket is the minute still filling');
    assert.equal(series.t[series.current], nowSeconds - (nowSeconds % 60));
    assert.equal(series.monitored.reduce((a, b) => a + b, 0), 63, 'every monitored match is in the monitor series');
    // An explicit range is kept, with its own unit.
    const day = await page(`/sites/${siteId}?range=24h`);
    assert.match(day, /data-chart-unit>Requests per 5 minutes</);
    assert.match(await page(`/sites/${siteId}?range=7d`), /data-chart-unit>Requests per hour</);
  });

  it('quick block offers an expiry; a blocked IP then shows its state, rule and expiry with Undo instead of Block', async () => {
    const listed = await page(`/sites/${siteId}?range=1h`);
    const ipList = listed.slice(listed.indexOf('data-top="ip"'), listed.indexOf('data-top="path"'));
    assert.match(ipList, /<select name="expires"[^>]*>[\s\S]*value="1h"[\s\S]*value="24h"[\s\S]*value="7d"[\s\S]*value="never" selected/);
    const blocked = await client.request(`/sites/${siteId}/rules/quick`, { method: 'POST', form: { _csrf: client.csrf, kind: 'ip', value: '192.0.2.10', mode: 'block', expires: '1h', back: `/sites/${siteId}?range=1h`, confirm: '1' } });
    assert.equal(blocked.status, 303);
    const rule = (await hub.store.listRules(siteId)).find((r) => r.kind === 'ip' && r.value === '192.0.2.10')!;
    assert.equal(rule.expires, NOW + 3_600_000);

    const state = await page(`/sites/${siteId}?range=1h`);
    const row = /<tr>\s*<td class="value"><a href="[^"]+\/ips\/192\.0\.2\.10"[\s\S]*?<\/tr>/.exec(state)?.[0];
    assert.ok(row, 'the IP row links to its page');
    assert.match(row, /data-state="blocked"/);
    assert.match(row, /until 2030-01-15 13:30 UTC/);
    assert.match(row, new RegExp(`/rules/${rule.id}/undo`));
    assert.doesNotMatch(row, /value="block"/, 'no second Block button');
    // A path covered by a broader monitor rule says so and names the rule, without an undo.
    await client.api('POST', `/api/sites/${siteId}/rules`, { kind: 'path', value: '/wp-admin', mode: 'monitor' });
    const paths = await page(`/sites/${siteId}?range=1h`);
    const pathRow = /<tr>\s*<td class="value"><a href="[^"]+\/requests\?path=%2Fwp-admin%2Fx\.php"[\s\S]*?<\/tr>/.exec(paths)?.[0];
    assert.ok(pathRow);
    assert.match(pathRow, /data-state="monitored"/);
    assert.match(pathRow, /<code>\/wp-admin<\/code>/);
    assert.doesNotMatch(pathRow, /\/undo/);

    const undo = await client.request(`/sites/${siteId}/rules/${rule.id}/undo`, { method: 'POST', form: { _csrf: client.csrf, back: `/sites/${siteId}?range=1h` } });
    assert.equal(undo.status, 303);
    assert.equal(undo.headers.get('location'), `/sites/${siteId}?range=1h&done=rule-deleted`);
    assert.equal(await hub.store.getRule(siteId, rule.id), undefined);
  });

  it('the IP page shows country, network, rules now and matched, an hourly timeline and recent requests', async () => {
    await client.api('POST', `/api/sites/${siteId}/rules`, { kind: 'ip', value: '198.51.100.0/24', mode: 'monitor', note: 'scanner net' });
    const html = await page(`/sites/${siteId}/ips/${SCANNER}`);
    assert.match(html, /<h1>IP <code>198\.51\.100\.66<\/code><\/h1>/);
    assert.match(html, /data-fact="asn">unknown/);
    assert.match(html, /data-fact="seen">63 requests, 0 blocked/);
    assert.match(html, /data-rules-now[\s\S]*?IP <code>198\.51\.100\.0\/24<\/code>/);
    assert.match(html, /data-rules-matched[\s\S]*?<code>bu<\/code> masscan[\s\S]*?<td class="num">0<\/td><td class="num">50<\/td>/, 'the monitor rule, from the 50 recent requests');
    assert.match(html, /<svg class="timeline"[^>]*data-hours="1"/);
    assert.equal((html.match(/<tr class="t-passed">/g) ?? []).length, 50, 'the newest 50 requests');
    assert.match(html, /href="\/sites\/\d+\/requests\?ip=198\.51\.100\.66"/);
    // The request log links each IP to this page.
    assert.match(await page(`/sites/${siteId}/requests`), /href="\/sites\/\d+\/ips\/198\.51\.100\.66" data-ip-link/);
  });

  it('the rule form shows rate-limit fields only for rate limits and puts each error beside its field', async () => {
    const html = await page(`/sites/${siteId}/rules`);
    assert.match(html, /<fieldset data-for-kind="rateLimit" class="rate" hidden>/);
    const css = await (await fetch(`${hub.url}/assets/hub.css`)).text();
    assert.match(css, /\[hidden\] \{ display:none !important; \}/, 'no display rule can show a hidden field');

    const post = (form: Record<string, string>) => client.request(`/sites/${siteId}/rules`, { method: 'POST', form: { _csrf: client.csrf, action: 'block', mode: 'block', ...form } });
    for (const [form, field, text] of [
      [{ kind: 'country', value: 'XX' }, 'value', /XX/],
      [{ kind: 'method', value: 'FOO' }, 'value', /FOO/],
      [{ kind: 'rateLimit', rl_path: '/login', rl_method: 'FOO', rl_limit: '5', rl_window: '1m' }, 'rl_method', /FOO/],
      [{ kind: 'rateLimit', rl_path: '/login', rl_limit: 'lots' }, 'rl_limit', /whole number/],
      [{ kind: 'ip', value: 'nope' }, 'value', /invalid IP/],
    ] as const) {
      const response = await post(form);
      assert.equal(response.status, 400, JSON.stringify(form));
      const body = await response.text();
      const error = new RegExp(`<span class="field-error" id="error-${field}" data-error-for="${field}">([^<]*)</span>`).exec(body);
      assert.ok(error, `an error beside ${field} for ${JSON.stringify(form)}`);
      assert.match(error[1]!, text);
      assert.match(body, new RegExp(`name="${field}"[^>]*aria-invalid="true" aria-describedby="error-${field}"`));
      // What was typed is kept, and a rate-limit form opens with its fields shown.
      if (form.kind === 'rateLimit') assert.match(body, /<fieldset data-for-kind="rateLimit" class="rate" >/);
      if ('value' in form) assert.match(body, new RegExp(`name="value" type="text" value="${form.value}"`));
    }
    assert.equal((await hub.store.listRules(siteId)).some((r) => r.value === 'XX' || r.value === 'FOO'), false);
    const ok = await post({ kind: 'country', value: 'kp' });
    assert.equal(ok.status, 303);
  });
});
