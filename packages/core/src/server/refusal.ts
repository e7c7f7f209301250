import { constants as h2, Http2ServerResponse } from 'node:http2';
import type { Duplex } from 'node:stream';
import { processStats, type StatsScope } from '../connection/stats.js';
import { type HandshakeRefusedMessage, refusedChannel } from '../diagnostics.js';
import type { WebSocketError } from '../errors.js';
import type { UpgradeRequest, UpgradeResponse } from './transport.js';

/**
 * Errors `upgrade()` throws after it has sent the HTTP answer itself (a 400/403/405/426 refusal,
 * or a 500 for bad options). The upgrade router uses this to keep such an error, escaping a
 * request handler, from crashing the process: nothing is left to respond.
 */
const answered = new WeakMap<object, UpgradeRequest>();

/** Marks `err` as thrown after `req` was answered; returns it. */
export function markAnswered<T extends object>(err: T, req: UpgradeRequest): T {
  answered.set(err, req);
  return err;
}

/** Whether `upgrade()` threw `err` after answering the request itself. */
export function wasAnswered(err: unknown): boolean {
  return typeof err === 'object' && err !== null && answered.has(err);
}

/**
 * The request `err` answered (see {@link markAnswered}), so that a handler's rejection can be
 * reported with its request by a listener shared by every request, rather than a closure per
 * request that a long-running handler's promise would hold for the connection's life.
 */
export function answeredRequest(err: unknown): UpgradeRequest | undefined {
  return typeof err === 'object' && err !== null ? answered.get(err) : undefined;
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  403: 'Forbidden',
  405: 'Method Not Allowed',
  426: 'Upgrade Required',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/** Seconds a client refused with 503 (`ERR_TOO_MANY_CONNECTIONS`) is asked to wait before trying again. */
export const RETRY_AFTER_SECONDS = 5;

/**
 * Headers that go with a handshake refusal, beyond the body's (RFC 6455 §4.2.2, RFC 7231 §6.5.5).
 * Over HTTP/2 there is no `Upgrade`: connection-specific fields are not allowed (RFC 9113 §8.2.2).
 */
export function refusalHeaders(err: WebSocketError, http2 = false): Record<string, string> {
  const headers: Record<string, string> = {};
  if (err.status === 426) {
    if (!http2) headers.Upgrade = 'websocket';
    headers['Sec-WebSocket-Version'] = '13';
  } else if (err.status === 405) {
    headers.Allow = 'GET';
  } else if (err.status === 503) {
    headers['Retry-After'] = String(RETRY_AFTER_SECONDS);
  }
  return headers;
}

/** A complete HTTP/1.1 response for a refusal, for sockets no ServerResponse wraps. */
function rawRefusal(err: WebSocketError): string {
  const status = err.status ?? 400;
  const body = err.message;
  let out = `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n`;
  for (const [k, v] of Object.entries(refusalHeaders(err))) out += `${k}: ${v}\r\n`;
  return `${out}\r\n${body}`;
}

/** The counters of each server's router: a refusal on the server counts there, routed by it or not (a plain GET). */
const serverCounters = new WeakMap<object, StatsScope>();

/** Counts the refusals of `server`'s requests in `counters` from now on (undefined: no longer). */
export function countRefusalsIn(server: object, counters: StatsScope | undefined): void {
  if (counters) serverCounters.set(server, counters);
  else serverCounters.delete(server);
}

/**
 * Counts a refused handshake, in the process's counters and in those of the router of the
 * server it came to (if it has one), and publishes it on `wsup:handshake:refused`.
 */
export function countRefusal(req: UpgradeRequest, err: WebSocketError): void {
  const status = err.status ?? 400;
  processStats.countRefused(status);
  // node:net sets `server` on every socket it accepts (over HTTP/2, on the session's socket).
  const server = (req.socket as { server?: object } | null)?.server;
  if (server !== undefined) serverCounters.get(server)?.countRefused(status);
  if (refusedChannel.hasSubscribers) {
    refusedChannel.publish({ request: req, status, code: err.code, error: err } satisfies HandshakeRefusedMessage);
  }
}

/**
 * Sends the refusal and closes the connection; returns the error, marked answered, for the caller
 * to throw. Counted as {@link countRefusal} says.
 */
export function refuse(req: UpgradeRequest, err: WebSocketError, socket: Duplex, res: UpgradeResponse | undefined): WebSocketError {
  markAnswered(err, req);
  countRefusal(req, err);
  const body = err.message;
  if (res instanceof Http2ServerResponse) {
    // The refusal ends the request's stream; the session goes on serving its other streams.
    if (!res.headersSent && !res.stream.destroyed) {
      res.writeHead(err.status ?? 400, {
        ...refusalHeaders(err, true),
        'Content-Type': 'text/plain; charset=utf-8',
        'Content-Length': Buffer.byteLength(body),
      });
      res.end(body);
    } else {
      res.stream.close(h2.NGHTTP2_CANCEL);
    }
  } else if (res && !res.headersSent && res.socket) {
    res.shouldKeepAlive = false;
    res.writeHead(err.status ?? 400, {
      ...refusalHeaders(err),
      Connection: 'close',
      'Content-Type': 'text/plain; charset=utf-8',
      'Content-Length': Buffer.byteLength(body),
    });
    res.end(body);
  } else if (socket.writable) {
    socket.end(rawRefusal(err), 'latin1');
    setTimeout(() => socket.destroy(), 1000).unref();
  } else {
    socket.destroy();
  }
  return err;
}
