/**
 * WebSockets over HTTP/2 (RFC 8441) on wsup's server: an extended CONNECT reaches the ordinary
 * request handler, becomes a WebSocket on its own stream, and the session goes on serving its
 * other streams whatever happens to that one.
 */
import { once } from 'node:events';
import { constants as h2 } from 'node:http2';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import WsClient from 'ws';
import { connect, upgrade, type UpgradeOptions, type WebSocket } from '@wsup/core';
import { encodeFrame } from '../helpers/raw.js';
import { extendedConnect, rawRequest, rawSession, startHttp2Server, type Http2TestServer } from '../helpers/http2-server.js';

let srv: Http2TestServer | undefined;
afterEach(async () => {
  await srv?.close();
  srv = undefined;
});

/** A server whose `/echo` upgrades (with `options`) and echoes; every request is recorded. */
async function echoServer(options: UpgradeOptions = {}, opts: Parameters<typeof startHttp2Server>[1] = {}) {
  const seen: { method: string; httpVersion: string; url: string; pseudoMethod?: unknown }[] = [];
  const accepted: WebSocket[] = [];
  srv = await startHttp2Server((req, res) => {
    seen.push({ method: req.method, httpVersion: req.httpVersion, url: req.url, pseudoMethod: req.headers[':method'] });
    if (req.url === '/page') return void res.end('a page');
    if (req.url === '/private') {
      res.writeHead(401, { 'content-type': 'text/plain' });
      return void res.end('unauthorized');
    }
    const ws = upgrade(req, res, options);
    accepted.push(ws);
    ws.on('message', (m) => ws.send(m.data, m.binary));
  }, opts);
  return { srv, seen, accepted };
}

const masked = (opcode: number, payload: string | Buffer = '') => encodeFrame({ opcode, payload });

describe('the handshake over HTTP/2', () => {
  it('advertises extended CONNECT (SETTINGS_ENABLE_CONNECT_PROTOCOL) on every session', async () => {
    const { srv } = await echoServer();
    const session = await rawSession(srv.port);
    expect(session.remoteSettings.enableConnectProtocol).toBe(true);
    session.destroy();
  });

  it('routes an extended CONNECT into the ordinary handler as a GET, and answers 200 with what was agreed', async () => {
    const { srv, seen } = await echoServer({ subprotocol: ['chat'], compress: true });
    const ws = await connect(`${srv.url}/echo`, { http2: true, subprotocols: ['chat'], compress: true });
    // The request says GET for the routes; its headers keep what the client sent.
    expect(seen).toEqual([{ method: 'GET', httpVersion: '2.0', url: '/echo', pseudoMethod: 'CONNECT' }]);
    expect(ws.protocol).toBe('chat');
    expect(ws.extensions).toMatch(/^permessage-deflate/);
    ws.send('x'.repeat(5000));
    expect((await ws.receive())?.data).toBe('x'.repeat(5000));
    await ws.close();
  });

  it('sends no key or accept: the 200 carries only the agreed fields (RFC 8441 §5)', async () => {
    const { srv } = await echoServer({ subprotocol: 'chat' });
    const session = await rawSession(srv.port);
    const stream = session.request(extendedConnect(srv.port, '/echo', { 'sec-websocket-protocol': 'chat' }), { endStream: false });
    const [headers] = (await once(stream, 'response')) as [Record<string, string>];
    expect(headers[':status']).toBe(200);
    expect(headers['sec-websocket-protocol']).toBe('chat');
    expect(headers['sec-websocket-accept']).toBeUndefined();
    expect(headers.upgrade).toBeUndefined();
    stream.close();
    session.destroy();
  });

  it('one TLS port serves HTTP/1.1 and HTTP/2 clients through the same route (allowHTTP1)', async () => {
    const { srv, seen } = await echoServer({}, { tls: true, allowHTTP1: true });
    const over1 = new WsClient(`${srv.url}/echo`, { ca: srv.cert });
    await once(over1, 'open');
    const over2 = await connect(`${srv.url}/echo`, { http2: true, ca: srv.cert });
    over1.send('one');
    over2.send('two');
    const [reply1] = await once(over1, 'message');
    expect(String(reply1)).toBe('one');
    expect((await over2.receive())?.data).toBe('two');
    expect(seen.map((s) => s.httpVersion).sort()).toEqual(['1.1', '2.0']);
    over1.close();
    await over2.close();
  });
});

