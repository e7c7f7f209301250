/**
 * The server's answer to a client's opening handshake, kept beside the WebSocket rather than in
 * it: server connections (the many) never have one, so none of them pays a field for it.
 */
import type { IncomingHttpHeaders } from 'node:http';

/**
 * The response that opened a client WebSocket: the `101 Switching Protocols` of HTTP/1.1
 * (RFC 6455 §4.1), or the `200` answering an HTTP/2 extended CONNECT (RFC 8441 §5).
 */
export interface HandshakeResponse {
  /** `101` over HTTP/1.1, `200` over HTTP/2. */
  readonly status: number;
  /** The reason phrase of the status line (`'Switching Protocols'`); `''` over HTTP/2, which has none. */
  readonly statusText: string;
  /** `'1.1'` or `'2'`. */
  readonly httpVersion: string;
  /**
   * The response headers by lower-case name, shaped as Node shapes `IncomingMessage.headers`:
   * `set-cookie` is always an array, repeated fields are joined with `, ` (`cookie` with `; `),
   * and repeats of single-value fields (`content-type`, `location`, `server`, …) are dropped.
   * HTTP/2 pseudo-headers (`:status`) are left out.
   */
  readonly headers: Readonly<IncomingHttpHeaders>;
}

/** Responses by WebSocket; a function until first read, so that a client nobody asks pays no copy. */
const responses = new WeakMap<object, HandshakeResponse | (() => HandshakeResponse)>();

/**
 * Records the response that opened `ws` (a client WebSocket), given as a function that builds it
 * on first read.
 * @internal
 */
export function recordHandshakeResponse(ws: object, response: () => HandshakeResponse): void {
  responses.set(ws, response);
}

/** The recorded response of `ws`, frozen; undefined for server-side WebSockets. @internal */
export function handshakeResponseOf(ws: object): HandshakeResponse | undefined {
  const stored = responses.get(ws);
  if (typeof stored !== 'function') return stored;
  const response = stored();
  for (const value of Object.values(response.headers)) if (Array.isArray(value)) Object.freeze(value);
  Object.freeze(response.headers);
  Object.freeze(response);
  responses.set(ws, response);
  return response;
}
