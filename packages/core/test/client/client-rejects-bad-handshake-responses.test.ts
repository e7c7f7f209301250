import { afterEach, describe, expect, it } from 'vitest';
import { BODY_EXCERPT_BYTES, connect, ErrorCode, HandshakeResponseError, WebSocketError, type ConnectOptions } from '@wsup/core';
import { startRawServer, type RawConnection, type RawServer } from '../helpers/raw-server.js';

let srv: RawServer | undefined;
afterEach(async () => {
  await srv?.close();
  srv = undefined;
});

/** Connects to a raw server that answers every request with `answer(conn)`; returns the rejection. */
async function failure(answer: (conn: RawConnection) => void, options?: ConnectOptions): Promise<WebSocketError> {
  srv = await startRawServer(answer);
  const err = await connect(srv.url, options).then(
    (ws) => {
      ws.terminate();
      throw new Error('connect() resolved');
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(WebSocketError);
  return err as WebSocketError;
}

describe('the 101 response is checked', () => {
  it('refuses a wrong Sec-WebSocket-Accept', async () => {
    const err = await failure((c) =>
      c.write(
        'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n',
      ),
    );
    expect(err.code).toBe(ErrorCode.BadAcceptKey);
    expect(err).toBeInstanceOf(HandshakeResponseError);
    expect(err.status).toBe(101);
  });

  it('refuses a missing Sec-WebSocket-Accept', async () => {
    const err = await failure((c) => c.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n'));
    expect(err.code).toBe(ErrorCode.BadAcceptKey);
  });

  it('refuses two Sec-WebSocket-Accept headers, even if one is right', async () => {
    const err = await failure((c) => c.write(c.accept101('Sec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n')));
    expect(err.code).toBe(ErrorCode.BadAcceptKey);
  });

  it('refuses a 101 without Upgrade', async () => {
    const err = await failure((c) =>
      c.write(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${c.request.accept}\r\n\r\n`),
    );
    expect(err.code).toBe(ErrorCode.ResponseUpgrade);
    expect(err.message).toMatch(/no Upgrade header/);
  });

  it('refuses a 101 upgrading to something else', async () => {
    const err = await failure((c) =>
      c.write(
        `HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${c.request.accept}\r\n\r\n`,
      ),
    );
    expect(err.code).toBe(ErrorCode.ResponseUpgrade);
  });

  it('refuses a 101 whose Connection header lacks upgrade', async () => {
    const err = await failure((c) =>
      c.write(
        `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: keep-alive\r\nSec-WebSocket-Accept: ${c.request.accept}\r\n\r\n`,
      ),
    );
    expect(err.code).toBe(ErrorCode.ResponseConnection);
  });

  it('accepts header names and the upgrade tokens in any case, and Connection as a list', async () => {
    srv = await startRawServer((c) =>
      c.write(
        `HTTP/1.1 101 Switching Protocols\r\nupgrade: WebSocket\r\nCONNECTION: keep-alive, UPGRADE\r\nsec-websocket-accept: ${c.request.accept}\r\n\r\n`,
      ),
    );
    const ws = await connect(srv.url);
    expect(ws.readyState).toBe(1);
    ws.terminate();
  });

  it('refuses a subprotocol when none was offered', async () => {
    const err = await failure((c) => c.write(c.accept101('Sec-WebSocket-Protocol: chat\r\n')));
    expect(err.code).toBe(ErrorCode.SubprotocolMismatch);
  });

  it('refuses a subprotocol that was not among those offered', async () => {
    const err = await failure((c) => c.write(c.accept101('Sec-WebSocket-Protocol: mqtt\r\n')), { subprotocols: ['chat', 'v2'] });
    expect(err.code).toBe(ErrorCode.SubprotocolMismatch);
    expect(err.message).toMatch(/mqtt/);
  });

  it('refuses a list of subprotocols in the answer', async () => {
    const err = await failure((c) => c.write(c.accept101('Sec-WebSocket-Protocol: chat, v2\r\n')), { subprotocols: ['chat', 'v2'] });
    expect(err.code).toBe(ErrorCode.SubprotocolMismatch);
  });

  it('refuses an extension that was not offered', async () => {
    const err = await failure((c) => c.write(c.accept101('Sec-WebSocket-Extensions: permessage-deflate\r\n')));
    expect(err.code).toBe(ErrorCode.ExtensionMismatch);
    expect(err.message).toMatch(/permessage-deflate/);
  });

  it('refuses a malformed extensions answer', async () => {
    const err = await failure((c) => c.write(c.accept101('Sec-WebSocket-Extensions: ;;\r\n')));
    expect(err.code).toBe(ErrorCode.ExtensionMismatch);
  });

  it('refuses a 101 over HTTP/1.0', async () => {
    const err = await failure((c) => c.write(c.accept101().replace('HTTP/1.1', 'HTTP/1.0')));
    expect(err.code).toBe(ErrorCode.MalformedResponse);
  });

  it('offers nothing it cannot handle: no Sec-WebSocket-Extensions in the request', async () => {
    srv = await startRawServer((c) => c.write(c.accept101()));
    const ws = await connect(srv.url);
    const req = srv.connections[0]!.request;
    expect(req.headers['sec-websocket-extensions']).toBeUndefined();
    expect(req.requestLine).toBe('GET / HTTP/1.1');
    expect(req.headers['sec-websocket-version']).toBe('13');
    expect(Buffer.from(req.headers['sec-websocket-key']!, 'base64')).toHaveLength(16);
    ws.terminate();
  });

  it('sends a different key on every connection', async () => {
    srv = await startRawServer((c) => c.write(c.accept101()));
    const a = await connect(srv.url);
    const b = await connect(srv.url);
    expect(srv.connections[0]!.request.headers['sec-websocket-key']).not.toBe(srv.connections[1]!.request.headers['sec-websocket-key']);
    a.terminate();
    b.terminate();
  });
});

describe('a server that does not switch protocols', () => {
  it('gives the status and the body on the error', async () => {
    const err = await failure((c) => {
      const body = 'only GET /chat is a WebSocket';
      c.write(`HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    });
    expect(err.code).toBe(ErrorCode.NotSwitchingProtocols);
    expect(err.status).toBe(200);
    expect((err as HandshakeResponseError).body).toBe('only GET /chat is a WebSocket');
    expect((err as HandshakeResponseError).headers['content-type']).toBe('text/plain');
    expect(err.message).toMatch(/200 OK/);
  });

  it('keeps only the start of a long body', async () => {
    const body = 'ab'.repeat(10_000);
    const err = (await failure((c) =>
      c.write(`HTTP/1.1 404 Not Found\r\nContent-Length: ${body.length}\r\n\r\n${body}`),
    )) as HandshakeResponseError;
    expect(err.status).toBe(404);
    expect(err.body.length).toBeLessThanOrEqual(BODY_EXCERPT_BYTES);
    expect(err.body.length).toBeGreaterThan(100);
    expect(body.startsWith(err.body)).toBe(true);
  });

  it('does not cut a character in half at the excerpt limit', async () => {
    const body = `a${'€'.repeat(400)}`;
    const err = (await failure((c) =>
      c.write(`HTTP/1.1 500 Oops\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`),
    )) as HandshakeResponseError;
    expect(err.body).not.toContain('\ufffd');
    expect(body.startsWith(err.body)).toBe(true);
  });

  it('decodes a chunked body', async () => {
    const err = (await failure((c) =>
      c.write('HTTP/1.1 403 Forbidden\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n7\r\n, world\r\n0\r\n\r\n'),
    )) as HandshakeResponseError;
    expect(err.status).toBe(403);
    expect(err.body).toBe('hello, world');
  });

  it('reads a body without a length until the connection ends', async () => {
    const err = (await failure((c) => {
      c.write('HTTP/1.0 503 Service Unavailable\r\n\r\nbusy, ');
      setTimeout(() => c.socket.end('try later'), 20);
    })) as HandshakeResponseError;
    expect(err.status).toBe(503);
    expect(err.body).toBe('busy, try later');
  });

  it('reports the status even when the body never comes', async () => {
    const err = (await failure((c) => c.write('HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer\r\nContent-Length: 100\r\n\r\nnope'), {
      timeout: 0.3,
    })) as HandshakeResponseError;
    expect(err.code).toBe(ErrorCode.NotSwitchingProtocols);
    expect(err.status).toBe(401);
    expect(err.body).toBe('nope');
    expect(err.headers['www-authenticate']).toBe('Bearer');
  });

  it('keeps the Location of a redirect (it is not followed)', async () => {
    const err = (await failure((c) =>
      c.write('HTTP/1.1 301 Moved Permanently\r\nLocation: ws://elsewhere/\r\nContent-Length: 0\r\n\r\n'),
    )) as HandshakeResponseError;
    expect(err.status).toBe(301);
    expect(err.headers.location).toBe('ws://elsewhere/');
    expect(err.body).toBe('');
  });

  it('skips interim 1xx responses before the 101', async () => {
    srv = await startRawServer((c) =>
      c.write(`HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n${c.accept101()}`),
    );
    const ws = await connect(srv.url);
    expect(ws.readyState).toBe(1);
    ws.terminate();
  });
});

describe('a broken or silent server', () => {
  it('times out when the server accepts the connection and never answers', async () => {
    srv = await startRawServer(undefined, { silent: true });
    const err = await connect(srv.url, { timeout: 1 }).catch((e: unknown) => e as WebSocketError);
    expect(err).toBeInstanceOf(WebSocketError);
    expect((err as WebSocketError).code).toBe(ErrorCode.ConnectTimeout);
    expect((err as WebSocketError).message).toMatch(/101 response/);
  });

  it('times out on a response head that stops halfway', async () => {
    const err = await failure((c) => c.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: webs'), { timeout: 0.2 });
    expect(err.code).toBe(ErrorCode.ConnectTimeout);
  });

  it('fails when the server closes before answering', async () => {
    const err = await failure((c) => c.socket.end());
    expect(err.code).toBe(ErrorCode.HandshakeClosed);
  });

  it('fails when the server closes in the middle of the response head', async () => {
    const err = await failure((c) => c.socket.end('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n'));
    expect(err.code).toBe(ErrorCode.HandshakeClosed);
  });

  it('fails when the server resets the connection during the handshake', async () => {
    const err = await failure((c) => c.socket.resetAndDestroy());
    expect(err.code).toBe(ErrorCode.HandshakeClosed);
    expect(err.cause).toBeDefined();
  });

  it('stops reading an endless response head at the limit', async () => {
    const err = await failure((c) => {
      c.write('HTTP/1.1 101 Switching Protocols\r\n');
      const pad = `X-Pad: ${'a'.repeat(1000)}\r\n`;
      const pump = () => {
        while (!c.socket.destroyed && c.socket.write(pad));
        if (!c.socket.destroyed) c.socket.once('drain', pump);
      };
      pump();
    });
    expect(err.code).toBe(ErrorCode.ResponseHeadTooLarge);
  });

  it('applies maxHeaderSize', async () => {
    const err = await failure((c) => c.write(c.accept101(`X-Big: ${'b'.repeat(2000)}\r\n`)), { maxHeaderSize: 1024 });
    expect(err.code).toBe(ErrorCode.ResponseHeadTooLarge);
  });

  it('refuses something that is not HTTP', async () => {
    const err = await failure((c) => c.write('SSH-2.0-OpenSSH_9.2p1\r\n\r\n'));
    expect(err.code).toBe(ErrorCode.MalformedResponse);
  });

  it('refuses a malformed header line', async () => {
    const err = await failure((c) => c.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade websocket\r\n\r\n`));
    expect(err.code).toBe(ErrorCode.MalformedResponse);
  });

  it('refuses a header value with a stray CR', async () => {
    const err = await failure((c) => c.write(c.accept101('X-Evil: a\rb\r\n')));
    expect(err.code).toBe(ErrorCode.MalformedResponse);
  });
});
