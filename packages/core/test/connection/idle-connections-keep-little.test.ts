/**
 * What an open connection keeps: nothing of the routing state once upgraded (a `for await` handler
 * keeps `req` and `res` in scope for the connection's life), one shared options object for equal
 * options, and the ready-state constants on the prototype. The idle benchmark measures the bytes;
 * these pin the design that gets them.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type EventEmitter, once } from 'node:events';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import WsClient from 'ws';
import { upgrade, webSocketOfRequest, WebSocket, type UpgradeOptions } from '@wsup/core';
import { PendingUpgrade, routedUpgrade } from '../../src/server/pending-upgrade.js';
import { startServer, type TestServer } from '../helpers/server.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Collects garbage once the current job (which keeps WeakRef targets alive) has ended. */
async function collect(): Promise<void> {
  for (let i = 0; i < 3; i++) {
    await new Promise((resolve) => setTimeout(resolve, 0));
    gc();
  }
}

interface Accepted {
  ws: WebSocket;
  req: IncomingMessage;
  res: ServerResponse;
  /** The routing record while the request waited for its handler. */
  record: WeakRef<object>;
}

/** What a handler that returns right after upgrading left behind: only weak references. */
interface Returned {
  ws: WebSocket;
  req: WeakRef<IncomingMessage>;
  res: WeakRef<ServerResponse>;
}

let srv: TestServer;
const accepted: Accepted[] = [];
const returned: Returned[] = [];
const optionsFor = new Map<string, () => UpgradeOptions>([
  ['/plain', () => ({ maxPayload: 1024 })],
  ['/heartbeat', () => ({ maxPayload: 1024, heartbeat: 30 })],
]);

beforeAll(async () => {
  srv = await startServer((req, res) => {
    if (req.url === '/returns') {
      const ws = upgrade(req, res);
      ws.on('message', (msg) => ws.send(msg.data, msg.binary));
      returned.push({ ws, req: new WeakRef(req), res: new WeakRef(res) });
      return undefined;
    }
    return iterate(req, res);
  });
});
afterAll(() => srv.close());

async function iterate(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const record = new WeakRef(routedUpgrade(req)!);
  // A fresh options literal per request, as handlers write them.
  const ws = upgrade(req, res, optionsFor.get(req.url!)?.());
  accepted.push({ ws, req, res, record });
  for await (const msg of ws) ws.send(msg.data, msg.binary);
}

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

it('a handler that keeps req and res (for await) keeps neither the routing record nor a listener table on res', async () => {
  const { client, server } = await open('/plain');
  expect(server.record.deref()).toBeInstanceOf(PendingUpgrade);
  await collect();
  // The record held the upgrade timer, the socket and the bytes that came with the request head.
  expect(server.record.deref()).toBeUndefined();
  expect(routedUpgrade(server.req)).toMatchObject({ upgraded: true });
  expect(routedUpgrade(server.req)).not.toBeInstanceOf(PendingUpgrade);
  // EventEmitter gives an emitter whose last listener went a new table in V8's dictionary mode
  // (184 bytes); an upgraded response's is a small one in fast mode.
  expect(server.res.eventNames()).toEqual([]);
  const table = (server.res as unknown as { _events: object })._events;
  expect(Object.getPrototypeOf(table)).not.toBeNull(); // not a `{ __proto__: null }` literal
  expect(Object.getPrototypeOf(Object.getPrototypeOf(table))).toBeNull(); // and nothing inherited
  expect(Object.keys(table)).toEqual([]);
  // And the response still takes listeners as any emitter does.
  const listener = (): void => {};
  server.res.on('finish', listener);
  expect(server.res.listenerCount('finish')).toBe(1);
  server.res.off('finish', listener);
  client.close();
});

it('what stays usable on req and res after the upgrade: headers, url, method, the socket and its address', async () => {
  const client = new WsClient(`${srv.url}/plain?room=7`, { headers: { cookie: 'session=abc' } });
  await once(client, 'open');
  await expect.poll(() => accepted.at(-1)?.req.url).toBe('/plain?room=7');
  const { req, res, ws } = accepted.at(-1)!;
  await collect();
  expect(req.method).toBe('GET');
  expect(req.httpVersion).toBe('1.1');
  expect(req.headers.cookie).toBe('session=abc');
  expect(req.headers.upgrade).toBe('websocket');
  expect(req.rawHeaders).toContain('session=abc');
  expect(req.socket.remoteAddress).toBe('127.0.0.1');
  expect(req.socket).toBe(ws.socket);
  expect(req.complete).toBe(true);
  // The response was detached from the connection: nothing written to it can reach the client.
  expect(res.req).toBe(req);
  expect(res.socket).toBeNull();
  expect(res.headersSent).toBe(false);
  client.close();
  await ws.closed;
  // The peer's address outlives the connection, on the WebSocket and on the request's socket.
  expect(ws.remoteAddress).toBe('127.0.0.1');
  expect(req.socket.remoteAddress).toBe('127.0.0.1');
});

it('a handler that returns after upgrading leaves its req and res to the garbage collector', async () => {
  const clients: WsClient[] = [];
  for (let i = 0; i < 3; i++) {
    const client = new WsClient(`${srv.url}/returns`);
    await once(client, 'open');
    clients.push(client);
  }
  await expect.poll(() => returned.length).toBe(3);
  await collect();
  for (const { req, res, ws } of returned) {
    expect(ws.readyState).toBe(WebSocket.OPEN);
    expect(req.deref()).toBeUndefined();
    expect(res.deref()).toBeUndefined();
  }
  // The open connections still work.
  clients[0]!.send('ping?');
  const [reply] = await once(clients[0]!, 'message');
  expect(String(reply)).toBe('ping?');
  for (const client of clients) client.close();
});

it("a WebSocket's listener table inherits nothing: any event name works as in EventEmitter", async () => {
  const { client, server } = await open('/plain');
  const ws = server.ws as unknown as EventEmitter;
  expect(ws.eventNames()).toEqual(['newListener']);
  const heard: string[] = [];
  for (const name of ['toString', 'constructor', 'hasOwnProperty', '__proto__']) {
    expect(ws.listenerCount(name)).toBe(0);
    const listener = (): void => void heard.push(name);
    ws.on(name, listener);
    expect(ws.emit(name)).toBe(true);
    ws.off(name, listener);
    expect(ws.emit(name)).toBe(false);
  }
  expect(heard).toEqual(['toString', 'constructor', 'hasOwnProperty', '__proto__']);
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
