/**
 * Headless Chromium for the end-to-end tests: Debian's `chromium` package driven by
 * playwright-core, which never downloads a browser of its own.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

/** Where the browser is; `CHROMIUM_PATH` points elsewhere (another distribution's build, say). */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

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
 * Launches Chromium, or fails with how to install it: these tests prove that real browsers work
 * with wsup, so a machine without a browser must not pass them by skipping them.
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
