/**
 * The diagnostics channels (`node:diagnostics_channel`): a WebSocket's opening (server and client
 * side, over HTTP/1.1 and HTTP/2), its close (who started it, how long it lasted, what it carried),
 * every error it reports, and every handshake the server refuses, each with the message its
 * exported type describes.
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import type { IncomingMessage } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import {
  channels,
  connect,
  handshakeRefusal,
  upgrade,
  WebSocketError,
  type HandshakeRefusedMessage,
  type WebSocket,
  type WebSocketCloseMessage,
  type WebSocketErrorMessage,
  type WebSocketOpenMessage,
} from '@wsup/core';
import { extendedConnect, rawRequest, rawSession, startHttp2Server, type Http2TestServer } from '../helpers/http2-server.js';
import { encodeFrame, handshakeRequest, RawPeer } from '../helpers/raw.js';
import { startServer, type TestServer } from '../helpers/server.js';

let srv: TestServer | Http2TestServer | undefined;
const unsubscribes: (() => void)[] = [];
afterEach(async () => {
  for (const u of unsubscribes.splice(0)) u();
  await srv?.close();
  srv = undefined;
});

/** The messages published on `name` until the test ends. */
function listen<T>(name: string): T[] {
  const got: T[] = [];
  const onMessage = (message: unknown) => void got.push(message as T);
  diagnosticsChannel.subscribe(name, onMessage);
  unsubscribes.push(() => diagnosticsChannel.unsubscribe(name, onMessage));
  return got;
}

describe('wsup:websocket:open', () => {
  it('is published for both ends, the server side with its request, over HTTP/1.1', async () => {
    const opened = listen<WebSocketOpenMessage>(channels.open);
    let serverWs: WebSocket | undefined;
    let serverReq: IncomingMessage | undefined;
    srv = await startServer((req, res) => {
      serverReq = req;
      serverWs = upgrade(req, res, { subprotocol: 'chat', compress: true });
    });
    const client = await connect(`${srv.url}/room`, { protocols: ['chat'], compress: true });
    await expect.poll(() => opened.length).toBe(2);
    const server = opened.find((m) => !m.isClient)!;
    expect(server).toEqual({
      websocket: serverWs,
      request: serverReq,
      transport: 'http/1.1',
      protocol: 'chat',
      extensions: serverWs!.extensions,
      isClient: false,
    });
    expect(server.extensions).toMatch(/^permessage-deflate/);
    expect(opened.find((m) => m.isClient)).toEqual({
      websocket: client,
      request: undefined,
      transport: 'http/1.1',
      protocol: 'chat',
      extensions: client.extensions,
      isClient: true,
    });
    await client.close();
  });

  it('says h2 for WebSockets on HTTP/2 streams, on both ends', async () => {
    const opened = listen<WebSocketOpenMessage>(channels.open);
    let serverReq: unknown;
    srv = await startHttp2Server((req, res) => {
      serverReq = req;
      upgrade(req, res);
    });
    const client = await connect(`${srv.url}/`, { http2: true });
    await expect.poll(() => opened.length).toBe(2);
    expect(opened.map((m) => [m.isClient, m.transport])).toEqual(
      expect.arrayContaining([
        [false, 'h2'],
        [true, 'h2'],
      ]),
    );
    expect(opened.find((m) => !m.isClient)!.request).toBe(serverReq);
    await client.close();
  });
});

