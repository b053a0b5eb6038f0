// The Data page in a real browser (Debian chromium through playwright-core): an admin adds an uploaded
// list with the page's own form, sees it checked and built with its diff, and the page fits phone,
// tablet and desktop widths without scrolling sideways.
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { type Browser, type Page } from 'playwright-core';
import { openBrowserPage, signInInBrowser } from './support/browser.js';
import { startTestHub, type TestHub } from './support/hub-fixture.js';
import type { PageDocument, PageWindow } from './support/page-dom.js';

// Globals of the page, for the page.evaluate() callbacks (they run in Chromium).
declare const document: PageDocument;
declare const window: PageWindow;

describe('the Data page in a browser', () => {
  let hub: TestHub;
  let browser: Browser;
  let page: Page;

  before(async () => {
    hub = await startTestHub({ feeds: { tickMs: 3_600_000 } });
    ({ browser, page } = await openBrowserPage());
  });
  after(async () => {
    await browser?.close();
    await hub?.stop();
  });

  it('adds an uploaded list with the form, shows it built with its diff, and fits 390, 768 and 1440 px', async () => {
    await signInInBrowser(page, hub.url);
    await Promise.all([page.waitForURL(/\/data$/), page.click('a[href="/data"]')]);

    const add = page.locator('section.card form[action="/data/feeds"]');
    await add.locator('input[name="name"]').fill(`partner blocklist ${'with a long name '.repeat(3)}`);
    await add.locator('select[name="origin"]').selectOption('upload');
    await add.locator('input[name="list"]').fill('partner-blocklist');
    await add.locator('textarea[name="content"]').fill('# partner\n192.0.2.0/24\n2001:db8:ffff:ffff:ffff:ffff:ffff:0/112\n');
    await Promise.all([page.waitForURL(/done=added/), add.locator('button[type="submit"]').click()]);
    await hub.feeds.idle();
    await page.reload();
    assert.equal(await page.locator('tr[data-feed-id] td.status-ok').count(), 1);
    assert.match(await page.locator('details.list-diff[data-list="partner-blocklist"] summary').innerText(), /\+2 \/ −0/);

    for (const width of [390, 768, 1440]) {
      await page.setViewportSize({ width, height: 900 });
      await page.reload();
      const { scrollWidth, innerWidth } = await page.evaluate(() => ({ scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth }));
      assert.ok(scrollWidth <= innerWidth, `the Data page at ${width}px is ${scrollWidth}px wide`);
    }
  });
});
