// Managed mode end to end, as a person would do it: a real hub, the demo shop protected by a
// ManagedFirewall, and Debian chromium. Blocking an IP from the dashboard must reach the shop within
// 15 s; switching a rule to monitor must stop its blocks and grow its "would have blocked" count.

import { strict as assert } from 'node:assert';
import { request } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { createHub, type Hub } from '@moat/hub';
import { startDemoApp, type DemoApp } from './app.js';
import { seedDemoRules } from './seed.js';
import { runTraffic } from './traffic.js';

const EMAIL = 'admin@example.test';
const PASSWORD = 'demo e2e password 1';
const ATTACKER = '198.51.100.77';
const VISITOR = '203.0.113.20';

/** One request to the shop as `ip` (the shop trusts loopback as its proxy); resolves to the status. */
function get(app: DemoApp, path: string, ip: string): Promise<number> {
  const url = new URL(app.url);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path, headers: { 'x-forwarded-for': ip } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Polls until `status` is answered; returns the milliseconds it took, or fails after `limitMs` (a guard against a hang). */
async function until(app: DemoApp, path: string, ip: string, status: number, limitMs: number): Promise<number> {
  const start = Date.now();
  for (let i = 0; Date.now() - start < limitMs && i < 1000; i++) {
    if ((await get(app, path, ip)) === status) return Date.now() - start;
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.fail(`${ip} ${path} did not get ${status} within ${limitMs} ms`);
}

describe('managed mode in a browser: dashboard → hub → client', () => {
  let dir: string;
  let hub: Hub;
  let app: DemoApp;
  let browser: Browser;
  let page: Page;
  let siteId: number;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'moat-demo-e2e-'));
    hub = await createHub({
      dataDir: join(dir, 'hub'), host: '127.0.0.1', port: 0, adminEmail: EMAIL, adminPassword: PASSWORD,
      createDemoSite: true, rollupIntervalMs: 60_000, print: () => undefined,
    });
    siteId = hub.firstRun.demoSiteId!;
    await seedDemoRules(hub, siteId);
    app = await startDemoApp({
      hubUrl: hub.url, apiKey: hub.firstRun.demoApiKey!, publicKey: hub.context.signingKey?.publicKeyBase64,
      dir: join(dir, 'app'), rulesIntervalMs: 1_000,
    });
    const status = await app.firewall.ready();
    assert.equal(status.customRules.lastResult, 'updated', JSON.stringify(status.customRules));
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.setDefaultTimeout(60_000); // a guard against a hang, not a speed check: CI machines are shared
    await page.goto(`${hub.url}/login`);
    await page.fill('input[name="email"]', EMAIL);
    await page.fill('input[name="password"]', PASSWORD);
    await Promise.all([page.waitForURL((u) => !u.pathname.startsWith('/login')), page.click('button[type="submit"]')]);
  });

  after(async () => {
    await browser?.close();
    await app?.close();
    await hub?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('blocks an IP from the top-IPs table and the shop answers 403 to it within 15 s', async () => {
    for (let i = 0; i < 25; i++) assert.equal(await get(app, '/products', ATTACKER), 200);
    assert.equal(await get(app, '/', VISITOR), 200);
    await app.firewall.flushReports();
    await hub.rollUpNow();

    await page.goto(`${hub.url}/sites/${siteId}`);
    const row = page.locator('section[data-top="ip"] tr', { hasText: ATTACKER });
    await Promise.all([page.waitForURL(/done=rule-created/), row.locator('button[value="block"]').click()]);

    // How fast is measured by `npm run bench` (sync part), never asserted here.
    await until(app, '/products', ATTACKER, 403, 60_000);
    assert.equal(await get(app, '/products', VISITOR), 200, 'other visitors still get in');
  });

  it('switches a rule to monitor: no more blocks, and its "would have blocked" count grows', async () => {
    assert.equal(await get(app, '/wp-admin', VISITOR), 403);
    await page.goto(`${hub.url}/sites/${siteId}/rules`);
    const row = page.locator('tr[data-rule-id]', { has: page.locator('code', { hasText: /^\/wp-admin$/ }) });
    await Promise.all([page.waitForNavigation(), row.locator('button', { hasText: 'Monitor' }).click()]);

    // The shop has no /wp-admin page: once the rule only monitors, the app itself answers 404.
    await until(app, '/wp-admin', VISITOR, 404, 60_000);
    for (let i = 0; i < 5; i++) assert.equal(await get(app, '/wp-admin', VISITOR), 404);
    await app.firewall.flushReports();
    await hub.rollUpNow();

    await page.goto(`${hub.url}/sites/${siteId}/rules`);
    const wouldBlock = Number((await row.locator('td').nth(7).textContent())?.replace(/[^0-9]/g, ''));
    assert.ok(wouldBlock >= 6, `would have blocked: ${wouldBlock}`);
  });

  it('the demo traffic meets the demo rules: scanners refused, stuffing rate-limited, visitors and the allowed monitor served', async () => {
    const seen = new Map<string, Set<number>>();
    const summary = await runTraffic({
      target: app.url, rate: 500, maxRequests: 300, durationMs: 20_000, seed: 11,
      onResponse: (persona, status) => seen.set(persona, (seen.get(persona) ?? new Set()).add(status)),
    });
    assert.equal(summary.failed, 0);
    assert.equal(summary.sent, 300);
    assert.ok(seen.get('scanner')?.has(403), `scanner: ${[...seen.get('scanner') ?? []]}`);
    assert.ok(seen.get('credential-stuffing')?.has(429), `stuffing: ${[...seen.get('credential-stuffing') ?? []]}`);
    assert.ok(seen.get('visitor')?.has(200), `visitor: ${[...seen.get('visitor') ?? []]}`);
    assert.deepEqual([...seen.get('uptime-monitor') ?? []], [200], 'the allowed uptime monitor is always served');
  });
});
