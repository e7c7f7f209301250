/**
 * `stats().terminated`: each limit wsup closes connections for is counted, once per connection,
 * in the router's counters and the process's, next to the close code it closed with: a slow
 * reader past `maxBuffered`, a peer silent through the heartbeat, an idle connection, the memory
 * budget, and the rate limit.
 */
import { afterEach, expect, it } from 'vitest';
import { DEFAULT_MEMORY_BUDGET, setMemoryBudget, upgrade, webSocketStats, type UpgradeOptions, type WebSocket } from '@wsup/core';
import { check } from '../../src/connection/memory-budget.js';
import { handshakeRequest, RawPeer } from '../helpers/raw.js';
import { startServer, type TestServer } from '../helpers/server.js';

let srv: TestServer | undefined;
afterEach(async () => {
  setMemoryBudget(DEFAULT_MEMORY_BUDGET);
  await srv?.close();
  srv = undefined;
});

const ROUTES: Record<string, UpgradeOptions> = {
  '/slow-reader': { maxBuffered: 64 * 1024 },
  '/heartbeat': { heartbeat: 0.05 },
  '/idle': { idleTimeout: 0.05 },
  '/memory': {},
  '/rate': { rateLimit: { messages: 1, per: 60 } },
};

it('counts the connections closed for each limit, under their reason and their close code', async () => {
  const opened = new Map<string, WebSocket>();
  srv = await startServer((req, res) => {
    opened.set(req.url!, upgrade(req, res, ROUTES[req.url!]));
  });
  const before = webSocketStats();
  const open = async (path: string) => {
    const peer = await RawPeer.open(srv!.port, handshakeRequest(path));
    expect(peer.response!.status).toBe(101);
    return { peer, ws: opened.get(path)! };
  };

  // A send past maxBuffered: the peer is not reading (1008).
  const slow = await open('/slow-reader');
  expect(slow.ws.send(Buffer.alloc(128 * 1024))).toBe(false);
  expect((await slow.peer.expectClose()).code).toBe(1008);
  expect((await slow.ws.closed).code).toBe(1008);

  // Silent through two heartbeat periods (the raw peer never answers pings): terminated (1006).
  const silent = await open('/heartbeat');
  expect((await silent.ws.closed).code).toBe(1006);

  // No data message either way for the idle timeout: closed with 1001, which the peer answers.
  const idle = await open('/idle');
  expect((await idle.peer.expectClose()).code).toBe(1001);
  expect((await idle.ws.closed).code).toBe(1001);

  // Holding 2,000 unread bytes over a budget of 1,000: shed (1013).
  const memory = await open('/memory');
  memory.peer.sendFrame({ opcode: 2, payload: Buffer.alloc(2000) });
  await expect.poll(() => memory.ws.queuedAmount).toBe(2000);
  setMemoryBudget(1000);
  check();
  expect((await memory.peer.expectClose()).code).toBe(1013);
  expect((await memory.ws.closed).code).toBe(1013);
  setMemoryBudget(DEFAULT_MEMORY_BUDGET);

  // A second message within the period of a one-message rate limit (1008).
  const rate = await open('/rate');
  rate.peer.sendFrame({ opcode: 1, payload: 'one' });
  expect((await rate.ws.receive())!.data).toBe('one');
  rate.peer.sendFrame({ opcode: 1, payload: 'two' });
  expect((await rate.peer.expectClose()).code).toBe(1008);
  expect((await rate.ws.closed).code).toBe(1008);

  const terminated = { slowReader: 1, heartbeat: 1, idle: 1, memoryBudget: 1, rateLimit: 1 };
  expect(srv.router.stats()).toMatchObject({
    open: 0,
    opened: 5,
    closed: 5,
    closedByCode: { 1001: 1, 1006: 1, 1008: 2, 1013: 1 },
    terminated,
  });
  const after = webSocketStats();
  expect(
    Object.fromEntries(Object.entries(after.terminated).map(([k, n]) => [k, n - before.terminated[k as keyof typeof terminated]])),
  ).toEqual(terminated);
  expect(after.closed - before.closed).toBe(5);
});
