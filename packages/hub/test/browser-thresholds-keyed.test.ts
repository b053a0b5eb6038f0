// Keyed threshold rules on the Thresholds page in a real browser (Debian chromium): a rule keyed by a
// header is added through the form (kind and name), a keyed ban is shown as its kind and a hash prefix
// with the "auto" badge (never more of the hash, never a raw value) at phone and desktop widths, and is
// lifted with one click.
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { type Browser, type Page } from 'playwright-core';
import { openBrowserPage, signInInBrowser } from './support/browser.js';
import { Client, createSiteWithKey, startTestHub, type TestHub } from './support/hub-fixture.js';
import { createThreshold, listBans, report } from './support/thresholds-kit.js';
import type { PageDocument, PageWindow } from './support/page-dom.js';

declare const document: PageDocument;
declare const window: PageWindow;

const HASH = '3f2a9c01d4e5f60718293a4b5c6d7e8f';

describe('keyed threshold rules on the Thresholds page in a browser', () => {
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
    ({ siteId, apiKey } = await createSiteWithKey(client, 'api'));
    await createThreshold(client, siteId, { name: 'session flood', condition: { requests: 'any' }, threshold: 2, key: 'cookie:session' });
    await report(hub.url, apiKey, '198.51.100.40', 2, { keys: `cookie:session=${HASH}`, treatment: 'Passed', category: 'passed', rule: '-' });
    await hub.context.thresholds.idle();
    ({ browser, page } = await openBrowserPage());
    await signInInBrowser(page, hub.url);
  });
  after(async () => {
    await browser?.close();
    await hub?.stop();
  });

  it('shows a keyed ban as "cookie:session #3f2a9c01…" with the auto badge, fitting 390 and 1440 px', async () => {
    for (const width of [390, 1440]) {
      await page.setViewportSize({ width, height: 900 });
      await page.goto(`${hub.url}/sites/${siteId}/thresholds`);
      await page.waitForSelector('table.bans .badge-auto');
      const { scrollWidth, innerWidth } = await page.evaluate(() => ({ scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth }));
      assert.ok(scrollWidth <= innerWidth, `thresholds at ${width}px is ${scrollWidth}px wide`);
    }
    const banCell = await page.locator('table.bans tbody tr td').first().innerText();
    assert.equal(banCell, 'cookie:session #3f2a9c01…');
    assert.ok(!(await page.content()).includes(HASH), 'the page never shows the whole hash');
    assert.match(await page.locator('table.thresholds tbody').innerText(), /cookie:session, else IP/);
  });

  it('adds a rule keyed by a header through the form, and lifts the keyed ban with one click', async () => {
    await page.setViewportSize({ width: 1440, height: 900 });
    await page.goto(`${hub.url}/sites/${siteId}/thresholds`);
    await page.fill('#threshold-form input[name="name"]', 'api key flood');
    await page.fill('#threshold-form input[name="threshold"]', '1000');
    await page.fill('#threshold-form input[name="windowSeconds"]', '60');
    await page.fill('#threshold-form input[name="banSeconds"]', '3600');
    await page.selectOption('#threshold-form select[name="key"]', 'header');
    await page.fill('#threshold-form input[name="keyName"]', 'X-Api-Key');
    await Promise.all([page.waitForURL(/done=threshold-created/), page.click('#threshold-form button[type="submit"]')]);
    assert.match(await page.locator('table.thresholds tbody').innerText(), /header:x-api-key, else IP/);

    const row = page.locator('table.bans tr', { hasText: 'cookie:session' });
    await Promise.all([page.waitForURL(/done=ban-lifted/), row.locator('button:text-is("Lift")').click()]);
    assert.deepEqual(await listBans(client, siteId), []);
  });
});
