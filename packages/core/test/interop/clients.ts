/**
 * The clients of the interop matrix, behind one small interface: ws, undici's WebSocket, wsup's
 * own connect(), and Chromium's WebSocket in a page. Each says what it can do: the browser API
 * (undici, Chromium) cannot send fragments or see pongs, and Chromium cannot ping; scenarios that
 * need those are not applicable to it.
 */
import type { Page } from 'playwright-core';
import { ping as undiciPing, WebSocket as UndiciWebSocket } from 'undici';
import WsWebSocket from 'ws';
import { connect as wsupConnect, type DeflateOptions } from '@wsup/core';

export interface Received {
  data: Buffer;
  binary: boolean;
  /** How a browser API delivered it: 'string', 'arraybuffer' or 'blob'. */
  kind?: string;
}

export interface Closed {
  code: number;
  reason: string;
}

/** Ways the browser API can send bytes. */
export type BinaryForm = 'arraybuffer' | 'view' | 'blob';

export interface Connection {
  /** Sec-WebSocket-Extensions as the client agreed it ('' for none). */
  readonly extensions: string;
  send(data: string | Buffer): void;
  /** Sends one message as several frames (only where `can.sendFragments`). */
  sendFragments(parts: (string | Buffer)[], binary: boolean): void;
  /** Only where `can.ping`. */
  ping(payload: Buffer): void;
  /** The payload of the next pong (only where `can.seePongs`). */
  nextPong(): Promise<Buffer>;
  nextMessage(): Promise<Received>;
  /** Browser API only (`can.browserTypes`): sends bytes as an ArrayBuffer, a view or a Blob. */
  sendAs(form: BinaryForm, bytes: Buffer): void;
  /** Browser API only: how binary messages are delivered. */
  binaryType(type: 'arraybuffer' | 'blob'): Promise<void>;
  close(code?: number, reason?: string): void;
  /** Settles when the connection is closed, with the close code and reason the client saw. */
  readonly closed: Promise<Closed>;
}

export interface Can {
  sendFragments: boolean;
  seePongs: boolean;
  ping: boolean;
  browserTypes: boolean;
}

export interface InteropClient {
  name: string;
  can: Can;
  connect(url: string): Promise<Connection>;
}

/** Messages (or pongs) queued until a test asks for them. */
class Inbox<T> {
  private items: T[] = [];
  private waiting: ((v: T) => void)[] = [];
  put(v: T): void {
    const w = this.waiting.shift();
    if (w) w(v);
    else this.items.push(v);
  }
  next(): Promise<T> {
    const v = this.items.shift();
    return v !== undefined ? Promise.resolve(v) : new Promise((resolve) => this.waiting.push(resolve));
  }
}

const unsupported = (what: string) => (): never => {
  throw new Error(`not supported by ${what}`);
};

/** ws's client; `compress` decides whether it offers permessage-deflate. */
export function wsClient(compress: boolean): InteropClient {
  return {
    name: 'ws',
    can: { sendFragments: true, seePongs: true, ping: true, browserTypes: false },
    connect(url) {
      const ws = new WsWebSocket(url, { perMessageDeflate: compress });
      const messages = new Inbox<Received>();
      const pongs = new Inbox<Buffer>();
      ws.on('message', (data: Buffer, isBinary: boolean) => messages.put({ data, binary: isBinary }));
      ws.on('pong', (data: Buffer) => pongs.put(data));
      const closed = new Promise<Closed>((resolve) =>
        ws.on('close', (code: number, reason: Buffer) => resolve({ code, reason: reason.toString() })),
      );
      return new Promise((resolve, reject) => {
        ws.once('error', reject);
        ws.once('open', () =>
          resolve({
            extensions: ws.extensions,
            send: (data) => ws.send(data),
            sendFragments: (parts, binary) => {
              for (const [i, p] of parts.entries()) ws.send(p, { binary, fin: i === parts.length - 1 });
            },
            ping: (payload) => ws.ping(payload),
            nextPong: () => pongs.next(),
            nextMessage: () => messages.next(),
            sendAs: unsupported('ws'),
            binaryType: unsupported('ws'),
            close: (code, reason) => ws.close(code, reason),
            closed,
          }),
        );
      });
    },
  };
}

