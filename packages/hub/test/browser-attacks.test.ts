// The Attacks panel in a real browser (Debian chromium through playwright-core): reports as Moat clients
// send them (attack blocks and monitor-mode matches) arrive through the real upsync endpoint; the panel
// must count them per category, list the top locations and show recent examples with their redacted
// snippets as text — an attacker's `<svg onload=…>` snippet must not become markup on the operator's
// page. Then the settings form switches XSS to block and names two more headers to judge, and the Rules
// page shows the same settings.
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { type Browser, type Page } from 'playwright-core';
import { launchChromium, signInInBrowser } from './support/browser.js';
import { Client, createSiteWithKey, record, startTestHub, upsyncBody, type TestHub } from './support/hub-fixture.js';

const XSS_SNIPPET = '<svg onload=alert(document.domain)>';

function attackReports(now: number): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (let i = 0; i < 7; i++) {
    out.push(record({
      timestamp: now - 60 - i, ip: '198.51.100.7', path: '/search', request_id: `sq${i}`, treatment: 'Blocked',
      category: 'attack-sqli', rule: "query.q: x' OR 1=1--", rule_id: 'attacks.sqli',
    }));
  }
  for (let i = 0; i < 3; i++) {
    out.push(record({
      timestamp: now - 30 - i, ip: '198.51.100.8', path: '/comment', method: 'POST', request_id: `xs${i}`, treatment: 'Passed',
      monitored: [{ category: 'attack-xss', rule: `body.comment: ${XSS_SNIPPET}`, rule_id: 'attacks.xss' }],
    }));
  }
  out.push(record({ timestamp: now - 10, ip: '203.0.113.1', path: '/', request_id: 'plain' }));
  return out;
}

describe('Attacks panel in a real browser', () => {
  let hub: TestHub;
  let browser: Browser;
  let page: Page;
  let siteId: number;

  before(async () => {
    hub = await startTestHub();
    const client = new Client(hub.url);
    await client.login();
    let apiKey: string;
    ({ siteId, apiKey } = await createSiteWithKey(client, 'shop.example.com'));
    const response = await fetch(`${hub.url}/v2/upsync/${apiKey}`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(upsyncBody(attackReports(Math.floor(Date.now() / 1000)))),
    });
    assert.equal(response.status, 200);
    await hub.rollUpNow();
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1360, height: 900 } });
    page.setDefaultTimeout(10_000);
  });
  after(async () => {
    await browser?.close();
    await hub?.stop();
  });

  it('counts per category, top locations and escaped examples', async () => {
    await signInInBrowser(page, hub.url);
    await Promise.all([page.waitForURL(`${hub.url}/sites/${siteId}/attacks`), page.click('nav.tabs a:text-is("Attacks")')]);
    await page.click('nav.ranges a:text-is("1h")');
    await page.waitForURL(`${hub.url}/sites/${siteId}/attacks?range=1h`);
    assert.equal(await page.textContent('tr[data-attack-category="sqli"] [data-count="blocked"]'), '7');
    assert.equal(await page.textContent('tr[data-attack-category="xss"] [data-count="monitored"]'), '3');
    assert.equal(await page.textContent('tr[data-attack-category="shell"] [data-count="blocked"]'), '0');
    const locations = await page.locator('#attack-locations tbody tr').allTextContents();
    assert.match(locations[0]!, /query\.q\s*7/);
    assert.match(locations[1]!, /body\.comment\s*3/);
    assert.equal(await page.locator('tr[data-attack-example="sqli"]').count(), 7);
    const xss = page.locator('tr[data-attack-example="xss"]').first();
    assert.equal(await xss.locator('code.snippet').textContent(), XSS_SNIPPET);
    assert.match((await xss.textContent()) ?? '', /monitored/);
    // The snippet is text: no element was made from it.
    assert.equal(await page.locator('main svg').count(), 0);
  });

  it('the settings form switches XSS to block and names headers; the Rules page shows the same settings', async () => {
    await page.selectOption('#attack-settings select[name="mode_xss"]', 'block');
    await page.fill('#attack-settings textarea[name="exclusions"]', '/admin/editor xss body.content');
    await page.fill('#attack-settings input[name="headers"]', 'X-Search x-tenant');
    await Promise.all([page.waitForURL(/\/attacks\?done=saved$/), page.click('#attack-settings button[type="submit"]')]);
    assert.match((await page.textContent('p.notice')) ?? '', /Attack settings saved/);
    assert.equal(await page.textContent('tr[data-attack-category="xss"] .mode'), 'block');
    await page.goto(`${hub.url}/sites/${siteId}/rules`);
    assert.equal(await page.inputValue('#attack-settings select[name="mode_xss"]'), 'block');
    assert.equal(await page.inputValue('#attack-settings select[name="mode_sqli"]'), 'monitor');
    assert.equal(await page.inputValue('#attack-settings textarea[name="exclusions"]'), '/admin/editor xss body.content');
    assert.equal(await page.inputValue('#attack-settings input[name="headers"]'), 'x-search, x-tenant');
  });
});
