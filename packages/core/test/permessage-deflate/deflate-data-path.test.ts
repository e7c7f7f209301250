import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WsClient from 'ws';
import { upgrade, type DeflateOptions, type UpgradeOptions } from '@wsup/core';
import { closePayload, encodeFrame, handshakeRequest, RawPeer } from '../helpers/raw.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { TestDeflater, TestInflater, zeroBomb } from '../helpers/pmd.js';

let srv: TestServer;
const serverOptions = new Map<string, UpgradeOptions>();

beforeAll(async () => {
  srv = await startServer(async (req, res) => {
    const url = new URL(req.url!, 'http://x');
    const ws = upgrade(req, res, serverOptions.get(url.pathname) ?? { compress: true });
    ws.on('message', (m) => ws.send(m.data, m.binary));
  });
});
afterAll(() => srv.close());

let n = 0;
function route(opts: UpgradeOptions): string {
  const path = `/d${n++}`;
  serverOptions.set(path, opts);
  return path;
}

async function wsClient(path: string, perMessageDeflate: object | boolean): Promise<WsClient & { inbox: [Buffer, boolean][] }> {
  const c = Object.assign(new WsClient(srv.url + path, { perMessageDeflate, maxPayload: 64 << 20 }), { inbox: [] as [Buffer, boolean][] });
  c.on('message', (d: Buffer, b: boolean) => c.inbox.push([d, b]));
  await once(c, 'open');
  return c;
}

function payload(size: number, seed: number): Buffer {
  // Compressible but not trivial: words drawn from a small vocabulary, valid UTF-8.
  const words = ['alpha', 'beta', 'gamma', 'delta', '{"id":', '"name":', 'é', '€', '\n'].map((w) => Buffer.from(`${w} `));
  const out = Buffer.alloc(size, 0x61);
  let at = 0;
  let x = seed;
  for (;;) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    const w = words[x % words.length]!;
    if (at + w.length > size) break;
    w.copy(out, at);
    at += w.length;
  }
  return out;
}

/** The server defaults before issue 20 (context takeover both ways, level 1, 15-bit windows), set explicitly. */
const OLD: DeflateOptions = { level: 1, serverNoContextTakeover: false, clientNoContextTakeover: false, clientMaxWindowBits: 15 };

const combos: [string, DeflateOptions | true, object][] = [
  ['defaults both sides', true, {}],
  ['former server defaults (context takeover both ways)', OLD, {}],
  ['server defaults, offer without client_max_window_bits', true, { clientMaxWindowBits: false }],
  ['no context takeover both ways (asked by the client)', true, { serverNoContextTakeover: true, clientNoContextTakeover: true }],
  ['no context takeover by server option', { serverNoContextTakeover: true, clientNoContextTakeover: true }, {}],
  ['small windows asked by the client', true, { serverMaxWindowBits: 9, clientMaxWindowBits: 10 }],
  [
    'small windows by server option, level 6, memLevel 4, threshold 0',
    { serverMaxWindowBits: 10, clientMaxWindowBits: 11, level: 6, memLevel: 4, threshold: 0 },
    { threshold: 0 },
  ],
];

