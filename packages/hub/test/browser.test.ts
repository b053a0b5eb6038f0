import { strict as assert } from 'node:assert';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Engine } from 'moat-waf';
import { type Browser, type Page } from 'playwright-core';
import { keepScreenshot, launchChromium } from './support/browser.js';
import { ADMIN_EMAIL, ADMIN_PASSWORD, Client, createSiteWithKey, record, startTestHub, upsyncBody, type TestHub } from './support/hub-fixture.js';
import type { PageCanvas, PageDocument } from './support/page-dom.js';

// Globals of the page, for the page.evaluate() callbacks (they run in Chromium).
declare const document: PageDocument;

/** Screenshots go to a temporary folder (kept with MOAT_HUB_KEEP_SHOTS=1); docs/screenshots come from demo/screenshots.ts. */
const SCREENSHOT_DIR = mkdtempSync(join(tmpdir(), 'moat-hub-shots-'));
const ATTACKER = '198.51.100.66';

/** Realistic traffic over the last 50 minutes: a scanner, a few visitors, some blocks and allows. */
function traffic(now: number): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  const agents = ['Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0', 'Mozilla/5.0 (Macintosh) Safari/605.1.15', 'curl/8.5.0'];
  const paths = ['/', '/products', '/cart', '/login', '/api/items'];
  for (let m = 50; m >= 0; m--) {
    const t = now - m * 60;
    const visitors = 6 + ((m * 7) % 9);
    for (let i = 0; i < visitors; i++) {
      out.push(record({ timestamp: t - i, ip: `203.0.113.${(m + i) % 40 + 1}`, path: paths[(m + i) % paths.length], user_agent: agents[i % 2], request_id: `v${m}-${i}` }));
    }
    const scans = m % 3 === 0 ? 12 : 4;
    for (let i = 0; i < scans; i++) {
      out.push(record({ timestamp: t - i, ip: ATTACKER, path: ['/wp-admin', '/.env', '/phpmyadmin'][i % 3], user_agent: 'sqlmap/1.7', request_id: `s${m}-${i}` }));
    }
    if (m % 4 === 0) {
      out.push(record({ timestamp: t, ip: '192.0.2.44', path: '/wp-login.php', user_agent: 'Go-http-client/1.1', treatment: 'Blocked', category: 'bp', rule: '/wp-login', request_id: `b${m}` }));
      out.push(record({ timestamp: t, ip: '10.1.2.3', path: '/health', user_agent: agents[2], treatment: 'Allowed', category: 'ai', rule: '10.1.2.3', request_id: `a${m}` }));
    }
  }
  return out;
}

