/**
 * `maxPayload` bounds what a connection sends too (through `maxSendPayload`, which defaults to
 * it): `send()`, `sendFrame()` and `publish()` of more bytes throw `ERR_MESSAGE_TOO_BIG`, send
 * nothing, and leave the connection open.
 */
import { afterEach, describe, expect, it } from 'vitest';
import WsClient from 'ws';
import { connect, ErrorCode, Hub, upgrade, type UpgradeOptions, type WebSocket } from '@wsup/core';
import { startServer, type TestServer } from '../helpers/server.js';

let srv: TestServer | undefined;
const clients: { terminate(): void }[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.terminate();
  await srv?.close();
  srv = undefined;
});

/** A server WebSocket with `options` and a `ws` client that records what it receives. */
async function pair(options: UpgradeOptions): Promise<{ server: WebSocket; received: () => Promise<string[]> }> {
  let accept!: (ws: WebSocket) => void;
  const accepted = new Promise<WebSocket>((resolve) => {
    accept = resolve;
  });
  srv = await startServer((req, res) => accept(upgrade(req, res, options)));
  const client = new WsClient(srv.url);
  clients.push(client);
  const got: string[] = [];
  client.on('message', (data, isBinary) => got.push(isBinary ? `<${(data as Buffer).length} bytes>` : data.toString()));
  await new Promise((resolve, reject) => client.once('open', resolve).once('error', reject));
  const server = await accepted;
  // Everything sent before a ping has arrived once its pong is back.
  const received = async () => {
    const pong = new Promise((resolve) => server.once('pong', resolve));
    server.ping();
    await pong;
    return got;
  };
  return { server, received };
}

const tooBig = expect.objectContaining({ code: ErrorCode.MessageTooBig, name: 'WebSocketError' });

describe('send()', () => {
  it('throws ERR_MESSAGE_TOO_BIG for text over maxPayload, sends nothing and stays open', async () => {
    const { server, received } = await pair({ maxPayload: 10 });
    expect(() => server.send('x'.repeat(11))).toThrow(tooBig);
    expect(server.bufferedAmount).toBe(0);
    expect(server.readyState).toBe(server.OPEN);
    expect(server.send('x'.repeat(10))).toBe(true);
    expect(await received()).toEqual(['xxxxxxxxxx']);
    expect(server.error).toBeUndefined();
  });

  it('counts UTF-8 bytes, not characters', async () => {
    const { server, received } = await pair({ maxPayload: 10 });
    server.send('é'.repeat(5)); // 10 bytes
    expect(() => server.send('é'.repeat(6))).toThrow(tooBig); // 6 characters, 12 bytes
    expect(() => server.send('€€€€')).toThrow(tooBig); // 4 characters, 12 bytes
    expect(() => server.send('é'.repeat(6), true)).toThrow(tooBig); // the same as binary
    server.send('é'.repeat(5), true);
    expect(await received()).toEqual(['ééééé', '<10 bytes>']);
  });

  it('bounds every kind of bytes, sent as binary or as text', async () => {
    const { server, received } = await pair({ maxPayload: 8 });
    const big = new Uint8Array(9).fill(65);
    expect(() => server.send(Buffer.from(big))).toThrow(tooBig);
    expect(() => server.send(big)).toThrow(tooBig);
    expect(() => server.send(big.buffer)).toThrow(tooBig);
    expect(() => server.send(new DataView(big.buffer))).toThrow(tooBig);
    expect(() => server.send(Buffer.from(big), false)).toThrow(tooBig);
    // A view of 8 bytes of a larger buffer is 8 bytes.
    server.send(new Uint8Array(big.buffer, 1, 8));
    expect(await received()).toEqual(['<8 bytes>']);
  });

  it('bounds the client end too', async () => {
    srv = await startServer((req, res) => {
      const ws = upgrade(req, res);
      ws.on('message', (m) => ws.send(m.data));
    });
    const ws = await connect(srv.url, { maxPayload: 4 });
    clients.push(ws);
    expect(() => ws.send('12345')).toThrow(tooBig);
    ws.send('1234');
    expect((await ws.receive())?.data).toBe('1234');
  });
});

describe('maxSendPayload', () => {
  it('sets the send limit apart from the receive limit', async () => {
    const { server, received } = await pair({ maxPayload: 10, maxSendPayload: 100 });
    server.send('x'.repeat(100));
    expect(() => server.send('x'.repeat(101))).toThrow(tooBig);
    expect((await received()).map((m) => m.length)).toEqual([100]);
  });

  it('Infinity turns the check off', async () => {
    const { server, received } = await pair({ maxPayload: 10, maxSendPayload: Infinity });
    server.send('x'.repeat(1000));
    expect((await received()).map((m) => m.length)).toEqual([1000]);
  });

  it('is validated like maxPayload', async () => {
    for (const bad of [0, -1, Number.NaN, '10']) {
      await expect(connect('ws://127.0.0.1:1/', { maxSendPayload: bad as number })).rejects.toMatchObject({
        code: ErrorCode.InvalidOption,
      });
    }
  });
});

describe('sendFrame()', () => {
  it('bounds each frame, and a refused frame leaves the message where it was', async () => {
    const { server, received } = await pair({ maxPayload: 4 });
    server.sendFrame(false, 1, 'abcd');
    expect(() => server.sendFrame(false, 0, 'efghi')).toThrow(tooBig);
    server.sendFrame(false, 0, 'efgh');
    server.sendFrame(true, 0, 'ij');
    // A frame that would start a message is refused the same way, and none starts.
    expect(() => server.sendFrame(true, 2, Buffer.alloc(5))).toThrow(tooBig);
    server.send('k');
    expect(await received()).toEqual(['abcdefghij', 'k']);
  });
});

describe('publish() from a WebSocket', () => {
  it("is bounded by the publisher's limit; hub.publish is not", async () => {
    const hub = new Hub();
    const accepted: WebSocket[] = [];
    srv = await startServer((req, res) => void accepted.push(upgrade(req, res, { maxPayload: 5, hub })));
    const subscriber = await connect(srv.url);
    const publisherClient = await connect(srv.url);
    clients.push(subscriber, publisherClient);
    const [subscribed, publisher] = accepted as [WebSocket, WebSocket];
    subscribed.subscribe('room');
    expect(() => publisher.publish('room', 'x'.repeat(6))).toThrow(tooBig);
    expect(() => publisher.publish('room', Buffer.alloc(6))).toThrow(tooBig);
    expect(() => publisher.publish('room', 'ééé')).toThrow(tooBig);
    expect(publisher.publish('room', 'hello')).toBe(1);
    // The hub itself takes what it is given: each application decides what it publishes.
    expect(hub.publish('room', 'x'.repeat(6))).toBe(1);
    expect((await subscriber.receive())?.data).toBe('hello');
    expect((await subscriber.receive())?.data).toBe('xxxxxx');
  });
});