describe('permessage-deflate interop with ws', () => {
  for (const [name, server, client] of combos) {
    it(`${name}: text and binary from 0 bytes to 1 MiB round-trip`, async () => {
      const path = route({ compress: server, maxPayload: 32 << 20 });
      const c = await wsClient(path, client);
      expect(c.extensions).toMatch(/^permessage-deflate/);
      const sizes = [0, 1, 1000, 1024, 5000, 65536, 1 << 20];
      const sent: [Buffer, boolean][] = [];
      for (const size of sizes) {
        const p = payload(size, size);
        sent.push([p, false], [p, true]);
        c.send(p.toString(), { binary: false });
        c.send(p, { binary: true });
      }
      await expect.poll(() => c.inbox.length, { timeout: 10_000 }).toBe(sent.length);
      for (let i = 0; i < sent.length; i++) {
        expect(c.inbox[i]![1]).toBe(sent[i]![1]);
        expect(c.inbox[i]![0].equals(sent[i]![0])).toBe(true);
      }
      c.close();
    });
  }

  it('16 MiB text and binary messages round-trip', async () => {
    const path = route({ compress: true, maxPayload: 16 << 20 });
    const c = await wsClient(path, {});
    const big = payload(16 << 20, 7);
    c.send(big.toString());
    c.send(big);
    await expect.poll(() => c.inbox.length, { timeout: 15_000 }).toBe(2);
    expect(c.inbox[0]![0].equals(big)).toBe(true);
    expect(c.inbox[1]![0].equals(big)).toBe(true);
    c.close();
  });

  it('keeps message order over 1000 messages with context takeover, mixing compressed and plain', async () => {
    const path = route({ compress: { threshold: 200 } });
    const c = await wsClient(path, { threshold: 100 });
    const sent: string[] = [];
    for (let i = 0; i < 1000; i++) {
      const m =
        i % 3 === 0 ? `short ${i}` : JSON.stringify({ seq: i, user: `user${i % 17}`, text: payload(300 + (i % 500), i).toString() });
      sent.push(m);
      c.send(m);
    }
    await expect.poll(() => c.inbox.length, { timeout: 10_000 }).toBe(1000);
    expect(c.inbox.map(([d]) => d.toString())).toEqual(sent);
    c.close();
  });

  it('is not negotiated when the server does not ask for it', async () => {
    const path = route({});
    const c = await wsClient(path, {});
    expect(c.extensions).toBe('');
    c.close();
  });

  it('is not negotiated when the client does not offer it', async () => {
    const path = route({ compress: true });
    const c = await wsClient(path, false);
    expect(c.extensions).toBe('');
    c.send('x'.repeat(5000));
    await expect.poll(() => c.inbox.length).toBe(1);
    c.close();
  });
});

/** A raw peer that negotiated permessage-deflate with the given offer. */
async function rawPeer(path: string, offer = 'permessage-deflate'): Promise<RawPeer> {
  const peer = await RawPeer.open(srv.port, handshakeRequest(path, { 'Sec-WebSocket-Extensions': offer }));
  expect(peer.response?.status).toBe(101);
  return peer;
}

