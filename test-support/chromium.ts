/**
 * Headless Chromium for the end-to-end tests: Debian's `chromium` package driven by
 * playwright-core, which never downloads a browser of its own.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { CHROMIUM_PATH } from './system-tools.js';

export { CHROMIUM_PATH };

const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

/**
 * Launches Chromium, or fails with how to install it. Outside CI, vitest.config.ts leaves the
 * browser suites out on a machine without Chromium (and says so); a suite that gets here anyway
 * must fail rather than pass without a browser.
 */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `Chromium is not installed (no ${CHROMIUM_PATH}). The browser tests need Debian's chromium package: ` +
        '`apt-get update && apt-get install -y chromium` (.ci/run installs it), or set CHROMIUM_PATH to a Chromium binary.',
    );
  }
  // launch() (unlike a persistent context) gives the browser a fresh temporary profile and
  // removes it on close, so nothing from a previous run can change what the tests see.
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: ARGS, timeout: 60_000 });
}
