import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { type Browser, type Page } from 'playwright-core';
import { launchChromium, signInInBrowser } from './support/browser.js';
import { Client, createSiteWithKey, startTestHub, type TestHub } from './support/hub-fixture.js';
import { bruteCount, previewTraffic, storedReports } from './support/preview-traffic.js';
import type { PageDocument, PageMutationObserverConstructor, PageWindow } from './support/page-dom.js';

// Globals of the page, for the page.evaluate() callbacks (they run in Chromium).
declare const document: PageDocument;
declare const window: PageWindow;
declare const MutationObserver: PageMutationObserverConstructor;

describe('rule form Preview in a real browser', () => {
  let hub: TestHub;
  let browser: Browser;
  let page: Page;
  let siteId: number;
  let expectedNewlyBlocked: number;

  before(async () => {
    hub = await startTestHub();
    const client = new Client(hub.url);
    await client.login();
    ({ siteId } = await createSiteWithKey(client, 'preview.example.test'));
    const now = Math.floor(Date.now() / 1000);
    await hub.store.insertReports(siteId, previewTraffic(now, 3000));
    // Paths are attacker-chosen text: one that is markup must show as text, never run.
    await hub.store.insertReports(siteId, [{
      ts: now - 60, ip: '192.0.2.77', method: 'GET', host: 'preview.example.test', path: '/sqlmap<img src=x onerror="window.__xss=1">',
      parameter: '', userAgent: 'sqlmap/1.8<script>window.__xss=2</script>', requestId: 'x', treatment: 'Passed', category: 'passed', rule: '-',
      ruleId: null, monitored: null, ipSource: null, country: null,
    }]);
    const reports = await storedReports(hub.store, siteId, now - 86_400, now + 3600);
    expectedNewlyBlocked = bruteCount(reports.filter((r) => r.userAgent.toLowerCase().includes('sqlmap'))).passedOrAllowed;
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1360, height: 900 } });
    page.setDefaultTimeout(60_000);
  });

  after(async () => {
    await browser?.close();
    await hub?.stop();
  });

  it('Preview shows progress, then what a draft user-agent rule would newly block, before anything is saved', async () => {
    await signInInBrowser(page, hub.url);
    await page.goto(`${hub.url}/sites/${siteId}/rules`);
    await page.selectOption('select[name="kind"]', 'userAgent');
    await page.fill('input[name="value"]', 'sqlmap');
    await page.selectOption('[data-preview-range]', '24h');
    // Records whether a progress bar was ever shown: the scan may be quicker than any poll.
    await page.evaluate(() => {
      const w = window as unknown as { __progressSeen?: boolean };
      new MutationObserver(() => { if (document.querySelector('[data-preview-progress]')) w.__progressSeen = true; })
        .observe(document.getElementById('rule-preview')!, { childList: true, subtree: true });
    });
    await page.click('[data-rule-preview]');
    await page.waitForSelector('[data-preview-would-change]');
    assert.equal(await page.evaluate(() => (window as unknown as { __progressSeen?: boolean }).__progressSeen), true, 'progress was shown');
    const shown = Number((await page.textContent('[data-preview-would-change]'))!.replaceAll(',', ''));
    assert.equal(shown, expectedNewlyBlocked);
    assert.ok(expectedNewlyBlocked > 0);
    const paths = await page.textContent('[data-preview-table="Top paths"]');
    assert.match(paths!, /\/sqlmap<img src=x onerror="window.__xss=1">/, 'the markup path is shown as text');
    assert.equal(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss), undefined, 'no report text ran as script');
    assert.equal(await page.locator('[data-preview-table="Top paths"] img').count(), 0);
    // Nothing was saved: the preview is not a rule.
    assert.equal((await hub.store.listRules(siteId)).length, 0);
    // Saving afterwards works from the same form.
    // Waits for the form's POST to be answered: the page is already on /rules, so its URL proves nothing.
    await Promise.all([
      page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname.endsWith('/rules')),
      page.click('form.rule-form button[type="submit"]'),
    ]);
    assert.equal((await hub.store.listRules(siteId)).length, 1);
  });

  it('a draft the engine refuses shows the reason instead of a result', async () => {
    await page.goto(`${hub.url}/sites/${siteId}/rules`);
    await page.selectOption('select[name="kind"]', 'path');
    await page.fill('input[name="value"]', '/');
    await page.click('[data-rule-preview]');
    const error = await page.waitForSelector('[data-preview-error]');
    assert.match((await error.textContent())!, /whole site/);
  });
});
