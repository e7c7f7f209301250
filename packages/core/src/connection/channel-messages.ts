/**
 * The messages wsup publishes about a WebSocket on its diagnostics channels (`channels.open`,
 * `channels.close`, `channels.error`). Apart from `observability.ts`, which publishes them, as
 * they name the `WebSocket` class, which uses that module.
 */
import type { IncomingMessage } from 'node:http';
import type { Http2ServerRequest } from 'node:http2';
import type { WebSocketError } from '../errors.js';
import type { ClosedBy } from './observability.js';
import type { WebSocket } from './websocket.js';

/** The message on `wsup:websocket:open`: a WebSocket opened, on either side. */
export interface WebSocketOpenMessage {
  /** The WebSocket, open. */
  websocket: WebSocket;
  /**
   * Server side: the request it was upgraded from (over HTTP/2, the extended CONNECT's). Undefined
   * for a client's WebSocket.
   */
  request: IncomingMessage | Http2ServerRequest | undefined;
  /** What carries it: its own HTTP/1.1 connection, or a stream of an HTTP/2 session (RFC 8441). */
  transport: 'http/1.1' | 'h2';
  /** The subprotocol agreed, or `''`. */
  protocol: string;
  /** The extensions agreed, as a header value, or `''`. */
  extensions: string;
  /** Whether it is the client end (`connect()`), rather than the server end (`upgrade()`). */
  isClient: boolean;
}

/** The message on `wsup:websocket:close`: a WebSocket closed (its TCP connection, or stream, is gone). */
export interface WebSocketCloseMessage {
  /** The WebSocket, closed. */
  websocket: WebSocket;
  /** The close code, as the `close` event reports it (1006 when no close frame arrived and none was due to a failure). */
  code: number;
  /** The close reason, as the `close` event reports it. */
  reason: string;
  /** Whether the close handshake completed (both close frames exchanged). */
  wasClean: boolean;
  /**
   * Who started the close: `'local'` when this side's close frame went first (`close()`, or a
   * failure wsup closed the connection for), `'remote'` when the peer's did, `'abnormal'` when
   * neither side sent one (`terminate()`, a heartbeat timeout, a lost connection: 1006).
   */
  closedBy: ClosedBy;
  /** Why the connection failed, if it did (the same error as `ws.error`). */
  error?: WebSocketError;
  /** Seconds from open to closed. */
  duration: number;
  /** Whole data messages received. */
  messagesIn: number;
  /** Whole data messages queued to send. */
  messagesOut: number;
  /** Payload bytes of the messages received, as on the wire (compressed, when they were). */
  bytesIn: number;
  /** Payload bytes of the messages sent, as on the wire (compressed, when they were). */
  bytesOut: number;
}

/**
 * The message on `wsup:websocket:error`: every error a WebSocket reports, whether or not it has
 * an `error` listener (a protocol violation, a limit it closed for, a reset socket).
 */
export interface WebSocketErrorMessage {
  /** The WebSocket that reported it. */
  websocket: WebSocket;
  /** The error, with its stable `code` (`ERR_PAYLOAD_TOO_LARGE`, `ERR_HEARTBEAT_TIMEOUT`, …). */
  error: WebSocketError;
}
