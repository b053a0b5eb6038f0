// The dashboard's browser tests run Debian's chromium (scripts/setup-system.sh installs it) through
// playwright-core, headless and kept off the network.
import { chromium, type Browser } from 'playwright-core';

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}
