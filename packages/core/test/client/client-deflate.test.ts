import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { connect, upgrade, type DeflateOptions } from '@wsup/core';
import { startRawServer } from '../helpers/raw-server.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { TestInflater } from '../helpers/pmd.js';

function text(size: number, seed: number): string {
  const words = ['{"user":', '"alice"', '"bob"', ',"text":', '"hello"', 'é', '€', ' '];
  let s = '';
  let x = seed;
  while (s.length < size) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    s += words[x % words.length];
  }
  return s.slice(0, size);
}

describe('client permessage-deflate against a ws server', () => {
  let wss: WebSocketServer;
  let port: number;
  const serverSide: { extensions: string }[] = [];
  beforeAll(async () => {
    wss = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: { threshold: 0 }, maxPayload: 64 << 20 });
    await once(wss, 'listening');
    port = (wss.address() as AddressInfo).port;
    wss.on('connection', (ws) => {
      serverSide.push({ extensions: Object.keys(ws.extensions as unknown as object).join(',') });
      ws.on('message', (d, isBinary) => ws.send(d, { binary: isBinary }));
    });
  });
  afterAll(() => new Promise<void>((r) => wss.close(() => r())));

  const variants: [string, DeflateOptions | true][] = [
    ['defaults', true],
    ['no context takeover both ways', { serverNoContextTakeover: true, clientNoContextTakeover: true }],
    ['small windows', { serverMaxWindowBits: 10, clientMaxWindowBits: 9, threshold: 0 }],
  ];
  for (const [name, compress] of variants) {
    it(`${name}: negotiates and round-trips text and binary up to 1 MiB`, async () => {
      const ws = await connect(`ws://127.0.0.1:${port}/`, { compress, maxPayload: 64 << 20 });
      expect(ws.extensions).toMatch(/^permessage-deflate/);
      for (const size of [0, 10, 2000, 70_000, 1 << 20]) {
        const t = text(size, size);
        ws.send(t);
        expect((await ws.receive())?.data).toBe(t);
        const b = Buffer.from(t);
        ws.send(b);
        const m = await ws.receive();
        expect(m?.binary).toBe(true);
        expect((m!.data as Buffer).equals(b)).toBe(true);
      }
      await ws.close();
    });
  }

  it('keeps order and context over 1000 messages', async () => {
    const ws = await connect(`ws://127.0.0.1:${port}/`, { compress: { threshold: 50 } });
    const sent = Array.from({ length: 1000 }, (_, i) => (i % 4 === 0 ? `s${i}` : `${text(100 + (i % 300), i)}#${i}`));
    for (const m of sent) ws.send(m);
    const got: string[] = [];
    for (let i = 0; i < sent.length; i++) got.push((await ws.receive())!.data as string);
    expect(got).toEqual(sent);
    await ws.close();
  });
});

describe('client permessage-deflate against a wsup server', () => {
  let srv: TestServer;
  beforeAll(async () => {
    srv = await startServer(async (req, res) => {
      const ws = upgrade(req, res, { compress: { threshold: 0, serverMaxWindowBits: 12 } });
      for await (const m of ws) ws.send(m.data, m.binary);
    });
  });
  afterAll(() => srv.close());

  it('both wsup ends agree and round-trip', async () => {
    const ws = await connect(`${srv.url}/`, { compress: true });
    // The server's defaults (issue 20): one shared deflater, the client's context kept in 13 bits.
    expect(ws.extensions).toBe('permessage-deflate; server_no_context_takeover; server_max_window_bits=12; client_max_window_bits=13');
    for (const size of [0, 1, 5000, 300_000]) {
      const t = text(size, 3);
      ws.send(t);
      expect((await ws.receive())?.data).toBe(t);
    }
    await ws.close();
  });

  it('a client that does not ask for compression gets none', async () => {
    const ws = await connect(`${srv.url}/`);
    expect(ws.extensions).toBe('');
    await ws.close();
  });
});

describe('client validation of the server answer', () => {
  const bad: [string, string][] = [
    ['client_max_window_bits without a value', 'permessage-deflate; client_max_window_bits'],
    ['an unknown parameter', 'permessage-deflate; foo=1'],
    ['a repeated parameter', 'permessage-deflate; server_no_context_takeover; server_no_context_takeover'],
    ['server_max_window_bits out of range', 'permessage-deflate; server_max_window_bits=7'],
    ['an extension that was not offered', 'x-custom'],
  ];
  for (const [name, answer] of bad) {
    it(`fails the connection on ${name}`, async () => {
      const srv = await startRawServer((c) => c.write(c.accept101(`Sec-WebSocket-Extensions: ${answer}\r\n`)));
      const err = await connect(srv.url, { compress: true }).catch((e: unknown) => e as { code: string });
      expect(err).toMatchObject({ code: 'ERR_EXTENSION_MISMATCH' });
      await srv.close();
    });
  }

  it('fails when server_no_context_takeover was requested but not confirmed', async () => {
    const srv = await startRawServer((c) => c.write(c.accept101('Sec-WebSocket-Extensions: permessage-deflate\r\n')));
    const err = await connect(srv.url, { compress: { serverNoContextTakeover: true } }).catch((e: unknown) => e as { code: string });
    expect(err).toMatchObject({ code: 'ERR_EXTENSION_MISMATCH' });
    await srv.close();
  });

  it('offers client_max_window_bits and sends compressed, masked frames with RSV1', async () => {
    const srv = await startRawServer((c) =>
      c.write(c.accept101('Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover\r\n')),
    );
    const ws = await connect(srv.url, { compress: { threshold: 10 } });
    const conn = srv.connections[0] ?? (await srv.nextConnection());
    expect(conn.request.headers['sec-websocket-extensions']).toBe('permessage-deflate; client_max_window_bits');
    const msg = 'compress me '.repeat(50);
    ws.send(msg);
    const f = (await conn.nextFrame())!;
    expect(f.masked).toBe(true);
    expect(f.rsv).toBe(4);
    expect((await new TestInflater().inflate(f.payload)).toString()).toBe(msg);
    ws.terminate();
    await srv.close();
  });
});
