/**
 * connect(url, { http2 }) (RFC 8441): WebSockets as extended CONNECT streams of one shared session
 * per origin, 'auto' that follows what the server offers, and typed errors for each way an HTTP/2
 * server can say no.
 */
import { once } from 'node:events';
import { createServer as createHttpsServer } from 'node:https';
import { constants as h2, createServer as createH2Server, type Http2Session } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { connect, createClient, ErrorCode, handleUpgrades, HandshakeResponseError, upgrade, type WebSocketError } from '@wsup/core';
import { startHttp2Server, type Http2TestServer } from '../helpers/http2-server.js';
import { selfSignedCert, startServer } from '../helpers/server.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

async function echo(opts: Parameters<typeof startHttp2Server>[1] = {}): Promise<Http2TestServer & { versions: string[] }> {
  const versions: string[] = [];
  const srv = await startHttp2Server((req, res) => {
    versions.push(req.httpVersion);
    if (req.url === '/private') {
      res.writeHead(403, { 'content-type': 'text/plain' });
      return void res.end('go away');
    }
    const ws = upgrade(req, res);
    ws.on('message', (m) => ws.send(m.data, m.binary));
  }, opts);
  cleanups.push(() => srv.close());
  return Object.assign(srv, { versions });
}

/** A raw HTTP/2 server that advertises extended CONNECT and does `onStream` with each request. */
async function scripted(onStream: (stream: import('node:http2').ServerHttp2Stream, session: Http2Session) => void): Promise<number> {
  const server = createH2Server({ settings: { enableConnectProtocol: true } });
  const sessions = new Set<Http2Session>();
  server.on('session', (s) => sessions.add(s));
  server.on('stream', (stream) => {
    stream.on('error', () => {});
    onStream(stream, stream.session!);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => {
    for (const s of sessions) s.destroy();
    return new Promise((resolve) => server.close(resolve));
  });
  return (server.address() as AddressInfo).port;
}

const failure = (p: Promise<unknown>) =>
  p.then(
    () => expect.unreachable('connect() succeeded'),
    (e: unknown) => e as WebSocketError,
  );

describe('http2: true', () => {
  it('opens WebSockets to one origin as streams of one session, which closes after the last of them', async () => {
    const srv = await echo();
    const sockets = await Promise.all([1, 2, 3].map(() => connect(`${srv.url}/echo`, { http2: true })));
    expect(srv.sessions).toHaveLength(1);
    for (const [i, ws] of sockets.entries()) {
      ws.send(`#${i}`);
      expect((await ws.receive())?.data).toBe(`#${i}`);
    }
    await sockets[0]!.close();
    expect(srv.sessions[0]!.closed).toBe(false);
    await Promise.all(sockets.slice(1).map((ws) => ws.close()));
    await expect.poll(() => srv.sessions[0]!.closed || srv.sessions[0]!.destroyed).toBe(true);
    // The next connection opens a new session.
    const again = await connect(`${srv.url}/echo`, { http2: true });
    expect(srv.sessions).toHaveLength(2);
    await again.close();
  });

  it('many WebSockets on one connected session add no listener to it per connect', async () => {
    const srv = await echo();
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    cleanups.push(() => process.off('warning', onWarning));
    const sockets = [];
    // One after another, so that all but the first find the session connected; past Node's
    // default of 10 listeners a leak would warn.
    for (let i = 0; i < 15; i++) sockets.push(await connect(`${srv.url}/echo`, { http2: true }));
    await new Promise((r) => setImmediate(r));
    expect(srv.sessions).toHaveLength(1);
    expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
    await Promise.all(sockets.map((ws) => ws.close()));
  });

  it('works over TLS (wss:) with the same TLS options as HTTP/1.1', async () => {
    const srv = await echo({ tls: true });
    const ws = await connect(`${srv.url}/echo`, { http2: true, ca: srv.cert });
    ws.send('secure');
    expect((await ws.receive())?.data).toBe('secure');
    await ws.close();
    const err = await failure(connect(`${srv.url}/echo`, { http2: true }));
    expect(err.code).toBe(ErrorCode.TlsFailed);
  });

  it('a refusal is a HandshakeResponseError with the status, headers and body', async () => {
    const srv = await echo();
    const err = await failure(connect(`${srv.url}/private`, { http2: true }));
    expect(err).toBeInstanceOf(HandshakeResponseError);
    expect(err.code).toBe(ErrorCode.NotSwitchingProtocols);
    expect(err.status).toBe(403);
    expect((err as HandshakeResponseError).body).toBe('go away');
    expect((err as HandshakeResponseError).headers['content-type']).toBe('text/plain');
  });

  it('a server that does not advertise extended CONNECT: ERR_HTTP2_NO_EXTENDED_CONNECT', async () => {
    const srv = await startHttp2Server((_req, res) => res.end('no websockets here'), { route: false });
    cleanups.push(() => srv.close());
    const err = await failure(connect(`${srv.url}/`, { http2: true }));
    expect(err.code).toBe(ErrorCode.NoExtendedConnect);
  });

  it('a stream the server refuses: ERR_HTTP2_STREAM_REFUSED', async () => {
    const port = await scripted((stream) => stream.close(h2.NGHTTP2_REFUSED_STREAM));
    const err = await failure(connect(`ws://127.0.0.1:${port}/`, { http2: true }));
    expect(err.code).toBe(ErrorCode.StreamRefused);
  });

  it('a GOAWAY before the stream is answered: ERR_HTTP2_GOAWAY', async () => {
    const port = await scripted((stream, session) => {
      session.goaway(h2.NGHTTP2_NO_ERROR, 0);
      stream.close(h2.NGHTTP2_REFUSED_STREAM);
    });
    const err = await failure(connect(`ws://127.0.0.1:${port}/`, { http2: true }));
    expect(err.code).toBe(ErrorCode.SessionGoingAway);
  });

  it('a server that never answers: ERR_CONNECT_TIMEOUT; an abort: ERR_ABORTED', async () => {
    const port = await scripted(() => {});
    const slow = await failure(connect(`ws://127.0.0.1:${port}/`, { http2: true, timeout: 0.3 }));
    expect(slow.code).toBe(ErrorCode.ConnectTimeout);
    expect(slow.message).toMatch(/extended CONNECT/);
    const ac = new AbortController();
    const pending = failure(connect(`ws://127.0.0.1:${port}/`, { http2: true, signal: ac.signal }));
    setTimeout(() => ac.abort(), 50);
    expect((await pending).code).toBe(ErrorCode.Aborted);
  });

  it('a server that answers 200 with an extension it was not offered: the connection fails (RFC 6455 §4.1)', async () => {
    const port = await scripted((stream) => stream.respond({ ':status': 200, 'sec-websocket-extensions': 'x-unknown' }));
    const err = await failure(connect(`ws://127.0.0.1:${port}/`, { http2: true }));
    expect(err.code).toBe(ErrorCode.ExtensionMismatch);
  });

  it('connection failures keep their HTTP/1.1 codes: nothing listening is ERR_CONNECTION_REFUSED', async () => {
    const srv = await echo();
    const port = srv.port;
    await srv.close();
    cleanups.length = 0;
    const err = await failure(connect(`ws://127.0.0.1:${port}/`, { http2: true }));
    expect(err.code).toBe(ErrorCode.ConnectionRefused);
  });
});

describe("http2: 'auto'", () => {
  it('uses HTTP/2 when the server offers h2 by ALPN and advertises extended CONNECT, reusing its session', async () => {
    const srv = await echo({ tls: true, allowHTTP1: true });
    const a = await connect(`${srv.url}/echo`, { http2: 'auto', ca: srv.cert });
    const b = await connect(`${srv.url}/echo`, { http2: 'auto', ca: srv.cert });
    expect(srv.versions).toEqual(['2.0', '2.0']);
    expect(srv.sessions).toHaveLength(1);
    await Promise.all([a.close(), b.close()]);
  });

  it('falls back to HTTP/1.1 when the server speaks HTTP/2 without extended CONNECT', async () => {
    const cert = selfSignedCert();
    const server = (await import('node:http2')).createSecureServer({ ...cert, allowHTTP1: true });
    const versions: string[] = [];
    // WebSockets only over HTTP/1.1 here: no handleUpgrades, so extended CONNECT is not advertised.
    server.on('upgrade', (req, socket, head) => {
      versions.push(req.httpVersion);
      const ws = upgrade(req, socket, head);
      ws.on('message', (m) => ws.send(m.data));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => server.close(resolve)));
    const ws = await connect(`wss://127.0.0.1:${(server.address() as AddressInfo).port}/`, { http2: 'auto', ca: cert.cert });
    ws.send('over 1.1');
    expect((await ws.receive())?.data).toBe('over 1.1');
    expect(versions).toEqual(['1.1']);
    await ws.close();
  });

  it('uses HTTP/1.1 on the same TLS connection when ALPN chose http/1.1', async () => {
    const cert = selfSignedCert();
    const server = createHttpsServer(cert, (req, res) => {
      const ws = upgrade(req, res);
      ws.on('message', (m) => ws.send(m.data));
    });
    handleUpgrades(server);
    let connections = 0;
    server.on('secureConnection', () => connections++);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => server.close(resolve)));
    const ws = await connect(`wss://127.0.0.1:${(server.address() as AddressInfo).port}/`, { http2: 'auto', ca: cert.cert });
    ws.send('one connection');
    expect((await ws.receive())?.data).toBe('one connection');
    expect(connections).toBe(1);
    ws.terminate();
  });

  it('stays on HTTP/1.1 for ws: (HTTP/2 without TLS needs prior knowledge: http2: true)', async () => {
    const versions: string[] = [];
    const srv = await startServer((req, res) => {
      versions.push(req.httpVersion);
      const ws = upgrade(req, res);
      ws.on('message', (m) => ws.send(m.data));
    });
    cleanups.push(() => srv.close());
    const ws = await connect(`${srv.url}/`, { http2: 'auto' });
    ws.send('plain');
    expect((await ws.receive())?.data).toBe('plain');
    expect(versions).toEqual(['1.1']);
    await ws.close();
  });
});

describe('the reconnecting client over HTTP/2', () => {
  it('reconnects on a new stream after its WebSocket is dropped', async () => {
    const srv = await echo();
    const client = createClient({ http2: true, reconnect: { initialDelay: 0.01, maxDelay: 0.05 } });
    cleanups.push(() => client.close());
    const connections: unknown[] = [];
    client.on('connection', (ws) => connections.push(ws));
    client.connect(`${srv.url}/echo`);
    await expect.poll(() => connections.length).toBe(1);
    for (const ws of srv.router.clients) ws.terminate();
    await expect.poll(() => connections.length, { timeout: 5000 }).toBe(2);
    const [reply] = await Promise.all([once(client, 'receive'), Promise.resolve(client.send('back'))]);
    expect((reply[0] as { data: string }).data).toBe('back');
  });
});
