/**
 * What an open connection keeps: nothing of the routing state once upgraded (a `for await` handler
 * keeps `req` and `res` in scope for the connection's life), one shared options object for equal
 * options, and the ready-state constants on the prototype. The idle benchmark measures the bytes;
 * these pin the design that gets them.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { once } from 'node:events';
import { afterAll, beforeAll, expect, it } from 'vitest';
import WsClient from 'ws';
import { upgrade, webSocketOfRequest, WebSocket, type UpgradeOptions } from '@wsup/core';
import { startServer, type TestServer } from '../helpers/server.js';

interface Accepted {
  ws: WebSocket;
  req: IncomingMessage;
  res: ServerResponse;
}

let srv: TestServer;
const accepted: Accepted[] = [];
const optionsFor = new Map<string, () => UpgradeOptions>([
  ['/plain', () => ({ maxPayload: 1024 })],
  ['/heartbeat', () => ({ maxPayload: 1024, heartbeat: 30 })],
]);

beforeAll(async () => {
  srv = await startServer(async (req, res) => {
    // A fresh options literal per request, as handlers write them.
    const ws = upgrade(req, res, optionsFor.get(req.url!)?.());
    accepted.push({ ws, req, res });
    for await (const msg of ws) ws.send(msg.data, msg.binary);
  });
});
afterAll(() => srv.close());

async function open(path: string): Promise<{ client: WsClient; server: Accepted }> {
  const before = accepted.length;
  const client = new WsClient(srv.url + path);
  await once(client, 'open');
  await expect.poll(() => accepted.length).toBe(before + 1);
  return { client, server: accepted[before]! };
}

it('an upgraded request no longer holds the routing record, but still knows its WebSocket', async () => {
  const { client, server } = await open('/plain');
  expect(server.res.listenerCount('finish')).toBe(0);
  expect(webSocketOfRequest(server.req)).toBe(server.ws);
  expect(() => upgrade(server.req, server.res)).toThrow(expect.objectContaining({ code: 'ERR_ALREADY_UPGRADED' }));
  // And the connection still works after that refused second upgrade.
  client.send('still here');
  const [reply] = await once(client, 'message');
  expect(String(reply)).toBe('still here');
  client.close();
});

it('connections upgraded with equal options share one resolved options object, others do not', async () => {
  const a = await open('/plain');
  const b = await open('/plain');
  const c = await open('/heartbeat');
  expect(a.server.ws.options).toBe(b.server.ws.options);
  expect(c.server.ws.options).not.toBe(a.server.ws.options);
  expect(c.server.ws.options.heartbeatMs).toBe(30_000);
  expect(a.server.ws.options.heartbeatMs).toBe(0);
  expect(Object.isFrozen(a.server.ws.options)).toBe(true);
  for (const { client } of [a, b, c]) client.close();
});

it('the ready-state constants live on the prototype, as in browsers', async () => {
  const { client, server } = await open('/plain');
  const ws = server.ws;
  expect(Object.hasOwn(ws, 'OPEN')).toBe(false);
  expect([ws.CONNECTING, ws.OPEN, ws.CLOSING, ws.CLOSED]).toEqual([0, 1, 2, 3]);
  expect([WebSocket.CONNECTING, WebSocket.OPEN, WebSocket.CLOSING, WebSocket.CLOSED]).toEqual([0, 1, 2, 3]);
  expect(ws.readyState).toBe(ws.OPEN);
  client.close();
  await ws.closed;
  expect(ws.readyState).toBe(ws.CLOSED);
});

it('a for-await loop ends when the connection closes, and a second iterator reads on', async () => {
  const { client, server } = await open('/plain');
  const it = server.ws[Symbol.asyncIterator]();
  expect(it[Symbol.asyncIterator]()).toBe(it);
  await expect(it.return!()).resolves.toEqual({ value: undefined, done: true });
  client.close(1000);
  await server.ws.closed;
  await expect(server.ws[Symbol.asyncIterator]().next()).resolves.toEqual({ value: undefined, done: true });
});
