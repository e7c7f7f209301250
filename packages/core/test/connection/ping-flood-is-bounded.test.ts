/**
 * A peer that sends pings and never reads the pongs must not make the server hold unbounded
 * memory: automatic pongs count toward the send budget, reading stops while they wait to be
 * written (TCP pushes back on the flooder), and past `maxBuffered` the connection closes with 1008.
 */
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, expect, it } from 'vitest';
import { upgrade, type UpgradeOptions, type WebSocket } from '@wsup/core';
import { encodeFrame, handshakeRequest, RawPeer } from '../helpers/raw.js';
import { startServer, type TestServer } from '../helpers/server.js';

const KiB = 1024;
const MiB = 1024 * KiB;

/** 500 masked pings with 125-byte payloads in one buffer (~64 KiB). */
const PINGS_PER_BATCH = 500;
const batch = Buffer.concat(Array.from({ length: PINGS_PER_BATCH }, () => encodeFrame({ opcode: 9, payload: Buffer.alloc(125, 1) })));

let srv: TestServer | undefined;
afterEach(async () => {
  await srv?.close();
  srv = undefined;
});

async function serverWith(options: UpgradeOptions): Promise<{ port: number; ws: () => WebSocket | undefined }> {
  let ws: WebSocket | undefined;
  srv = await startServer((req, res) => {
    ws = upgrade(req, res, options);
  });
  return { port: srv.port, ws: () => ws };
}

/** Writes ping batches until TCP stops taking them for 300 ms, or `limit` bytes went out. Returns the pings sent and whether it stalled. */
async function flood(peer: RawPeer, limit: number, watch: () => void): Promise<{ pings: number; stalled: boolean }> {
  let bytes = 0;
  let pings = 0;
  while (bytes < limit) {
    const ok = peer.socket.write(batch);
    bytes += batch.length;
    pings += PINGS_PER_BATCH;
    watch();
    if (!ok) {
      const drained = await Promise.race([once(peer.socket, 'drain').then(() => true), sleep(300).then(() => false)]);
      if (peer.socket.destroyed) return { pings, stalled: false };
      if (!drained) return { pings, stalled: true };
    }
  }
  return { pings, stalled: false };
}

it('a client that floods pings and never reads the pongs is pushed back by TCP: the server stops reading and holds about sendHighWaterMark', async () => {
  const server = await serverWith({ sendHighWaterMark: 64 * KiB });
  const peer = await RawPeer.open(server.port, handshakeRequest('/'));
  // Never read: the pongs pile up in the kernel, then in the server.
  peer.socket.pause();
  let maxBuffered = 0;
  const watch = () => {
    maxBuffered = Math.max(maxBuffered, server.ws()?.bufferedAmount ?? 0);
  };
  // 64 MiB of pings would make ~62 MiB of pongs without the bound.
  const { pings, stalled } = await flood(peer, 64 * MiB, watch);
  expect(stalled).toBe(true);
  const ws = server.ws()!;
  watch();
  expect(ws.isPaused).toBe(true);
  // The mark plus the pongs for the rest of one socket read (a read holds at most ~64 KiB of pings).
  expect(maxBuffered).toBeLessThanOrEqual(64 * KiB + 64 * KiB);
  expect(ws.readyState).toBe(ws.OPEN);

  // Once the client reads, the pongs drain, the server reads again and answers every ping.
  peer.socket.resume();
  let pongs = 0;
  while (pongs < pings) {
    const f = await peer.nextFrame();
    if (!f) break;
    if (f.opcode === 10) pongs++;
  }
  expect(pongs).toBe(pings);
  expect(ws.isPaused).toBe(false);
  peer.destroy();
});

it('automatic pongs count toward maxBuffered: a non-reading pinger past it is closed with 1008', async () => {
  // The send mark above maxBuffered, so reading never pauses and only the budget can stop it.
  const server = await serverWith({ maxBuffered: 256 * KiB, sendHighWaterMark: 16 * MiB, closeTimeout: 0.5 });
  const peer = await RawPeer.open(server.port, handshakeRequest('/'));
  peer.socket.pause();
  let maxBuffered = 0;
  await flood(peer, 64 * MiB, () => {
    maxBuffered = Math.max(maxBuffered, server.ws()?.bufferedAmount ?? 0);
  });
  const ws = server.ws()!;
  const info = await ws.closed;
  expect(info.error?.code).toBe('ERR_BUFFER_OVERFLOW');
  expect(info.code).toBe(1008);
  expect(maxBuffered).toBeLessThanOrEqual(256 * KiB);
  peer.destroy();
});
