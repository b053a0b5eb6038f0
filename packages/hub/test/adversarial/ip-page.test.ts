import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { hoursOf } from '../../src/store/report-rows.js';
import { MAX_VALUE_HOURS } from '../../src/store/store.js';
import { Client, record, upsyncBody, type TestHub, startHubWithSite } from '../support/hub-fixture.js';
import { inviteAndSignIn } from '../support/invited-user.js';

// The IP page and the one-click undo/expiry, attacked the way a hostile client or a crafted link would:
// reported values are attacker text, URLs are attacker text, and a form can be posted from anywhere.

const ATTACKER = '203.0.113.66';
const XSS_AGENT = '<img src=x onerror=alert(1)>';
const XSS_PATH = '/"><script>alert(2)</script>';

describe('IP page and one-click undo under attack', () => {
  let hub: TestHub;
  let client: Client;
  let siteId: number;

  before(async () => {
    let apiKey: string;
    ({ hub, client, siteId, apiKey } = await startHubWithSite('attacked'));
    const batch = [
      record({ ip: ATTACKER, user_agent: XSS_AGENT, path: XSS_PATH, request_id: 'x1', treatment: 'Blocked', category: 'bu', rule: '<b>rule</b>' }),
      record({ ip: ATTACKER, user_agent: 'curl/8', path: '/', request_id: 'x2' }),
    ];
    const up = await fetch(`${hub.url}/v2/upsync/${apiKey}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(upsyncBody(batch)) });
    assert.equal(up.status, 200);
    await hub.rollUpNow();
  });
  after(() => hub.stop());

  it('reported markup in a user agent, path and rule is shown escaped on the IP page', async () => {
    const response = await client.request(`/sites/${siteId}/ips/${ATTACKER}`);
    assert.equal(response.status, 200);
    const html = await response.text();
    assert.ok(html.includes('&lt;img src=x onerror=alert(1)&gt;'), 'the agent is on the page, escaped');
    assert.equal(html.includes(XSS_AGENT), false);
    assert.equal(html.includes('<script>alert(2)'), false);
    assert.equal(html.includes('<b>rule</b>'), false);
  });

  it('GET /sites/:id/ips/<script> and other non-addresses answer 404 and reflect nothing', async () => {
    for (const ip of ['<script>alert(1)</script>', '203.0.113.66%00', '203.0.113.0%2F24', '203.0.113.1-203.0.113.9', 'a'.repeat(200), '..%2F..%2Fsites']) {
      const response = await client.request(`/sites/${siteId}/ips/${encodeURIComponent(ip)}`);
      assert.equal(response.status, 404, ip);
      const body = await response.text();
      assert.equal(body.includes('<script>'), false, ip);
    }
  });

  it('the IP page of another site\'s id answers 404, not that site\'s data', async () => {
    const response = await client.request(`/sites/${siteId + 1000}/ips/${ATTACKER}`);
    assert.equal(response.status, 404);
  });

  it('an undo posted without the CSRF token is refused and deletes nothing', async () => {
    const created = await client.api('POST', `/api/sites/${siteId}/rules`, { kind: 'ip', value: ATTACKER });
    const ruleId = ((await created.json()) as { rule: { id: string } }).rule.id;
    const forged = await client.request(`/sites/${siteId}/rules/${ruleId}/undo`, { method: 'POST', form: { back: `/sites/${siteId}` } });
    assert.equal(forged.status, 403);
    const crossSite = await client.request(`/sites/${siteId}/rules/${ruleId}/undo`, {
      method: 'POST', form: { _csrf: client.csrf, back: `/sites/${siteId}` }, headers: { origin: 'https://evil.example' },
    });
    assert.equal(crossSite.status, 403);
    assert.ok(await hub.store.getRule(siteId, ruleId), 'the rule is still there');
  });

  it('an undo whose "back" points off the hub (//evil.example, https://…, another site) returns to this site', async () => {
    for (const back of ['//evil.example/x', 'https://evil.example/', `/sites/${siteId + 1}/rules`, '/\\evil.example', 'javascript:alert(1)']) {
      const created = await client.api('POST', `/api/sites/${siteId}/rules`, { kind: 'path', value: `/undo-${back.length}-${Math.random()}` });
      const ruleId = ((await created.json()) as { rule: { id: string } }).rule.id;
      const undo = await client.request(`/sites/${siteId}/rules/${ruleId}/undo`, { method: 'POST', form: { _csrf: client.csrf, back } });
      assert.equal(undo.status, 303, back);
      assert.match(undo.headers.get('location')!, new RegExp(`^/sites/${siteId}(\\?|$)`), back);
      assert.equal(await hub.store.getRule(siteId, ruleId), undefined);
    }
  });

  it('quick block with an expiry outside 1h/24h/7d/never (or a raw timestamp) creates nothing', async () => {
    const before = (await hub.store.listRules(siteId)).length;
    for (const expires of ['1y', '0', '-1', '1999-01-01', String(Date.now() - 1000), '1h; DROP TABLE rules']) {
      const response = await client.request(`/sites/${siteId}/rules/quick`, {
        method: 'POST', form: { _csrf: client.csrf, kind: 'ip', value: '192.0.2.99', mode: 'block', expires },
      });
      assert.equal(response.status, 400, expires);
    }
    assert.equal((await hub.store.listRules(siteId)).length, before);
  });

  it('a viewer reads the IP page of a granted site without any Block/Undo form, and a forged undo answers 403', async () => {
    const created = await client.api('POST', `/api/sites/${siteId}/rules`, { kind: 'ip', value: '192.0.2.200' });
    const ruleId = ((await created.json()) as { rule: { id: string } }).rule.id;
    const { client: viewer } = await inviteAndSignIn(client, `viewer-${Date.now()}@example.test`, { role: 'viewer', siteIds: [siteId] });
    const page = await viewer.request(`/sites/${siteId}/ips/${ATTACKER}`);
    assert.equal(page.status, 200);
    const html = await page.text();
    assert.equal(/rules\/quick|\/undo/.test(html), false, 'no form that changes rules');
    const overview = await (await viewer.request(`/sites/${siteId}?range=1h`)).text();
    assert.equal(/rules\/quick|\/undo/.test(overview), false, 'no one-click forms on the viewer\'s overview');
    const undo = await viewer.request(`/sites/${siteId}/rules/${ruleId}/undo`, { method: 'POST', form: { _csrf: viewer.csrf, back: `/sites/${siteId}` } });
    assert.equal(undo.status, 403);
    assert.ok(await hub.store.getRule(siteId, ruleId), 'the rule is still there');
    const otherSite = await viewer.request(`/sites/${siteId + 1000}/ips/${ATTACKER}`);
    assert.equal(otherSite.status, 404);
  });

  it('an IP page cannot make the hub read more than 31 days of hourly rows, whatever the range', () => {
    assert.equal(hoursOf(0, 4_000_000_000).length, MAX_VALUE_HOURS);
    assert.equal(hoursOf(7200, 3600).length, 0);
  });
});
