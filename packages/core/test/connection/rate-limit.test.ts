/**
 * The `rateLimit` option: a token bucket per connection over the data messages the peer sends.
 * Past it, `'close'` closes with 1008 and `ERR_RATE_LIMITED`, `'drop'` discards the message and
 * emits `'ratelimit'`. Control frames are not limited. Periods in these tests are long (or the
 * clock is the test's), so that nothing refills while a test runs unless the test says so.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import WsClient from 'ws';
import { connect, ErrorCode, upgrade, type UpgradeOptions, type WebSocket } from '@wsup/core';
import { RateLimiter, resolveRateLimit, type RateLimitOwner } from '../../src/connection/rate-limit.js';
import { startServer, type TestServer } from '../helpers/server.js';

let srv: TestServer | undefined;
const clients: { terminate(): void }[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  for (const c of clients.splice(0)) c.terminate();
  await srv?.close();
  srv = undefined;
});

/** A server that upgrades with `options` and hands over its WebSocket, with a `ws` client connected to it. */
async function pair(options: UpgradeOptions): Promise<{ server: WebSocket; client: WsClient }> {
  let accept!: (ws: WebSocket) => void;
  const accepted = new Promise<WebSocket>((resolve) => {
    accept = resolve;
  });
  srv = await startServer((req, res) => accept(upgrade(req, res, options)));
  const client = new WsClient(srv.url);
  clients.push(client);
  await new Promise((resolve, reject) => client.once('open', resolve).once('error', reject));
  return { server: await accepted, client };
}

/** Resolves once the server has read everything the client sent before a ping: pings are not limited and keep their place. */
function afterAllSent(server: WebSocket, client: WsClient): Promise<void> {
  const seen = new Promise<void>((resolve) => server.once('ping', () => resolve()));
  client.ping();
  return seen;
}

function collect(server: WebSocket): { messages: string[]; dropped: [number, boolean][] } {
  const messages: string[] = [];
  const dropped: [number, boolean][] = [];
  server.on('message', (m) => messages.push(m.binary ? `<${m.data.length} bytes>` : m.data));
  server.on('ratelimit', (bytes, binary) => dropped.push([bytes, binary]));
  return { messages, dropped };
}

describe("action 'close' (the default)", () => {
  it('closes with 1008 and ERR_RATE_LIMITED on the message past the limit, after delivering those before it', async () => {
    const { server, client } = await pair({ rateLimit: { messages: 3, per: 3600 } });
    const clientClosed = new Promise<[number, string]>((resolve) =>
      client.once('close', (code, reason) => resolve([code, reason.toString()])),
    );
    for (const text of ['one', 'two', 'three', 'four', 'five']) client.send(text);

    const received: unknown[] = [];
    for await (const msg of server) received.push(msg.data);
    expect(received).toEqual(['one', 'two', 'three']);
    expect(await clientClosed).toEqual([1008, 'rate limit exceeded: more than 3 messages per 3600 s']);
    const info = await server.closed;
    expect(info.code).toBe(1008);
    expect(info.error).toMatchObject({ code: ErrorCode.RateLimited, closeCode: 1008 });
    expect(server.error?.code).toBe(ErrorCode.RateLimited);
  });

  it('limits bytes, counted as received (after decompression)', async () => {
    const { server, client } = await pair({ compress: true, rateLimit: { bytes: 10_000, per: 3600 } });
    client.send('a'.repeat(6000));
    client.send('b'.repeat(3000));
    client.send('c'.repeat(2000)); // 11,000 bytes: over, though it compresses to a few dozen
    const lengths: number[] = [];
    for await (const msg of server) lengths.push((msg.data as string).length);
    expect(lengths).toEqual([6000, 3000]);
    expect((await server.closed).error).toMatchObject({ code: ErrorCode.RateLimited, message: expect.stringContaining('10000 bytes') });
  });

  it('does not count pings, pongs or the close frame', async () => {
    const { server, client } = await pair({ rateLimit: { messages: 1, per: 3600 } });
    let pongs = 0;
    client.on('pong', () => pongs++);
    for (let i = 0; i < 20; i++) client.ping();
    client.send('the one message');
    await afterAllSent(server, client);
    expect((await server.receive())?.data).toBe('the one message');
    while (pongs < 21) await new Promise((resolve) => client.once('pong', resolve));
    expect(server.readyState).toBe(server.OPEN);
    client.close(1000, 'bye');
    expect(await server.closed).toMatchObject({ code: 1000, wasClean: true });
  });
});

