import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket as WsPeer } from 'ws';
import { connect, upgrade, type WebSocket } from '@wsup/core';
import { startServer, type TestServer } from '../helpers/server.js';

const SIZES = [0, 125, 126, 65536, 1024 * 1024];

function text(size: number): string {
  // Two-byte characters, so that a bug mixing up bytes and characters shows.
  const s = 'é'.repeat(Math.floor(size / 2)) + (size % 2 ? 'a' : '');
  expect(Buffer.byteLength(s)).toBe(size);
  return s;
}

function bytes(size: number): Buffer {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i++) b[i] = (i * 31 + 7) & 0xff;
  return b;
}

interface Peer {
  name: string;
  url: string;
  /** Headers of the last handshake request the server received. */
  lastRequest(): IncomingMessage;
  /** Close code and reason the server last received, once its connection has closed. */
  lastClose(): Promise<{ code: number; reason: string }>;
  close(): Promise<void>;
}

/** A wsup echo server: `/close/<code>` closes at once with that code and reason "bye". */
async function wsupPeer(): Promise<Peer> {
  let req: IncomingMessage | undefined;
  let closed: Promise<{ code: number; reason: string }> | undefined;
  const srv: TestServer = await startServer(async (r, res) => {
    req = r;
    // origin: '*' because the client's origin option is tested with an origin of another host.
    const ws = upgrade(r, res, { maxPayload: 4 * 1024 * 1024, subprotocol: ['chat', 'superchat'], origin: '*' });
    closed = ws.closed.then((info) => ({ code: info.code, reason: info.reason }));
    const m = /^\/close\/(\d+)$/.exec(r.url ?? '');
    if (m) {
      await ws.close(Number(m[1]), 'bye');
      return;
    }
    for await (const msg of ws) ws.send(msg.data, msg.binary);
  });
  return {
    name: 'wsup server',
    url: srv.url,
    lastRequest: () => req!,
    lastClose: () => closed!,
    close: () => srv.close(),
  };
}

/** The same behaviour on a `ws` server, an independent implementation. */
async function wsPeer(): Promise<Peer> {
  let req: IncomingMessage | undefined;
  let closed: Promise<{ code: number; reason: string }> | undefined;
  const wss = new WebSocketServer({
    port: 0,
    host: '127.0.0.1',
    maxPayload: 4 * 1024 * 1024,
    // The client's first offered protocol that the server knows, as wsup's list form picks.
    handleProtocols: (protocols) => [...protocols].find((p) => p === 'chat' || p === 'superchat') ?? false,
  });
  wss.on('connection', (ws: WsPeer, r: IncomingMessage) => {
    req = r;
    closed = new Promise((resolve) => ws.once('close', (code: number, reason: Buffer) => resolve({ code, reason: reason.toString() })));
    const m = /^\/close\/(\d+)$/.exec(r.url ?? '');
    if (m) {
      ws.close(Number(m[1]), 'bye');
      return;
    }
    ws.on('message', (data: Buffer, isBinary: boolean) => ws.send(data, { binary: isBinary }));
  });
  await once(wss, 'listening');
  return {
    name: 'ws server',
    url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`,
    lastRequest: () => req!,
    lastClose: () => closed!,
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of wss.clients) c.terminate();
        wss.close(() => resolve());
      }),
  };
}

for (const make of [wsupPeer, wsPeer]) {
  describe(`connect() against a ${make === wsupPeer ? 'wsup' : 'ws'} server`, () => {
    let peer: Peer;
    let ws: WebSocket;
    beforeAll(async () => {
      peer = await make();
      // One connection carries every echo, which also shows the client keeps working across sizes.
      ws = await connect(`${peer.url}/echo`, { maxPayload: 4 * 1024 * 1024 });
    });
    afterAll(async () => {
      ws.terminate();
      await peer.close();
    });

    for (const size of SIZES) {
      it(`echoes text of ${size} bytes`, async () => {
        const t = text(size);
        // At 1 MiB send() reports backpressure (false) but still queues the message.
        expect(ws.send(t)).toBe(size < 1 << 20);
        const msg = await ws.receive(10);
        expect(msg?.binary).toBe(false);
        expect(msg?.data).toBe(t);
      });

      it(`echoes binary of ${size} bytes`, async () => {
        const b = bytes(size);
        expect(ws.send(b)).toBe(size < 1 << 20);
        const msg = await ws.receive(10);
        expect(msg?.binary).toBe(true);
        expect(Buffer.compare(msg!.data as Buffer, b)).toBe(0);
      });
    }

    it('negotiates a subprotocol from those offered', async () => {
      const c = await connect(`${peer.url}/echo`, { subprotocols: ['v1', 'superchat', 'chat'] });
      expect(c.protocol).toBe('superchat');
      expect(peer.lastRequest().headers['sec-websocket-protocol']).toBe('v1, superchat, chat');
      c.terminate();
    });

    it('takes protocols as an alias of subprotocols, and a single name as a string', async () => {
      const c = await connect(`${peer.url}/echo`, { protocols: 'chat' });
      expect(c.protocol).toBe('chat');
      c.terminate();
    });

    it('has no subprotocol when the server picks none', async () => {
      const c = await connect(`${peer.url}/echo`, { subprotocols: ['v9'] });
      expect(c.protocol).toBe('');
      c.terminate();
    });

    it('sends extra headers and the origin, and a Host with the port', async () => {
      const c = await connect(`${peer.url}/echo?x=1`, {
        headers: { Authorization: 'Bearer abc', 'X-Multi': ['one', 'two'], 'X-Number': 42 },
        origin: 'https://app.example',
      });
      const h = peer.lastRequest().headers;
      expect(h.authorization).toBe('Bearer abc');
      expect(h['x-multi']).toBe('one, two');
      expect(h['x-number']).toBe('42');
      expect(h.origin).toBe('https://app.example');
      expect(h.host).toBe(new URL(peer.url).host);
      expect(peer.lastRequest().url).toBe('/echo?x=1');
      c.terminate();
    });

    it('closes from the client side with a code and reason', async () => {
      const c = await connect(`${peer.url}/echo`);
      const info = await c.close(4001, 'client done');
      expect(info.code).toBe(4001);
      expect(info.wasClean).toBe(true);
      await expect(peer.lastClose()).resolves.toEqual({ code: 4001, reason: 'client done' });
    });

    it('reports a close started by the server, with its code and reason', async () => {
      const c = await connect(`${peer.url}/close/4002`);
      expect(await c.receive()).toBeNull();
      const info = await c.closed;
      expect(info).toMatchObject({ code: 4002, reason: 'bye', wasClean: true });
      expect(c.closeCode).toBe(4002);
    });
  });
}
