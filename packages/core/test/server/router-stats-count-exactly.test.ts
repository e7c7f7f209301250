/**
 * `router.stats()` and `webSocketStats()`: opened, open and closed WebSockets (by close code),
 * refused handshakes (by status), whole messages and their payload bytes both ways, as on the
 * wire and uncompressed, and what the open WebSockets hold. Driven with real traffic whose every
 * figure the test knows: raw peers (whose frames show the wire sizes) and a wsup client.
 */
import { request } from 'node:http';
import { afterEach, expect, it } from 'vitest';
import { connect, upgrade, webSocketStats, type WebSocket, type WebSocketStats } from '@wsup/core';
import { TestDeflater } from '../helpers/pmd.js';
import { handshakeRequest, RawPeer } from '../helpers/raw.js';
import { startServer, type TestServer } from '../helpers/server.js';

let srv: TestServer | undefined;
afterEach(async () => {
  await srv?.close();
  srv = undefined;
});

/** A plain GET (no Upgrade) on the WebSocket route: resolves with the status, once the connection is closed. */
function plainGet(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
      res.resume();
      res.socket.once('close', () => resolve(res.statusCode!));
    });
    req.on('error', reject);
    req.end();
  });
}

/** `after - before`, field by field (records by key, leaving out keys whose count did not change). */
function delta(after: WebSocketStats, before: WebSocketStats): WebSocketStats {
  const byKey = (a: Record<number, number>, b: Record<number, number>) => {
    const out: Record<number, number> = {};
    for (const [k, n] of Object.entries(a)) if (n !== (b[Number(k)] ?? 0)) out[Number(k)] = n - (b[Number(k)] ?? 0);
    return out;
  };
  const terminated = { ...after.terminated };
  for (const k of Object.keys(terminated) as (keyof typeof terminated)[]) terminated[k] -= before.terminated[k];
  return {
    open: after.open - before.open,
    opened: after.opened - before.opened,
    closed: after.closed - before.closed,
    closedByCode: byKey(after.closedByCode, before.closedByCode),
    refused: after.refused - before.refused,
    refusedByStatus: byKey(after.refusedByStatus, before.refusedByStatus),
    messagesIn: after.messagesIn - before.messagesIn,
    messagesOut: after.messagesOut - before.messagesOut,
    bytesIn: after.bytesIn - before.bytesIn,
    bytesOut: after.bytesOut - before.bytesOut,
    uncompressedBytesIn: after.uncompressedBytesIn - before.uncompressedBytesIn,
    uncompressedBytesOut: after.uncompressedBytesOut - before.uncompressedBytesOut,
    bufferedBytes: after.bufferedBytes - before.bufferedBytes,
    terminated,
  };
}

const NOT_TERMINATED = { slowReader: 0, heartbeat: 0, idle: 0, memoryBudget: 0, rateLimit: 0 };