describe('context takeover on the wire', () => {
  async function secondFrameSize(serverOpts: DeflateOptions | true, offer: string): Promise<[number, number]> {
    const path = route({ compress: serverOpts });
    const peer = await rawPeer(path, offer);
    const deflater = new TestDeflater(true);
    const inflater = new TestInflater();
    const msg = Buffer.from(JSON.stringify({ items: Array.from({ length: 60 }, (_, i) => ({ i, name: `item-${i}`, ok: true })) }));
    const sizes: number[] = [];
    for (let i = 0; i < 2; i++) {
      peer.sendFrame({ opcode: 1, rsv: 4, payload: await deflater.compress(msg) });
      const f = (await peer.nextFrame())!;
      expect(f.rsv).toBe(4);
      sizes.push(f.payload.length);
      if (!offer.includes('server_no_context_takeover') && serverOpts === OLD) {
        expect((await inflater.inflate(f.payload)).equals(msg)).toBe(true);
      }
    }
    peer.destroy();
    return sizes as [number, number];
  }

  it('with takeover a repeated message compresses to a few bytes', async () => {
    const [first, second] = await secondFrameSize(OLD, 'permessage-deflate');
    expect(second).toBeLessThan(first / 4);
  });

  it('with server_no_context_takeover it compresses the same each time', async () => {
    const [first, second] = await secondFrameSize(OLD, 'permessage-deflate; server_no_context_takeover');
    expect(second).toBe(first);
  });

  it('with the defaults every message is compressed on its own, the same on every connection (one shared deflater)', async () => {
    const [first, second] = await secondFrameSize(true, 'permessage-deflate; client_max_window_bits');
    expect(second).toBe(first);
    const path = route({ compress: true });
    const frames: Buffer[] = [];
    const msg = Buffer.from(JSON.stringify(Array.from({ length: 80 }, (_, i) => ({ i, name: `item-${i}` }))));
    for (let c = 0; c < 2; c++) {
      const peer = await rawPeer(path, 'permessage-deflate; client_max_window_bits');
      expect(peer.response?.headers['sec-websocket-extensions']).toBe(
        'permessage-deflate; server_no_context_takeover; client_max_window_bits=13',
      );
      for (let i = 0; i < 2; i++) {
        peer.sendFrame({ opcode: 1, rsv: 4, payload: await new TestDeflater(false).compress(msg) });
        const f = (await peer.nextFrame())!;
        expect(f.rsv).toBe(4);
        frames.push(f.payload);
      }
      peer.destroy();
    }
    for (const f of frames) expect(f.equals(frames[0]!)).toBe(true);
    expect((await new TestInflater().inflate(frames[0]!)).equals(msg)).toBe(true);
  });

  it("inflates the client's messages with its context across 1000 messages", async () => {
    const path = route({ compress: OLD });
    const peer = await rawPeer(path);
    const deflater = new TestDeflater(true);
    const inflater = new TestInflater();
    for (let i = 0; i < 1000; i++) {
      const msg = Buffer.from(`{"seq":${i},"text":"${'hello world '.repeat(20)}"}`);
      peer.sendFrame({ opcode: 1, rsv: 4, payload: await deflater.compress(msg) });
      const f = (await peer.nextFrame())!;
      const back = f.rsv === 4 ? await inflater.inflate(f.payload) : f.payload;
      expect(back.equals(msg)).toBe(true);
    }
    peer.destroy();
  });

  it('accepts a compressed message fragmented over frames and chops, with a ping in between', async () => {
    const path = route({ compress: true });
    const peer = await rawPeer(path);
    const msg = payload(20000, 3);
    const compressed = await new TestDeflater(false).compress(msg);
    const third = Math.floor(compressed.length / 3);
    const bytes = Buffer.concat([
      encodeFrame({ opcode: 2, rsv: 4, fin: false, payload: compressed.subarray(0, third) }),
      encodeFrame({ opcode: 9, payload: 'ping' }),
      encodeFrame({ opcode: 0, fin: false, payload: compressed.subarray(third, 2 * third) }),
      encodeFrame({ opcode: 0, fin: true, payload: compressed.subarray(2 * third) }),
    ]);
    for (let i = 0; i < bytes.length; i += 7) peer.send(bytes.subarray(i, i + 7));
    const pong = (await peer.nextFrame())!;
    expect(pong.opcode).toBe(10);
    const echo = (await peer.nextFrame())!;
    expect(echo.opcode).toBe(2);
    expect(echo.rsv).toBe(4);
    expect((await new TestInflater().inflate(echo.payload)).equals(msg)).toBe(true);
    peer.destroy();
  });

  it('unmasks a compressed frame whose payload is split across TCP chunks at any offset', async () => {
    const path = route({ compress: true });
    const msg = payload(3000, 11);
    const compressed = await new TestDeflater(false).compress(msg);
    for (const cut of [1, 2, 3, 5, 101, 1002]) {
      const peer = await rawPeer(path);
      const frame = encodeFrame({ opcode: 1, rsv: 4, payload: compressed });
      const headerLen = frame.length - compressed.length;
      peer.send(frame.subarray(0, headerLen + cut));
      await new Promise((r) => setTimeout(r, 5));
      peer.send(frame.subarray(headerLen + cut));
      const echo = (await peer.nextFrame())!;
      expect((await new TestInflater().inflate(echo.payload)).equals(msg)).toBe(true);
      peer.destroy();
    }
  });

  it('accepts uncompressed messages on a compressed connection', async () => {
    const path = route({ compress: true });
    const peer = await rawPeer(path);
    peer.sendFrame({ opcode: 1, payload: 'plain' });
    const f = (await peer.nextFrame())!;
    expect(f.rsv).toBe(0);
    expect(f.payload.toString()).toBe('plain');
    peer.destroy();
  });
});

