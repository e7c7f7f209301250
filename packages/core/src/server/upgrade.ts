import { ServerResponse, type IncomingMessage } from 'node:http';
import { Http2ServerResponse, type Http2ServerRequest, type ServerHttp2Stream } from 'node:http2';
import type { Duplex } from 'node:stream';
import { publishOpen } from '../connection/observability.js';
import { webSocketOf, WebSocket } from '../connection/websocket.js';
import { ErrorCode, typeError, WebSocketError } from '../errors.js';
import { headerLines } from '../protocol/header-grammar.js';
import { acceptKey } from '../protocol/keys.js';
import { checkHandshake } from './handshake.js';
import { negotiate, type Agreement } from './negotiation.js';
import { releaseSuccessGuard, routedUpgrade } from './pending-upgrade.js';
import { markAnswered, refuse } from './refusal.js';
import { isHttp2Request, transportOf, type UpgradeRequest, type UpgradeResponse } from './transport.js';
import { resolveUpgradeOptions, type ResolvedUpgradeOptions, type UpgradeOptions } from './upgrade-options.js';

/**
 * Turns an HTTP request into a WebSocket (RFC 6455 §4.2): `upgrade(req, res, opts)` inside an
 * ordinary request handler. Over HTTP/2 (RFC 8441) the same call turns an extended CONNECT stream
 * into a WebSocket, and the session goes on serving its other streams.
 *
 * Upgrade requests reach request handlers once the server routes them there with
 * {@link handleUpgrades} (the framework adapters do this for you); an HTTP/2 extended CONNECT
 * reaches the same route as the HTTP/1.1 GET. A request that is not a valid
 * handshake is answered with the right HTTP status (400, 403, 405, 426) and the call throws a
 * {@link WebSocketError} whose `status` says which.
 *
 * `options.data` becomes `ws.data`, typed: `upgrade(req, res, { data: user })` returns a
 * `WebSocket<User>`. Without it, `ws.data` is undefined (`upgrade<User | undefined>(req, res)` to
 * set it later).
 *
 * Once it returns, the WebSocket needs nothing of `req` and `res`: a handler that returns leaves
 * both to the garbage collector, and one that stays suspended for the connection's life (a
 * `for await` loop) keeps them but nothing of the routing with them. They stay usable for what
 * a handler reads after the upgrade:
 * - `req.headers`, `req.rawHeaders`, `req.url`, `req.method`, `req.httpVersion`, as they arrived;
 * - `req.socket`, the connection the WebSocket runs on (over HTTP/2, `req.stream` is): its
 *   `remoteAddress`, `remotePort` and `remoteFamily` still read after it closed, as do the
 *   WebSocket's own.
 * - `res` is detached from the connection: `res.socket` is null and nothing written to it reaches
 *   the client (the 101 went straight to the socket, so over HTTP/1.1 `res.headersSent` stays
 *   false). The framework adapters close the WebSocket with 1011 when a route answers on `res`
 *   after upgrading.
 *
 * @example
 * ```ts
 * const server = http.createServer(async (req, res) => {
 *   if (req.url !== '/echo') return res.end('hello');
 *   const ws = upgrade(req, res);
 *   for await (const msg of ws) ws.send(msg.data, msg.binary);
 * });
 * handleUpgrades(server);
 * ```
 */
