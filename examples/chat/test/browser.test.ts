/**
 * The chat in a real headless Chromium: the page people use, and the browser's own WebSocket
 * (which always offers permessage-deflate) against wsup. One browser for the file; each page gets
 * its own context, so names in localStorage do not leak between them.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createChatServer, type ChatOptions, type ChatServer } from '../src/app.js';
import { launchChromium } from '../../../test-support/chromium.js';

/** Milliseconds to wait for something the page should show; only bounds a failing test. */
const SHOW = 15_000;

// The browser globals the evaluated functions use (the test's own types are Node's).
interface CloseEventLike {
  code: number;
  reason: string;
  wasClean: boolean;
}
interface BrowserSocket {
  binaryType: string;
  readonly extensions: string;
  send(data: unknown): void;
  addEventListener(type: 'open' | 'error', listener: () => void): void;
  addEventListener(type: 'message', listener: (event: { data: unknown }) => void): void;
  addEventListener(type: 'close', listener: (event: CloseEventLike) => void): void;
}
interface BrowserGlobals {
  WebSocket: new (url: string) => BrowserSocket;
  location: { host: string };
  /** Where the tests keep a socket between two evaluate() calls. */
  testSocket?: { ws: BrowserSocket; joined: Promise<void>; closed: Promise<CloseEventLike> };
}

let browser: Browser;
const contexts: BrowserContext[] = [];
const servers: ChatServer[] = [];
const pageErrors: Error[] = [];

beforeAll(async () => {
  browser = await launchChromium();
}, 90_000);

afterAll(async () => {
  await browser?.close();
});

afterEach(async () => {
  await Promise.all(contexts.splice(0).map((c) => c.close()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
  // An exception thrown in the page is a bug even when the test got what it wanted.
  expect(pageErrors.splice(0)).toEqual([]);
});

async function startChat(options: ChatOptions = {}): Promise<ChatServer> {
  const chat = await createChatServer({ log: () => {}, ...options });
  servers.push(chat);
  return chat;
}

async function newPage(): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1000, height: 640 } });
  contexts.push(context);
  const page = await context.newPage();
  page.setDefaultTimeout(SHOW);
  page.on('pageerror', (err) => pageErrors.push(err));
  return page;
}

/** Opens the chat at `url` and answers the name prompt; resolves once the room is joined. */
async function enterChat(url: string, name: string): Promise<Page> {
  const page = await newPage();
  await page.goto(url);
  await page.locator('#name-dialog[open] #name').fill(name);
  await page.locator('#name').press('Enter');
  await page.locator('#status[data-state="open"]').waitFor();
  await page.locator('#send:not([disabled])').waitFor();
  return page;
}

async function type(page: Page, text: string): Promise<void> {
  await page.locator('#text').fill(text);
  await page.locator('#text').press('Enter');
}

/** Waits until the page shows a message with exactly this text. */
async function shows(page: Page, text: string): Promise<void> {
  await page.locator('#log .message .text').getByText(text, { exact: true }).waitFor();
}

async function messages(page: Page): Promise<string[]> {
  return page.locator('#log .message .text').allTextContents();
}

