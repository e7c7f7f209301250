import { ServerResponse, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { markAnswered } from './answered.js';
import { acceptOffer, PerMessageDeflate, resolveDeflateOptions, type ResolvedDeflateOptions } from './deflate.js';
import { ErrorCode, typeError, WebSocketError } from './errors.js';
import { Hub } from './hub.js';
import { isToken } from './extensions.js';
import { acceptKey, checkHandshake, rawRejection, rejectionHeaders, type HandshakeOffer } from './handshake.js';
import { checkObject, resolveOptions, type WebSocketOptions } from './options.js';
import { routedUpgrade } from './routing.js';
import { webSocketOf, WebSocket } from './websocket.js';

/**
 * Chooses a subprotocol from those the client offered (in its order of preference). Return one of
 * them, or nothing to proceed without a subprotocol.
 */
export type SubprotocolSelector = (offered: string[], req: IncomingMessage) => string | null | undefined | false;

/** Decides whether a request's `Origin` (undefined when absent) may connect. */
export type OriginCheck = (origin: string | undefined, req: IncomingMessage) => boolean;

/** Options for {@link upgrade}. */
export interface UpgradeOptions extends WebSocketOptions {
  /**
   * The subprotocol to select: a name (chosen only if the client offered it), a list of
   * acceptable names (the client's first offered one that is listed wins), or a function.
   */
  subprotocol?: string | readonly string[] | SubprotocolSelector;
  /** Extra headers for the 101 response (lua-http `accept({ headers })`). */
  headers?: Readonly<Record<string, string | number | readonly string[]>>;
  /**
   * Allowed `Origin`s: one, a list (compared case-insensitively), a RegExp, or a function.
   * A request whose Origin is missing or not allowed gets 403. Default: any origin.
   */
  origin?: string | readonly string[] | RegExp | OriginCheck;
  /**
   * The hub for this connection's topics (`ws.subscribe`). Default: the server's hub when
   * {@link handleUpgrades} routed the request, else the process-wide default hub.
   */
  hub?: Hub;
}

const RESERVED_HEADERS = new Set(['upgrade', 'connection', 'sec-websocket-accept', 'sec-websocket-protocol', 'sec-websocket-extensions']);

function originAllowed(check: NonNullable<UpgradeOptions['origin']>, origin: string | undefined, req: IncomingMessage): boolean {
  if (typeof check === 'function') return check(origin, req) === true;
  if (origin === undefined) return false;
  if (check instanceof RegExp) return check.test(origin);
  const o = origin.toLowerCase();
  if (typeof check === 'string') return check.toLowerCase() === o;
  return check.some((c) => c.toLowerCase() === o);
}

function selectProtocol(choice: UpgradeOptions['subprotocol'], offered: string[], req: IncomingMessage): string {
  if (choice === undefined || offered.length === 0) return '';
  if (typeof choice === 'string') return offered.includes(choice) ? choice : '';
  if (typeof choice === 'function') {
    const picked = choice(offered, req);
    if (picked === undefined || picked === null || picked === false || picked === '') return '';
    if (typeof picked !== 'string' || !offered.includes(picked)) {
      throw new WebSocketError(ErrorCode.InvalidOption, `subprotocol selector returned ${JSON.stringify(picked)}, which the client did not offer`, { status: 500 });
    }
    return picked;
  }
  return offered.find((p) => choice.includes(p)) ?? '';
}

function extraHeaders(headers: UpgradeOptions['headers']): string {
  let out = '';
  for (const [name, value] of Object.entries(checkObject(headers, 'headers'))) {
    if (!isToken(name)) throw typeError(`invalid header name ${JSON.stringify(name)}`);
    if (RESERVED_HEADERS.has(name.toLowerCase())) throw typeError(`header ${name} is set by the handshake itself`);
    const values = Array.isArray(value) ? value : [value];
    for (const v of values) {
      if (typeof v !== 'string' && typeof v !== 'number') throw typeError(`header ${name} must be a string or number`);
      const s = String(v);
      if (/[\r\n\0]/.test(s)) throw typeError(`header ${name} contains CR, LF or NUL`);
      out += `${name}: ${s}\r\n`;
    }
  }
  return out;
}

/** Sends the rejection and closes the socket; returns the error for the caller to throw. */
function refuse(err: WebSocketError, socket: Duplex, res: ServerResponse | undefined): WebSocketError {
  markAnswered(err);
  if (res && !res.headersSent && res.socket) {
    const body = err.message;
    res.shouldKeepAlive = false;
    res.writeHead(err.status ?? 400, {
      ...rejectionHeaders(err),
      Connection: 'close',
      'Content-Type': 'text/plain; charset=utf-8',
      'Content-Length': Buffer.byteLength(body),
    });
    res.end(body);
  } else if (socket.writable) {
    socket.end(rawRejection(err), 'latin1');
    setTimeout(() => socket.destroy(), 1000).unref();
  } else {
    socket.destroy();
  }
  return err;
}

/**
 * Turns an HTTP request into a WebSocket (RFC 6455 §4.2), the eryx `upgrade(req, res, opts)`.
 *
 * Call it from an ordinary request handler; upgrade requests reach request handlers once the
 * server routes them there with {@link handleUpgrades} (the framework adapters do this for you).
 * A request that is not a valid handshake is answered with the right HTTP status (400, 403, 405,
 * 426) and the call throws a {@link WebSocketError} whose `status` says which.
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
    if (!s || webSocketOf(s) || (routed && routed.upgraded)) {
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
  let resolved;
  let extra;
  let deflateOptions: ResolvedDeflateOptions | null;
  try {
    resolved = resolveOptions(options);
    deflateOptions = resolveDeflateOptions(options?.compress);
    extra = extraHeaders(options?.headers);
  } catch (err) {
    refuse(new WebSocketError(ErrorCode.InvalidOption, 'invalid WebSocket options', { status: 500, cause: err }), socket, res);
    throw markAnswered(err as object);
  }

  const offer = checkHandshake(req);
  if (offer instanceof WebSocketError) throw refuse(offer, socket, res);
  if (res && !routed) {
    // A genuine handshake delivered as a plain request: node:http keeps its parser on the socket,
    // so it cannot become a WebSocket.
    throw refuse(
      new WebSocketError(ErrorCode.UpgradeNotRouted, 'WebSocket upgrades are not routed to request handlers on this server; call handleUpgrades(server)', { status: 500 }),
      socket,
      res,
    );
  }
  if (options?.origin !== undefined && !originAllowed(options.origin, offer.origin, req)) {
    throw refuse(new WebSocketError(ErrorCode.OriginForbidden, `origin ${offer.origin ?? '(none)'} is not allowed`, { status: 403 }), socket, res);
  }
  let protocol: string;
  try {
    protocol = selectProtocol(options?.subprotocol, offer.protocols, req);
  } catch (err) {
    throw refuse(err as WebSocketError, socket, res);
  }

  const agreed = deflateOptions ? acceptOffer(offer.extensions, deflateOptions) : null;
  const deflate = agreed ? new PerMessageDeflate(agreed.params, deflateOptions!) : undefined;
  const hub = options?.hub ?? routed?.hub;
  if (hub !== undefined && !(hub instanceof Hub)) {
    throw refuse(new WebSocketError(ErrorCode.InvalidOption, 'the hub option must be a Hub', { status: 500 }), socket, res);
  }
  const ws = accept(offer, socket, head, protocol, agreed?.response ?? '', extra, resolved, res, deflate, hub);
  routed?.accepted(ws);
  return ws;
}

function accept(
  offer: HandshakeOffer,
  socket: Duplex,
  head: Buffer | undefined,
  protocol: string,
  extensions: string,
  extra: string,
  options: ReturnType<typeof resolveOptions>,
  res: ServerResponse | undefined,
  deflate: PerMessageDeflate | undefined,
  hub: Hub | undefined,
): WebSocket {
  if (res) {
    // The socket leaves the ServerResponse: whatever the framework does with `res` afterwards can
    // no longer reach the wire.
    res.detachSocket(socket as never);
  }
  let response =
    'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
    `Sec-WebSocket-Accept: ${acceptKey(offer.key)}\r\n`;
  if (protocol) response += `Sec-WebSocket-Protocol: ${protocol}\r\n`;
  if (extensions) response += `Sec-WebSocket-Extensions: ${extensions}\r\n`;
  response += `${extra}\r\n`;
  socket.write(response, 'latin1');
  const s = socket as Duplex & { setNoDelay?: (v: boolean) => void; setTimeout?: (ms: number) => void };
  s.setNoDelay?.(true);
  s.setTimeout?.(0);
  return new WebSocket({ socket, head, client: false, protocol, extensions, options, deflate, hub });
}
