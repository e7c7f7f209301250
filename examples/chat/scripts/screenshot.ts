/**
 * Remakes docs/images/chat-with-stats-panel.png, the README's picture of the chat with its live
 * server panel: `npx -y pnpm@10 --dir examples/chat screenshot`.
 *
 * It starts the chat as `pnpm start` does (on a free port), opens two pages in headless Chromium
 * (Debian's, through playwright-core), lets alice and bob exchange a few messages, and photographs
 * bob's page once the panel shows them. `CHAT_URL=http://127.0.0.1:3000/` uses a chat already
 * running instead; `OUT=file.png` writes elsewhere.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../../../test-support/chromium.js';

const chatDir = fileURLToPath(new URL('..', import.meta.url));
const out = process.env.OUT ?? fileURLToPath(new URL('../../../docs/images/chat-with-stats-panel.png', import.meta.url));

async function freePort(): Promise<number> {
  const probe = createServer().listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/** The chat's `start` script on `port`; resolves with its URL once it says it is listening. */
async function startChat(port: number): Promise<{ proc: ChildProcess; url: string }> {
  const proc = spawn(process.execPath, ['--conditions=@wsup/source', '--import', 'tsx', 'src/server.ts'], {
    cwd: chatDir,
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    proc.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const found = /wsup chat on (\S+)/.exec(output);
      if (found) resolve(found[1]!);
    });
    proc.once('exit', (code) => reject(new Error(`the chat exited (${code}) before listening:\n${output}`)));
  });
  return { proc, url };
}

async function enter(browser: Browser, url: string, name: string): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1000, height: 700 } });
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  await page.goto(url);
  await page.locator('#name-dialog[open] #name').fill(name);
  await page.locator('#name').press('Enter');
  await page.locator('#send:not([disabled])').waitFor();
  return page;
}

async function say(page: Page, text: string): Promise<void> {
  await page.locator('#text').fill(text);
  await page.locator('#text').press('Enter');
  await page.locator('#log .message .text').getByText(text, { exact: true }).waitFor();
}

const conversation: [who: 'alice' | 'bob', text: string][] = [
  ['alice', 'hi bob! the panel on the left is the server counting its WebSockets'],
  ['bob', 'nice, two connections open: yours and mine'],
  [
    'alice',
    'and every message goes through permessage-deflate, so here is a longer one to give it something to squeeze: ' +
      'the quick brown fox jumps over the lazy dog, the quick brown fox jumps over the lazy dog, '.repeat(12).trim(),
  ],
  ['bob', 'saved bytes went up: uncompressed minus what crossed the wire'],
  ['alice', 'and messages/s counts both ways: one in for each message sent, one out for each member it reaches'],
];

const running = process.env.CHAT_URL ? undefined : await startChat(await freePort());
const url = process.env.CHAT_URL ?? running!.url;
const browser = await launchChromium();
try {
  const alice = await enter(browser, url, 'alice');
  const bob = await enter(browser, url, 'bob');
  for (const [who, text] of conversation) await say(who === 'alice' ? alice : bob, text);
  // A few more, so that the rate is not 0 when the picture is taken.
  await say(alice, 'one more for the rate');
  await bob.locator('#stats[data-state="live"] #stat-rate[data-value]:not([data-value="0"])').waitFor();
  await bob.locator('#stat-open[data-value="2"]').waitFor();
  mkdirSync(dirname(out), { recursive: true });
  await bob.screenshot({ path: out });
  const labels = await bob.locator('#stats dt').allTextContents();
  const values = await bob.locator('#stats dd').allTextContents();
  console.log(`wrote ${out}; the panel showed ${labels.map((label, i) => `${label}: ${values[i]}`).join(', ')}`);
  console.log('GET /stats now:', await (await fetch(new URL('stats', url))).text());
} finally {
  await browser.close();
  if (running) {
    running.proc.kill('SIGINT');
    await once(running.proc, 'exit');
  }
}
