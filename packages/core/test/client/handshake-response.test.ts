/**
 * ws.handshakeResponse: the status and headers of the response that opened a client WebSocket
 * (the 101 over HTTP/1.1, direct or through an agent; the 200 over HTTP/2), shaped as Node shapes
 * IncomingMessage.headers; undefined for server-side WebSockets.
 */
import { Agent as HttpAgent } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { connect, type HandshakeResponse, upgrade, type UpgradeOptions, type WebSocket } from '@wsup/core';
import { startHttp2Server } from '../helpers/http2-server.js';
import { startRawServer } from '../helpers/raw-server.js';
import { startServer } from '../helpers/server.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

const extra: UpgradeOptions = { headers: { 'X-Custom': 'yes', 'Set-Cookie': ['session=abc; HttpOnly', 'theme=dark'] } };

/** A server that adds `extra` headers to its answer and records its own WebSockets. */
async function server(): Promise<{ url: string; accepted: WebSocket[] }> {
  const accepted: WebSocket[] = [];
  const srv = await startServer((req, res) => {
    accepted.push(upgrade(req, res, extra));
  });
  cleanups.push(() => srv.close());
  return { url: srv.url, accepted };
}

function withoutAccept(response: HandshakeResponse | undefined): Record<string, unknown> {
  const { 'sec-websocket-accept': accept, ...rest } = response!.headers;
  expect(accept).toMatch(/^[A-Za-z0-9+/]{27}=$/);
  return rest;
}

describe('over HTTP/1.1', () => {
  it('gives the 101 status, reason and headers, custom fields and Set-Cookie included', async () => {
    const { url } = await server();
    const ws = await connect(url);
    expect(ws.handshakeResponse).toMatchObject({
      status: 101,
      statusText: 'Switching Protocols',
      httpVersion: '1.1',
      headers: { upgrade: 'websocket', connection: 'Upgrade', 'x-custom': 'yes', 'set-cookie': ['session=abc; HttpOnly', 'theme=dark'] },
    });
    ws.terminate();
  });

  it('gives the same response through an agent', async () => {
    const { url } = await server();
    const direct = await connect(url);
    const viaAgent = await connect(url, { agent: new HttpAgent() });
    expect(viaAgent.handshakeResponse).toMatchObject({ status: 101, statusText: 'Switching Protocols', httpVersion: '1.1' });
    expect(withoutAccept(viaAgent.handshakeResponse)).toEqual(withoutAccept(direct.handshakeResponse));
    direct.terminate();
    viaAgent.terminate();
  });

  it('shapes repeated fields as Node does, so the direct path and an agent agree', async () => {
    const repeated =
      'X-Multi: a\r\nX-Multi: b\r\nServer: first\r\nServer: second\r\nSet-Cookie: one=1\r\nSet-Cookie: two=2\r\n' +
      'Cookie: c=1\r\nCookie: d=2\r\nContent-Type: text/plain\r\nContent-Type: text/html\r\n';
    const raw = await startRawServer((c) => c.write(c.accept101(repeated)));
    cleanups.push(() => raw.close());
    const direct = await connect(raw.url);
    const viaAgent = await connect(raw.url, { agent: new HttpAgent() });
    expect(direct.handshakeResponse!.headers).toMatchObject({
      'x-multi': 'a, b',
      server: 'first',
      'set-cookie': ['one=1', 'two=2'],
      cookie: 'c=1; d=2',
      'content-type': 'text/plain',
    });
    expect(withoutAccept(direct.handshakeResponse)).toEqual(withoutAccept(viaAgent.handshakeResponse));
    direct.terminate();
    viaAgent.terminate();
  });

  it('is frozen: the record of what the server said', async () => {
    const { url } = await server();
    const ws = await connect(url);
    const response = ws.handshakeResponse!;
    expect(Object.isFrozen(response)).toBe(true);
    expect(Object.isFrozen(response.headers)).toBe(true);
    expect(Object.isFrozen(response.headers['set-cookie'])).toBe(true);
    expect(ws.handshakeResponse).toBe(response);
    ws.terminate();
  });

  it('is undefined for the server side of the connection', async () => {
    const { url, accepted } = await server();
    const ws = await connect(url);
    expect(accepted).toHaveLength(1);
    expect(accepted[0]!.handshakeResponse).toBeUndefined();
    ws.terminate();
  });
});

describe('over HTTP/2', () => {
  it('gives the 200 of the extended CONNECT with its headers and no pseudo-headers', async () => {
    const srv = await startHttp2Server((req, res) => {
      upgrade(req, res, extra);
    });
    cleanups.push(() => srv.close());
    const ws = await connect(srv.url, { http2: true });
    const response = ws.handshakeResponse!;
    expect(response).toMatchObject({
      status: 200,
      statusText: '',
      httpVersion: '2',
      headers: { 'x-custom': 'yes', 'set-cookie': ['session=abc; HttpOnly', 'theme=dark'] },
    });
    expect(Object.keys(response.headers).filter((name) => name.startsWith(':'))).toEqual([]);
    ws.terminate();
  });
});