describe('dashboard in a real browser', () => {
  let hub: TestHub;
  let browser: Browser;
  let page: Page;
  let siteId: number;
  let apiKey: string;

  before(async () => {
    hub = await startTestHub();
    const client = new Client(hub.url);
    await client.login();
    ({ siteId, apiKey } = await createSiteWithKey(client, 'shop.example.com'));
    await client.api('POST', `/api/sites/${siteId}/rules/import`, {
      document: { block: { paths: ['/wp-login'], userAgents: [{ value: 'masscan', mode: 'monitor', note: 'watching' }] }, allow: { ips: ['10.1.2.3'] }, rateLimits: [{ path: '/login', method: 'POST', limit: 10, window: '1m' }] },
      replace: true,
    });
    // Reports arrive through the real upsync endpoint, as a client would send them.
    const batch = traffic(Math.floor(Date.now() / 1000));
    for (let i = 0; i < batch.length; i += 250) {
      const response = await fetch(`${hub.url}/v2/upsync/${apiKey}`, {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(upsyncBody(batch.slice(i, i + 250))),
      });
      assert.equal(response.status, 200);
    }
    const down = await fetch(`${hub.url}/v2/downsync/custom_rules/${apiKey}?client=moat&hostname=web-1&process_id=4242&version=0.1.0&framework=express`);
    await down.arrayBuffer();
    await hub.rollUpNow();
    mkdirSync(SCREENSHOT_DIR, { recursive: true });
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1360, height: 900 } });
    page.setDefaultTimeout(10_000);
  });
  after(async () => {
    await browser?.close();
    await hub?.stop();
    if (process.env.MOAT_HUB_KEEP_SHOTS === '1') console.log(`# screenshots: ${SCREENSHOT_DIR}`);
    else rmSync(SCREENSHOT_DIR, { recursive: true, force: true });
  });

  it('signs in and shows the chart filled from ingested reports', async () => {
    await page.goto(`${hub.url}/login`);
    await keepScreenshot(page, join(SCREENSHOT_DIR, 'login.png'), false);
    await page.fill('input[name="email"]', ADMIN_EMAIL);
    await page.fill('input[name="password"]', ADMIN_PASSWORD);
    await Promise.all([page.waitForURL(`${hub.url}/sites/${siteId}`), page.click('button[type="submit"]')]);
    await page.click('nav.ranges a:text-is("1h")');
    await page.waitForSelector('#traffic-chart canvas');
    const total = Number(await page.getAttribute('#traffic-chart', 'data-total'));
    assert.ok(total > 500, `chart total ${total}`);
    // The request line is really drawn: count pixels in the series colour on the canvas.
    const drawn = await page.evaluate(() => {
      const canvas = document.querySelector<PageCanvas>('#traffic-chart canvas')!;
      const data = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
      let n = 0;
      for (let i = 0; i < data.length; i += 4) {
        if (Math.abs(data[i]! - 40) < 25 && Math.abs(data[i + 1]! - 87) < 25 && Math.abs(data[i + 2]! - 197) < 25 && data[i + 3]! > 200) n++;
      }
      return n;
    });
    assert.ok(drawn > 100, `series pixels drawn: ${drawn}`);
    assert.equal(await page.textContent('[data-stat="blocked"]'), '13');
    await keepScreenshot(page, join(SCREENSHOT_DIR, 'overview.png'));
  });

  it('Block on the top IP (a large share of traffic) shows a confirmation with the numbers; confirming creates the rule', async () => {
    const row = page.locator('section[data-top="ip"] tr', { hasText: ATTACKER });
    await Promise.all([page.waitForURL(`${hub.url}/sites/${siteId}/rules/quick`), row.locator('button[value="block"]').click()]);
    await page.waitForSelector('[data-confirm-rule]');
    assert.equal(await page.textContent('h1'), 'Confirm this rule');
    assert.match(await page.textContent('[data-confirm-rule]') ?? '', new RegExp(`Block requests from IP ${ATTACKER.replace(/\./g, '\\.')}\\.`));
    // The share of the last hour's requests, as the table shows it: matched, of, share.
    const cells = await page.locator('tr[data-window="last hour"] td').allTextContents();
    const [matched, of] = [Number(cells[1]!.replace(/,/g, '')), Number(cells[2]!.replace(/,/g, ''))];
    assert.ok(matched > 0.2 * of && matched < of, `${matched} of ${of}`);
    assert.equal(cells[3], `${Math.round((matched / of) * 100)} %`);
    await keepScreenshot(page, join(SCREENSHOT_DIR, 'confirm-rule.png'));
    const rulesBefore = (await hub.store.listRules(siteId)).length;
    assert.equal((await hub.store.listRules(siteId)).some((r) => r.value === ATTACKER), false, 'nothing created before the confirm');

    await Promise.all([page.waitForURL(/done=rule-created/), page.click('button[data-confirm-create]')]);
    assert.match(await page.textContent('.notice') ?? '', /Rule created/);
    assert.equal((await hub.store.listRules(siteId)).length, rulesBefore + 1);

    const response = await fetch(`${hub.url}/v2/downsync/custom_rules/${apiKey}`);
    assert.equal(response.status, 200);
    const dir = mkdtempSync(join(tmpdir(), 'moat-hub-browser-'));
    try {
      const file = join(dir, 'rules.db');
      writeFileSync(file, Buffer.from(await response.arrayBuffer()));
      const engine = Engine.open({ rules: file });
      const decision = engine.evaluate({ ip: ATTACKER, method: 'GET', path: '/' });
      assert.equal(decision.treatment, 'Blocked');
      assert.equal(decision.rule, ATTACKER);
      assert.equal(engine.evaluate({ ip: '203.0.113.5', method: 'GET', path: '/' }).treatment, 'Passed');
      engine.close?.();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a blocked IP shows its state and Undo in the top list; Undo brings the Block button back', async () => {
    await page.goto(`${hub.url}/sites/${siteId}?range=1h`);
    const row = page.locator('section[data-top="ip"] tr', { hasText: ATTACKER });
    assert.equal(await row.locator('[data-state]').getAttribute('data-state'), 'blocked');
    assert.match(await row.locator('[data-expires]').textContent() ?? '', /no expiry/);
    assert.equal(await row.locator('button[value="block"]').count(), 0, 'no second Block button');
    await keepScreenshot(page, join(SCREENSHOT_DIR, 'overview-blocked-state.png'));
    await Promise.all([page.waitForURL(/done=rule-deleted/), row.locator('button[data-undo]').click()]);
    assert.equal((await hub.store.listRules(siteId)).some((r) => r.value === ATTACKER), false);
    const again = page.locator('section[data-top="ip"] tr', { hasText: ATTACKER });
    assert.equal(await again.locator('button[value="block"]').count(), 1);
    // Block it again for an hour, from the expiry menu; the list then shows the expiry.
    await again.locator('select[name="expires"]').selectOption('1h');
    await Promise.all([page.waitForURL(`${hub.url}/sites/${siteId}/rules/quick`), again.locator('button[value="block"]').click()]);
    await Promise.all([page.waitForURL(/done=rule-created/), page.click('button[data-confirm-create]')]);
    const expires = (await hub.store.listRules(siteId)).find((r) => r.value === ATTACKER)?.expires ?? 0;
    assert.ok(expires > Date.now() + 3_500_000 && expires <= Date.now() + 3_600_000, `expires ${expires}`);
    assert.match(await page.locator('section[data-top="ip"] tr', { hasText: ATTACKER }).locator('[data-expires]').textContent() ?? '', /^until /);
  });

  it('the chart says what it counts and draws the would-have-blocked series', async () => {
    await page.goto(`${hub.url}/sites/${siteId}?range=1h`);
    await page.waitForSelector('#traffic-chart canvas');
    assert.equal(await page.textContent('[data-chart-unit]'), 'Requests per minute');
    const series = (await page.getAttribute('#traffic-chart', 'data-series'))!.split('|');
    assert.ok(series.includes('Would have blocked') && series.includes('Blocked'), series.join(', '));
    const legend = await page.locator('.u-legend').textContent();
    assert.match(legend ?? '', /Would have blocked/);
  });

  it('clicking an IP opens its page with country, network, rules, timeline and recent requests', async () => {
    await page.goto(`${hub.url}/sites/${siteId}?range=1h`);
    await Promise.all([page.waitForURL(new RegExp(`/ips/${ATTACKER.replace(/\./g, '\\.')}$`)), page.locator('section[data-top="ip"] a[data-ip-link]', { hasText: ATTACKER }).click()]);
    assert.equal(await page.textContent('h1'), `IP ${ATTACKER}`);
    assert.match(await page.textContent('[data-fact="asn"]') ?? '', /unknown/);
    assert.match(await page.textContent('[data-rules-now]') ?? '', new RegExp(ATTACKER.replace(/\./g, '\\.')));
    assert.ok(Number(await page.getAttribute('svg.timeline', 'data-hours')) >= 1);
    assert.equal(await page.locator('[data-recent] tbody tr').count(), 50);
    await keepScreenshot(page, join(SCREENSHOT_DIR, 'ip-detail.png'));
  });

  it('the rule form shows the rate-limit fields only for a rate limit', async () => {
    await page.goto(`${hub.url}/sites/${siteId}/rules`);
    const rate = page.locator('fieldset[data-for-kind="rateLimit"]');
    const value = page.locator('label[data-for-kind="value"]');
    assert.equal(await rate.isVisible(), false);
    assert.equal(await value.isVisible(), true);
    await page.selectOption('select[data-rule-kind]', 'rateLimit');
    assert.equal(await rate.isVisible(), true);
    assert.equal(await value.isVisible(), false);
    await page.selectOption('select[data-rule-kind]', 'country');
    assert.equal(await rate.isVisible(), false);
    // An invalid country comes back with the error beside the field and the value kept.
    await page.fill('input[name="value"]', 'XX');
    await Promise.all([page.waitForLoadState('load'), page.click('form.rule-form button[type="submit"]')]);
    await page.waitForSelector('[data-error-for="value"]');
    assert.match(await page.textContent('[data-error-for="value"]') ?? '', /XX/);
    assert.equal(await page.inputValue('input[name="value"]'), 'XX');
    assert.equal(await page.inputValue('select[data-rule-kind]'), 'country');
    await keepScreenshot(page, join(SCREENSHOT_DIR, 'rule-form-error.png'));
  });

  it('renders the other pages', async () => {
    for (const [name, path, selector] of [
      ['rules', `/sites/${siteId}/rules`, 'table.rules'],
      ['requests', `/sites/${siteId}/requests?treatment=Blocked`, 'table.log'],
      ['setup', `/sites/${siteId}/setup`, 'details.snippet'],
      ['clients', `/sites/${siteId}/clients`, 'table.data'],
    ] as const) {
      await page.goto(hub.url + path);
      await page.waitForSelector(selector);
      await keepScreenshot(page, join(SCREENSHOT_DIR, `${name}.png`));
    }
    await page.goto(`${hub.url}/sites/${siteId}/rules`);
    assert.equal(await page.locator(`table.rules tr:has-text("${ATTACKER}")`).count(), 1, 'the new rule is listed');
    await page.goto(`${hub.url}/sites/${siteId}/requests?treatment=Blocked`);
    const treatments = await page.locator('table.log tbody tr td:nth-child(2)').allTextContents();
    assert.ok(treatments.length > 0 && treatments.every((t) => t === 'Blocked'));
  });
});
