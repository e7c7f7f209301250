/**
 * connect(url, { agent }): the handshake through an http.Agent, above all an HTTP CONNECT proxy
 * agent (https-proxy-agent) in front of the server, for ws: and wss:, with the same checks and
 * typed errors as the direct path.
 */
import { once } from 'node:events';
import { Agent as HttpAgent, createServer as createHttpServer, type IncomingMessage, type Server } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { connect as netConnect, type AddressInfo, type Socket } from 'node:net';
import { HttpsProxyAgent } from 'https-proxy-agent';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  connect,
  createClient,
  ErrorCode,
  HandshakeResponseError,
  upgrade,
  WebSocketError,
  type Message,
  type WebSocket,
} from '@wsup/core';
import { startRawServer } from '../helpers/raw-server.js';
import { selfSignedCert, startServer, type TestServer } from '../helpers/server.js';

interface Proxy {
  url: string;
  /** The targets of the CONNECT requests it received, in order. */
  tunnels: string[];
  close(): Promise<void>;
}

/**
 * A tiny HTTP CONNECT proxy (RFC 9110 §9.3.6): tunnels to the requested host and port, or answers
 * every CONNECT with `refuse` (a status line and headers), or `'close'`s the connection, or says
 * nothing (`'silent'`).
 */
async function startProxy(behaviour: { refuse?: string; close?: boolean; silent?: boolean } = {}): Promise<Proxy> {
  const tunnels: string[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createHttpServer((_req, res) => res.writeHead(405).end());
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  server.on('connect', (req: IncomingMessage, client: Socket, head: Buffer) => {
    tunnels.push(req.url!);
    client.on('error', () => {});
    if (behaviour.silent) return;
    if (behaviour.close) return void client.destroy();
    if (behaviour.refuse) return void client.end(`HTTP/1.1 ${behaviour.refuse}\r\nContent-Length: 0\r\n\r\n`);
    const colon = req.url!.lastIndexOf(':');
    const upstream = netConnect(Number(req.url!.slice(colon + 1)), req.url!.slice(0, colon).replace(/^\[|\]$/g, ''), () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    sockets.add(upstream);
    upstream.on('error', () => client.destroy());
    upstream.once('close', () => {
      sockets.delete(upstream);
      client.destroy();
    });
    client.once('close', () => upstream.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    tunnels,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

async function echo(ws: WebSocket): Promise<void> {
  for await (const msg of ws) ws.send(msg.data, msg.binary);
}

let cert: { key: string; cert: string };
let plain: TestServer;
let secure: TestServer;
beforeAll(async () => {
  cert = selfSignedCert();
  plain = await startServer((req, res) => echo(upgrade(req, res)));
  secure = await startServer((req, res) => echo(upgrade(req, res)), { tls: cert });
});
afterAll(async () => {
  await plain.close();
  await secure.close();
});

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});
async function proxy(behaviour?: Parameters<typeof startProxy>[0]): Promise<Proxy> {
  const p = await startProxy(behaviour);
  cleanups.push(() => p.close());
  return p;
}

async function roundTrip(ws: WebSocket, text: string): Promise<void> {
  ws.send(text);
  expect((await ws.receive(5))?.data).toBe(text);
  await ws.close();
}

const failure = (p: Promise<unknown>) =>
  p.then(
    () => expect.unreachable('connect() succeeded'),
    (e: unknown) => e as WebSocketError,
  );

describe('through an HTTP CONNECT proxy agent', () => {
  it('reaches a ws:// server through the tunnel and echoes', async () => {
    const p = await proxy();
    const ws = await connect(`${plain.url}/chat`, { agent: new HttpsProxyAgent(p.url) });
    expect(p.tunnels).toEqual([`127.0.0.1:${plain.port}`]);
    await roundTrip(ws, 'through the proxy');
  });

  it('reaches a wss:// server through the tunnel, TLS end to end, and echoes', async () => {
    const p = await proxy();
    const ws = await connect(secure.url, { agent: new HttpsProxyAgent(p.url), ca: cert.cert });
    expect(p.tunnels).toEqual([`127.0.0.1:${secure.port}`]);
    await roundTrip(ws, 'through the proxy, over TLS');
  });

  it('checks the server certificate at the end of the tunnel', async () => {
    const p = await proxy();
    const err = await failure(connect(secure.url, { agent: new HttpsProxyAgent(p.url) }));
    expect(err).toBeInstanceOf(WebSocketError);
    expect(err.code).toBe(ErrorCode.TlsFailed);
    expect(p.tunnels).toHaveLength(1);
  });

  it('fails with a HandshakeResponseError carrying 407 when the proxy wants credentials', async () => {
    const p = await proxy({ refuse: '407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="test"' });
    const err = await failure(connect(plain.url, { agent: new HttpsProxyAgent(p.url) }));
    expect(err).toBeInstanceOf(HandshakeResponseError);
    expect(err.code).toBe(ErrorCode.NotSwitchingProtocols);
    expect(err.status).toBe(407);
    expect((err as HandshakeResponseError).headers['proxy-authenticate']).toBe('Basic realm="test"');
    expect(err.message).toContain('proxy');
    expect(p.tunnels).toHaveLength(1);
  });

  it('fails with the refusal status when the proxy forbids the tunnel', async () => {
    const p = await proxy({ refuse: '403 Forbidden' });
    const err = await failure(connect(secure.url, { agent: new HttpsProxyAgent(p.url), ca: cert.cert }));
    expect(err).toBeInstanceOf(HandshakeResponseError);
    expect(err.status).toBe(403);
  });

  it('fails with ERR_CONNECTION_REFUSED naming the proxy when nothing listens there', async () => {
    const p = await startProxy();
    await p.close();
    const err = await failure(connect(plain.url, { agent: new HttpsProxyAgent(p.url) }));
    expect(err.code).toBe(ErrorCode.ConnectionRefused);
    expect(err.message).toContain(p.url.slice('http://'.length));
  });

  it('fails with a typed error when the proxy drops the connection', async () => {
    const p = await proxy({ close: true });
    const err = await failure(connect(plain.url, { agent: new HttpsProxyAgent(p.url) }));
    expect(err).toBeInstanceOf(WebSocketError);
    expect(err.code).toBe(ErrorCode.ConnectFailed);
  });

  it('is aborted by its signal while the proxy has not answered', async () => {
    const p = await proxy({ silent: true });
    const ac = new AbortController();
    const pending = failure(connect(plain.url, { agent: new HttpsProxyAgent(p.url), signal: ac.signal }));
    while (p.tunnels.length === 0) await new Promise((resolve) => setImmediate(resolve));
    ac.abort();
    const err = await pending;
    expect(err.code).toBe(ErrorCode.Aborted);
  });

  it('times out with ERR_CONNECT_TIMEOUT when the proxy never answers', async () => {
    const p = await proxy({ silent: true });
    const err = await failure(connect(plain.url, { agent: new HttpsProxyAgent(p.url), timeout: 0.2 }));
    expect(err.code).toBe(ErrorCode.ConnectTimeout);
  });

  it('works for the reconnecting client too', async () => {
    const p = await proxy();
    const client = createClient({ agent: new HttpsProxyAgent(p.url) });
    cleanups.push(() => client.close());
    client.connect(plain.url);
    await once(client, 'connection');
    const received = once(client, 'receive') as Promise<[Message]>;
    client.send('via createClient');
    expect((await received)[0].data).toBe('via createClient');
    expect(p.tunnels).toEqual([`127.0.0.1:${plain.port}`]);
  });
});

describe('through a plain agent', () => {
  it('connects with new http.Agent({ keepAlive: false }) and echoes', async () => {
    const agent = new HttpAgent({ keepAlive: false });
    cleanups.push(() => agent.destroy());
    await roundTrip(await connect(plain.url, { agent }), 'plain agent');
  });

  it('connects over wss: with an https.Agent, the TLS options applying', async () => {
    const agent = new HttpsAgent({ keepAlive: true });
    cleanups.push(() => agent.destroy());
    await roundTrip(await connect(secure.url, { agent, ca: cert.cert }), 'https agent');
    // An upgraded socket leaves the agent's pool: it belongs to the WebSocket.
    expect(Object.keys(agent.freeSockets)).toEqual([]);
  });

  it('sends the handshake the direct path sends: subprotocols, origin and extra headers', async () => {
    const raw = await startRawServer((c) => c.write(c.accept101('Sec-WebSocket-Protocol: b\r\n')));
    cleanups.push(() => raw.close());
    const ws = await connect(`${raw.url}/path?q=1`, {
      agent: new HttpAgent(),
      subprotocols: ['a', 'b'],
      origin: 'https://example.test',
      headers: { 'X-Token': 'secret', 'x-token': 'again' },
      compress: true,
    });
    expect(ws.protocol).toBe('b');
    const { request } = raw.connections[0]!;
    expect(request.requestLine).toBe('GET /path?q=1 HTTP/1.1');
    expect(request.headers).toMatchObject({
      host: `127.0.0.1:${raw.port}`,
      upgrade: 'websocket',
      connection: 'Upgrade',
      'sec-websocket-version': '13',
      'sec-websocket-protocol': 'a, b',
      origin: 'https://example.test',
      'x-token': 'secret, again',
    });
    expect(request.headers['sec-websocket-extensions']).toContain('permessage-deflate');
    ws.terminate();
  });

  it('reads frames that arrive with the 101', async () => {
    const raw = await startRawServer((c) => c.write(Buffer.concat([Buffer.from(c.accept101()), Buffer.from([0x81, 0x02, 0x68, 0x69])])));
    cleanups.push(() => raw.close());
    const ws = await connect(raw.url, { agent: new HttpAgent() });
    expect((await ws.receive(5))?.data).toBe('hi');
    ws.terminate();
  });

  it('applies the same 101 checks: a wrong accept key is ERR_BAD_ACCEPT_KEY', async () => {
    const raw = await startRawServer((c) =>
      c.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: nope\r\n\r\n'),
    );
    cleanups.push(() => raw.close());
    const err = await failure(connect(raw.url, { agent: new HttpAgent() }));
    expect(err).toBeInstanceOf(HandshakeResponseError);
    expect(err.code).toBe(ErrorCode.BadAcceptKey);
  });

  it('applies the same 101 checks: a 101 without Upgrade is ERR_RESPONSE_UPGRADE', async () => {
    const raw = await startRawServer((c) =>
      c.write(`HTTP/1.1 101 Switching Protocols\r\nSec-WebSocket-Accept: ${c.request.accept}\r\n\r\n`),
    );
    cleanups.push(() => raw.close());
    const err = await failure(connect(raw.url, { agent: new HttpAgent() }));
    expect(err.code).toBe(ErrorCode.ResponseUpgrade);
  });

  it('turns a refusal into a HandshakeResponseError with the start of its (chunked) body', async () => {
    const raw = await startRawServer((c) =>
      c.socket.end('HTTP/1.1 401 Unauthorized\r\nTransfer-Encoding: chunked\r\nX-Why: token\r\n\r\n5\r\nlog i\r\n4\r\nn!!!\r\n0\r\n\r\n'),
    );
    cleanups.push(() => raw.close());
    const err = (await failure(connect(raw.url, { agent: new HttpAgent() }))) as HandshakeResponseError;
    expect(err).toBeInstanceOf(HandshakeResponseError);
    expect(err.code).toBe(ErrorCode.NotSwitchingProtocols);
    expect(err.status).toBe(401);
    expect(err.headers['x-why']).toBe('token');
    expect(err.body).toBe('log in!!!');
  });

  it('refuses a response head over maxHeaderSize with ERR_RESPONSE_HEAD_TOO_LARGE', async () => {
    const raw = await startRawServer((c) => c.write(c.accept101(`X-Big: ${'a'.repeat(4000)}\r\n`)));
    cleanups.push(() => raw.close());
    const err = await failure(connect(raw.url, { agent: new HttpAgent(), maxHeaderSize: 1024 }));
    expect(err.code).toBe(ErrorCode.ResponseHeadTooLarge);
  });

  it('fails with ERR_CONNECTION_REFUSED when nothing listens', async () => {
    const raw = await startRawServer(() => {});
    const url = raw.url;
    await raw.close();
    const err = await failure(connect(url, { agent: new HttpAgent() }));
    expect(err.code).toBe(ErrorCode.ConnectionRefused);
  });
});

describe('agent option mistakes', () => {
  it.each([
    ['an agent that is not an http.Agent', { agent: {} as never }],
    ['an agent with http2: true', { agent: new HttpAgent(), http2: true as const }],
    ["an agent with http2: 'auto'", { agent: new HttpAgent(), http2: 'auto' as const }],
  ])('rejects %s with ERR_INVALID_OPTION', async (_what, options) => {
    const err = (await failure(connect(plain.url, options))) as unknown as TypeError & { code: string };
    expect(err).toBeInstanceOf(TypeError);
    expect(err.code).toBe(ErrorCode.InvalidOption);
  });

  it('rejects an http.Agent for a wss: URL with ERR_INVALID_OPTION', async () => {
    const err = (await failure(connect(secure.url, { agent: new HttpAgent(), ca: cert.cert }))) as unknown as TypeError & { code: string };
    expect(err).toBeInstanceOf(TypeError);
    expect(err.code).toBe(ErrorCode.InvalidOption);
    expect(err.message).toContain('https.Agent');
  });
});