describe('refusals are HTTP/2 responses on their stream; the session keeps serving', () => {
  it('answers each bad or refused extended CONNECT, then still upgrades on the same session', async () => {
    const { srv } = await echoServer();
    const session = await rawSession(srv.port);
    const plainGet = await rawRequest(session, { ':path': '/echo' });
    expect(plainGet.headers?.[':status']).toBe(426);
    expect(plainGet.headers?.['sec-websocket-version']).toBe('13');
    expect(plainGet.headers?.upgrade).toBeUndefined();

    const wrongVersion = await rawRequest(session, extendedConnect(srv.port, '/echo', { 'sec-websocket-version': '8' }));
    expect(wrongVersion.headers?.[':status']).toBe(426);
    const badExtensions = await rawRequest(
      session,
      extendedConnect(srv.port, '/echo', { 'sec-websocket-extensions': 'permessage-deflate;;' }),
    );
    expect(badExtensions.headers?.[':status']).toBe(400);
    const otherProtocol = await rawRequest(session, { ...extendedConnect(srv.port, '/echo'), ':protocol': 'webtransport' });
    expect(otherProtocol.headers?.[':status']).toBe(404);

    const unauthorized = await rawRequest(session, extendedConnect(srv.port, '/private'));
    expect(unauthorized.headers?.[':status']).toBe(401);
    expect(unauthorized.body).toBe('unauthorized');
    // A route that answers normally must not send a 2xx, which would mean "the WebSocket is open".
    const page = await rawRequest(session, extendedConnect(srv.port, '/page'));
    expect(page.headers?.[':status']).toBe(405);
    expect(page.body).toBe('a page');

    const ws = await new Promise<Record<string, unknown>>((resolve) => {
      const stream = session.request(extendedConnect(srv.port, '/echo'), { endStream: false });
      stream.once('response', (h) => {
        stream.close();
        resolve(h);
      });
    });
    expect(ws[':status']).toBe(200);
    expect(session.closed).toBe(false);
    session.destroy();
  });

  it('an extended CONNECT to a server that did not advertise it is a stream error (PROTOCOL_ERROR), and the session goes on', async () => {
    srv = await startHttp2Server((_req, res) => res.end('plain'), { route: false });
    const session = await rawSession(srv.port);
    expect(session.remoteSettings.enableConnectProtocol).toBe(false);
    const attempt = await rawRequest(session, extendedConnect(srv.port, '/echo'));
    expect(attempt.headers).toBeUndefined();
    expect(attempt.rstCode).toBe(h2.NGHTTP2_PROTOCOL_ERROR);
    const plain = await rawRequest(session, { ':path': '/' });
    expect(plain.body).toBe('plain');
    session.destroy();
  });

  it('frames sent before the 200 are read as the WebSocket’s first frames; to a refused route they are discarded with the stream', async () => {
    const { srv } = await echoServer();
    const session = await rawSession(srv.port);
    const early = masked(1, 'early');
    const stream = session.request(extendedConnect(srv.port, '/echo'), { endStream: false });
    stream.write(early);
    const [headers] = (await once(stream, 'response')) as [Record<string, string>];
    expect(headers[':status']).toBe(200);
    const [echo] = (await once(stream, 'data')) as [Buffer];
    expect(echo.subarray(2).toString()).toBe('early');
    stream.close();

    const refused = await rawRequest(session, extendedConnect(srv.port, '/private'), masked(1, 'unwanted'));
    expect(refused.headers?.[':status']).toBe(401);
    expect(refused.body).toBe('unauthorized');
    expect(session.closed).toBe(false);
    session.destroy();
  });
});