describe("action 'drop'", () => {
  it("discards messages past the limit, emits 'ratelimit' for each, and keeps the connection open", async () => {
    const { server, client } = await pair({ rateLimit: { messages: 2, per: 3600, action: 'drop' } });
    const { messages, dropped } = collect(server);
    client.send('one');
    client.send('two');
    client.send('three');
    client.send(Buffer.alloc(7));
    await afterAllSent(server, client);
    expect(messages).toEqual(['one', 'two']);
    expect(dropped).toEqual([
      [5, false],
      [7, true],
    ]);
    expect(server.readyState).toBe(server.OPEN);
    // It still sends, and still closes cleanly.
    server.send('still open');
    expect((await new Promise<Buffer>((resolve) => client.once('message', resolve))).toString()).toBe('still open');
    client.close();
    expect((await server.closed).code).toBe(1005);
  });

  it('lets a message bigger than the byte allowance through a full bucket only, leaving it in debt', async () => {
    const { server, client } = await pair({ rateLimit: { bytes: 1000, per: 3600, action: 'drop' } });
    const { messages, dropped } = collect(server);
    client.send('x'.repeat(1500)); // a full bucket lets it through, 500 bytes in debt
    client.send('y'); // nothing left
    await afterAllSent(server, client);
    expect(messages.map((m) => m.length)).toEqual([1500]);
    expect(dropped).toEqual([[1, false]]);
  });

  it('in frame mode decides at the first frame and holds for the whole message', async () => {
    const { server, client } = await pair({ frames: true, rateLimit: { messages: 1, per: 3600, action: 'drop' } });
    const frames: [string, boolean][] = [];
    let dropped = 0;
    server.on('message', (m) => frames.push([m.data as string, m.fin]));
    server.on('ratelimit', () => dropped++);
    const sendInFrames = (parts: string[]) => {
      for (const [i, p] of parts.entries()) client.send(p, { fin: i === parts.length - 1 });
    };
    sendInFrames(['a1', 'a2', 'a3']);
    sendInFrames(['b1', 'b2', 'b3']);
    await afterAllSent(server, client);
    expect(frames).toEqual([
      ['a1', false],
      ['a2', false],
      ['a3', true],
    ]);
    expect(dropped).toBe(1);
  });
});

describe('the bucket', () => {
  /** A limiter on the test's clock, and what it reported. */
  function limiter(options: Parameters<typeof resolveRateLimit>[0]) {
    let now = 0;
    vi.spyOn(performance, 'now').mockImplementation(() => now);
    const events: string[] = [];
    const owner: RateLimitOwner = {
      onError: (err) => void events.push(err.code),
      emit: (_event, bytes) => events.push(`dropped ${bytes}`) > 0,
    };
    const l = new RateLimiter(resolveRateLimit(options)!, owner);
    return { l, events, advance: (ms: number) => void (now += ms) };
  }

  it('allows one period of messages at once, then refills continuously up to that much', () => {
    const { l, events, advance } = limiter({ messages: 4, per: 2, action: 'drop' });
    expect([1, 2, 3, 4, 5].map(() => l.admit(false, 1))).toEqual([true, true, true, true, false]);
    advance(500); // 2 messages per second: one back
    expect([l.admit(false, 1), l.admit(false, 1)]).toEqual([true, false]);
    advance(60_000); // back to the burst, not beyond
    expect([1, 2, 3, 4, 5].map(() => l.admit(false, 1))).toEqual([true, true, true, true, false]);
    expect(events).toEqual(['dropped 1', 'dropped 1', 'dropped 1']);
  });

  it('with messages and bytes, a message needs both', () => {
    const { l, advance } = limiter({ messages: 10, bytes: 100, action: 'drop' });
    expect(l.admit(true, 60)).toBe(true);
    expect(l.admit(true, 60)).toBe(false); // 40 bytes left
    expect(l.admit(true, 40)).toBe(true);
    advance(1000);
    expect(l.admit(true, 100)).toBe(true);
  });

  it("'close' reports ERR_RATE_LIMITED to the connection", () => {
    const { l, events } = limiter({ messages: 1 });
    expect([l.admit(false, 1), l.admit(false, 1)]).toEqual([true, false]);
    expect(events).toEqual([ErrorCode.RateLimited]);
  });
});

describe('the option', () => {
  it('is validated like every option', async () => {
    for (const bad of [
      {},
      { messages: 0 },
      { messages: 1.5 },
      { bytes: -1 },
      { messages: 1, per: 0 },
      { messages: 1, action: 'ignore' },
      5,
    ]) {
      await expect(connect('ws://127.0.0.1:1/', { rateLimit: bad as never })).rejects.toMatchObject({ code: ErrorCode.InvalidOption });
    }
  });

  it('applies to the client end too', async () => {
    srv = await startServer((req, res) => {
      const ws = upgrade(req, res);
      // Once the client listens: events, unlike messages, are not kept for later listeners.
      ws.once('message', () => {
        for (let i = 0; i < 5; i++) ws.send(`m${i}`);
      });
    });
    const ws = await connect(srv.url, { rateLimit: { messages: 2, per: 3600, action: 'drop' } });
    clients.push(ws);
    let dropped = 0;
    ws.on('ratelimit', () => dropped++);
    ws.send('go');
    expect([(await ws.receive())?.data, (await ws.receive())?.data]).toEqual(['m0', 'm1']);
    ws.ping();
    await new Promise((resolve) => ws.once('pong', resolve));
    expect(dropped).toBe(3);
  });
});
