import { once } from 'node:events';
import type { Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WsClient from 'ws';
import { upgrade, WebSocket, type CloseInfo } from '@wsup/core';
import { encodeFrame, handshakeRequest, RawPeer } from '../helpers/raw.js';
import { startServer, type TestServer } from '../helpers/server.js';

const KiB = 1024;
const MiB = 1024 * KiB;

/**
 * Writes `chunk` up to `times` times, until TCP stops taking data (no 'drain' for 300 ms), i.e.
 * the server stopped reading.
 */
async function writeUntilStalled(socket: Socket, chunk: Buffer, times: number): Promise<{ sent: number; stalled: boolean }> {
  let sent = 0;
  while (sent < times) {
    const ok = socket.write(chunk);
    sent++;
    if (!ok) {
      const drained = await Promise.race([once(socket, 'drain').then(() => true), sleep(300).then(() => false)]);
      if (!drained) return { sent, stalled: true };
    }
  }
  return { sent, stalled: false };
}

describe('receive backpressure', () => {
  let srv: TestServer;
  let serverWs: WebSocket | undefined;
  let release: () => void = () => {};
  const reading = new Promise<void>((r) => (release = r));
  let received = 0;
  let maxQueued = 0;

  beforeAll(async () => {
    srv = await startServer(async (req, res) => {
      const ws = upgrade(req, res, { receiveHighWaterMark: 256 * KiB, maxPayload: 1 * MiB });
      serverWs = ws;
      await reading;
      for (;;) {
        maxQueued = Math.max(maxQueued, ws.queuedAmount);
        const m = await ws.receive();
        if (!m) break;
        received++;
      }
    });
  });
  afterAll(() => srv.close());

  it('a client sending 200 MiB to a server that does not read: queued bytes stay under the mark, TCP pushes back', async () => {
    const peer = await RawPeer.open(srv.port, handshakeRequest('/'));
    const frame = encodeFrame({ opcode: 2, payload: Buffer.alloc(64 * KiB, 7) });
    const total = (200 * MiB) / (64 * KiB); // 3200 messages
    const first = await writeUntilStalled(peer.socket, frame, total);
    expect(first.stalled).toBe(true);
    let sent = first.sent;
    expect(sent).toBeLessThan(total);
    const ws = serverWs!;
    expect(ws.isPaused).toBe(true);
    // The library's own counter: at most the mark plus what one socket read delivered.
    expect(ws.queuedAmount).toBeLessThanOrEqual(256 * KiB + 64 * KiB);
    expect(ws.queuedAmount).toBeGreaterThanOrEqual(256 * KiB);
    const socketBytes = (ws as unknown as { socket: { bytesRead: number } }).socket.bytesRead;
    expect(socketBytes).toBeLessThan(20 * MiB);

    // Start reading: the flow resumes and everything arrives.
    release();
    while (sent < total) {
      if (!peer.socket.write(frame)) await once(peer.socket, 'drain');
      sent++;
    }
    await expect.poll(() => received, { timeout: 15_000 }).toBe(total);
    expect(maxQueued).toBeLessThanOrEqual(256 * KiB + 64 * KiB);
    expect(ws.isPaused).toBe(false);
    peer.destroy();
  });
});

describe('receive backpressure on empty messages', () => {
  it('a client sending empty messages to a server that does not read: the unread ones are bounded too, TCP pushes back', async () => {
    let serverWs: WebSocket | undefined;
    let release: () => void = () => {};
    const reading = new Promise<void>((r) => (release = r));
    let received = 0;
    const srv = await startServer(async (req, res) => {
      const ws = upgrade(req, res, { receiveHighWaterMark: 64 * KiB });
      serverWs = ws;
      await reading;
      for await (const _ of ws) received++;
    });
    try {
      const peer = await RawPeer.open(srv.port, handshakeRequest('/'));
      // 10,000 empty binary messages per write, 6 bytes each on the wire.
      const batch = Buffer.concat(Array.from({ length: 10_000 }, () => encodeFrame({ opcode: 2, payload: Buffer.alloc(0) })));
      // 500 writes, 5,000,000 messages, 30 MB: more than loopback's buffers hold.
      const { stalled } = await writeUntilStalled(peer.socket, batch, 500);
      // Payload bytes alone never reach the mark (they are all zero): each unread message must count.
      expect(stalled).toBe(true);
      const ws = serverWs!;
      expect(ws.isPaused).toBe(true);
      expect(ws.queuedAmount).toBe(0);
      // At most the mark's worth (64 bytes a message) plus what one socket read delivered.
      expect(ws.unreadMessages).toBeGreaterThanOrEqual((64 * KiB) / 64);
      expect(ws.unreadMessages).toBeLessThanOrEqual((64 * KiB) / 64 + (64 * KiB) / 6 + 1);

      // Reading drains the queue and resumes the socket.
      release();
      await expect.poll(() => received, { timeout: 15_000 }).toBeGreaterThan((64 * KiB) / 64 + (64 * KiB) / 6 + 1);
      peer.destroy();
    } finally {
      await srv.close();
    }
  });
});

describe('pause() and resume() for event-style users', () => {
  it('pause() stops reading until resume()', async () => {
    const got: string[] = [];
    let server: WebSocket | undefined;
    const s = await startServer((req, res) => {
      server = upgrade(req, res);
      server.on('message', (m) => got.push(m.data as string));
    });
    const c = new WsClient(`${s.url}/`);
    await once(c, 'open');
    await expect.poll(() => server).toBeDefined();
    c.send('before');
    await expect.poll(() => got).toEqual(['before']);
    server!.pause();
    expect(server!.isPaused).toBe(true);
    c.send('while paused');
    await sleep(100);
    expect(got).toEqual(['before']);
    server!.resume();
    await expect.poll(() => got).toEqual(['before', 'while paused']);
    c.close();
    await s.close();
  });
});

describe('send backpressure', () => {
  let srv: TestServer;
  const results = new Map<string, Record<string, unknown>>();

  beforeAll(async () => {
    srv = await startServer(async (req, res) => {
      const mode = new URL(req.url!, 'http://x').pathname;
      const ws = upgrade(req, res, { sendHighWaterMark: 1 * MiB, maxBuffered: 8 * MiB, closeTimeout: 0.3 });
      const chunk = Buffer.alloc(64 * KiB, 1);
      const r: Record<string, unknown> = {};
      results.set(mode, r);
      if (mode === '/hwm') {
        // Flush a turn at a time until the kernel's buffers are full too and bytes pile up here.
        let count = 0;
        for (;;) {
          count++;
          if (!ws.send(chunk)) break;
          await new Promise((resolve) => setImmediate(resolve));
        }
        r.count = count;
        r.buffered = ws.bufferedAmount;
        let drainEvents = 0;
        ws.on('drain', () => drainEvents++);
        let drained = false;
        const d = ws.drained().then(() => (drained = true));
        await sleep(150);
        r.drainedEarly = drained;
        await d;
        r.drained = true;
        r.drainEvents = drainEvents;
        r.bufferedAfter = ws.bufferedAmount;
        await ws.close();
      } else {
        // A peer that never reads: keep sending until the library gives up.
        let maxBuffered = 0;
        let refusedAt = -1;
        for (let i = 0; i < 2000 && ws.readyState === WebSocket.OPEN; i++) {
          ws.send(chunk);
          maxBuffered = Math.max(maxBuffered, ws.bufferedAmount);
          if (ws.readyState !== WebSocket.OPEN) refusedAt = i;
          await new Promise((resolve) => setImmediate(resolve));
        }
        r.refusedAt = refusedAt;
        r.maxBuffered = maxBuffered;
        r.info = await ws.closed;
      }
    });
  });
  afterAll(() => srv.close());

  it('send() returns false past sendHighWaterMark; drained() and drain wait for the peer to read', async () => {
    const peer = await RawPeer.open(srv.port, handshakeRequest('/hwm'));
    peer.socket.pause(); // not reading
    await expect.poll(() => results.get('/hwm')?.drainedEarly).toBe(false);
    const r = results.get('/hwm')!;
    expect(r.buffered).toBeGreaterThanOrEqual(1 * MiB);
    peer.socket.resume();
    const frames = await peer.readUntilClose();
    // Every message, including the one send() answered false for, was delivered.
    expect(frames.filter((f) => f.opcode === 2)).toHaveLength(r.count as number);
    expect(r.drained).toBe(true);
    expect(r.drainEvents).toBe(1);
    expect(r.bufferedAfter).toBeLessThan(1 * MiB);
    peer.destroy();
  });

  it('send() false for bytes only queued, which the socket then takes at once: drained() and drain still come', async () => {
    // 8 KiB against a 4 KiB mark: send() says false while the bytes wait for the turn's single
    // write, and that write stays under the socket's own 16 KiB mark, so the socket itself never
    // emits 'drain'.
    const quick = await startServer(async (req, res) => {
      const ws = upgrade(req, res, { sendHighWaterMark: 4 * KiB });
      const r: Record<string, unknown> = {};
      results.set('/quick', r);
      let drainEvents = 0;
      ws.on('drain', () => drainEvents++);
      r.accepted = ws.send(Buffer.alloc(8 * KiB, 2));
      await ws.drained();
      r.drainedAt = ws.bufferedAmount;
      await sleep(20);
      r.drainEvents = drainEvents;
      await ws.close();
    });
    try {
      const peer = await RawPeer.open(quick.port, handshakeRequest('/'));
      const frames = await peer.readUntilClose();
      expect(frames.filter((f) => f.opcode === 2).map((f) => f.payload.length)).toEqual([8 * KiB]);
      const r = results.get('/quick')!;
      expect(r.accepted).toBe(false);
      expect(r.drainedAt).toBeLessThan(4 * KiB);
      expect(r.drainEvents).toBe(1);
      peer.destroy();
    } finally {
      await quick.close();
    }
  });

  it('a peer that never reads makes the connection close with 1008 at maxBuffered', async () => {
    const peer = await RawPeer.open(srv.port, handshakeRequest('/never'));
    peer.socket.pause();
    await expect.poll(() => results.get('/never')?.info, { timeout: 10_000 }).toBeDefined();
    const r = results.get('/never')!;
    const info = r.info as CloseInfo;
    expect(info.code).toBe(1008);
    expect(info.error?.code).toBe('ERR_BUFFER_OVERFLOW');
    expect(r.refusedAt).toBeGreaterThan(0);
    // Memory held for the peer never went past the limit.
    expect(r.maxBuffered).toBeLessThanOrEqual(8 * MiB);
    peer.destroy();
  });
});