/** undici's WebSocket (the browser API in Node); it always offers permessage-deflate. */
export const undiciClient: InteropClient = {
  name: 'undici',
  can: { sendFragments: false, seePongs: false, ping: true, browserTypes: true },
  connect(url) {
    const ws = new UndiciWebSocket(url);
    ws.binaryType = 'arraybuffer';
    const messages = new Inbox<Received>();
    // Blob reads are chained so that a later message cannot overtake an earlier one.
    let order = Promise.resolve();
    ws.addEventListener('message', (e) => {
      const d = e.data as string | ArrayBuffer | Blob;
      order = order.then(async () => {
        if (typeof d === 'string') messages.put({ data: Buffer.from(d), binary: false, kind: 'string' });
        else if (d instanceof ArrayBuffer) messages.put({ data: Buffer.from(d), binary: true, kind: 'arraybuffer' });
        else messages.put({ data: Buffer.from(await d.arrayBuffer()), binary: true, kind: 'blob' });
      });
    });
    const closed = new Promise<Closed>((resolve) => ws.addEventListener('close', (e) => resolve({ code: e.code, reason: e.reason })));
    return new Promise((resolve, reject) => {
      ws.addEventListener('error', () => reject(new Error('undici WebSocket failed to connect')), { once: true });
      ws.addEventListener(
        'open',
        () =>
          resolve({
            extensions: ws.extensions,
            send: (data) => ws.send(data),
            sendFragments: unsupported('the undici client'),
            ping: (payload) => undiciPing(ws, payload),
            nextPong: unsupported('the undici client'),
            nextMessage: () => messages.next(),
            sendAs: (form, bytes) => {
              const copy = Uint8Array.from(bytes);
              if (form === 'arraybuffer') ws.send(copy.buffer);
              else if (form === 'view') {
                const padded = new Uint8Array(bytes.length + 7);
                padded.set(bytes, 3);
                ws.send(new Uint8Array(padded.buffer, 3, bytes.length));
              } else ws.send(new Blob([copy]));
            },
            binaryType: async (type) => {
              ws.binaryType = type;
            },
            close: (code, reason) => ws.close(code, reason),
            closed,
          }),
        { once: true },
      );
    });
  },
};

/** wsup's own client, with `compress` as given to connect(). */
export function wsupClient(compress: boolean | DeflateOptions): InteropClient {
  return {
    name: 'wsup',
    can: { sendFragments: true, seePongs: true, ping: true, browserTypes: false },
    async connect(url) {
      const ws = await wsupConnect(url, { compress, maxPayload: 64 << 20 });
      const messages = new Inbox<Received>();
      const pongs = new Inbox<Buffer>();
      ws.on('message', (m) => messages.put({ data: m.binary ? m.data : Buffer.from(m.data), binary: m.binary }));
      ws.on('pong', (data) => pongs.put(data));
      return {
        extensions: ws.extensions,
        send: (data) => ws.send(data),
        sendFragments: (parts, binary) => {
          for (const [i, p] of parts.entries()) ws.sendFrame(i === parts.length - 1, i === 0 ? (binary ? 2 : 1) : 0, p);
        },
        ping: (payload) => ws.ping(payload),
        nextPong: () => pongs.next(),
        nextMessage: () => messages.next(),
        sendAs: unsupported('wsup'),
        binaryType: unsupported('wsup'),
        close: (code, reason) => void ws.close(code, reason),
        closed: ws.closed.then((info) => ({ code: info.code, reason: info.reason })),
      };
    },
  };
}

/** The page harness's API (browser-page.html), as seen from page.evaluate(). */
interface PageItem {
  binary: boolean;
  kind: string;
  text?: string;
  b64?: string;
}
interface Harness {
  open(id: number, url: string): Promise<{ extensions: string }>;
  send(id: number, msg: { kind: string; text?: string; b64?: string }): void;
  binaryType(id: number, type: string): void;
  next(id: number): Promise<PageItem>;
  close(id: number, code?: number, reason?: string): void;
  closed(id: number): Promise<Closed>;
  forget(id: number): void;
}
/** The page's globals. Evaluated functions run in the page, so each names `harness` itself. */
type PageGlobals = { harness: Harness };

let nextSocket = 0;

/** Chromium's WebSocket, in `page()` (a page of browser-page.html, served by the server under test). */
export function chromiumClient(page: () => Page): InteropClient {
  return {
    name: 'chromium',
    can: { sendFragments: false, seePongs: false, ping: false, browserTypes: true },
    async connect(url) {
      const p = page();
      const id = nextSocket++;
      const { extensions } = await p.evaluate(([i, u]) => (globalThis as unknown as PageGlobals).harness.open(i, u), [id, url] as const);
      const send = (msg: { kind: string; text?: string; b64?: string }) =>
        void p.evaluate(([i, m]) => (globalThis as unknown as PageGlobals).harness.send(i, m), [id, msg] as const);
      const closed = p
        .evaluate((i) => (globalThis as unknown as PageGlobals).harness.closed(i), id)
        .then(async (c) => {
          await p.evaluate((i) => (globalThis as unknown as PageGlobals).harness.forget(i), id);
          return { code: c.code, reason: c.reason };
        });
      return {
        extensions,
        send: (data) =>
          send(typeof data === 'string' ? { kind: 'string', text: data } : { kind: 'arraybuffer', b64: data.toString('base64') }),
        sendFragments: unsupported('Chromium'),
        ping: unsupported('Chromium'),
        nextPong: unsupported('Chromium'),
        nextMessage: async () => {
          const item = await p.evaluate((i) => (globalThis as unknown as PageGlobals).harness.next(i), id);
          return { binary: item.binary, kind: item.kind, data: item.binary ? Buffer.from(item.b64!, 'base64') : Buffer.from(item.text!) };
        },
        sendAs: (form, bytes) => send({ kind: form, b64: bytes.toString('base64') }),
        binaryType: (type) => p.evaluate(([i, t]) => (globalThis as unknown as PageGlobals).harness.binaryType(i, t), [id, type] as const),
        close: (code, reason) =>
          void p.evaluate(([i, c, r]) => (globalThis as unknown as PageGlobals).harness.close(i, c, r), [id, code, reason] as const),
        closed,
      };
    },
  };
}
