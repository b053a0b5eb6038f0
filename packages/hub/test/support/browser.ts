// The dashboard's browser tests run Debian's chromium (scripts/setup-system.sh installs it) through
// playwright-core, headless and kept off the network.
import { chromium, type Browser, type Page } from 'playwright-core';
import { ADMIN_EMAIL, ADMIN_PASSWORD } from './hub-fixture.js';

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}

/** Signs the test admin in through the login form and waits until the dashboard has left /login. */
export async function signInInBrowser(page: Page, hubUrl: string): Promise<void> {
  await page.goto(`${hubUrl}/login`);
  await page.fill('input[name="email"]', ADMIN_EMAIL);
  await page.fill('input[name="password"]', ADMIN_PASSWORD);
  await Promise.all([page.waitForURL((url) => !url.pathname.startsWith('/login')), page.click('button[type="submit"]')]);
}

/**
 * Chromium with one desktop-sized page. Its step timeout is only a guard against a hung page (a loaded
 * CI machine can take seconds per step), never a measure of speed.
 */
export async function openBrowserPage(stepTimeoutMs = 30_000): Promise<{ browser: Browser; page: Page }> {
  const browser = await launchChromium();
  const page = await (await browser.newContext({ viewport: { width: 1440, height: 900 } })).newPage();
  page.setDefaultTimeout(stepTimeoutMs);
  return { browser, page };
}

/**
 * A screenshot for a person to look at (MOAT_HUB_KEEP_SHOTS=1 keeps the tests' shots): nothing a test
 * asserts, so it is taken only when kept, and a refusal is reported, not failed. Headless chromium on a
 * loaded machine sometimes refuses a full-page capture ("Unable to capture screenshot").
 */
export async function keepScreenshot(page: Page, path: string, fullPage = true): Promise<void> {
  if (process.env.MOAT_HUB_KEEP_SHOTS !== '1') return;
  try {
    await page.screenshot({ path, fullPage });
  } catch (error) {
    console.log(`# screenshot ${path} not taken: ${(error as Error).message.split('\n')[0]}`);
  }
}
