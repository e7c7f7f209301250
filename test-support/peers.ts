/**
 * The client side of the shared adapter suite, once per transport, so the same behaviours are
 * checked over HTTP/1.1 (the `ws` package, supertest, a raw socket) and over HTTP/2 (core's
 * `connect` with `http2: true`, node:http2's client for plain requests and raw extended CONNECTs).
 */
import { once } from 'node:events';
import { connect as connectHttp2, type ClientHttp2Session, constants as h2 } from 'node:http2';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { connect, type HandshakeResponseError, type UpgradeServer, type WebSocket } from '@wsup/core';
import { closed, nextMessage, openClient, rawHandshake, refusal, statusOf, type WebSocketClient, wsUrl } from './clients.js';

/** How the suite's clients reach the app. */
export type Transport = 'http/1.1' | 'h2' | 'h2+http/1.1';

/** A message as the tests compare it: the bytes and whether it was binary. */
export interface ReceivedMessage {
  data: Buffer;
  binary: boolean;
}

/** An open WebSocket client, whichever library runs it. */
export interface TestClient {
  readonly protocol: string;
  readonly extensions: string;
  send(data: string | Buffer): void;
  next(): Promise<ReceivedMessage>;
  closed(): Promise<{ code: number; reason: string }>;
  close(code: number): void;
  terminate(): void;
}

/** An HTTP response, read to its end. */
export interface PlainResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A transport's clients for one server. */
export interface Peer {
  readonly transport: Transport;
  /** Opens a WebSocket to `path`; rejects when the server does not upgrade. */
  open(path: string, protocols?: string[]): Promise<TestClient>;
  /** The response a WebSocket handshake to `path` got instead of an upgrade. */
  refusal(path: string): Promise<PlainResponse>;
  /**
   * Sends a bare handshake and reads what came back until the server ended it: over HTTP/1.1 the
   * connection closes, over HTTP/2 only the stream ends.
   */
  handshake(path: string): Promise<PlainResponse>;
  /** A plain GET. */
  get(path: string): Promise<PlainResponse>;
  /** Closes what the peer keeps open (HTTP/2 sessions). */
  close(): void;
}

function port(server: UpgradeServer): number {
  return (server.address() as AddressInfo).port;
}

function wrapWs(client: WebSocketClient): TestClient {
  return {
    get protocol() {
      return client.protocol;
    },
    get extensions() {
      return client.extensions;
    },
    send: (data) => client.send(data),
    next: async () => {
      const { data, binary } = await nextMessage(client);
      return { data: Buffer.isBuffer(data) ? data : Buffer.concat(data as Buffer[]), binary };
    },
    closed: () => closed(client),
    close: (code) => client.close(code),
    terminate: () => client.terminate(),
  };
}

function wrapCore(ws: WebSocket): TestClient {
  const ended = ws.closed.then(({ code, reason }) => ({ code, reason }));
  return {
    get protocol() {
      return ws.protocol;
    },
    get extensions() {
      return ws.extensions;
    },
    send: (data) => ws.send(data),
    next: async () => {
      const msg = await ws.receive();
      if (!msg) throw new Error('the WebSocket closed before a message arrived');
      return { data: msg.binary ? msg.data : Buffer.from(msg.data), binary: msg.binary };
    },
    closed: () => ended,
    close: (code) => void ws.close(code),
    terminate: () => ws.terminate(),
  };
}

/** HTTP/1.1: the `ws` package (as browsers would, it offers permessage-deflate), supertest and a raw socket. */
export function http1Peer(server: UpgradeServer, tls?: { ca: string }): Peer {
  const base = wsUrl(server, tls !== undefined);
  const clientOptions = tls ? { ca: tls.ca } : {};
  return {
    transport: 'http/1.1',
    open: async (path, protocols = []) => wrapWs(await openClient(`${base}${path}`, protocols, clientOptions)),
    refusal: async (path) => {
      const { status, headers, body } = await refusal(`${base}${path}`, clientOptions);
      return { status, headers, body };
    },
    handshake: async (path) => {
      const raw = await rawHandshake(server, path, tls);
      const head = raw.slice(0, raw.indexOf('\r\n\r\n'));
      const headers: Record<string, string> = {};
      for (const line of head.split('\r\n').slice(1)) {
        const colon = line.indexOf(':');
        headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
      }
      return { status: statusOf(raw), headers, body: raw.slice(raw.indexOf('\r\n\r\n') + 4) };
    },
    get: async (path) => {
      const pending = request(server as never).get(path);
      const res = await (tls ? pending.ca(tls.ca) : pending);
      return { status: res.status, headers: res.headers, body: res.text };
    },
    close: () => {},
  };
}

/**
 * HTTP/2 over TLS: WebSockets are extended CONNECT streams (RFC 8441) of the one session core's
 * client keeps per origin; plain and raw requests go over a session of their own.
 */
export function http2Peer(server: UpgradeServer, tls: { ca: string }, transport: 'h2' | 'h2+http/1.1' = 'h2'): Peer {
  const origin = `https://127.0.0.1:${port(server)}`;
  const base = `wss://127.0.0.1:${port(server)}`;
  let session: ClientHttp2Session | undefined;
  const sessionFor = (): ClientHttp2Session => {
    if (!session || session.closed || session.destroyed) {
      session = connectHttp2(origin, { ca: tls.ca, servername: 'localhost' });
      session.on('error', () => {});
    }
    return session;
  };
  const exchange = async (headers: Record<string, string>): Promise<PlainResponse> => {
    const s = sessionFor();
    if (headers[':method'] === 'CONNECT' && !s.remoteSettings.enableConnectProtocol) await once(s, 'remoteSettings');
    const stream = s.request(headers, { endStream: headers[':method'] !== 'CONNECT' });
    const [response] = (await once(stream, 'response')) as [Record<string, string | string[] | undefined>];
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    await once(stream, 'end');
    stream.close(h2.NGHTTP2_NO_ERROR);
    const { ':status': status, ...rest } = response;
    return { status: Number(status), headers: rest, body: Buffer.concat(chunks).toString() };
  };
  return {
    transport,
    open: async (path, protocols = []) =>
      wrapCore(await connect(`${base}${path}`, { http2: true, ca: tls.ca, subprotocols: protocols, compress: true })),
    refusal: async (path) => {
      try {
        const ws = await connect(`${base}${path}`, { http2: true, ca: tls.ca });
        ws.terminate();
      } catch (err) {
        const refused = err as HandshakeResponseError;
        if (refused.status === undefined) throw err;
        return { status: refused.status, headers: refused.headers, body: refused.body };
      }
      throw new Error(`${path} was upgraded, a refusal was expected`);
    },
    handshake: (path) =>
      exchange({
        ':method': 'CONNECT',
        ':protocol': 'websocket',
        ':scheme': 'https',
        ':authority': `127.0.0.1:${port(server)}`,
        ':path': path,
        'sec-websocket-version': '13',
      }),
    get: (path) => exchange({ ':method': 'GET', ':path': path }),
    close: () => session?.close(),
  };
}
