// The Data page's bot catalogue section in a real browser (Debian chromium through playwright-core): an
// admin uploads a catalogue with the page's own form, sees it in force with its bot count, hash and
// diff, goes back to the shipped catalogue with one click, and the section fits phone, tablet and
// desktop widths without scrolling sideways.
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { type Browser, type Page } from 'playwright-core';
import { openBrowserPage, signInInBrowser } from './support/browser.js';
import { startTestHub, type TestHub } from './support/hub-fixture.js';

const SHIPPED = JSON.parse(readFileSync(new URL('../../moat/data/bots.json', import.meta.url), 'utf8')) as { bots: object[] };

describe('the bot catalogue on the Data page in a browser', () => {
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

  it('uploads a catalogue with the form, shows it in force with its diff, reverts in one click, and fits 390, 768 and 1440 px', async () => {
    await signInInBrowser(page, hub.url);
    await page.goto(`${hub.url}/data`);
    const section = page.locator('#bot-catalogue');
    assert.match(await section.locator('.catalogue-source').innerText(), /shipped with the hub/);
    assert.equal(await section.locator('.catalogue-bots').innerText(), String(SHIPPED.bots.length));
    assert.equal(await section.locator('form[action="/data/bot-catalogue/revert"]').count(), 0, 'nothing to revert yet');

    const add = page.locator('section.card form[action="/data/feeds"]');
    await add.locator('input[name="name"]').fill('our bot catalogue');
    await add.locator('select[name="format"]').selectOption('bots');
    await add.locator('select[name="origin"]').selectOption('upload');
    await add.locator('textarea[name="content"]').fill(JSON.stringify({
      version: 1, updated: '2026-12-02-ui', bots: [...SHIPPED.bots, { id: 'examplebot', name: 'ExampleBot', category: 'ai-crawler', tokens: ['examplebot'] }],
    }));
    await Promise.all([page.waitForURL(/done=added/), add.locator('button[type="submit"]').click()]);
    await hub.feeds.idle();
    await page.reload();
    assert.match(await section.locator('.catalogue-source').innerText(), /from our bot catalogue/);
    assert.equal(await section.locator('.catalogue-bots').innerText(), String(SHIPPED.bots.length + 1));
    assert.match(await section.locator('.catalogue-feed').innerText(), /our bot catalogue: ok/);
    assert.match(await section.locator('.catalogue-added').innerText(), /Added \(1\): examplebot/);
    const hash = await section.getAttribute('data-catalogue-hash');
    assert.equal(await section.locator('.catalogue-hash').innerText(), hash!.slice(0, 16));

    for (const width of [390, 768, 1440]) {
      await page.setViewportSize({ width, height: 900 });
      await page.reload();
      const { scrollWidth, innerWidth } = await page.evaluate<{ scrollWidth: number; innerWidth: number }>('({ scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth })');
      assert.ok(scrollWidth <= innerWidth, `the Data page at ${width}px is ${scrollWidth}px wide`);
    }

    page.once('dialog', (dialog) => void dialog.accept());
    await Promise.all([page.waitForURL(/done=catalogue-reverted/), section.locator('form[action="/data/bot-catalogue/revert"] button').click()]);
    assert.match(await page.locator('#bot-catalogue .catalogue-source').innerText(), /shipped with the hub/);
    assert.equal(await page.locator('#bot-catalogue .catalogue-bots').innerText(), String(SHIPPED.bots.length));
    assert.match(await page.locator('body').innerText(), /shipped bot catalogue again/);
  });
});
