import {
  connect as http2Connect,
  type ClientHttp2Session,
  createSecureServer,
  createServer,
  type Http2Session,
  type IncomingHttpHeaders,
} from 'node:http2';
import type { AddressInfo } from 'node:net';
import { handleUpgrades, type HandleUpgradesOptions, type UpgradeRouter } from '@wsup/core';
import { selfSignedCert } from './server.js';

// biome-ignore lint/suspicious/noExplicitAny: the handler gets HTTP/2 or (allowHTTP1) HTTP/1.1 objects
export type AnyHandler = (req: any, res: any) => void | Promise<void>;

export interface Http2TestServer {
  port: number;
  /** `ws://…` (h2c) or `wss://…` (TLS). */
  url: string;
  router: UpgradeRouter;
  /** The sessions the server has seen, in order. */
  sessions: Http2Session[];
  /** The certificate, for clients of a TLS server. */
  cert?: string;
  close(): Promise<void>;
}

let cert: { key: string; cert: string } | undefined;

/** A node:http2 server on 127.0.0.1 with upgrades routed to `handler`: h2c, or TLS (optionally serving HTTP/1.1 too). */
export async function startHttp2Server(
  handler: AnyHandler,
  opts: { tls?: boolean; allowHTTP1?: boolean; routing?: HandleUpgradesOptions; route?: boolean } = {},
): Promise<Http2TestServer> {
  const listener = (req: Parameters<AnyHandler>[0], res: Parameters<AnyHandler>[1]) => {
    Promise.resolve(handler(req, res)).catch(() => {
      // upgrade() has answered its refusals; the tests look at what reached the client.
    });
  };
  if (opts.tls) cert ??= selfSignedCert();
  const server = opts.tls ? createSecureServer({ ...cert!, allowHTTP1: opts.allowHTTP1 === true }, listener) : createServer(listener);
  const sessions: Http2Session[] = [];
  server.on('session', (s) => sessions.push(s));
  const router = opts.route === false ? (undefined as unknown as UpgradeRouter) : handleUpgrades(server, opts.routing);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `${opts.tls ? 'wss' : 'ws'}://127.0.0.1:${port}`,
    router,
    sessions,
    ...(opts.tls ? { cert: cert!.cert } : {}),
    close: () =>
      new Promise<void>((resolve) => {
        for (const ws of router?.clients ?? []) ws.terminate();
        for (const s of sessions) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A raw HTTP/2 client session to a test server, once its settings have arrived. */
export async function rawSession(port: number): Promise<ClientHttp2Session> {
  const session = http2Connect(`http://127.0.0.1:${port}`);
  session.on('error', () => {});
  await new Promise((resolve) => session.once('remoteSettings', resolve));
  return session;
}

export interface RawAnswer {
  headers: IncomingHttpHeaders | undefined;
  body: string;
  /** The stream's RST_STREAM code once closed (0: it ended normally). */
  rstCode: number | undefined;
}

/** Sends a request on `session` and collects the answer until the stream closes. */
export function rawRequest(session: ClientHttp2Session, headers: Record<string, string>, body?: Buffer): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const stream = session.request(headers, { endStream: false });
    let response: IncomingHttpHeaders | undefined;
    const chunks: Buffer[] = [];
    stream.on('response', (h) => {
      response = h;
    });
    stream.on('data', (d: Buffer) => chunks.push(d));
    stream.on('error', () => {});
    stream.on('close', () => resolve({ headers: response, body: Buffer.concat(chunks).toString(), rstCode: stream.rstCode }));
    if (body) stream.write(body);
    // A refused request gets its whole answer and a reset; end our side too so any other ends.
    stream.on('end', () => stream.end());
  });
}

/** The headers of an extended CONNECT for a WebSocket at `path` (RFC 8441 §4, §5). */
export function extendedConnect(port: number, path = '/', extra: Record<string, string> = {}): Record<string, string> {
  return {
    ':method': 'CONNECT',
    ':protocol': 'websocket',
    ':scheme': 'http',
    ':authority': `127.0.0.1:${port}`,
    ':path': path,
    'sec-websocket-version': '13',
    ...extra,
  };
}
