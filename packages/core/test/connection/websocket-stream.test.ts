/**
 * createWebSocketStream: a WebSocket as a node:stream Duplex. Writes become messages, messages
 * become chunks with backpressure both ways (a slow reader pauses the WebSocket, a slow network
 * holds the writer), a normal close ends the stream and any other end destroys it, and
 * destroying the stream closes the WebSocket. Over real sockets on 127.0.0.1.
 */
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { connect, createWebSocketStream, ErrorCode, upgrade, type UpgradeOptions, type WebSocket } from '@wsup/core';
import { closePayload, handshakeRequest, RawPeer } from '../helpers/raw.js';
import { startServer, type TestServer } from '../helpers/server.js';

let srv: TestServer;
const accepted: WebSocket[] = [];
const options = new Map<string, UpgradeOptions>();

beforeAll(async () => {
  srv = await startServer((req, res) => {
    accepted.push(upgrade(req, res, options.get(req.url!) ?? {}));
  });
});
afterAll(() => srv.close());

let n = 0;
/** A wsup client and the server's end of the same connection. */
async function open(
  server: UpgradeOptions = {},
  client: Parameters<typeof connect>[1] = {},
): Promise<{ client: WebSocket; server: WebSocket }> {
  const path = `/s${n++}`;
  options.set(path, server);
  const before = accepted.length;
  const c = await connect(srv.url + path, client);
  await expect.poll(() => accepted.length).toBe(before + 1);
  return { client: c, server: accepted[before]! };
}

const KiB = 1024;
const MiB = 1024 * KiB;