describe('the chat page in Chromium', () => {
  it('lets two pages chat: messages typed in one appear in the other, with join notices', async () => {
    const chat = await startChat();
    const alice = await enterChat(chat.url, 'alice');
    const bob = await enterChat(chat.url, 'bob');
    await alice.locator('#log .notice').getByText('bob joined').waitFor();
    await alice.locator('#members li').getByText('bob', { exact: true }).waitFor();

    await type(alice, 'hello from alice');
    await shows(bob, 'hello from alice');
    await type(bob, 'hi alice, bob here');
    await shows(alice, 'hi alice, bob here');
    expect(await messages(alice)).toEqual(['hello from alice', 'hi alice, bob here']);
    expect(await bob.locator('#log .message .who').allTextContents()).toEqual(['alice', 'bob']);

    // Text that looks like markup is shown, not interpreted.
    await type(alice, '<b>not bold</b>');
    await shows(bob, '<b>not bold</b>');
    expect(await bob.locator('#log b').count()).toBe(0);

    // The screenshot is for people; the assertions read the DOM it shows.
    const dir = join(tmpdir(), 'wsup-chat');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, 'two-pages.png');
    await bob.screenshot({ path: file });
    expect(readFileSync(file).subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    const text = await bob.locator('body').textContent();
    expect(text).toContain('hello from alice');
    expect(text).toContain('hi alice, bob here');
    expect(text).toContain('#lobby');
  });

  it('replays the room history to a page that joins later, and keeps rooms chosen with /#room apart', async () => {
    const chat = await startChat();
    const alice = await enterChat(chat.url, 'alice');
    await type(alice, 'first in the lobby');
    await shows(alice, 'first in the lobby');
    await type(alice, 'second in the lobby');
    await shows(alice, 'second in the lobby');

    const carol = await enterChat(`${chat.url}#garden`, 'carol');
    expect(await carol.locator('#room-title').textContent()).toBe('#garden');
    await type(carol, 'roses are red');
    await shows(carol, 'roses are red');

    const dave = await enterChat(chat.url, 'dave');
    await shows(dave, 'second in the lobby');
    expect(await messages(dave)).toEqual(['first in the lobby', 'second in the lobby']);

    // Changing the fragment switches rooms on the same connection.
    await dave.evaluate((room) => {
      (globalThis as unknown as { location: { hash: string } }).location.hash = room;
    }, 'garden');
    await shows(dave, 'roses are red');
    expect(await messages(dave)).toEqual(['roses are red']);
    expect(await messages(alice)).toEqual(['first in the lobby', 'second in the lobby']);
  });

  it('negotiates permessage-deflate with the browser when compression is on, and not when off', async () => {
    const chat = await startChat();
    const alice = await enterChat(chat.url, 'alice');
    expect(await alice.locator('#transport').getAttribute('data-extensions')).toMatch(/^permessage-deflate\b/);
    const extensions = await alice.evaluate(
      () =>
        new Promise<string>((resolve, reject) => {
          const g = globalThis as unknown as BrowserGlobals;
          const ws = new g.WebSocket(`ws://${g.location.host}/echo`);
          ws.addEventListener('open', () => resolve(ws.extensions));
          ws.addEventListener('error', () => reject(new Error('WebSocket failed')));
        }),
    );
    expect(extensions).toMatch(/^permessage-deflate\b/);
    // The server agreed too, on the page's connection.
    expect([...chat.router.clients].map((ws) => ws.extensions)).toContainEqual(expect.stringMatching(/^permessage-deflate\b/));

    // A big, compressible message goes through both compressors intact.
    const long = 'the same words again and again '.repeat(60); // 1,860 characters: under the limit, over the server's 1 KiB compression threshold
    await type(alice, long);
    await shows(alice, long.trim());

    const plain = await startChat({ compress: false });
    const bob = await enterChat(plain.url, 'bob');
    expect(await bob.locator('#transport').getAttribute('data-extensions')).toBe('');
  });

  it("shows the server's live counters: open connections, messages as they are sent, bytes saved by compression", async () => {
    const chat = await startChat();
    const alice = await enterChat(chat.url, 'alice');
    /** A figure of the panel, as the page last showed it (its data-value). */
    const figure = async (id: string) => Number(await alice.locator(`#${id}`).getAttribute('data-value'));
    const polled = { timeout: SHOW, interval: 100 };

    await expect.poll(() => figure('stat-open'), polled).toBeGreaterThanOrEqual(1);
    const bob = await enterChat(chat.url, 'bob');
    await expect.poll(() => figure('stat-open'), polled).toBe(2);
    expect(await alice.locator('#stat-open').textContent()).toBe('2');
    expect(await alice.locator('#stats').getAttribute('data-state')).toBe('live');

    const before = await figure('stat-messages');
    await type(alice, 'counting messages');
    await shows(bob, 'counting messages');
    await type(bob, 'me too');
    await shows(alice, 'me too');
    // Compressible and over the server's 1 KiB threshold: compressed by Chromium on the way in
    // and by wsup on the way out to both pages.
    const long = 'the same words again and again '.repeat(60);
    await type(alice, long);
    await shows(bob, long.trim());
    // Three messages in, each sent to both pages: at least 9 more.
    await expect.poll(() => figure('stat-messages'), polled).toBeGreaterThanOrEqual(before + 9);

    // Once the traffic has stopped the panel shows exactly the router's counters.
    const stats = chat.router.stats();
    const saved = stats.uncompressedBytesIn + stats.uncompressedBytesOut - stats.bytesIn - stats.bytesOut;
    await expect.poll(() => figure('stat-messages'), polled).toBe(stats.messagesIn + stats.messagesOut);
    await expect.poll(() => figure('stat-saved'), polled).toBe(saved);
    expect(saved).toBeGreaterThan(long.length); // the long message alone saves nearly that three times: in once, out twice
    const percent = Math.round((saved / (stats.uncompressedBytesIn + stats.uncompressedBytesOut)) * 100);
    expect(await alice.locator('#stat-saved').textContent()).toBe(`${(saved / 1024).toFixed(1)} KB (${percent}%)`);
    expect(await alice.locator('#stat-messages').textContent()).toBe((stats.messagesIn + stats.messagesOut).toLocaleString('en'));
    expect(await alice.locator('#stat-rate').textContent()).toMatch(/^\d+\.\d$/);
  });

  it('round-trips an ArrayBuffer through /echo byte for byte', async () => {
    const chat = await startChat();
    const page = await newPage();
    await page.goto(chat.url);
    // Over 64 KiB for the 64-bit length form; half pattern (compresses), half noise (does not).
    const sent = Array.from({ length: 70_000 }, (_, i) => (i < 35_000 ? i % 251 : (i * 2654435761) >>> 24));
    const echoed = await page.evaluate(
      (bytes) =>
        new Promise<{ isArrayBuffer: boolean; bytes: number[] }>((resolve, reject) => {
          const g = globalThis as unknown as BrowserGlobals;
          const ws = new g.WebSocket(`ws://${g.location.host}/echo`);
          ws.binaryType = 'arraybuffer';
          ws.addEventListener('open', () => ws.send(new Uint8Array(bytes).buffer));
          ws.addEventListener('message', (event) => {
            const data = event.data as ArrayBuffer;
            resolve({ isArrayBuffer: data instanceof ArrayBuffer, bytes: Array.from(new Uint8Array(data)) });
          });
          ws.addEventListener('error', () => reject(new Error('WebSocket failed')));
        }),
      sent,
    );
    expect(echoed.isArrayBuffer).toBe(true);
    expect(echoed.bytes.length).toBe(sent.length);
    expect(Buffer.from(echoed.bytes).equals(Buffer.from(sent))).toBe(true);
  });

  it("shows the server's close code and reason, and does not reconnect after a kick", async () => {
    const chat = await startChat();
    const bob = await enterChat(chat.url, 'bob');
    expect(chat.kick('bob', 'kicked by the operator')).toBe(1);
    await bob.locator('#status[data-state="closed"]').waitFor();
    const info = bob.locator('#close-info');
    expect(await info.getAttribute('data-code')).toBe('4001');
    expect(await info.getAttribute('data-reason')).toBe('kicked by the operator');
    expect(await info.textContent()).toContain('4001');
    expect(await bob.locator('#banner').isVisible()).toBe(true);

    // The button the banner offers brings the page back.
    await bob.locator('#reconnect').click();
    await bob.locator('#status[data-state="open"]').waitFor();
    await bob.locator('#banner').waitFor({ state: 'hidden' });
  });

  it("delivers the server's close codes to the browser's CloseEvent: 4001 kick, 1008 abuse, 1009 too big", async () => {
    const chat = await startChat({ maxStrikes: 3, maxPayload: 16 * 1024 });
    const page = await newPage();
    await page.goto(`${chat.url}#x`); // the page's own connection waits for a name; this test uses raw sockets

    /** Opens the browser's own WebSocket to /chat in the page and joins as `name`. */
    const openRaw = (name: string) =>
      page.evaluate((who) => {
        const g = globalThis as unknown as BrowserGlobals;
        const ws = new g.WebSocket(`ws://${g.location.host}/chat`);
        let joined!: () => void;
        g.testSocket = {
          ws,
          joined: new Promise<void>((resolve) => (joined = resolve)),
          closed: new Promise<CloseEventLike>((resolve) => {
            ws.addEventListener('close', (e) => resolve({ code: e.code, reason: e.reason, wasClean: e.wasClean }));
          }),
        };
        ws.addEventListener('open', () => ws.send(JSON.stringify({ type: 'join', room: 'lobby', name: who })));
        ws.addEventListener('message', (event) => {
          if (JSON.parse(String(event.data)).type === 'joined') joined();
        });
        return g.testSocket.joined;
      }, name);
    const sendRaw = (data: string) => page.evaluate((d) => (globalThis as unknown as BrowserGlobals).testSocket!.ws.send(d), data);
    const closeEvent = () => page.evaluate(() => (globalThis as unknown as BrowserGlobals).testSocket!.closed);

    await openRaw('mallory');
    expect(chat.kick('mallory', 'bye mallory')).toBe(1);
    expect(await closeEvent()).toEqual({ code: 4001, reason: 'bye mallory', wasClean: true });

    await openRaw('spammer');
    for (let i = 0; i < 3; i++) await sendRaw('{not json');
    expect(await closeEvent()).toEqual({ code: 1008, reason: 'too many invalid messages', wasClean: true });

    await openRaw('bigmouth');
    await sendRaw(JSON.stringify({ type: 'say', text: 'x'.repeat(17 * 1024) }));
    expect(await closeEvent()).toMatchObject({ code: 1009, wasClean: true });
  });

  it('reconnects by itself after the server restarts on the same port, shows the 1001, and chats again', async () => {
    let chat = await startChat();
    const { port } = chat;
    const alice = await enterChat(chat.url, 'alice');
    const bob = await enterChat(chat.url, 'bob');
    await type(alice, 'before the restart');
    await shows(bob, 'before the restart');

    servers.splice(servers.indexOf(chat), 1);
    await chat.close();
    // The banner keeps the server's reason while the retries fail.
    for (const page of [alice, bob]) {
      await page.locator('#close-info[data-code="1001"]').waitFor();
      expect(await page.locator('#close-info').getAttribute('data-reason')).toBe('server shutting down');
      expect(await page.locator('#status').getAttribute('data-state')).not.toBe('closed');
    }

    chat = await startChat({ port });
    for (const page of [alice, bob]) {
      await page.locator('#status[data-state="open"]').waitFor({ timeout: 30_000 });
      await page.locator('#send:not([disabled])').waitFor();
    }
    await type(bob, 'after the restart');
    await shows(alice, 'after the restart');
    // What the page showed before the restart is still there.
    expect(await messages(alice)).toEqual(['before the restart', 'after the restart']);
  }, 60_000);

  it('reconnects after the connection drops without a close frame, and does not show the history twice', async () => {
    const chat = await startChat();
    const alice = await enterChat(chat.url, 'alice');
    await type(alice, 'one');
    await shows(alice, 'one');
    await type(alice, 'two');
    await shows(alice, 'two');

    for (const ws of chat.router.clients) ws.terminate();
    await alice.locator('#log .notice').getByText('connection closed: 1006').waitFor();
    // The second "you joined" is the rejoin, whose history replays "one" and "two".
    await alice.locator('#log .notice').getByText('you joined #lobby as alice').nth(1).waitFor();
    expect(await messages(alice)).toEqual(['one', 'two']);
    await type(alice, 'three');
    await shows(alice, 'three');
    expect(await messages(alice)).toEqual(['one', 'two', 'three']);
  });
});
