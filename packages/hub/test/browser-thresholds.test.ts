// The Thresholds page in a real browser (Debian chromium): it fits phone, tablet and desktop widths with
// long rule names and IPv6 /64 bans, a threshold rule is added through the form, and a ban is lifted
// with one click on its button.
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { type Browser, type Page } from 'playwright-core';
import { openBrowserPage, signInInBrowser } from './support/browser.js';
import { Client, createSiteWithKey, startTestHub, type TestHub } from './support/hub-fixture.js';
import { createThreshold, listBans, report } from './support/thresholds-kit.js';
import type { PageDocument, PageWindow } from './support/page-dom.js';

// Globals of the page, for the page.evaluate() callbacks (they run in Chromium).
declare const document: PageDocument;
declare const window: PageWindow;

const WIDTHS = [390, 768, 1440] as const;

describe('Thresholds page in a browser', () => {
  let hub: TestHub;
  let browser: Browser;
  let page: Page;
  let client: Client;
  let siteId: number;

  before(async () => {
    hub = await startTestHub();
    client = new Client(hub.url);
    await client.login();
    let apiKey: string;
    ({ siteId, apiKey } = await createSiteWithKey(client, 'shop'));
    await createThreshold(client, siteId, { name: `scanners hitting blocked paths ${'x'.repeat(60)}`, threshold: 2, key: 'ip64' });
    await createThreshold(client, siteId, { name: 'watch only', threshold: 2, mode: 'monitor', condition: { requests: 'any', method: 'POST', path: '/login', status: 401 } });
    await report(hub.url, apiKey, '2001:db8:aaaa:bbbb:cccc:dddd:eeee:ffff', 2);
    await report(hub.url, apiKey, '198.51.100.23', 2);
    await hub.context.thresholds.idle();
    ({ browser, page } = await openBrowserPage());
    await signInInBrowser(page, hub.url);
  });
  after(async () => {
    await browser?.close();
    await hub?.stop();
  });

  it('fits 390, 768 and 1440 px, with the "auto" badge on each ban', async () => {
    for (const width of WIDTHS) {
      await page.setViewportSize({ width, height: 900 });
      await page.goto(`${hub.url}/sites/${siteId}/thresholds`);
      await page.waitForSelector('table.bans .badge-auto');
      const { scrollWidth, innerWidth } = await page.evaluate(() => ({ scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth }));
      assert.ok(scrollWidth <= innerWidth, `thresholds at ${width}px is ${scrollWidth}px wide`);
    }
    assert.equal(await page.locator('table.bans .badge-auto').count(), 2);
    assert.match(await page.locator('table.would-ban tbody').innerText(), /Nobody yet/, 'the monitor rule lists nobody (no status reported)');
  });

  it('adds a threshold rule through the form and lifts a ban with one click', async () => {
    await page.setViewportSize({ width: 1440, height: 900 });
    await page.goto(`${hub.url}/sites/${siteId}/thresholds`);
    await page.fill('#threshold-form input[name="name"]', '404 scanners');
    await page.fill('#threshold-form input[name="status"]', '404');
    await page.fill('#threshold-form input[name="threshold"]', '30');
    await page.fill('#threshold-form input[name="windowSeconds"]', '60');
    await page.fill('#threshold-form input[name="banSeconds"]', '3600');
    await page.selectOption('#threshold-form select[name="mode"]', 'enforce');
    await Promise.all([page.waitForURL(/done=threshold-created/), page.click('#threshold-form button[type="submit"]')]);
    assert.equal(await page.locator('table.thresholds tbody tr').count(), 3);

    const row = page.locator('table.bans tr', { hasText: '198.51.100.23' });
    await Promise.all([page.waitForURL(/done=ban-lifted/), row.locator('button:text-is("Lift")').click()]);
    assert.deepEqual((await listBans(client, siteId)).map((b) => b.key), ['2001:db8:aaaa:bbbb::/64']);
  });
});
