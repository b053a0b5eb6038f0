import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Browser, type BrowserContext, type Page } from 'playwright-core';
import { keepScreenshot, launchChromium } from './support/browser.js';
import { ADMIN_EMAIL, ADMIN_PASSWORD, Client, createSiteWithKey, record, startTestHub, upsyncBody, type TestHub } from './support/hub-fixture.js';
import type { PageDocument, PageWindow } from './support/page-dom.js';

// Globals of the page, for the page.evaluate() callbacks (they run in Chromium).
declare const document: PageDocument;
declare const window: PageWindow;

/** Kept with MOAT_HUB_KEEP_SHOTS=1 (the path is printed), otherwise removed after the run. */
const SHOT_DIR = mkdtempSync(join(tmpdir(), 'moat-hub-layout-'));
const WIDTHS = [390, 768, 1440] as const;
const ATTACKER = '198.51.100.66';
/** Long values are what break layouts: a long path, a long user agent, a long site name. */
const LONG_PATH = `/search/${'very-long-segment-'.repeat(12)}?q=${'x'.repeat(120)}`;
const LONG_AGENT = `Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0 ${'Extension/1.2.3 '.repeat(8)}`;

function traffic(now: number): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (let m = 30; m >= 1; m--) {
    const t = now - m * 60;
    for (let i = 0; i < 6; i++) out.push(record({ timestamp: t - i, ip: `203.0.113.${i + 1}`, path: i === 0 ? LONG_PATH : '/products', user_agent: i === 1 ? LONG_AGENT : 'curl/8.5.0', request_id: `v${m}-${i}` }));
    for (let i = 0; i < 8; i++) out.push(record({ timestamp: t - i, ip: ATTACKER, path: '/wp-admin/setup-config.php', user_agent: 'sqlmap/1.7', request_id: `s${m}-${i}` }));
    out.push(record({ timestamp: t, ip: '192.0.2.44', path: '/wp-login.php', treatment: 'Blocked', category: 'bp', rule: '/wp-login', request_id: `b${m}` }));
  }
  return out;
}