export function upgrade<Data = undefined>(req: IncomingMessage, res: ServerResponse, options?: UpgradeOptions<Data>): WebSocket<Data>;
/** The HTTP/2 form, for node:http2's compatibility API (and frameworks on it). */
export function upgrade<Data = undefined>(
  req: Http2ServerRequest,
  res: Http2ServerResponse,
  options?: UpgradeOptions<Data>,
): WebSocket<Data>;
/** Either protocol's request and response, for code (adapters) that serves both. */
export function upgrade<Data = undefined>(req: UpgradeRequest, res: UpgradeResponse, options?: UpgradeOptions<Data>): WebSocket<Data>;
/** The form for node:http's `'upgrade'` event: `server.on('upgrade', (req, socket, head) => upgrade(req, socket, head))`. */
export function upgrade<Data = undefined>(
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  options?: UpgradeOptions<Data>,
): WebSocket<Data>;
export function upgrade<Data>(
  req: UpgradeRequest,
  target: UpgradeResponse | Duplex,
  headOrOptions?: Buffer | UpgradeOptions<Data>,
  maybeOptions?: UpgradeOptions<Data>,
): WebSocket<Data> {
  let res: UpgradeResponse | undefined;
  let socket: Duplex;
  let head: Buffer | undefined;
  let options: UpgradeOptions<Data> | undefined;
  const routed = routedUpgrade(req);

  if (target instanceof ServerResponse || target instanceof Http2ServerResponse) {
    res = target;
    options = headOrOptions as UpgradeOptions<Data> | undefined;
    const s = target instanceof ServerResponse ? (target.socket ?? transportOf(req)) : transportOf(req);
    if (!s || webSocketOf(s) || routed?.upgraded) {
      throw new WebSocketError(ErrorCode.AlreadyUpgraded, 'this request has already been upgraded');
    }
    if (res.headersSent) {
      throw new WebSocketError(ErrorCode.AlreadyUpgraded, 'a response has already been sent for this request');
    }
    socket = s;
    head = routed?.head;
  } else {
    socket = target;
    if (!Buffer.isBuffer(headOrOptions)) throw typeError('upgrade(req, socket, head): head must be a Buffer');
    head = headOrOptions;
    options = maybeOptions;
    if (webSocketOf(socket)) throw new WebSocketError(ErrorCode.AlreadyUpgraded, 'this socket has already been upgraded');
  }

  // Options are checked before anything is written: a bad option is the caller's bug, answered 500.
  let resolved: ResolvedUpgradeOptions;
  try {
    resolved = resolveUpgradeOptions(options);
  } catch (err) {
    refuse(req, new WebSocketError(ErrorCode.InvalidOption, 'invalid WebSocket options', { status: 500, cause: err }), socket, res);
    throw markAnswered(err as object, req);
  }

  const offer = checkHandshake(req);
  if (offer instanceof WebSocketError) throw refuse(req, offer, socket, res);
  if (res && !routed) {
    // A genuine handshake delivered as a plain request: node:http keeps its parser on the socket,
    // so it cannot become a WebSocket.
    const message = 'WebSocket upgrades are not routed to request handlers on this server; call handleUpgrades(server)';
    throw refuse(req, new WebSocketError(ErrorCode.UpgradeNotRouted, message, { status: 500 }), socket, res);
  }
  const agreement = negotiate(offer, resolved, req as IncomingMessage);
  if (agreement instanceof WebSocketError) throw refuse(req, agreement, socket, res);

  if (isHttp2Request(req)) {
    const answered = answerHttp2(req.stream, agreement, resolved);
    if (answered instanceof WebSocketError) throw refuse(req, answered, socket, res);
  } else {
    // The socket leaves the ServerResponse: whatever the framework does with `res` afterwards can
    // no longer reach the wire.
    if (res) (res as ServerResponse).detachSocket(socket as never);
    socket.write(switchingProtocols(acceptKey(offer.key), agreement, resolved), 'latin1');
    const s = socket as Duplex & { setNoDelay?: (v: boolean) => void; setTimeout?: (ms: number) => void; timeout?: number };
    s.setNoDelay?.(true);
    // A server's `timeout` (off by default) would go on timing the socket: 'timeout' events on an
    // idle WebSocket, a timer refreshed on every read and write. Cleared only when there is one.
    if (s.timeout) s.setTimeout!(0);
  }
  const ws = new WebSocket<Data>({
    socket,
    head,
    client: false,
    protocol: agreement.protocol,
    extensions: agreement.extensions,
    options: resolved.connection,
    deflate: agreement.deflate,
    hub: resolved.hub ?? routed?.hub,
    // Per connection, so never part of the resolved options (connections with equal options share those).
    data: options?.data,
  });
  routed?.accepted(ws);
  publishOpen(ws, req, isHttp2Request(req) ? 'h2' : 'http/1.1');
  return ws;
}

/**
 * Accepts an extended CONNECT: a 200 on the stream, with the agreed subprotocol and extensions and
 * no key or accept (RFC 8441 §5). The stream then carries the WebSocket's frames both ways.
 * @returns the error when an extra header cannot go over HTTP/2.
 */
function answerHttp2(stream: ServerHttp2Stream, agreement: Agreement, options: ResolvedUpgradeOptions): WebSocketError | undefined {
  const headers: Record<string, string | string[]> = { ':status': '200' };
  if (agreement.protocol) headers['sec-websocket-protocol'] = agreement.protocol;
  if (agreement.extensions) headers['sec-websocket-extensions'] = agreement.extensions;
  for (const [name, value] of options.headers) {
    const key = name.toLowerCase();
    const prev = headers[key];
    headers[key] = prev === undefined ? value : [...(Array.isArray(prev) ? prev : [prev]), value];
  }
  try {
    releaseSuccessGuard(stream);
    stream.respond(headers);
  } catch (err) {
    // Connection-specific fields (Keep-Alive, Transfer-Encoding, …) are not allowed over HTTP/2.
    return new WebSocketError(ErrorCode.InvalidOption, `cannot send these headers over HTTP/2: ${(err as Error).message}`, {
      status: 500,
      cause: err,
    });
  }
  stream.setTimeout(0);
  return undefined;
}

/** The 101 response head (RFC 6455 §4.2.2 item 5). */
function switchingProtocols(accept: string, agreement: Agreement, options: ResolvedUpgradeOptions): string {
  let head = `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n`;
  if (agreement.protocol) head += `Sec-WebSocket-Protocol: ${agreement.protocol}\r\n`;
  if (agreement.extensions) head += `Sec-WebSocket-Extensions: ${agreement.extensions}\r\n`;
  return `${head}${headerLines(options.headers)}\r\n`;
}
