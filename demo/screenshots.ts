// Regenerates docs/screenshots/*.png from the real demo: starts `demo/start.ts` in a temporary folder
// on free ports, lets its traffic run, signs in with Debian chromium and photographs every dashboard
// page at desktop (1440×900) and phone (390×844) size. What the pictures show is what `npm start` shows.
//
//   node --import tsx demo/screenshots.ts [--seconds 150] [--out docs/screenshots]

import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { startDemoProcess } from './demo-process.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '150' },
    out: { type: 'string' },
    chromium: { type: 'string', default: '/usr/bin/chromium' },
  },
});
const trafficSeconds = Number(values.seconds);
if (!Number.isFinite(trafficSeconds) || trafficSeconds < 0) throw new Error(`--seconds must be a number, not ${values.seconds}`);
const out = values.out ? resolve(values.out) : resolve(import.meta.dirname, '..', 'docs', 'screenshots');
mkdirSync(out, { recursive: true });

const dir = mkdtempSync(join(tmpdir(), 'moat-screenshots-'));
const password = 'screenshot demo password';
// A busier shop than the default, so a couple of minutes fill the charts and top lists.
const demo = startDemoProcess(join(dir, 'demo'), [], {
  MOAT_HUB_ADMIN_PASSWORD: password, MOAT_DEMO_RATE: '25', MOAT_DEMO_MINUTES: '30',
});

try {
  const state = await demo.whenRunning();
  console.log(`demo running: hub ${state.hub}, shop ${state.app}; letting traffic run for ${trafficSeconds} s…`);
  await new Promise((r) => setTimeout(r, trafficSeconds * 1000));

  const browser = await chromium.launch({
    executablePath: values.chromium,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  try {
    const sizes = [
      { suffix: '', viewport: { width: 1440, height: 900 }, isMobile: false },
      { suffix: '-mobile', viewport: { width: 390, height: 844 }, isMobile: true },
    ];
    for (const size of sizes) {
      const context = await browser.newContext({ viewport: size.viewport, isMobile: size.isMobile, deviceScaleFactor: 1 });
      const page = await context.newPage();
      page.setDefaultTimeout(60_000); // a guard against a hang only
      await page.goto(`${state.hub}/login`);
      await page.screenshot({ path: join(out, `login${size.suffix}.png`), fullPage: true });
      await page.fill('input[name="email"]', state.adminEmail);
      await page.fill('input[name="password"]', password);
      await Promise.all([page.waitForURL((u) => !u.pathname.startsWith('/login')), page.click('button[type="submit"]')]);
      const base = `${state.hub}/sites/${state.siteId}`;
      for (const [name, path] of [['overview', ''], ['requests', '/requests'], ['rules', '/rules'], ['clients', '/clients'], ['setup', '/setup']] as const) {
        await page.goto(`${base}${path}`);
        await page.waitForLoadState('networkidle');
        const file = join(out, `${name}${size.suffix}.png`);
        await page.screenshot({ path: file, fullPage: true });
        console.log(`  ${file}`);
      }
      await context.close();
    }
  } finally {
    await browser.close();
  }
} catch (error) {
  console.error(`screenshots failed: ${(error as Error).message}\n--- demo output ---\n${demo.output()}`);
  process.exitCode = 1;
} finally {
  await demo.stop();
  rmSync(dir, { recursive: true, force: true });
}
