/**
 * The process-wide memory budget: many connections each within their own limits must not add up
 * to an out-of-memory. Slow readers (peers that send and never read the echoes) are the way to
 * make a server hold bytes; the budget closes the ones holding the most with 1013 and the others
 * go on.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  CloseCode,
  connect,
  DEFAULT_MEMORY_BUDGET,
  ErrorCode,
  memoryBudget,
  setMemoryBudget,
  upgrade,
  type CloseInfo,
  type UpgradeOptions,
  WebSocket,
} from '@wsup/core';
import { check, mayHold } from '../../src/connection/memory-budget.js';
import { encodeFrame, RawPeer } from '../helpers/raw.js';
import { startServer, type TestServer } from '../helpers/server.js';

const MiB = 1024 * 1024;
let srv: TestServer | undefined;
const peers: RawPeer[] = [];

afterEach(async () => {
  setMemoryBudget(DEFAULT_MEMORY_BUDGET);
  for (const p of peers.splice(0)) p.socket.destroy();
  await srv?.close();
  srv = undefined;
});

const echo = (ws: WebSocket) => ws.on('message', (msg) => ws.send(msg.data, msg.binary));

/** A server whose connections do `serve` (an echo unless told), recording how each ended. */
async function echoServer(options: UpgradeOptions, serve: (ws: WebSocket) => void = echo, opened: WebSocket[] = []): Promise<CloseInfo[]> {
  const ended: CloseInfo[] = [];
  srv = await startServer((req, res) => {
    const ws = upgrade(req, res, options);
    opened.push(ws);
    serve(ws);
    void ws.closed.then((info) => ended.push(info));
  });
  return ended;
}

/** A peer that sends `messages` binary messages of `size` bytes and never reads a byte back. */
async function slowReader(messages: number, size: number): Promise<RawPeer> {
  const peer = await RawPeer.open(srv!.port);
  peers.push(peer);
  peer.socket.pause();
  const frame = encodeFrame({ opcode: 2, payload: Buffer.alloc(size, 7) });
  for (let i = 0; i < messages; i++) peer.socket.write(frame);
  return peer;
}

async function until(what: string, condition: () => boolean): Promise<void> {
  // Bounded: the test's own timeout is the real limit; this only paces the polling.
  for (let i = 0; i < 400 && !condition(); i++) await new Promise((r) => setTimeout(r, 50));
  if (!condition()) throw new Error(`gave up waiting for ${what}`);
}