describe('wsup:websocket:close', () => {
  it('says who started the close, how long the WebSocket lived and what it carried', async () => {
    const closes = listen<WebSocketCloseMessage>(channels.close);
    const accepted: WebSocket[] = [];
    srv = await startServer((req, res) => {
      const ws = upgrade(req, res, { maxPayload: 100 });
      accepted.push(ws);
      ws.on('message', (m) => ws.send(m.data, m.binary));
    });

    // The client closes: it started the close (local), the server answered it (remote). Each end
    // reports the other's close frame: the server echoed the code alone.
    const client = await connect(srv.url);
    client.send('ping!');
    expect((await client.receive())!.data).toBe('ping!');
    await client.close(1000, 'bye');
    await accepted[0]!.closed;
    const clientClose = closes.find((m) => m.websocket === client)!;
    const serverClose = closes.find((m) => m.websocket === accepted[0])!;
    expect(clientClose).toMatchObject({ code: 1000, reason: '', wasClean: true, closedBy: 'local', messagesIn: 1, messagesOut: 1 });
    expect(serverClose).toMatchObject({ code: 1000, reason: 'bye', wasClean: true, closedBy: 'remote', messagesIn: 1, messagesOut: 1 });
    expect(serverClose).toMatchObject({ bytesIn: 5, bytesOut: 5 });
    expect(serverClose.error).toBeUndefined();
    expect('error' in serverClose).toBe(false);
    expect(serverClose.duration).toBeGreaterThanOrEqual(0);

    // The server terminates: no close frame either way (abnormal, 1006).
    const other = await connect(srv.url);
    await expect.poll(() => accepted.length).toBe(2);
    accepted[1]!.terminate();
    await other.closed;
    await accepted[1]!.closed;
    expect(closes.find((m) => m.websocket === accepted[1])).toMatchObject({ code: 1006, wasClean: false, closedBy: 'abnormal' });
    expect(closes.find((m) => m.websocket === other)).toMatchObject({ code: 1006, closedBy: 'abnormal' });

    // A message over maxPayload: the server's close frame goes first (local), with the error.
    const peer = await RawPeer.open(srv.port, handshakeRequest('/'));
    peer.sendFrame({ opcode: 2, payload: Buffer.alloc(200) });
    expect((await peer.expectClose()).code).toBe(1009);
    await accepted[2]!.closed;
    const tooBig = closes.find((m) => m.websocket === accepted[2])!;
    expect(tooBig).toMatchObject({ code: 1009, closedBy: 'local', messagesIn: 0, bytesIn: 0 });
    expect(tooBig.error).toBeInstanceOf(WebSocketError);
    expect(tooBig.error!.code).toBe('ERR_PAYLOAD_TOO_LARGE');
    expect(closes).toHaveLength(5);
  });
});

describe('wsup:websocket:error', () => {
  it('publishes every error a WebSocket reports, with or without an error listener', async () => {
    const errors = listen<WebSocketErrorMessage>(channels.error);
    const accepted: WebSocket[] = [];
    srv = await startServer((req, res) => {
      accepted.push(upgrade(req, res));
    });
    const peer = await RawPeer.open(srv.port, handshakeRequest('/'));
    peer.send(encodeFrame({ opcode: 1, payload: 'not masked', mask: false }));
    expect((await peer.expectClose()).code).toBe(1002);
    await accepted[0]!.closed;
    expect(errors).toHaveLength(1);
    expect(errors[0]!.websocket).toBe(accepted[0]);
    expect(errors[0]!.error).toBe(accepted[0]!.error);
    expect(errors[0]!.error.code).toBe('ERR_UNMASKED_FRAME');
  });

  it('publishes a reset connection, which no error event reports (the close does)', async () => {
    const errors = listen<WebSocketErrorMessage>(channels.error);
    const accepted: WebSocket[] = [];
    srv = await startServer((req, res) => {
      accepted.push(upgrade(req, res));
    });
    const peer = await RawPeer.open(srv.port, handshakeRequest('/'));
    await expect.poll(() => accepted.length).toBe(1);
    peer.socket.resetAndDestroy();
    const info = await accepted[0]!.closed;
    expect(info.error?.code).toBe('ERR_CONNECTION_RESET');
    expect(errors.map((m) => [m.websocket, m.error])).toEqual([[accepted[0], info.error]]);
  });
});

