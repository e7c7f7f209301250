/**
 * A connection holds a receiver only while a frame or message is partly received: an idle one
 * holds none (248 bytes less per idle connection). What it must not lose in between: frames
 * after a close frame stay ignored, and a compressed connection's inflater (its LZ77 window, with
 * context takeover) outlives every receiver.
 */
import { setImmediate as turn } from 'node:timers/promises';
import type { Duplex } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { WebSocket } from '@wsup/core';
import { inMemoryPair } from '../helpers/pair.js';
import { encodeFrame } from '../helpers/raw.js';

/** What the server's end holds for receiving (a private field: this is what the test is about). */
const receiverOf = (ws: WebSocket) => (ws as unknown as { receiver: object | undefined }).receiver;
/** Bytes straight onto the client's socket, to reach the server as a chunk of their own. */
const socketOf = (ws: WebSocket) => (ws as unknown as { socket: Duplex }).socket;

describe('an idle connection', () => {
  it('holds no receiver between frames, and one while a frame or a message is under way', async () => {
    const { client, server } = await inMemoryPair();
    const got: string[] = [];
    server.on('message', (m) => got.push(String(m.data)));
    expect(receiverOf(server)).toBeUndefined();

    client.send('whole');
    while (got.length < 1) await turn();
    expect(receiverOf(server)).toBeUndefined();

    const frame = encodeFrame({ opcode: 1, payload: 'split across two reads' });
    socketOf(client).write(frame.subarray(0, 9));
    await turn();
    await turn();
    expect(receiverOf(server)).toBeDefined();
    socketOf(client).write(frame.subarray(9));
    while (got.length < 2) await turn();
    expect(receiverOf(server)).toBeUndefined();

    socketOf(client).write(encodeFrame({ opcode: 1, fin: false, payload: 'first, ' }));
    await turn();
    await turn();
    expect(receiverOf(server)).toBeDefined();
    socketOf(client).write(encodeFrame({ opcode: 0, payload: 'then the rest' }));
    while (got.length < 3) await turn();
    expect(got).toEqual(['whole', 'split across two reads', 'first, then the rest']);
    expect(receiverOf(server)).toBeUndefined();
    client.terminate();
  });

  it('ignores frames after a close frame, in the same read or a later one', async () => {
    const { client, server } = await inMemoryPair();
    const got: string[] = [];
    server.on('message', (m) => got.push(String(m.data)));
    const close = encodeFrame({ opcode: 8, payload: Buffer.from([0x03, 0xe8]) });
    const socket = socketOf(client);
    socket.write(Buffer.concat([close, encodeFrame({ opcode: 1, payload: 'too late' })]));
    // A read of its own, while the server's socket is still open for reading.
    socket.write(encodeFrame({ opcode: 1, payload: 'later still' }));
    const closed = await server.closed;
    expect(closed.code).toBe(1000);
    expect(got).toEqual([]);
  });

  it('keeps a compressed connection’s inflater across receivers (context takeover)', async () => {
    // threshold 0: every message goes compressed (RSV1), however short.
    const { client, server } = await inMemoryPair({ compress: true }, { compress: { threshold: 0 } });
    expect(server.extensions).toContain('permessage-deflate');
    const got: string[] = [];
    server.on('message', (m) => got.push(String(m.data)));
    const sent = Array.from({ length: 6 }, (_, i) => `{"type":"tick","n":${i},"payload":"${'abc'.repeat(40)}"}`);
    for (const text of sent) {
      client.send(text);
      // Each in a read of its own, with the receiver given back in between.
      while (got.length < sent.indexOf(text) + 1 && !server.isClosed) await turn();
      expect(receiverOf(server)).toBeUndefined();
    }
    expect(got).toEqual(sent);
    client.terminate();
  });
});