describe('every dashboard page fits phone, tablet and desktop widths', () => {
  let hub: TestHub;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let siteId: number;

  before(async () => {
    hub = await startTestHub();
    const client = new Client(hub.url);
    await client.login();
    let apiKey: string;
    ({ siteId, apiKey } = await createSiteWithKey(client, `shop-with-a-rather-long-name-${'x'.repeat(40)}.example.com`));
    await client.api('POST', `/api/sites/${siteId}/rules/import`, {
      document: { block: { paths: ['/wp-login'], userAgents: [{ value: 'masscan', mode: 'monitor' }] }, rateLimits: [{ path: '/login', method: 'POST', limit: 10, window: '1m' }] },
      replace: true,
    });
    const batch = traffic(Math.floor(Date.now() / 1000));
    const response = await fetch(`${hub.url}/v2/upsync/${apiKey}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(upsyncBody(batch)) });
    assert.equal(response.status, 200);
    await (await fetch(`${hub.url}/v2/downsync/custom_rules/${apiKey}?client=moat&hostname=${'web-'.repeat(20)}1&process_id=4242&version=0.1.0&framework=express`)).arrayBuffer();
    await hub.rollUpNow();
    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
    page = await context.newPage();
    page.setDefaultTimeout(10_000);
  });
  after(async () => {
    await browser?.close();
    await hub?.stop();
    if (process.env.MOAT_HUB_KEEP_SHOTS === '1') console.log(`layout screenshots in ${SHOT_DIR}`);
    else rmSync(SHOT_DIR, { recursive: true, force: true });
  });

  /** Asserts the page does not scroll sideways at each width (and screenshots it when shots are kept). */
  async function checkWidths(name: string, load: () => Promise<void>): Promise<void> {
    for (const width of WIDTHS) {
      await page.setViewportSize({ width, height: width < 500 ? 844 : 900 });
      await load();
      const { scrollWidth, innerWidth, widest } = await page.evaluate(() => {
        // The widest element that sticks out, to make a failure easy to fix.
        let widest = '';
        let right = window.innerWidth;
        for (const el of Array.from(document.body.querySelectorAll('*'))) {
          const r = el.getBoundingClientRect().right;
          if (r > right + 0.5 && !el.closest('.table-wrap, pre')) { right = r; widest = `${el.tagName.toLowerCase()}.${el.className} (${Math.round(r)})`; }
        }
        return { scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth, widest };
      });
      await keepScreenshot(page, join(SHOT_DIR, `${name}-${width}.png`));
      assert.ok(scrollWidth <= innerWidth, `${name} at ${width}px is ${scrollWidth}px wide; widest: ${widest}`);
    }
  }

  /** Submits a form built in the page (with the page's CSRF token), as a browser posting it would. */
  async function post(path: string, fields: Record<string, string>): Promise<void> {
    await Promise.all([page.waitForNavigation(), page.evaluate(({ path, fields }) => {
      const form = document.createElement('form');
      form.method = 'post';
      form.action = path;
      const all = { ...fields, _csrf: document.querySelector('meta[name="csrf-token"]')!.getAttribute('content')! };
      for (const [name, value] of Object.entries(all)) {
        const input = document.createElement('input');
        input.type = 'hidden';
        input.name = name;
        input.value = value;
        form.append(input);
      }
      document.body.append(form);
      form.submit();
    }, { path, fields })]);
  }

  it('sign-in page', async () => {
    await checkWidths('login', async () => { await page.goto(`${hub.url}/login`); });
    await page.fill('input[name="email"]', ADMIN_EMAIL);
    await page.fill('input[name="password"]', ADMIN_PASSWORD);
    await Promise.all([page.waitForURL(/\/sites\/\d+$/), page.click('button[type="submit"]')]);
  });

  it('site pages: overview, requests, rules, setup, clients, sites, IP detail, users, audit log, account', async () => {
    const base = `${hub.url}/sites/${siteId}`;
    for (const [name, path, selector] of [
      ['overview', '', '#traffic-chart canvas'],
      ['overview-24h', '?range=24h', '#traffic-chart canvas'],
      ['requests', '/requests', 'table.log'],
      ['rules', '/rules', 'table.rules'],
      ['setup', '/setup', 'details.snippet'],
      ['clients', '/clients', 'table.data'],
    ] as const) {
      await checkWidths(name, async () => { await page.goto(base + path); await page.waitForSelector(selector); });
    }
    await checkWidths('sites', async () => { await page.goto(`${hub.url}/sites`); });
    await checkWidths('ip-detail', async () => { await page.goto(`${base}/ips/${ATTACKER}`); await page.waitForSelector('svg.timeline'); });
    await checkWidths('users', async () => { await page.goto(`${hub.url}/users`); });
    await checkWidths('audit', async () => { await page.goto(`${hub.url}/audit`); });
    await checkWidths('account', async () => { await page.goto(`${hub.url}/account`); await page.waitForSelector('input[name="current"]'); });
  });

  it('the header keeps "Sign out" on screen at every width', async () => {
    for (const width of WIDTHS) {
      await page.setViewportSize({ width, height: 844 });
      await page.goto(`${hub.url}/sites/${siteId}`);
      const box = await page.locator('header.top button:text-is("Sign out")').boundingBox();
      assert.ok(box && box.x >= 0 && box.x + box.width <= width, `Sign out at ${width}px: ${JSON.stringify(box)}`);
    }
  });

  it('rule-check pages: a quick-block confirmation, a refusal, and a refused rule form', async () => {
    await page.goto(`${hub.url}/sites/${siteId}`);
    await checkWidths('confirm-rule', async () => {
      await page.goto(`${hub.url}/sites/${siteId}?range=1h`);
      await post(`/sites/${siteId}/rules/quick`, { kind: 'ip', value: ATTACKER, mode: 'block', back: `/sites/${siteId}` });
      await page.waitForSelector('[data-confirm-rule]');
    });
    await checkWidths('quick-refused', async () => {
      await page.goto(`${hub.url}/sites/${siteId}`);
      await post(`/sites/${siteId}/rules/quick`, { kind: 'ip', value: `${'2001:db8:'.repeat(30)}/16`, mode: 'block', back: `/sites/${siteId}` });
      await page.waitForSelector('[data-quick-refused]');
    });
    assert.equal((await hub.store.listRules(siteId)).some((r) => r.value === ATTACKER), false, 'neither page created a rule');
    await checkWidths('rule-form-error', async () => {
      await page.goto(`${hub.url}/sites/${siteId}/rules`);
      await post(`/sites/${siteId}/rules`, { action: 'block', kind: 'rateLimit', rl_path: LONG_PATH.slice(0, 200), rl_method: 'FOO', rl_limit: '5', rl_window: '1m', mode: 'block' });
      await page.waitForSelector('[data-error-for="rl_method"]');
    });
  });
});
