// The Rules page's Bots section in a real browser (Debian chromium through playwright-core): an admin
// blocks AI crawlers with one click, sees the mode and the notice, and the section fits phone, tablet and
// desktop widths without scrolling sideways.
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { type Browser, type Page } from 'playwright-core';
import { openBrowserPage, signInInBrowser } from './support/browser.js';
import { Client, createSiteWithKey, startTestHub, type TestHub } from './support/hub-fixture.js';

describe('the Bots section in a browser', () => {
  let hub: TestHub;
  let browser: Browser;
  let page: Page;
  let siteId = 0;

  before(async () => {
    hub = await startTestHub({ feeds: { tickMs: 3_600_000 } });
    const client = new Client(hub.url);
    await client.login();
    ({ siteId } = await createSiteWithKey(client, 'bots in a browser'));
    ({ browser, page } = await openBrowserPage());
  });
  after(async () => {
    await browser?.close();
    await hub?.stop();
  });

  it('blocks AI crawlers in one click, shows it, and fits 390, 768 and 1440 px', async () => {
    await signInInBrowser(page, hub.url);
    await page.goto(`${hub.url}/sites/${siteId}/rules`);
    const row = page.locator('#bot-settings tr[data-bot-key="ai-crawler"]');
    assert.equal(await row.locator('.mode').innerText(), 'off');
    assert.equal(await row.locator('button', { hasText: 'Allow verified' }).count(), 1, 'GPTBot publishes its ranges, so the category can be allowed');
    assert.equal(await page.locator('#bot-settings tr[data-bot-key="scanner"] button', { hasText: 'Allow verified' }).count(), 0, 'no scanner can be verified');
    await Promise.all([page.waitForURL(/done=bots-saved/), row.locator('button', { hasText: 'Block' }).click()]);
    assert.equal(await page.locator('#bot-settings tr[data-bot-key="ai-crawler"] .mode').innerText(), 'block');
    assert.match(await page.locator('body').innerText(), /Bot settings saved/);
    for (const width of [390, 768, 1440]) {
      await page.setViewportSize({ width, height: 900 });
      await page.reload();
      const { scrollWidth, innerWidth } = await page.evaluate<{ scrollWidth: number; innerWidth: number }>('({ scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth })');
      assert.ok(scrollWidth <= innerWidth, `the Rules page at ${width}px is ${scrollWidth}px wide`);
    }
  });
});