it('pipes a 24 MiB file through to a slow reader intact, with bounded buffers on both ends', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'wsup-stream-'));
  try {
    const file = join(dir, 'data.bin');
    const data = randomBytes(24 * MiB);
    writeFileSync(file, data);
    const sendMark = 256 * KiB;
    const readMark = 64 * KiB;
    const { client, server } = await open({ maxPayload: MiB }, { sendHighWaterMark: sendMark });
    const out = createWebSocketStream(client);
    const into = createWebSocketStream(server, { highWaterMark: readMark });

    let maxBuffered = 0;
    const measureSender = new Transform({
      transform(chunk, _enc, done) {
        maxBuffered = Math.max(maxBuffered, client.bufferedAmount);
        done(null, chunk);
      },
    });
    const sending = pipeline(createReadStream(file), measureSender, out);

    // Nobody reads yet: the stream's buffer fills, the WebSocket pauses, TCP fills up, and the
    // writer is held back, with most of the file still unsent.
    await expect.poll(() => server.isPaused).toBe(true);
    await expect.poll(() => out.writableNeedDrain).toBe(true);
    // What one socket read had already parsed when the WebSocket paused still arrives.
    const bound = readMark + 2 * 64 * KiB;
    expect(into.readableLength).toBeLessThanOrEqual(bound);

    const hash = createHash('sha256');
    let maxReadable = 0;
    let maxUnread = 0;
    let maxQueued = 0;
    let chunks = 0;
    const slowReader = new Writable({
      highWaterMark: 16 * KiB,
      write(chunk: Buffer, _enc, done) {
        hash.update(chunk);
        maxReadable = Math.max(maxReadable, into.readableLength);
        maxUnread = Math.max(maxUnread, server.unreadMessages);
        maxQueued = Math.max(maxQueued, server.queuedAmount);
        // A reader that takes a few turns of the event loop over some chunks.
        if (++chunks % 4 === 0) nextTurn(undefined).then(() => nextTurn(undefined).then(() => done()));
        else done();
      },
    });
    await Promise.all([sending, pipeline(into, slowReader)]);
    expect(hash.digest('hex')).toBe(createHash('sha256').update(data).digest('hex'));
    // Received data waited in TCP, not here: the stream's buffer stayed near its mark, and nothing
    // piled up in the WebSocket's own queue (messages go straight to the stream) ...
    expect(maxReadable).toBeLessThanOrEqual(bound);
    expect(maxUnread).toBe(0);
    expect(maxQueued).toBe(0);
    // ... and the writer waited for the network: at most one 64 KiB write past the send mark.
    expect(maxBuffered).toBeLessThanOrEqual(sendMark + 64 * KiB + 14);
    // end() on the writer closed the WebSocket normally, which ended the reader's stream.
    expect(await client.closed).toMatchObject({ code: 1000, wasClean: true });
    expect(await server.closed).toMatchObject({ code: 1000, wasClean: true });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

it('writes are binary by default and text for strings kept as strings; binary: false and true force one kind', async () => {
  const { client, server } = await open();
  const kinds: [string | Buffer, boolean][] = [];
  server.on('message', (m) => kinds.push([m.data, m.binary]));
  const bytesStream = createWebSocketStream(client);
  bytesStream.write('decoded to bytes');
  bytesStream.write(Buffer.from('bytes'));
  const stringsStream = createWebSocketStream(client, { decodeStrings: false });
  stringsStream.write('kept a string');
  const textStream = createWebSocketStream(client, { binary: false });
  textStream.write(Buffer.from('é as text'));
  const binaryStream = createWebSocketStream(client, { binary: true, decodeStrings: false });
  binaryStream.write('string as binary');
  await expect.poll(() => kinds.length).toBe(5);
  expect(kinds.map(([d, b]) => [String(d), b])).toEqual([
    ['decoded to bytes', true],
    ['bytes', true],
    ['kept a string', false],
    ['é as text', false],
    ['string as binary', true],
  ]);
  const broken = createWebSocketStream(client, { binary: false });
  broken.write(Buffer.from([0xc3]));
  const [err] = await once(broken, 'error');
  expect(err).toMatchObject({ code: ErrorCode.InvalidUtf8 });
  // That error closed the WebSocket (1011): the other streams on it end with it.
  const ends = [bytesStream, stringsStream, textStream, binaryStream].map((s) => once(s, 'error'));
  for (const s of [bytesStream, stringsStream, textStream, binaryStream]) s.resume();
  expect(await client.closed).toMatchObject({ code: 1011 });
  for (const [e] of await Promise.all(ends)) expect(e).toMatchObject({ code: ErrorCode.StreamClosed });
});

it('reads messages received before the stream was made, and yields strings for text in readableObjectMode', async () => {
  const { client, server } = await open();
  client.send('early text');
  client.send(Buffer.from('early bytes'));
  await expect.poll(() => server.unreadMessages).toBe(2);
  const objects = createWebSocketStream(server, { readableObjectMode: true });
  const got: unknown[] = [];
  objects.on('data', (d) => got.push(d));
  client.send('late');
  await expect.poll(() => got.length).toBe(3);
  expect(got).toEqual(['early text', Buffer.from('early bytes'), 'late']);
  objects.destroy();
  await server.closed;
});

it('a normal close (1000, or a close frame without a code) ends the readable side; the writable side ends with it', async () => {
  for (const code of [1000, undefined]) {
    // A raw peer, which can send a close frame without a status code (RFC 6455 §7.1.5: 1005).
    const path = `/s${n++}`;
    const before = accepted.length;
    const peer = await RawPeer.open(srv.port, handshakeRequest(path));
    await expect.poll(() => accepted.length).toBe(before + 1);
    const server = accepted[before]!;
    const stream = createWebSocketStream(server);
    const events = ['end', 'finish', 'close'].map((e) => once(stream, e).then(() => e));
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    peer.sendFrame({ opcode: 1, payload: 'last words' });
    peer.sendFrame({ opcode: 8, payload: code === undefined ? undefined : closePayload(code) });
    expect(await Promise.all(events)).toEqual(['end', 'finish', 'close']);
    expect(Buffer.concat(chunks).toString()).toBe('last words');
    expect(await server.closed).toMatchObject({ wasClean: true, code: code ?? 1005 });
    peer.destroy();
  }
});

it('any other end destroys the stream: another close code, no close handshake, a failure', async () => {
  const cases: [string, (client: WebSocket) => void, UpgradeOptions, object][] = [
    ['code 4000', (c) => void c.close(4000, 'bye'), {}, { code: ErrorCode.StreamClosed, message: expect.stringContaining('4000') }],
    ['code 1001', (c) => void c.close(1001), {}, { code: ErrorCode.StreamClosed }],
    [
      'a vanished peer',
      (c) => c.terminate(),
      {},
      { code: ErrorCode.StreamClosed, message: expect.stringContaining('without a close handshake') },
    ],
    ['a message over maxPayload', (c) => c.send('x'.repeat(100)), { maxPayload: 10 }, { code: ErrorCode.PayloadTooLarge }],
  ];
  for (const [name, act, opts, expected] of cases) {
    const { client, server } = await open(opts);
    const stream = createWebSocketStream(server);
    stream.resume();
    act(client);
    const [err] = await once(stream, 'error');
    expect(err, name).toMatchObject(expected);
    expect(stream.destroyed).toBe(true);
    await server.closed;
  }
});

it('destroy() closes the WebSocket: 1001 without an error, 1011 with one; the peer’s stream errors', async () => {
  for (const [err, code] of [
    [undefined, 1001],
    [new Error('disk full'), 1011],
  ] as const) {
    const { client, server } = await open();
    const mine = createWebSocketStream(server);
    const peers = createWebSocketStream(client);
    peers.resume();
    const peerError = once(peers, 'error');
    mine.on('error', () => {});
    mine.destroy(err);
    expect(await server.closed).toMatchObject({ code, wasClean: true });
    expect((await peerError)[0]).toMatchObject({ code: ErrorCode.StreamClosed });
  }
});

it('a write after the WebSocket closed fails the stream with ERR_NOT_OPEN', async () => {
  const { client, server } = await open();
  const stream = createWebSocketStream(server, { allowHalfOpen: true });
  stream.resume();
  stream.on('end', () => stream.write('too late'));
  void client.close();
  const [err] = await once(stream, 'error');
  expect(err).toMatchObject({ code: ErrorCode.NotOpen });
});