describe('the process-wide memory budget', () => {
  it('closes the connections holding the most with 1013 when the total passes the budget; the others keep working', async () => {
    setMemoryBudget(24 * MiB);
    // Per-connection limits high enough that only the budget can stop these peers.
    const ended = await echoServer({ maxBuffered: 256 * MiB });
    const legit = await connect(`${srv!.url}/`);
    for (let i = 0; i < 4; i++) await slowReader(16, MiB);
    await until('a connection to be shed', () => ended.length > 0);

    for (const info of ended) {
      expect(info.code).toBe(CloseCode.TryAgainLater);
      expect(info.error?.code).toBe(ErrorCode.MemoryBudget);
    }
    expect(memoryBudget().shed).toBeGreaterThan(0);
    await until('the total to fall under the budget', () => memoryBudget().held <= 24 * MiB);
    // The connection holding nothing was never a candidate, and still echoes.
    legit.send('still served');
    expect((await legit.receive())?.data).toBe('still served');
    await legit.close();
  });

  // Each way a connection can hold bytes on its own: the budget must know of it without walking
  // every connection (see the next test). The peer reads nothing, so each close ends at closeTimeout.
  it.each([
    [
      'messages queued unread (a handler that never reads)',
      { receiveHighWaterMark: 256 * MiB, closeTimeout: 0.2 },
      () => {},
      (i: number) => encodeFrame({ opcode: 2, payload: Buffer.alloc(MiB, i) }),
    ],
    [
      'a message partly received (fragments of a message that never ends)',
      { maxPayload: 256 * MiB, maxFragments: 1000, closeTimeout: 0.2 },
      echo,
      (i: number) => encodeFrame({ opcode: i === 0 ? 2 : 0, fin: false, payload: Buffer.alloc(MiB, 7) }),
    ],
    [
      'what its socket keeps (a peer that reads nothing the server sends)',
      { maxBuffered: 256 * MiB, closeTimeout: 0.2 },
      (ws: WebSocket) => {
        for (let i = 0; i < 8; i++) ws.send(Buffer.alloc(MiB, i));
      },
      undefined,
    ],
  ])('closes a connection holding %s with 1013 over the budget', async (_what, options, serve, frame) => {
    setMemoryBudget(4 * MiB);
    const ended = await echoServer(options, serve);
    const peer = await RawPeer.open(srv!.port);
    peers.push(peer);
    peer.socket.pause();
    for (let i = 0; frame && i < 8; i++) peer.socket.write(frame(i));
    await until('the connection to be shed', () => ended.length > 0);
    expect(ended[0]).toMatchObject({ code: CloseCode.TryAgainLater });
    expect(ended[0]!.error?.code).toBe(ErrorCode.MemoryBudget);
  });

  it('asks only connections that hold something: an idle one costs the periodic check nothing', async () => {
    const opened: WebSocket[] = [];
    await echoServer({ maxBuffered: 256 * MiB }, echo, opened);
    const clients = await Promise.all([1, 2, 3].map(() => connect(`${srv!.url}/`)));
    for (const c of clients) {
      c.send('once');
      expect((await c.receive())?.data).toBe('once');
    }
    const asked = vi.spyOn(WebSocket.prototype, 'heldBytes');
    try {
      // A first check forgets whoever it finds holding nothing; after it, idle connections are not asked.
      check();
      asked.mockClear();
      check();
      expect(asked).not.toHaveBeenCalled();

      // A peer that stops reading makes its server end hold the echoes: that one is asked again.
      const slow = await slowReader(8, MiB);
      await until('the server to hold the echoes', () => opened.length === 4 && opened[3]!.bufferedAmount > 0);
      check();
      expect(asked.mock.contexts).toContain(opened[3]);
      expect(asked.mock.contexts.every((ws) => ws === opened[3])).toBe(true);
      slow.socket.destroy();
    } finally {
      asked.mockRestore();
      await Promise.all(clients.map((c) => c.close()));
    }
  });

  it('never keeps a closed connection, even one marked after it closed and still holding unread messages', async () => {
    const opened: WebSocket[] = [];
    const ended = await echoServer({ receiveHighWaterMark: 256 * MiB }, () => {}, opened);
    const peer = await RawPeer.open(srv!.port);
    peers.push(peer);
    for (let i = 0; i < 4; i++) peer.socket.write(encodeFrame({ opcode: 2, payload: Buffer.alloc(1024, i) }));
    await until('the messages to be queued', () => opened[0]?.queuedAmount === 4 * 1024);
    peer.socket.destroy();
    await until('the connection to close', () => ended.length > 0);
    const ws = opened[0]!;
    expect(ws.queuedAmount).toBe(4 * 1024); // still readable after the close
    mayHold(ws);
    const asked = vi.spyOn(WebSocket.prototype, 'heldBytes');
    try {
      check();
      check();
      expect(asked.mock.contexts).not.toContain(ws);
    } finally {
      asked.mockRestore();
    }
  });

  it('reports its limit, what connections hold, and how many it closed', async () => {
    await echoServer({});
    const before = memoryBudget();
    expect(before.limit).toBe(DEFAULT_MEMORY_BUDGET);
    const ws = await connect(`${srv!.url}/`);
    // Both ends of this connection are in this process: the client's and the server's.
    await until('both ends to count', () => memoryBudget().connections >= 2);
    expect(memoryBudget().held).toBeGreaterThanOrEqual(0);
    await ws.close();
  });

  it('is half the V8 heap limit by default, and refuses a limit that is not a positive number', () => {
    expect(DEFAULT_MEMORY_BUDGET).toBeGreaterThan(256 * MiB);
    for (const bad of [0, -1, Number.NaN, '1GB']) {
      expect(() => setMemoryBudget(bad as number)).toThrow(expect.objectContaining({ name: 'RangeError', code: 'ERR_INVALID_OPTION' }));
    }
    setMemoryBudget(Number.POSITIVE_INFINITY);
    expect(memoryBudget().limit).toBe(Number.POSITIVE_INFINITY);
  });
});

describe('a connection closed for abuse releases what it holds at once', () => {
  it('a peer that never reads is closed with 1008 at maxBuffered without waiting out the close timeout', async () => {
    // A close timeout longer than the test's: the close must not wait for it.
    const ended = await echoServer({ maxBuffered: 4 * MiB, closeTimeout: 120 });
    const peer = await slowReader(12, MiB);
    await until('the server to close the connection', () => ended.length > 0);
    expect(ended[0]).toMatchObject({ code: CloseCode.PolicyViolation, wasClean: false });
    expect(ended[0]!.error?.code).toBe(ErrorCode.BufferOverflow);
    await peer.ended;
  });
});
