/**
 * The example in a real headless Chromium: the page arrives over HTTP/2, and the page's WebSocket
 * must arrive on the server as an extended CONNECT stream (RFC 8441 §4) of that very connection,
 * not as an HTTP/1.1 Upgrade on a second one. Only the server can tell those apart, so that is
 * where it is checked.
 */
import type { Http2ServerRequest, Http2Session, IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { UpgradeRequest, WebSocket } from '@wsup/core';
import { CHROMIUM_PATH } from '../../../test-support/chromium.js';
import { type RunningExample, start } from '../src/app.js';

/** Milliseconds to wait for something the page should show; only bounds a failing test. */
const SHOW = 15_000;

interface SeenStream {
  method: string | undefined;
  path: string | undefined;
  protocol: string | undefined;
  session: Http2Session | undefined;
}

let app: RunningExample;
let browser: Browser;
const accepted: { ws: WebSocket; req: UpgradeRequest }[] = [];
/** Every HTTP/2 stream the server opened, as it came off the wire (before wsup or the handler). */
const streams: SeenStream[] = [];
const pageErrors: Error[] = [];

beforeAll(async () => {
  app = await start({ port: 0, host: '127.0.0.1', onWebSocket: (ws, req) => accepted.push({ ws, req }) });
  // Prepended, so every stream is seen as it arrived, before the compatibility layer routes it.
  app.server.prependListener('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
    streams.push({ method: headers[':method'], path: headers[':path'], protocol: headers[':protocol'] as string, session: stream.session });
  });
  // launchChromium() takes no extra flags, and this browser must accept the example's fresh
  // self-signed certificate on every connection it makes, the WebSocket's included: so the same
  // browser and flags as test-support/chromium.ts, plus --ignore-certificate-errors.
  browser = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--ignore-certificate-errors',
    ],
    timeout: 60_000,
  });
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await app?.close();
});

afterEach(() => {
  // An exception thrown in the page is a bug even when the test got what it wanted.
  expect(pageErrors.splice(0)).toEqual([]);
});

async function openPage(): Promise<Page> {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.setDefaultTimeout(SHOW);
  page.on('pageerror', (err) => pageErrors.push(err));
  await page.goto(app.url);
  return page;
}

async function echo(page: Page, text: string): Promise<string> {
  const before = await page.locator('#log li.echo').count();
  await page.locator('#text').fill(text);
  await page.locator('#text').press('Enter');
  const reply = page.locator('#log li.echo').nth(before);
  await reply.waitFor();
  return (await reply.textContent()) ?? '';
}

describe('the http2 example in Chromium', () => {
  it('serves the page over h2 and carries its WebSocket on the same HTTP/2 session as an extended CONNECT', async () => {
    const page = await openPage();
    const nextHop = await page.evaluate(() => {
      const perf = (globalThis as unknown as { performance: { getEntriesByType(type: string): { nextHopProtocol: string }[] } })
        .performance;
      return perf.getEntriesByType('navigation')[0]?.nextHopProtocol;
    });
    expect(nextHop).toBe('h2');
    expect(await page.locator('#page-protocol').textContent()).toBe('HTTP/2');
    await page.locator('#status[data-state="open"]').waitFor();
    // The browser always offers permessage-deflate; the route's compress: true accepts it.
    expect(await page.locator('#extensions').textContent()).toMatch(/^permessage-deflate\b/);

    expect(accepted).toHaveLength(1);
    const { ws, req } = accepted[0]!;
    expect(ws.extensions).toMatch(/^permessage-deflate\b/);
    // What the handler saw: an HTTP/2 request with the extended CONNECT's :protocol (RFC 8441 §4),
    // which wsup routes as a GET (§5), so the same route serves HTTP/1.1 Upgrades.
    expect(req.httpVersion).toBe('2.0');
    expect(req.method).toBe('GET');
    expect(req.headers[':protocol']).toBe('websocket');
    // And the connection: the WebSocket's stream belongs to the very Http2Session that served
    // the page's GET /, so the browser reused it instead of dialling HTTP/1.1.
    const pageGet = streams.find((s) => s.method === 'GET' && s.path === '/');
    const connect = streams.filter((s) => s.method === 'CONNECT');
    expect(pageGet?.session).toBeDefined();
    expect(connect).toHaveLength(1);
    expect(connect[0]).toMatchObject({ path: '/echo', protocol: 'websocket' });
    const wsSession = (req as Http2ServerRequest).stream.session!;
    expect(wsSession).toBe(pageGet!.session);
    expect(connect[0]!.session).toBe(wsSession);

    expect(await echo(page, 'hello over HTTP/2')).toBe('hello over HTTP/2');
    expect(await echo(page, '<b>not bold</b>')).toBe('<b>not bold</b>');
    expect(await page.locator('#log b').count()).toBe(0);

    // Over the 1 KiB threshold, so both sides compress it. The session's socket counts what came
    // in on the wire: a deflated frame is a small fraction of the text.
    const long = 'the same words again and again '.repeat(400); // 12,400 characters
    const socket = wsSession.socket;
    const readBefore = socket.bytesRead;
    expect(await echo(page, long)).toBe(long);
    expect(socket.bytesRead - readBefore).toBeLessThan(long.length / 4);
    expect(await page.locator('#log li.sent').allTextContents()).toEqual(['hello over HTTP/2', '<b>not bold</b>', long]);
    await page.context().close();
  });
});
