/**
 * The clients of the interop matrix, behind one small interface. Each says what it can do: the
 * browser API (undici) cannot send fragments or see pongs, so those cells are not applicable to
 * it. Chromium and wsup's own client are to join as further adapters.
 */
import { ping as undiciPing, WebSocket as UndiciWebSocket } from 'undici';
import WsWebSocket from 'ws';

export interface Received {
  data: Buffer;
  binary: boolean;
}

export interface Closed {
  code: number;
  reason: string;
}

export interface Connection {
  send(data: string | Buffer): void;
  /** Sends one message as several frames (only where `can.sendFragments`). */
  sendFragments(parts: (string | Buffer)[], binary: boolean): void;
  ping(payload: Buffer): void;
  /** The payload of the next pong (only where `can.seePongs`). */
  nextPong(): Promise<Buffer>;
  nextMessage(): Promise<Received>;
  close(code?: number, reason?: string): void;
  /** Settles when the connection is closed, with the close code and reason the client saw. */
  readonly closed: Promise<Closed>;
}

export interface InteropClient {
  name: string;
  can: { sendFragments: boolean; seePongs: boolean };
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

export const wsClient: InteropClient = {
  name: 'ws',
  can: { sendFragments: true, seePongs: true },
  connect(url) {
    const ws = new WsWebSocket(url);
    const messages = new Inbox<Received>();
    const pongs = new Inbox<Buffer>();
    ws.on('message', (data: Buffer, isBinary: boolean) => messages.put({ data, binary: isBinary }));
    ws.on('pong', (data: Buffer) => pongs.put(data));
    const closed = new Promise<Closed>((resolve) => ws.on('close', (code: number, reason: Buffer) => resolve({ code, reason: reason.toString() })));
    return new Promise((resolve, reject) => {
      ws.once('error', reject);
      ws.once('open', () =>
        resolve({
          send: (data) => ws.send(data),
          sendFragments: (parts, binary) => parts.forEach((p, i) => ws.send(p, { binary, fin: i === parts.length - 1 })),
          ping: (payload) => ws.ping(payload),
          nextPong: () => pongs.next(),
          nextMessage: () => messages.next(),
          close: (code, reason) => ws.close(code, reason),
          closed,
        }),
      );
    });
  },
};

export const undiciClient: InteropClient = {
  name: 'undici',
  can: { sendFragments: false, seePongs: false },
  connect(url) {
    const ws = new UndiciWebSocket(url);
    ws.binaryType = 'arraybuffer';
    const messages = new Inbox<Received>();
    ws.addEventListener('message', (e) => {
      const d = e.data as string | ArrayBuffer;
      messages.put(typeof d === 'string' ? { data: Buffer.from(d), binary: false } : { data: Buffer.from(d), binary: true });
    });
    const closed = new Promise<Closed>((resolve) => ws.addEventListener('close', (e) => resolve({ code: e.code, reason: e.reason })));
    const unsupported = () => {
      throw new Error('not supported by the undici client');
    };
    return new Promise((resolve, reject) => {
      ws.addEventListener('error', () => reject(new Error('undici WebSocket failed to connect')), { once: true });
      ws.addEventListener(
        'open',
        () =>
          resolve({
            send: (data) => ws.send(data),
            sendFragments: unsupported,
            ping: (payload) => undiciPing(ws, payload),
            nextPong: unsupported,
            nextMessage: () => messages.next(),
            close: (code, reason) => ws.close(code, reason),
            closed,
          }),
        { once: true },
      );
    });
  },
};

export const interopClients: InteropClient[] = [wsClient, undiciClient];
