import { ServerResponse, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { webSocketOf, WebSocket } from '../connection/websocket.js';
import { ErrorCode, typeError, WebSocketError } from '../errors.js';
import { headerLines } from '../protocol/header-grammar.js';
import { acceptKey } from '../protocol/keys.js';
import { checkHandshake } from './handshake.js';
import { negotiate, type Agreement } from './negotiation.js';
import { markAnswered, refuse } from './refusal.js';
import { routedUpgrade } from './routing.js';
import { resolveUpgradeOptions, type ResolvedUpgradeOptions, type UpgradeOptions } from './upgrade-options.js';

/**
 * Turns an HTTP request into a WebSocket (RFC 6455 §4.2): `upgrade(req, res, opts)` inside an
 * ordinary request handler.
 *
 * Upgrade requests reach request handlers once the server routes them there with
 * {@link handleUpgrades} (the framework adapters do this for you). A request that is not a valid
 * handshake is answered with the right HTTP status (400, 403, 405, 426) and the call throws a
 * {@link WebSocketError} whose `status` says which.
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
export function upgrade(req: IncomingMessage, res: ServerResponse, options?: UpgradeOptions): WebSocket;
/** The form for node:http's `'upgrade'` event: `server.on('upgrade', (req, socket, head) => upgrade(req, socket, head))`. */
export function upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, options?: UpgradeOptions): WebSocket;
export function upgrade(
  req: IncomingMessage,
  target: ServerResponse | Duplex,
  headOrOptions?: Buffer | UpgradeOptions,
  maybeOptions?: UpgradeOptions,
): WebSocket {
  let res: ServerResponse | undefined;
  let socket: Duplex;
  let head: Buffer | undefined;
  let options: UpgradeOptions | undefined;
  const routed = routedUpgrade(req);

  if (target instanceof ServerResponse) {
    res = target;
    options = headOrOptions as UpgradeOptions | undefined;
    const s = res.socket ?? req.socket;
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
    refuse(new WebSocketError(ErrorCode.InvalidOption, 'invalid WebSocket options', { status: 500, cause: err }), socket, res);
    throw markAnswered(err as object);
  }

  const offer = checkHandshake(req);
  if (offer instanceof WebSocketError) throw refuse(offer, socket, res);
  if (res && !routed) {
    // A genuine handshake delivered as a plain request: node:http keeps its parser on the socket,
    // so it cannot become a WebSocket.
    const message = 'WebSocket upgrades are not routed to request handlers on this server; call handleUpgrades(server)';
    throw refuse(new WebSocketError(ErrorCode.UpgradeNotRouted, message, { status: 500 }), socket, res);
  }
  const agreement = negotiate(offer, resolved, req);
  if (agreement instanceof WebSocketError) throw refuse(agreement, socket, res);

  if (res) {
    // The socket leaves the ServerResponse: whatever the framework does with `res` afterwards can
    // no longer reach the wire.
    res.detachSocket(socket as never);
  }
  socket.write(switchingProtocols(acceptKey(offer.key), agreement, resolved), 'latin1');
  const s = socket as Duplex & { setNoDelay?: (v: boolean) => void; setTimeout?: (ms: number) => void };
  s.setNoDelay?.(true);
  s.setTimeout?.(0);
  const ws = new WebSocket({
    socket,
    head,
    client: false,
    protocol: agreement.protocol,
    extensions: agreement.extensions,
    options: resolved.connection,
    deflate: agreement.deflate,
    hub: resolved.hub ?? routed?.hub,
  });
  routed?.accepted(ws);
  return ws;
}

/** The 101 response head (RFC 6455 §4.2.2 item 5). */
function switchingProtocols(accept: string, agreement: Agreement, options: ResolvedUpgradeOptions): string {
  let head = `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n`;
  if (agreement.protocol) head += `Sec-WebSocket-Protocol: ${agreement.protocol}\r\n`;
  if (agreement.extensions) head += `Sec-WebSocket-Extensions: ${agreement.extensions}\r\n`;
  return `${head}${headerLines(options.headers)}\r\n`;
}