it('counts every opening, message, byte, close code and refusal of a router exactly, and the process counts them with its clients', async () => {
  const accepted: WebSocket[] = [];
  srv = await startServer(
    (req, res) => {
      accepted.push(upgrade(req, res, { compress: { threshold: 64 }, maxPayload: 1000 }));
    },
    { routing: { maxConnections: 3 } },
  );
  const { router, port } = srv;
  const before = webSocketStats();

  // Refused: a plain GET (426) and a foreign page (403), each closed before the next request.
  expect(await plainGet(port)).toBe(426);
  const foreign = await RawPeer.open(port, handshakeRequest('/', { Origin: 'http://elsewhere.example' }));
  expect(foreign.response!.status).toBe(403);
  await foreign.ended;

  // A: compression agreed; B: a wsup client; C: plain.
  const a = await RawPeer.open(port, handshakeRequest('/', { 'Sec-WebSocket-Extensions': 'permessage-deflate' }));
  expect(a.response!.headers['sec-websocket-extensions']).toMatch(/^permessage-deflate/);
  const b = await connect(srv.url);
  const c = await RawPeer.open(port, handshakeRequest('/'));
  expect(accepted).toHaveLength(3);
  const [wsA, wsB, wsC] = accepted as [WebSocket, WebSocket, WebSocket];

  // Over maxConnections: 503.
  const fourth = await RawPeer.open(port, handshakeRequest('/'));
  expect(fourth.response!.status).toBe(503);
  await fourth.ended;

  expect(router.stats()).toMatchObject({ open: 3, opened: 3, closed: 0, refused: 3, refusedByStatus: { 403: 1, 426: 1, 503: 1 } });

  // In, compressed: 600 bytes as `compressed.length` on the wire. Unread, it is what A holds.
  const text = 'hello '.repeat(100);
  const compressed = await new TestDeflater(false).compress(Buffer.from(text));
  expect(compressed.length).toBeLessThan(600);
  a.sendFrame({ opcode: 1, rsv: 4, payload: compressed });
  await expect.poll(() => wsA.queuedAmount).toBe(600);
  // Held: its 600 bytes and the 64 an unread message is counted for.
  expect(router.stats().bufferedBytes).toBe(664);
  expect((await wsA.receive())!.data).toBe(text);
  expect(router.stats().bufferedBytes).toBe(0);

  // Out to A: compressed (over the threshold), small (under it), and compression refused per send.
  wsA.send('x'.repeat(500));
  wsA.send('hi');
  wsA.send(Buffer.alloc(700, 7), true, { compress: false });
  const big = (await a.nextFrame())!;
  const small = (await a.nextFrame())!;
  const plain = (await a.nextFrame())!;
  expect([big.rsv, small.rsv, plain.rsv]).toEqual([4, 0, 0]);
  expect(big.payload.length).toBeLessThan(500);
  expect([small.payload.length, plain.payload.length]).toEqual([2, 700]);

  // In from B (binary 100, text of 6 UTF-8 bytes), out to B.
  b.send(Buffer.alloc(100));
  b.send('héllo');
  expect((await wsB.receive())!.binary).toBe(true);
  expect((await wsB.receive())!.data).toBe('héllo');
  wsB.send('welcome');
  expect((await b.receive())!.data).toBe('welcome');

  // Broadcast: one message out per subscriber it was queued for. 5 bytes are under A's threshold
  // (the shared frame); 300 are compressed for A alone.
  wsA.subscribe('room');
  wsB.subscribe('room');
  expect(router.hub.publish('room', 'news!')).toBe(2);
  expect(router.hub.publish('room', 'y'.repeat(300))).toBe(2);
  const news = (await a.nextFrame())!;
  const ys = (await a.nextFrame())!;
  expect([news.rsv, news.payload.length, ys.rsv]).toEqual([0, 5, 4]);
  expect((await b.receive())!.data).toBe('news!');
  expect((await b.receive())!.data).toBe('y'.repeat(300));

  // C sends a message over maxPayload: 1009, not counted as a message.
  c.sendFrame({ opcode: 2, payload: Buffer.alloc(2000) });
  expect((await c.expectClose()).code).toBe(1009);
  await wsC.closed;

  // B closes (1000), the server closes A (1001), and terminates D (1006).
  await b.close(1000);
  await wsB.closed;
  const closingA = wsA.close(1001);
  expect((await a.expectClose()).code).toBe(1001);
  await closingA;
  const d = await RawPeer.open(port, handshakeRequest('/'));
  expect(d.response!.status).toBe(101);
  accepted[3]!.terminate();
  await accepted[3]!.closed;
  await d.ended;

  const wireOutA = big.payload.length + 2 + 700 + 5 + ys.payload.length;
  const routerStats: WebSocketStats = {
    open: 0,
    opened: 4,
    closed: 4,
    closedByCode: { 1000: 1, 1001: 1, 1006: 1, 1009: 1 },
    refused: 3,
    refusedByStatus: { 403: 1, 426: 1, 503: 1 },
    // In: A's one, B's two (C's was too big). Out: A got 3 sends and 2 broadcasts, B 1 and 2.
    messagesIn: 3,
    messagesOut: 8,
    bytesIn: compressed.length + 106,
    bytesOut: wireOutA + 7 + 5 + 300,
    uncompressedBytesIn: 600 + 106,
    uncompressedBytesOut: 500 + 2 + 700 + 5 + 300 + 7 + 5 + 300,
    bufferedBytes: 0,
    terminated: NOT_TERMINATED,
  };
  expect(router.stats()).toEqual(routerStats);

  // The process counts B's client end too: one more opened and closed (1000), its 2 messages out
  // (106 bytes) and 3 in (7 + 5 + 300 bytes), none compressed.
  expect(delta(webSocketStats(), before)).toEqual({
    ...routerStats,
    opened: 5,
    closed: 5,
    closedByCode: { 1000: 2, 1001: 1, 1006: 1, 1009: 1 },
    messagesIn: routerStats.messagesIn + 3,
    messagesOut: routerStats.messagesOut + 2,
    bytesIn: routerStats.bytesIn + 312,
    bytesOut: routerStats.bytesOut + 106,
    uncompressedBytesIn: routerStats.uncompressedBytesIn + 312,
    uncompressedBytesOut: routerStats.uncompressedBytesOut + 106,
  });
});
