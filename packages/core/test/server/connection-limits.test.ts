/**
 * `handleUpgrades(server, { maxConnections, maxConnectionsPerAddress })`: an upgrade request over a
 * limit is answered 503 with `Retry-After` before any request handler runs, over HTTP/1.1 and
 * HTTP/2 alike; upgrades still with their handler count; closing frees the slot; the per-address
 * counts are deleted when they fall to 0.
 */
import { createServer } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import WsClient from 'ws';
import {
  connect,
  ErrorCode,
  handleUpgrades,
  HandshakeResponseError,
  upgrade,
  type HandleUpgradesOptions,
  type UpgradeRouter,
  type WebSocket,
  type WebSocketError,
} from '@wsup/core';
import {
  type AnyHandler,
  extendedConnect,
  rawRequest,
  rawSession,
  startHttp2Server,
  type Http2TestServer,
} from '../helpers/http2-server.js';
import { handshakeRequest, RawPeer } from '../helpers/raw.js';
import { startServer, type TestServer } from '../helpers/server.js';

let srv: TestServer | Http2TestServer | undefined;
const clients: { terminate(): void }[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.terminate();
  await srv?.close();
  srv = undefined;
});

/** Waits (without a deadline of its own: vitest's test timeout bounds it) until `cond` holds. */
async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await sleep(5);
}

/** An echo server with `routing` limits that records every request its handler saw and every refusal. */
async function limitedServer(routing: HandleUpgradesOptions, opts: { http2?: boolean; hold?: Promise<void> } = {}) {
  const handled: string[] = [];
  const accepted: WebSocket[] = [];
  const handler: AnyHandler = async (req, res) => {
    handled.push(req.url ?? '');
    if (req.url === '/slow') await opts.hold;
    const ws = upgrade(req, res);
    accepted.push(ws);
    ws.on('message', (m) => ws.send(m.data, m.binary));
  };
  const server = opts.http2 ? await startHttp2Server(handler, { routing }) : await startServer(handler, { routing });
  srv = server;
  const refused: WebSocketError[] = [];
  server.router.on('refused', (err) => refused.push(err as WebSocketError));
  return { server, handled, accepted, refused, router: server.router };
}

async function open(url: string, options: Parameters<typeof connect>[1] = {}): Promise<WebSocket> {
  const ws = await connect(url, options);
  clients.push(ws);
  return ws;
}

function counts(router: UpgradeRouter): { open: number; addresses: number } {
  return { open: router.limits!.size, addresses: router.limits!.addressCounts.size };
}

describe('maxConnections over HTTP/1.1', () => {
  it('answers 503 with Retry-After and a body past the limit, without running the handler, and reports it', async () => {
    const { server, handled, refused } = await limitedServer({ maxConnections: 2 });
    await open(`${server.url}/a`);
    await open(`${server.url}/b`);

    const peer = await RawPeer.open(server.port, handshakeRequest('/c'));
    expect(peer.response).toMatchObject({
      status: 503,
      headers: { 'retry-after': '5', connection: 'close', 'content-type': 'text/plain; charset=utf-8' },
      body: 'Too many WebSocket connections to this server; try again later',
    });
    await peer.ended; // and the connection is closed
    expect(handled).toEqual(['/a', '/b']);
    expect(refused.map((e) => [e.code, e.status])).toEqual([[ErrorCode.TooManyConnections, 503]]);

    // The client sees a typed handshake failure with the status and body.
    const err = await connect(`${server.url}/d`).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HandshakeResponseError);
    expect(err).toMatchObject({ code: ErrorCode.NotSwitchingProtocols, status: 503, headers: { 'retry-after': '5' } });
    expect((err as HandshakeResponseError).body).toContain('Too many WebSocket connections');
    expect(handled).toEqual(['/a', '/b']);
  });

  it('frees a slot when a WebSocket closes, and counts exactly what is open', async () => {
    const { server, handled, accepted, router } = await limitedServer({ maxConnections: 2 });
    const a = await open(`${server.url}/a`);
    await open(`${server.url}/b`);
    expect(counts(router).open).toBe(2);
    await expect(connect(`${server.url}/c`)).rejects.toMatchObject({ status: 503 });

    await a.close();
    await accepted[0]!.closed;
    await until(() => counts(router).open === 1);
    const c = await open(`${server.url}/c`);
    c.send('hello');
    expect((await c.receive())?.data).toBe('hello');
    expect(handled).toEqual(['/a', '/b', '/c']);
    expect(router.clients.size).toBe(2);
  });

  it('counts upgrade requests still with their handler, so a burst cannot pass the limit', async () => {
    let release!: () => void;
    const hold = new Promise<void>((resolve) => {
      release = resolve;
    });
    const { server, handled, router } = await limitedServer({ maxConnections: 1 }, { hold });
    const slow = connect(`${server.url}/slow`);
    await until(() => handled.length === 1);
    expect(router.clients.size).toBe(0);
    await expect(connect(`${server.url}/fast`)).rejects.toMatchObject({ status: 503 });
    release();
    clients.push(await slow);
    expect(handled).toEqual(['/slow']);
    expect(counts(router).open).toBe(1);
  });

  it('frees the slot of a request its handler answered without upgrading', async () => {
    const handled: string[] = [];
    srv = await startServer(
      (req, res) => {
        handled.push(req.url!);
        if (req.url === '/private') return void res.writeHead(401).end('no');
        const ws = upgrade(req, res);
        ws.on('message', (m) => ws.send(m.data));
      },
      { routing: { maxConnections: 1 } },
    );
    const router = srv.router;
    await expect(connect(`${srv.url}/private`)).rejects.toMatchObject({ status: 401 });
    await until(() => counts(router).open === 0);
    clients.push(await connect(`${srv.url}/echo`));
    expect(handled).toEqual(['/private', '/echo']);
  });

  it('is an option of handleUpgrades: a whole number of at least 1, or Infinity', () => {
    for (const bad of [0, -1, 1.5, Number.NaN, '10']) {
      expect(() => handleUpgrades(createServer(), { maxConnections: bad as number })).toThrow(
        expect.objectContaining({ code: ErrorCode.InvalidOption, name: 'RangeError' }),
      );
      expect(() => handleUpgrades(createServer(), { maxConnectionsPerAddress: bad as number })).toThrow(
        expect.objectContaining({ code: ErrorCode.InvalidOption }),
      );
    }
    // Unlimited (the default, or Infinity) counts nothing at all.
    expect(handleUpgrades(createServer(), { maxConnections: Infinity }).limits).toBeUndefined();
    expect(handleUpgrades(createServer()).limits).toBeUndefined();
  });
});

