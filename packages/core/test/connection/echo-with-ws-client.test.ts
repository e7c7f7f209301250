import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WsClient from 'ws';
import { upgrade } from '@wsup/core';
import { startServer, type TestServer } from '../helpers/server.js';

let srv: TestServer;

beforeAll(async () => {
  srv = await startServer(async (req, res) => {
    if (req.url !== '/echo') {
      res.end('plain');
      return;
    }
    const ws = upgrade(req, res, { maxPayload: 4 * 1024 * 1024 });
    for await (const msg of ws) ws.send(msg.data, msg.binary);
  });
});
afterAll(() => srv.close());

function open(path = '/echo'): Promise<WsClient> {
  const ws = new WsClient(srv.url + path);
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

function nextMessage(ws: WsClient): Promise<{ data: Buffer; isBinary: boolean }> {
  return new Promise((resolve) => ws.once('message', (data: Buffer, isBinary: boolean) => resolve({ data, isBinary })));
}

const SIZES = [0, 125, 126, 127, 65535, 65536, 1024 * 1024];

describe('a ws client round-trips through a wsup echo server', () => {
  for (const size of SIZES) {
    it(`text of ${size} bytes`, async () => {
      const ws = await open();
      const text = 'é'.repeat(Math.floor(size / 2)) + (size % 2 ? 'a' : '');
      expect(Buffer.byteLength(text)).toBe(size);
      const got = nextMessage(ws);
      ws.send(text);
      const { data, isBinary } = await got;
      expect(isBinary).toBe(false);
      expect(data.toString()).toBe(text);
      ws.close();
    });

    it(`binary of ${size} bytes`, async () => {
      const ws = await open();
      const bin = Buffer.alloc(size);
      for (let i = 0; i < size; i++) bin[i] = (i * 31 + 7) & 0xff;
      const got = nextMessage(ws);
      ws.send(bin);
      const { data, isBinary } = await got;
      expect(isBinary).toBe(true);
      expect(data.equals(bin)).toBe(true);
      ws.close();
    });
  }

  it('fragmented text and binary messages are reassembled', async () => {
    const ws = await open();
    const got = nextMessage(ws);
    ws.send('Hello, ', { fin: false });
    ws.send('fragmented ', { fin: false });
    ws.send('wörld', { fin: true });
    expect((await got).data.toString()).toBe('Hello, fragmented wörld');

    const got2 = nextMessage(ws);
    ws.send(Buffer.from([1, 2, 3]), { binary: true, fin: false });
    ws.send(Buffer.from([4, 5]), { binary: true, fin: true });
    const m = await got2;
    expect(m.isBinary).toBe(true);
    expect([...m.data]).toEqual([1, 2, 3, 4, 5]);
    ws.close();
  });

  it('many messages keep their order', async () => {
    const ws = await open();
    const received: string[] = [];
    const done = new Promise<void>((resolve) => {
      ws.on('message', (d: Buffer) => {
        received.push(d.toString());
        if (received.length === 1000) resolve();
      });
    });
    for (let i = 0; i < 1000; i++) ws.send(`m${i}`);
    await done;
    expect(received).toEqual(Array.from({ length: 1000 }, (_, i) => `m${i}`));
    ws.close();
  });

  it('answers pings with pongs carrying the same payload', async () => {
    const ws = await open();
    const pong = once(ws, 'pong');
    ws.ping(Buffer.from('are you there'));
    const [data] = await pong;
    expect((data as Buffer).toString()).toBe('are you there');
    ws.close();
  });

  it('completes a close handshake the client starts, echoing the code', async () => {
    const ws = await open();
    ws.close(4001, 'bye');
    const [code] = await once(ws, 'close');
    expect(code).toBe(4001);
  });
});
