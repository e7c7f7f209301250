/**
 * The two ways a WebSocket handshake reaches a server: an HTTP/1.1 `GET` with `Upgrade:
 * websocket` (RFC 6455 §4), whose WebSocket takes over the TCP connection, and an HTTP/2
 * extended `CONNECT` with `:protocol websocket` (RFC 8441), whose WebSocket is one stream of a
 * session that goes on serving its other streams.
 */
import type { IncomingMessage, Server as HttpServer, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { Http2ServerRequest, type Http2SecureServer, type Http2Server, type Http2ServerResponse } from 'node:http2';
import type { Server as HttpsServer } from 'node:https';

/** A request a WebSocket route can upgrade: HTTP/1.1 (node:http, node:https) or HTTP/2 (node:http2's compatibility API). */
export type UpgradeRequest = IncomingMessage | Http2ServerRequest;

/** The response that goes with an {@link UpgradeRequest}. */
export type UpgradeResponse = ServerResponse | Http2ServerResponse;

/** A server {@link handleUpgrades} can route: node:http, node:https, or node:http2 (h2c or TLS, `allowHTTP1` or not). */
export type UpgradeServer = HttpServer | HttpsServer | Http2Server | Http2SecureServer;

/** Whether the request came over HTTP/2. */
export function isHttp2Request(req: UpgradeRequest): req is Http2ServerRequest {
  return req instanceof Http2ServerRequest;
}

/** Whether the server is a node:http2 server (it may also serve HTTP/1.1 with `allowHTTP1`). */
export function isHttp2Server(server: UpgradeServer): server is Http2Server | Http2SecureServer {
  return typeof (server as Partial<Http2Server>).updateSettings === 'function';
}

/** The stream a WebSocket of this request would run on: the connection's socket over HTTP/1.1, the request's own stream over HTTP/2. */
export function transportOf(req: UpgradeRequest): Duplex | undefined {
  return isHttp2Request(req) ? req.stream : (req.socket ?? undefined);
}