describe('maxConnectionsPerAddress', () => {
  it('limits each client address on its own, and deletes an address once its connections have closed', async () => {
    const { server, handled, refused, router } = await limitedServer({ maxConnectionsPerAddress: 2 });
    const url = `${server.url}/echo`;
    // Two clients from 127.0.0.1, and a third from 127.0.0.2 (all of 127/8 is loopback on Linux).
    const fromOne = [await open(url), await open(url)];
    const err = await connect(url).catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 503, headers: { 'retry-after': '5' } });
    expect((err as HandshakeResponseError).body).toContain('from your address');
    expect(refused.map((e) => e.code)).toEqual([ErrorCode.TooManyConnections]);

    const other = new WsClient(url, { localAddress: '127.0.0.2' });
    clients.push(other);
    await new Promise((resolve, reject) => other.once('open', resolve).once('error', reject));
    other.send('from elsewhere');
    const echo = await new Promise<Buffer>((resolve) => other.once('message', (data) => resolve(data as Buffer)));
    expect(echo.toString()).toBe('from elsewhere');
    expect(handled).toHaveLength(3);
    expect(Object.fromEntries(router.limits!.addressCounts)).toEqual({ '127.0.0.1': 2, '127.0.0.2': 1 });

    for (const ws of fromOne) await ws.close();
    other.close();
    await until(() => counts(router).open === 0);
    expect(counts(router)).toEqual({ open: 0, addresses: 0 });

    // The address may connect again.
    clients.push(await open(url));
    expect(Object.fromEntries(router.limits!.addressCounts)).toEqual({ '127.0.0.1': 1 });
  });

  it('holds nothing for many short connections from many addresses once they are gone', async () => {
    const { server, router } = await limitedServer({ maxConnectionsPerAddress: 1, maxConnections: 100 });
    for (let i = 2; i < 12; i++) {
      const ws = new WsClient(`${server.url}/echo`, { localAddress: `127.0.0.${i}` });
      await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
      ws.terminate();
    }
    // Refused requests are never counted either.
    await open(`${server.url}/echo`);
    await expect(connect(`${server.url}/echo`)).rejects.toMatchObject({ status: 503 });
    for (const c of clients.splice(0)) c.terminate();
    await until(() => counts(router).open === 0);
    expect(counts(router)).toEqual({ open: 0, addresses: 0 });
  });
});

describe('over HTTP/2', () => {
  it('answers the extended CONNECT 503 on its stream; the session and its other WebSockets go on', async () => {
    const { server, handled, refused, router } = await limitedServer({ maxConnections: 1 }, { http2: true });
    const first = await open(`${server.url}/a`, { http2: true });

    const session = await rawSession(server.port);
    const answer = await rawRequest(session, extendedConnect(server.port, '/b'));
    expect(answer.headers?.[':status']).toBe(503);
    expect(answer.headers?.['retry-after']).toBe('5');
    expect(answer.body).toBe('Too many WebSocket connections to this server; try again later');
    expect(handled).toEqual(['/a']);
    expect(refused.map((e) => [e.code, e.status])).toEqual([[ErrorCode.TooManyConnections, 503]]);

    // The client's typed error, on a session it shares with the open WebSocket.
    await expect(connect(`${server.url}/c`, { http2: true })).rejects.toMatchObject({ status: 503 });
    first.send('still here');
    expect((await first.receive())?.data).toBe('still here');

    // A closed WebSocket frees its stream's slot.
    await first.close();
    await until(() => counts(router).open === 0);
    const next = await open(`${server.url}/d`, { http2: true });
    next.send('next');
    expect((await next.receive())?.data).toBe('next');
    session.destroy();
  });

  it('counts streams per session address and forgets the address when they close', async () => {
    const { server, router } = await limitedServer({ maxConnectionsPerAddress: 2 }, { http2: true });
    const a = await open(`${server.url}/a`, { http2: true });
    const b = await open(`${server.url}/b`, { http2: true });
    await expect(connect(`${server.url}/c`, { http2: true })).rejects.toMatchObject({ status: 503 });
    expect(Object.fromEntries(router.limits!.addressCounts)).toEqual({ '127.0.0.1': 2 });
    await a.close();
    await b.close();
    await until(() => counts(router).open === 0);
    expect(counts(router)).toEqual({ open: 0, addresses: 0 });
  });
});
