import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { type Browser, type Page } from 'playwright-core';
import { launchChromium, signInInBrowser } from './support/browser.js';
import { Client, createSiteWithKey, startTestHub, type TestHub } from './support/hub-fixture.js';
import { storedReports } from './support/preview-traffic.js';
import { ALLOWED_PREFIX, bruteBacktest, thresholdTraffic, type DraftRule } from './support/threshold-preview-traffic.js';
import type { PageDocument, PageMutationObserverConstructor, PageWindow } from './support/page-dom.js';

declare const document: PageDocument;
declare const window: PageWindow;
declare const MutationObserver: PageMutationObserverConstructor;

const DRAFT: DraftRule = {
  name: 'scanners', condition: { requests: 'blocked', method: null, path: null, pathMatch: 'exact', status: null },
  windowSeconds: 600, threshold: 8, key: 'ip', banSeconds: 1800, mode: 'enforce', maxBansPerMinute: 60,
};

describe('Thresholds form Preview in a real browser', () => {
  let hub: TestHub;
  let browser: Browser;
  let page: Page;
  let siteId: number;
  let expected: ReturnType<typeof bruteBacktest>;

  before(async () => {
    hub = await startTestHub();
    const client = new Client(hub.url);
    await client.login();
    ({ siteId } = await createSiteWithKey(client, 'thresholds.example.test'));
    const now = Math.floor(Date.now() / 1000);
    await hub.store.insertReports(siteId, thresholdTraffic(now, 3000));
    // A user agent that is markup, from an address that crosses the threshold: shown as text, never run.
    await hub.store.insertReports(siteId, Array.from({ length: 10 }, (_, i) => ({
      ts: now - 120 + i, ip: '192.0.2.77', method: 'GET', host: 'thresholds.example.test', path: '/<img src=x onerror="window.__xss=1">',
      parameter: '', userAgent: '<script>window.__xss=2</script>', requestId: `x${i}`, treatment: 'Blocked' as const, category: 'blocked', rule: 'r',
      ruleId: null, monitored: null, ipSource: 'socket', country: null,
    })));
    const reports = await storedReports(hub.store, siteId, now - 86_400, now + 3600);
    expected = bruteBacktest(DRAFT, reports, (key) => key.startsWith(ALLOWED_PREFIX));
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1360, height: 900 } });
    page.setDefaultTimeout(60_000);
  });

  after(async () => {
    await browser?.close();
    await hub?.stop();
  });

  it('Preview shows progress, then the bans and blocked requests a draft threshold rule would have made, before anything is saved', async () => {
    await signInInBrowser(page, hub.url);
    await page.goto(`${hub.url}/sites/${siteId}/thresholds`);
    await page.fill('input[name="name"]', DRAFT.name);
    await page.selectOption('select[name="requests"]', 'blocked');
    await page.fill('input[name="threshold"]', String(DRAFT.threshold));
    await page.fill('input[name="windowSeconds"]', String(DRAFT.windowSeconds));
    await page.fill('input[name="banSeconds"]', String(DRAFT.banSeconds));
    await page.selectOption('select[name="mode"]', 'enforce');
    await page.evaluate(() => {
      const w = window as unknown as { __progressSeen?: boolean };
      new MutationObserver(() => { if (document.querySelector('[data-preview-progress]')) w.__progressSeen = true; })
        .observe(document.getElementById('threshold-preview')!, { childList: true, subtree: true });
    });
    await page.click('[data-threshold-preview]');
    await page.waitForSelector('[data-preview-bans]');
    assert.equal(await page.evaluate(() => (window as unknown as { __progressSeen?: boolean }).__progressSeen), true, 'progress was shown');
    assert.ok(expected.bans > 0);
    assert.equal(Number((await page.textContent('[data-preview-bans]'))!.replaceAll(',', '')), expected.bans);
    assert.match((await page.textContent('[data-preview-blocked]'))!, new RegExp(`banned: ${expected.blockedAfterBan!.toLocaleString('en-US')},`));
    const examples = await page.textContent('[data-preview-table="Reports that crossed the threshold"]');
    assert.match(examples!, /<script>window.__xss=2<\/script>/, 'the markup user agent is shown as text');
    assert.equal(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss), undefined, 'no report text ran as script');
    assert.equal(await page.locator('#threshold-preview img').count(), 0);
    // Nothing was saved: the preview is not a rule.
    assert.equal((await hub.store.thresholds.listThresholdRules(siteId)).length, 0);
    await Promise.all([
      page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname.endsWith('/thresholds')),
      page.click('#threshold-form button[type="submit"]'),
    ]);
    assert.equal((await hub.store.thresholds.listThresholdRules(siteId)).length, 1);
  });

  it('a hostile draft (window 0) shows the reason instead of a result', async () => {
    await page.goto(`${hub.url}/sites/${siteId}/thresholds`);
    await page.fill('input[name="name"]', 'zero');
    await page.fill('input[name="threshold"]', '5');
    await page.fill('input[name="windowSeconds"]', '0');
    await page.fill('input[name="banSeconds"]', '60');
    await page.click('[data-threshold-preview]');
    const error = await page.waitForSelector('[data-preview-error]');
    assert.match((await error.textContent())!, /did not pass validation: windowSeconds: /);
    assert.equal(await page.locator('[data-preview-bans]').count(), 0);
  });
});
