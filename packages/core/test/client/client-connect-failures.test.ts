import { createServer, type AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { connect, ErrorCode, WebSocketError, type ConnectOptions } from '@wsup/core';
import { startRawServer } from '../helpers/raw-server.js';

async function rejection(url: string | URL, options?: ConnectOptions): Promise<Error & { code?: string }> {
  return connect(url, options).then(
    (ws) => {
      ws.terminate();
      throw new Error('connect() resolved');
    },
    (e: unknown) => e as Error & { code?: string },
  );
}

/** A port nothing listens on: one that was just listened on and closed. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('URLs', () => {
  it.each([
    ['not a url'],
    ['http://127.0.0.1/'],
    ['https://127.0.0.1/'],
    ['ftp://127.0.0.1/'],
    ['ws://'],
    ['ws://[::1/'],
    ['ws://127.0.0.1/#fragment'],
    ['ws://user:secret@127.0.0.1/'],
    [''],
  ])('refuses %j with ERR_INVALID_URL', async (url) => {
    const err = await rejection(url);
    expect(err).toBeInstanceOf(WebSocketError);
    expect(err.code).toBe(ErrorCode.InvalidUrl);
  });

  it('refuses a URL object with another scheme', async () => {
    expect((await rejection(new URL('http://127.0.0.1/'))).code).toBe(ErrorCode.InvalidUrl);
  });

  it('refuses something that is not a URL at all', async () => {
    expect((await rejection(42 as unknown as string)).code).toBe(ErrorCode.InvalidUrl);
  });

  it.each([
    ['ws://127.0.0.1:0/'],
    ['ws://127.0.0.1:65536/'],
    ['ws://127.0.0.1:99999/'],
    ['ws://127.0.0.1:-1/'],
    ['ws://127.0.0.1:http/'],
    ['wss://[::1]:70000/'],
  ])('refuses %j with ERR_INVALID_PORT', async (url) => {
    const err = await rejection(url);
    expect(err).toBeInstanceOf(WebSocketError);
    expect(err.code).toBe(ErrorCode.InvalidPort);
  });

  it('refuses port 0 in a URL object', async () => {
    expect((await rejection(new URL('ws://127.0.0.1:0/'))).code).toBe(ErrorCode.InvalidPort);
  });

  it('accepts a URL object', async () => {
    const srv = await startRawServer((c) => c.write(c.accept101()));
    const ws = await connect(new URL(`${srv.url}/path?q=1`));
    expect(srv.connections[0]!.request.requestLine).toBe('GET /path?q=1 HTTP/1.1');
    ws.terminate();
    await srv.close();
  });
});

describe('network failures', () => {
  it('reports a name that does not resolve as ERR_DNS_LOOKUP, with the resolver error as cause', async () => {
    const err = await rejection('ws://no-such-host.invalid/');
    expect(err).toBeInstanceOf(WebSocketError);
    expect(err.code).toBe(ErrorCode.DnsLookupFailed);
    expect(err.cause).toBeInstanceOf(Error);
    expect((err.cause as { syscall?: string }).syscall).toBe('getaddrinfo');
  });

  it('reports a closed port as ERR_CONNECTION_REFUSED', async () => {
    const port = await closedPort();
    const err = await rejection(`ws://127.0.0.1:${port}/`);
    expect(err.code).toBe(ErrorCode.ConnectionRefused);
    expect((err.cause as { code?: string }).code).toBe('ECONNREFUSED');
  });

  it('reports a refused connection to a name too (localhost)', async () => {
    const port = await closedPort();
    expect((await rejection(`ws://localhost:${port}/`)).code).toBe(ErrorCode.ConnectionRefused);
  });
});

describe('AbortSignal', () => {
  it('rejects at once with ERR_ABORTED when the signal is already aborted', async () => {
    const srv = await startRawServer((c) => c.write(c.accept101()));
    const reason = new Error('changed my mind');
    const err = await rejection(srv.url, { signal: AbortSignal.abort(reason) });
    expect(err.code).toBe(ErrorCode.Aborted);
    expect(err.cause).toBe(reason);
    expect(srv.connections).toHaveLength(0);
    await srv.close();
  });

  it('aborts an attempt in progress and closes its socket', async () => {
    const srv = await startRawServer(undefined, { silent: true });
    const ac = new AbortController();
    const closed = new Promise<void>((resolve) => srv.server.once('connection', (s) => s.once('close', () => resolve())));
    const pending = rejection(srv.url, { signal: ac.signal });
    await new Promise((resolve) => srv.server.once('connection', resolve));
    ac.abort();
    const err = await pending;
    expect(err.code).toBe(ErrorCode.Aborted);
    await closed;
    await srv.close();
  });

  it('has no effect once the connection is open', async () => {
    const srv = await startRawServer((c) => c.write(c.accept101()));
    const ac = new AbortController();
    const ws = await connect(srv.url, { signal: ac.signal });
    ac.abort();
    expect(ws.readyState).toBe(1);
    expect(ws.send('still open')).toBe(true);
    const frame = await srv.connections[0]!.nextFrame();
    expect(frame?.payload.toString()).toBe('still open');
    ws.terminate();
    await srv.close();
  });
});

describe('options', () => {
  const url = 'ws://127.0.0.1:9/';
  it.each<[string, ConnectOptions]>([
    ['a header value with CRLF', { headers: { 'X-A': 'a\r\nInjected: yes' } }],
    ['a header value with LF', { headers: { 'X-A': 'a\nb' } }],
    ['a header name that is not a token', { headers: { 'X A': 'b' } }],
    ['a header that is not a string', { headers: { 'X-A': {} as unknown as string } }],
    ['Sec-WebSocket-Key in headers', { headers: { 'Sec-WebSocket-Key': 'x' } }],
    ['Upgrade in headers', { headers: { upgrade: 'x' } }],
    ['Connection in headers', { headers: { Connection: 'close' } }],
    ['Host in headers', { headers: { Host: 'elsewhere' } }],
    ['Origin in headers', { headers: { Origin: 'x' } }],
    ['Sec-WebSocket-Protocol in headers', { headers: { 'sec-websocket-protocol': 'x' } }],
    ['Content-Length in headers', { headers: { 'Content-Length': '5' } }],
    ['an invalid subprotocol', { subprotocols: ['has space'] }],
    ['a repeated subprotocol', { subprotocols: ['a', 'a'] }],
    ['subprotocols and protocols together', { subprotocols: 'a', protocols: 'b' }],
    ['an origin with CRLF', { origin: 'http://a\r\nx: y' }],
    ['a zero timeout', { timeout: 0 }],
    ['a negative timeout', { timeout: -1 }],
    ['a timeout that is not a number', { timeout: '5' as unknown as number }],
    ['a signal that is not an AbortSignal', { signal: {} as AbortSignal }],
    ['insecure that is not a boolean', { insecure: 'yes' as unknown as boolean }],
    ['insecure with rejectUnauthorized: true', { insecure: true, rejectUnauthorized: true }],
    ['a fractional maxHeaderSize', { maxHeaderSize: 10.5 }],
    ['an invalid maxPayload (a shared WebSocket option)', { maxPayload: -1 }],
    ['a compress level out of range', { compress: { level: 12 } }],
    ['an unknown compress option', { compress: { windowBits: 10 } as never }],
    ['a compress that is not a boolean', { compress: 'yes' as unknown as boolean }],
  ])('rejects %s with ERR_INVALID_OPTION', async (_what, options) => {
    const err = await rejection(url, options);
    expect(err).toBeInstanceOf(err instanceof RangeError ? RangeError : TypeError);
    expect(err.code).toBe(ErrorCode.InvalidOption);
  });

  it('rejects malformed TLS options with ERR_INVALID_OPTION', async () => {
    const err = await rejection('wss://127.0.0.1:9/', { ca: 42 as never });
    expect(err).toBeInstanceOf(TypeError);
    expect(err.code).toBe(ErrorCode.InvalidOption);
  });

  it('accepts compress: false', async () => {
    const srv = await startRawServer((c) => c.write(c.accept101()));
    const ws = await connect(srv.url, { compress: false });
    expect(ws.extensions).toBe('');
    ws.terminate();
    await srv.close();
  });

  it('passes the shared WebSocket options to the connection', async () => {
    const srv = await startRawServer((c) => {
      c.write(c.accept101());
      c.write(Buffer.from([0x82, 0x7e, 0x00, 200, ...Buffer.alloc(200)]));
    });
    const ws = await connect(srv.url, { maxPayload: 100 });
    const info = await ws.closed;
    expect(info.code).toBe(1009);
    await srv.close();
  });
});