describe('wsup:handshake:refused', () => {
  it("publishes each refusal, upgrade()'s and the router's, with its request, status and code", async () => {
    const refused = listen<HandshakeRefusedMessage>(channels.handshakeRefused);
    const requests = new Map<string, unknown>();
    srv = await startServer(
      (req, res) => {
        requests.set(req.url!, req);
        if (req.url === '/never') return; // a handler that forgets the request: the router's 503
        upgrade(req, res, req.url === '/bad-options' ? { maxPayload: -1 } : {});
      },
      { routing: { maxConnections: 1, upgradeTimeout: 0.05 } },
    );
    const port = srv.port;
    const answer = async (request: string) => {
      const peer = await RawPeer.open(port, request);
      await peer.ended;
      return peer.response!.status;
    };
    expect(await answer('GET /plain HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n')).toBe(426);
    expect(await answer(handshakeRequest('/bad-key', { 'Sec-WebSocket-Key': 'short' }))).toBe(400);
    expect(await answer(handshakeRequest('/post').replace('GET', 'POST'))).toBe(405);
    expect(await answer(handshakeRequest('/foreign', { Origin: 'http://elsewhere.example' }))).toBe(403);
    expect(await answer(handshakeRequest('/bad-options'))).toBe(500);
    expect(await answer(handshakeRequest('/never'))).toBe(503);
    const open = await RawPeer.open(port, handshakeRequest('/open'));
    expect(open.response!.status).toBe(101);
    expect(await answer(handshakeRequest('/over-the-limit'))).toBe(503);
    open.destroy();

    expect(refused.map((m) => [m.status, m.code])).toEqual([
      [426, 'ERR_HANDSHAKE_NOT_UPGRADE'],
      [400, 'ERR_HANDSHAKE_KEY'],
      [405, 'ERR_HANDSHAKE_METHOD'],
      [403, 'ERR_HANDSHAKE_ORIGIN'],
      [500, 'ERR_INVALID_OPTION'],
      [503, 'ERR_UPGRADE_TIMEOUT'],
      [503, 'ERR_TOO_MANY_CONNECTIONS'],
    ]);
    for (const m of refused) {
      expect(m.error).toBeInstanceOf(WebSocketError);
      expect([m.error.code, m.error.status]).toEqual([m.code, m.status]);
    }
    // The request the handler got (the limit refuses before any handler: its own request).
    for (const [i, path] of ['/plain', '/bad-key', '/post', '/foreign', '/bad-options', '/never'].entries()) {
      expect(refused[i]!.request).toBe(requests.get(path));
    }
    expect((refused[6]!.request as IncomingMessage).url).toBe('/over-the-limit');
    expect(srv.router.stats().refusedByStatus).toEqual({ 400: 1, 403: 1, 405: 1, 426: 1, 500: 1, 503: 2 });
  });

  it("publishes and counts refusals over HTTP/2, upgrade()'s and the limit's, in the router of their server", async () => {
    const refused = listen<HandshakeRefusedMessage>(channels.handshakeRefused);
    srv = await startHttp2Server((req, res) => void upgrade(req, res), { routing: { maxConnections: 1 } });
    const session = await rawSession(srv.port);
    try {
      const foreign = await rawRequest(session, extendedConnect(srv.port, '/', { origin: 'http://elsewhere.example' }));
      expect(foreign.headers?.[':status']).toBe(403);
      const client = await connect(`${srv.url}/`, { http2: true });
      const over = await rawRequest(session, extendedConnect(srv.port, '/'));
      expect(over.headers?.[':status']).toBe(503);
      await client.close();
    } finally {
      session.destroy();
    }
    expect(refused.map((m) => [m.status, m.code, m.request.httpVersionMajor])).toEqual([
      [403, 'ERR_HANDSHAKE_ORIGIN', 2],
      [503, 'ERR_TOO_MANY_CONNECTIONS', 2],
    ]);
    expect(srv.router.stats()).toMatchObject({ refused: 2, refusedByStatus: { 403: 1, 503: 1 } });
  });

  it('counts the refusal handshakeRefusal() gives an adapter that answers it the framework’s way', async () => {
    const refused = listen<HandshakeRefusedMessage>(channels.handshakeRefused);
    srv = await startServer((req, res) => {
      const refusal = handshakeRefusal(req);
      res.writeHead(refusal!.error.status!, refusal!.headers).end();
    });
    const peer = await RawPeer.open(srv.port, 'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
    expect(peer.response!.status).toBe(426);
    expect(refused.map((m) => m.status)).toEqual([426]);
    expect(srv.router.stats()).toMatchObject({ refused: 1, refusedByStatus: { 426: 1 } });
  });
});