describe('bad compressed input', () => {
  it('stops a decompression bomb with 1009 without inflating it whole', async () => {
    const path = route({ compress: true, maxPayload: 1 << 20 });
    const bomb = await zeroBomb(512 << 20); // 512 MiB of zeros in ~500 KiB
    expect(bomb.length).toBeLessThan(1 << 20);
    const before = process.memoryUsage();
    const peer = await rawPeer(path);
    peer.sendFrame({ opcode: 2, rsv: 4, payload: bomb });
    const result = await peer.expectClose();
    expect(result.code).toBe(1009);
    const after = process.memoryUsage();
    // Inflating it whole would have taken 512 MiB.
    expect(after.arrayBuffers - before.arrayBuffers).toBeLessThan(64 << 20);
    expect(after.rss - before.rss).toBeLessThan(128 << 20);
  });

  it('stops a bomb spread over many small frames with 1009', async () => {
    const path = route({ compress: true, maxPayload: 256 * 1024 });
    const bomb = await zeroBomb(64 << 20);
    const peer = await rawPeer(path);
    const step = 1000;
    const frames: Buffer[] = [];
    for (let i = 0; i < bomb.length; i += step) {
      frames.push(
        encodeFrame({ opcode: i === 0 ? 2 : 0, rsv: i === 0 ? 4 : 0, fin: i + step >= bomb.length, payload: bomb.subarray(i, i + step) }),
      );
    }
    peer.send(Buffer.concat(frames));
    expect((await peer.expectClose()).code).toBe(1009);
  });

  const cases: [string, (d: TestDeflater) => Promise<Buffer[]>, number][] = [
    [
      'RSV1 on a continuation frame',
      async (d) => [
        encodeFrame({ opcode: 1, rsv: 4, fin: false, payload: await d.compress(Buffer.from('hello ')) }),
        encodeFrame({ opcode: 0, rsv: 4, fin: true, payload: Buffer.alloc(0) }),
      ],
      1002,
    ],
    ['RSV1 on a ping', async () => [encodeFrame({ opcode: 9, rsv: 4, payload: 'x' })], 1002],
    ['RSV1 on a close frame', async () => [encodeFrame({ opcode: 8, rsv: 4, payload: closePayload(1000) })], 1002],
    ['RSV2 on a compressed frame', async (d) => [encodeFrame({ opcode: 1, rsv: 6, payload: await d.compress(Buffer.from('x')) })], 1002],
    [
      'corrupt compressed data',
      async () => [encodeFrame({ opcode: 2, rsv: 4, payload: Buffer.from([0xff, 0xff, 0xff, 0xff, 0x00]) })],
      1007,
    ],
    [
      'invalid UTF-8 inside a compressed text message',
      async (d) => [encodeFrame({ opcode: 1, rsv: 4, payload: await d.compress(Buffer.from([0x68, 0x69, 0xc0, 0xaf])) })],
      1007,
    ],
    [
      'compressed text ending inside a code point',
      async (d) => [encodeFrame({ opcode: 1, rsv: 4, payload: await d.compress(Buffer.from([0x68, 0xe2, 0x82])) })],
      1007,
    ],
  ];
  for (const [name, build, code] of cases) {
    it(`${name} → ${code}`, async () => {
      const peer = await rawPeer(route({ compress: true }));
      peer.send(Buffer.concat(await build(new TestDeflater(false))));
      const result = await peer.expectClose();
      expect(result.code).toBe(code);
      expect(result.frames).toEqual([]);
    });
  }

  it('RSV1 when compression was not negotiated → 1002', async () => {
    const path = route({ compress: true });
    const peer = await RawPeer.open(srv.port, handshakeRequest(path));
    peer.sendFrame({ opcode: 1, rsv: 4, payload: await new TestDeflater(false).compress(Buffer.from('hi')) });
    expect((await peer.expectClose()).code).toBe(1002);
  });
});

describe('frame mode with compression', () => {
  it('yields each frame inflated, fin on the last', async () => {
    const frames: [string, boolean][] = [];
    const s = await startServer(async (req, res) => {
      const ws = upgrade(req, res, { compress: true, frames: true });
      for await (const m of ws) {
        frames.push([m.data as string, m.fin]);
        if (m.fin) ws.close();
      }
    });
    const peer = await RawPeer.open(
      s.port,
      handshakeRequest('/', { 'Sec-WebSocket-Extensions': 'permessage-deflate; client_no_context_takeover' }),
    );
    const whole = await new TestDeflater(false).compress(Buffer.from('first part, second part'));
    const cut = Math.floor(whole.length / 2);
    peer.sendFrame({ opcode: 1, rsv: 4, fin: false, payload: whole.subarray(0, cut) });
    peer.sendFrame({ opcode: 0, fin: true, payload: whole.subarray(cut) });
    await peer.expectClose();
    expect(frames.map(([d]) => d).join('')).toBe('first part, second part');
    expect(frames.at(-1)![1]).toBe(true);
    expect(frames.slice(0, -1).every(([, fin]) => !fin)).toBe(true);
    await s.close();
  });
});
