import { strict as assert } from 'node:assert';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Engine } from 'moat';
import { chromium, type Browser, type Page } from 'playwright-core';
import { ADMIN_EMAIL, ADMIN_PASSWORD, Client, createSiteWithKey, record, startTestHub, upsyncBody, type TestHub } from './support/hub-fixture.js';

/** Screenshots go to docs/screenshots with MOAT_HUB_SCREENSHOTS=1, otherwise to a temporary folder. */
const SCREENSHOT_DIR = process.env.MOAT_HUB_SCREENSHOTS === '1'
  ? fileURLToPath(new URL('../../../docs/screenshots/', import.meta.url))
  : mkdtempSync(join(tmpdir(), 'moat-hub-shots-'));
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
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
    page = await browser.newPage({ viewport: { width: 1360, height: 900 } });
    page.setDefaultTimeout(10_000);
  });
  after(async () => {
    await browser?.close();
    await hub?.stop();
    if (process.env.MOAT_HUB_SCREENSHOTS !== '1') rmSync(SCREENSHOT_DIR, { recursive: true, force: true });
  });

  it('signs in and shows the chart filled from ingested reports', async () => {
    await page.goto(`${hub.url}/login`);
    await page.screenshot({ path: join(SCREENSHOT_DIR, 'login.png') });
    await page.fill('input[name="email"]', ADMIN_EMAIL);
    await page.fill('input[name="password"]', ADMIN_PASSWORD);
    await Promise.all([page.waitForURL(`${hub.url}/sites/${siteId}`), page.click('button[type="submit"]')]);
    await page.click('nav.ranges a:text-is("1h")');
    await page.waitForSelector('#traffic-chart canvas');
    const total = Number(await page.getAttribute('#traffic-chart', 'data-total'));
    assert.ok(total > 500, `chart total ${total}`);
    // The request line is really drawn: count pixels in the series colour on the canvas.
    const drawn = await page.evaluate(() => {
      const canvas = document.querySelector('#traffic-chart canvas') as HTMLCanvasElement;
      const data = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
      let n = 0;
      for (let i = 0; i < data.length; i += 4) {
        if (Math.abs(data[i]! - 40) < 25 && Math.abs(data[i + 1]! - 87) < 25 && Math.abs(data[i + 2]! - 197) < 25 && data[i + 3]! > 200) n++;
      }
      return n;
    });
    assert.ok(drawn > 100, `series pixels drawn: ${drawn}`);
    assert.equal(await page.textContent('[data-stat="blocked"]'), '13');
    await page.screenshot({ path: join(SCREENSHOT_DIR, 'overview.png'), fullPage: true });
  });

  it('creates a block rule from the top-IPs table, and the downsync file then blocks that IP', async () => {
    const row = page.locator('section[data-top="ip"] tr', { hasText: ATTACKER });
    await Promise.all([page.waitForURL(/done=rule-created/), row.locator('button[value="block"]').click()]);
    assert.match(await page.textContent('.notice') ?? '', /Rule created/);

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

  it('renders the other pages', async () => {
    for (const [name, path, selector] of [
      ['rules', `/sites/${siteId}/rules`, 'table.rules'],
      ['requests', `/sites/${siteId}/requests?treatment=Blocked`, 'table.log'],
      ['setup', `/sites/${siteId}/setup`, 'details.snippet'],
      ['clients', `/sites/${siteId}/clients`, 'table.data'],
    ] as const) {
      await page.goto(hub.url + path);
      await page.waitForSelector(selector);
      await page.screenshot({ path: join(SCREENSHOT_DIR, `${name}.png`), fullPage: true });
    }
    await page.goto(`${hub.url}/sites/${siteId}/rules`);
    assert.ok(await page.locator(`tr:has-text("${ATTACKER}")`).count() === 1, 'the new rule is listed');
    await page.goto(`${hub.url}/sites/${siteId}/requests?treatment=Blocked`);
    const treatments = await page.locator('table.log tbody tr td:nth-child(2)').allTextContents();
    assert.ok(treatments.length > 0 && treatments.every((t) => t === 'Blocked'));
  });
});