describe('one WebSocket is one stream', () => {
  it('the close handshake ends the stream normally and leaves the session open', async () => {
    const { srv, accepted } = await echoServer();
    const session = await rawSession(srv.port);
    const stream = session.request(extendedConnect(srv.port, '/echo'), { endStream: false });
    await once(stream, 'response');
    const frames: Buffer[] = [];
    stream.on('data', (d: Buffer) => frames.push(d));
    stream.on('end', () => stream.end());
    stream.write(masked(8, Buffer.from([0x03, 0xe8])));
    await once(stream, 'close');
    expect(Buffer.concat(frames).toString('hex')).toBe('880203e8');
    expect(stream.rstCode).toBe(h2.NGHTTP2_NO_ERROR);
    expect((await accepted[0]!.closed).code).toBe(1000);
    expect(session.closed).toBe(false);
    session.destroy();
  });

  it('a failed WebSocket resets its stream, never the session', async () => {
    const { srv, accepted } = await echoServer();
    const session = await rawSession(srv.port);
    const other = await connect(`${srv.url}/echo`, { http2: true });
    const stream = session.request(extendedConnect(srv.port, '/echo'), { endStream: false });
    await once(stream, 'response');
    stream.on('data', () => {});
    stream.on('error', () => {});
    accepted.at(-1)!.terminate();
    await once(stream, 'close');
    expect(stream.rstCode).toBe(h2.NGHTTP2_CANCEL);
    expect(session.closed).toBe(false);
    other.send('still here');
    expect((await other.receive())?.data).toBe('still here');
    await other.close();
    session.destroy();
  });

  it('a client that resets its stream closes that WebSocket with 1006', async () => {
    const { srv, accepted } = await echoServer();
    const session = await rawSession(srv.port);
    const stream = session.request(extendedConnect(srv.port, '/echo'), { endStream: false });
    await once(stream, 'response');
    stream.on('error', () => {});
    stream.close(h2.NGHTTP2_CANCEL);
    const info = await accepted[0]!.closed;
    expect(info.code).toBe(1006);
    expect(info.wasClean).toBe(false);
    expect(session.closed).toBe(false);
    session.destroy();
  });

  it('HTTP/2 flow control is the backpressure: a server that does not read pushes back on the client', async () => {
    let serverWs: WebSocket | undefined;
    srv = await startHttp2Server((req, res) => {
      serverWs = upgrade(req, res, { receiveHighWaterMark: 64 * 1024 });
    });
    const ws = await connect(`${srv.url}/`, { http2: true });
    const chunk = Buffer.alloc(16 * 1024, 1);
    let sent = 0;
    // The server never reads: once its queue is at the mark it stops reading, the stream's window
    // closes, and the client's writes pile up on its side.
    while (sent < 64 * 1024 * 1024 && !(serverWs?.isPaused && ws.bufferedAmount >= 1024 * 1024)) {
      ws.send(chunk);
      sent += chunk.length;
      // Let the batches go out and the server read, so the window fills for real.
      if (sent % (256 * 1024) === 0) await sleep(5);
    }
    expect(sent).toBeLessThan(64 * 1024 * 1024);
    expect(ws.bufferedAmount).toBeGreaterThanOrEqual(1024 * 1024);
    expect(serverWs!.isPaused).toBe(true);
    expect(serverWs!.queuedAmount).toBeLessThanOrEqual(64 * 1024 + 64 * 1024);
    ws.terminate();
  });

  it('and a client that does not read pushes back on the server: send() returns false, drained() resolves once it reads', async () => {
    let serverWs: WebSocket | undefined;
    srv = await startHttp2Server((req, res) => {
      serverWs = upgrade(req, res, { sendHighWaterMark: 256 * 1024 });
    });
    const session = await rawSession(srv.port);
    const stream = session.request(extendedConnect(srv.port, '/'), { endStream: false });
    await once(stream, 'response');
    stream.pause();
    await expect.poll(() => serverWs).toBeDefined();
    const chunk = Buffer.alloc(64 * 1024, 2);
    let sends = 0;
    while (serverWs!.send(chunk)) if (++sends > 1000) break;
    expect(sends).toBeLessThan(1000);
    const drained = serverWs!.drained();
    stream.resume();
    await drained;
    stream.close();
    session.destroy();
  });
});

describe('many WebSockets, one session', () => {
  it('carries 1,000 WebSockets on one session, each with its own echo', async () => {
    const { srv } = await echoServer();
    const clients = await Promise.all(Array.from({ length: 1000 }, () => connect(`${srv.url}/echo`, { http2: true })));
    expect(srv.sessions).toHaveLength(1);
    expect(srv.router.clients.size).toBe(1000);
    for (const [i, ws] of clients.entries()) ws.send(`n${i}`);
    const replies = await Promise.all(clients.map((ws) => ws.receive()));
    expect(replies.map((m) => m?.data)).toEqual(clients.map((_, i) => `n${i}`));
    await Promise.all(clients.map((ws) => ws.close()));
    await expect.poll(() => srv.router.clients.size).toBe(0);
  }, 60_000);

  it('topics reach subscribers over HTTP/1.1 and HTTP/2 alike', async () => {
    srv = await startHttp2Server(
      (req, res) => {
        const ws = upgrade(req, res);
        ws.subscribe('room');
        ws.send('joined');
      },
      { tls: true, allowHTTP1: true },
    );
    const over1 = new WsClient(`${srv.url}/`, { ca: srv.cert });
    const first = once(over1, 'message');
    await once(over1, 'open');
    await first;
    const over2 = await connect(`${srv.url}/`, { http2: true, ca: srv.cert });
    expect((await over2.receive())?.data).toBe('joined');
    expect(srv.router.hub.publish('room', 'hello both')).toBe(2);
    const [m1] = await once(over1, 'message');
    expect(String(m1)).toBe('hello both');
    expect((await over2.receive())?.data).toBe('hello both');
    over1.close();
    await over2.close();
  });

  it('server.close() sends 1001 to every WebSocket, then GOAWAY to the session', async () => {
    const { srv: server } = await echoServer();
    const srv = server;
    const session = await rawSession(srv.port);
    const goaway = once(session, 'goaway');
    const streams = await Promise.all(
      [1, 2, 3].map(async () => {
        const stream = session.request(extendedConnect(srv.port, '/echo'), { endStream: false });
        await once(stream, 'response');
        const frames: Buffer[] = [];
        stream.on('data', (d: Buffer) => {
          frames.push(d);
          // Answer the server's close frame as a client does, then end our side when it ends.
          if (d[0] === 0x88) stream.write(masked(8, d.subarray(2, 4)));
        });
        stream.on('end', () => stream.end());
        return { stream, frames };
      }),
    );
    const closing = new Promise<void>((resolve) => srv.router.server.close(() => resolve()));
    for (const { stream, frames } of streams) {
      await once(stream, 'close');
      const close = Buffer.concat(frames);
      expect(close[0]).toBe(0x88);
      expect(close.readUInt16BE(2)).toBe(1001);
    }
    await goaway;
    await closing;
  });
});
