import { EventEmitter } from 'node:events';
import { ServerResponse, type IncomingMessage } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse, Http2Session } from 'node:http2';
import type { Duplex } from 'node:stream';
import { Defaults } from '../connection/options.js';
import { StatsScope, type WebSocketStats } from '../connection/stats.js';
import type { WebSocket } from '../connection/websocket.js';
import { rangeError } from '../errors.js';
import { seconds } from '../option-validators.js';
import { CloseCode } from '../protocol/constants.js';
import { Hub } from '../topics/hub.js';
import { ConnectionLimits } from './connection-limits.js';
import { PendingUpgrade, swallow } from './pending-upgrade.js';
import { answeredRequest, countRefusalsIn, wasAnswered } from './refusal.js';
import { HandshakeDeadline } from './handshake-deadline.js';
import { isHttp2Server, type UpgradeServer } from './transport.js';

/** Options for {@link handleUpgrades}. */
export interface HandleUpgradesOptions {
  /**
   * Which upgrade requests to route; others are left to other `'upgrade'` (or, over HTTP/2,
   * `'connect'`) listeners (a dev server's HMR socket, say). Default: all.
   */
  filter?: (req: IncomingMessage) => boolean;
  /**
   * Seconds a request handler has to either upgrade a routed request or answer it. After that the
   * client gets a 503 and the socket is closed, so a handler that forgets a request cannot leak
   * sockets. Default 10.
   */
  upgradeTimeout?: number;
  /**
   * Seconds a client may take from connecting (TLS included) to a complete first request head,
   * or over HTTP/2 from its session to its first stream (slowloris protection for the opening
   * handshake): a timer per connection drops it on time (408 over cleartext HTTP/1.1). Later
   * requests on a kept-alive connection fall under the server's `headersTimeout`, lowered to
   * this when higher (Node checks that one only every `connectionsCheckingInterval`, 30 s by
   * default). Default 10.
   */
  handshakeTimeout?: number;
  /**
   * Close live WebSockets (code 1001) when `server.close()` is called, so the server can
   * actually finish closing; on an HTTP/2 server each session is then sent GOAWAY, so clients
   * open no new streams and the sessions end once their last stream has. Default true.
   */
  closeOnServerClose?: boolean;
  /** The hub for the server's WebSockets' topics. Default: a new hub per server. */
  hub?: Hub;
  /**
   * Most WebSockets this router may have open at once, counting upgrade requests still with their
   * handler (each from the moment it is routed until its connection, or HTTP/2 stream, closes).
   * One more gets a 503 with `Retry-After` before any request handler runs, and the router emits
   * `refused` with `ERR_TOO_MANY_CONNECTIONS`. Default: unlimited, since what a server can hold
   * depends on its memory, file descriptors and traffic; measure yours and set it below that.
   */
  maxConnections?: number;
  /**
   * The same per client address (the TCP peer's; over HTTP/2 its session's, where each WebSocket
   * is a stream). Behind a proxy every client has the proxy's address, so leave it unset there or
   * set it to what the proxy may need. Default: unlimited, since many clients may share one
   * address (offices, carrier NAT, proxies).
   */
  maxConnectionsPerAddress?: number;
}

/** Events of an {@link UpgradeRouter}. */
export interface UpgradeRouterEvents {
  /**
   * A request handler's `upgrade()` refused a request (400/403/405/426, or 500 for bad options)
   * and the handler let the error escape; it has been answered already, so wsup keeps it from
   * crashing the process and reports it here (for logs and metrics). Also a request the router
   * refused itself, before any handler, over `maxConnections` or `maxConnectionsPerAddress`
   * (503, `ERR_TOO_MANY_CONNECTIONS`).
   */
  refused: [error: Error, req: IncomingMessage | Http2ServerRequest];
}

type RequestListener = (req: IncomingMessage, res: ServerResponse) => unknown;

/**
 * The link between a server and the WebSockets its request handlers create: routes upgrade
 * requests into the request listeners and keeps the registry of live connections.
 */
export class UpgradeRouter extends EventEmitter<UpgradeRouterEvents> {
  readonly server: UpgradeServer;
  /** Topics of this server's WebSockets: `router.hub.publish(topic, data)`. */
  readonly hub: Hub;
  private readonly live = new Set<WebSocket>();
  /** @internal The counters of {@link stats}; the WebSockets this router adopted point to them. */
  readonly counters = new StatsScope(this.live);
  private readonly filter: ((req: IncomingMessage) => boolean) | undefined;
  /** @internal `maxConnections` and `maxConnectionsPerAddress`; undefined when both are unlimited. */
  readonly limits: ConnectionLimits | undefined;
  /** @internal */
  readonly upgradeTimeoutMs: number;
  private readonly onUpgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
  private readonly onConnect: (req: Http2ServerRequest, res: Http2ServerResponse) => void;
  private readonly onSession: (session: Http2Session) => void;
  /** The HTTP/2 sessions of the server, for GOAWAY on shutdown. */
  private readonly sessions = new Set<Http2Session>();
  private readonly originalClose: UpgradeServer['close'] | undefined;

  private readonly guarded = new Map<RequestListener, RequestListener>();
  /** A request listener's rejection: reported as `refused` if `upgrade()` answered, rethrown otherwise. */
  private readonly onRejected = (err: unknown): void => {
    const req = answeredRequest(err);
    if (req === undefined) throw err;
    this.emit('refused', err as Error, req);
  };
  private readonly deadline: HandshakeDeadline;

  constructor(server: UpgradeServer, options: HandleUpgradesOptions = {}) {
    super();
    if (typeof options !== 'object' || options === null) throw rangeError('handleUpgrades options must be an object');
    this.limits = ConnectionLimits.from(options);
    this.server = server;
    countRefusalsIn(server, this.counters);
    this.guardListeners();
    this.hub = options.hub ?? new Hub();
    this.filter = options.filter;
    this.upgradeTimeoutMs = seconds(options.upgradeTimeout, 'upgradeTimeout', Defaults.upgradeTimeout);
    const handshakeMs = seconds(options.handshakeTimeout, 'handshakeTimeout', Defaults.handshakeTimeout);
    const s = server as UpgradeServer & { headersTimeout?: number };
    if ('headersTimeout' in s && (!(s.headersTimeout! > 0) || s.headersTimeout! > handshakeMs)) s.headersTimeout = handshakeMs;
    this.deadline = new HandshakeDeadline(server, handshakeMs);
    this.onUpgrade = (req, socket, head) => this.route(req, socket, head);
    this.onConnect = (req, res) => this.routeConnect(req, res);
    this.onSession = (session) => {
      this.sessions.add(session);
      session.once('close', () => this.sessions.delete(session));
    };
    // HTTP/1.1 upgrades arrive as 'upgrade' on every server, node:http2 ones with allowHTTP1 included.
    server.on('upgrade', this.onUpgrade);
    if (isHttp2Server(server)) {
      // SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441 §3) on every new session, so that clients may
      // open WebSockets as extended CONNECT streams.
      server.updateSettings({ enableConnectProtocol: true });
      server.on('connect', this.onConnect);
      server.on('session', this.onSession);
    }
    if (options.closeOnServerClose !== false) {
      // net.Server counts upgraded sockets as connections, so server.close() would wait for every
      // WebSocket to end on its own. Start their close handshakes instead.
      const original = server.close;
      this.originalClose = original;
      server.close = ((callback?: (err?: Error) => void) => {
        void this.closeAll(CloseCode.GoingAway, 'server shutting down').then(() => this.goAway());
        return (original as (this: UpgradeServer, cb?: (err?: Error) => void) => UpgradeServer).call(server, callback);
      }) as UpgradeServer['close'];
    }
  }

  /** The open WebSockets created from this server's requests. */
  get clients(): ReadonlySet<WebSocket> {
    return this.live;
  }

  /**
   * The counters of this server's WebSockets (those its request handlers made since this router
   * was created) and of the handshakes it refused: a snapshot, read without subscribing to
   * anything. {@link webSocketStats} counts the whole process's.
   */
  stats(): WebSocketStats {
    return this.counters.snapshot();
  }

  /**
   * Closes every live WebSocket with `code` (default 1001) and resolves once all are closed;
   * connections that do not finish the handshake within their `closeTimeout` are destroyed.
   */
  async closeAll(code: number = CloseCode.GoingAway, reason = ''): Promise<void> {
    const closing: Promise<unknown>[] = [];
    for (const ws of this.live) closing.push(ws.close(code, reason));
    await Promise.all(closing);
  }

  /**
   * `upgrade()` answers a bad handshake itself and then throws its typed error. In plain
   * node:http an escaping error crashes the process (a sync throw from a request listener is an
   * uncaught exception, an async one an unhandled rejection), which would let any client crash a
   * server with a plain GET on a WebSocket route. The server's request listeners are wrapped so
   * such already-answered errors stop here (reported as `refused`); every other error passes
   * through exactly as before.
   */
  private guardListeners(): void {
    for (const listener of this.server.listeners('request') as RequestListener[]) {
      const router = this;
      const guarded = function (this: unknown, req: IncomingMessage, res: ServerResponse): unknown {
        let result: unknown;
        try {
          result = listener.call(this, req, res);
        } catch (err) {
          if (!wasAnswered(err)) throw err;
          router.emit('refused', err as Error, req);
          return undefined;
        }
        // One rejection handler for every request: a `for await` handler's promise is pending for
        // the connection's life, and a closure here would keep its request alive as long.
        if (result && typeof (result as Promise<unknown>).then === 'function')
          return (result as Promise<unknown>).then(undefined, router.onRejected);
        return result;
      };
      this.guarded.set(listener, guarded);
      this.server.removeListener('request', listener);
      this.server.on('request', guarded);
    }
  }

  /** Stops routing upgrades and restores `server.close` and the request listeners (live connections stay open). */
  detach(): void {
    for (const [listener, guarded] of this.guarded) {
      this.server.removeListener('request', guarded);
      this.server.on('request', listener);
    }
    this.guarded.clear();
    this.server.removeListener('upgrade', this.onUpgrade);
    this.server.removeListener('connect', this.onConnect as never);
    this.server.removeListener('session', this.onSession as never);
    this.deadline.detach();
    countRefusalsIn(this.server, undefined);
    if (routers.get(this.server) === this) routers.delete(this.server);
    if (this.originalClose) this.server.close = this.originalClose;
  }

  private route(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (this.filter && !this.filter(req)) return;
    socket.on('error', swallow);
    const overLimit = this.limits?.admit(req, socket);
    if (overLimit) return void this.emit('refused', overLimit, req);
    const res = new ServerResponse(req);
    res.assignSocket(socket as never);
    res.shouldKeepAlive = false;
    PendingUpgrade.start(this, req, res, socket, head);
    this.dispatch(req, res);
  }

  /** An HTTP/2 CONNECT request: with `:protocol websocket` (RFC 8441 §4) it is routed like an HTTP/1.1 upgrade. */
  private routeConnect(req: Http2ServerRequest, res: Http2ServerResponse): void {
    const protocol = req.headers[':protocol'];
    const others = this.server.listenerCount('connect') > 1;
    if (protocol?.toLowerCase() !== 'websocket' || (this.filter && !this.filter(req as unknown as IncomingMessage))) {
      // Left to other 'connect' listeners; without any, answered as Node answers a CONNECT nobody
      // serves (405), or as a resource that does not exist (404).
      if (!others) {
        res.statusCode = protocol === undefined ? 405 : 404;
        res.end();
      }
      return;
    }
    req.stream.on('error', swallow);
    const overLimit = this.limits?.admit(req, req.stream, res);
    if (overLimit) return void this.emit('refused', overLimit, req);
    PendingUpgrade.start(this, req, res, req.stream);
    // Routes are written for the GET that asks for a WebSocket over HTTP/1.1; the extended CONNECT
    // is its HTTP/2 form (RFC 8441 §5), so the same route serves both. An own property, because
    // the setter would also rewrite `:method` in the headers the session and its listeners share;
    // `req.headers[':method']` still says CONNECT.
    Object.defineProperty(req, 'method', { value: 'GET', writable: true, configurable: true, enumerable: true });
    this.dispatch(req, res);
  }

  private dispatch(req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse): void {
    if (this.server.listenerCount('request') === 0) {
      res.statusCode = 404;
      res.end();
      return;
    }
    this.server.emit('request', req, res);
  }

  /** GOAWAY to every HTTP/2 session (RFC 9113 §6.8): no new streams; each ends after its last one. */
  private goAway(): void {
    for (const session of this.sessions) if (!session.closed && !session.destroyed) session.close();
  }

  /** @internal A routed request became a WebSocket. */
  adopt(ws: WebSocket): void {
    this.live.add(ws);
    this.counters.countOpened();
    // The connection removes itself when it closes (and adds its figures to the counters): cheaper
    // per connection than a 'close' listener.
    ws.registry = this.counters;
  }
}

/**
 * Routes a server's upgrade requests into its ordinary request listeners, so that WebSocket
 * routes are plain request handlers that call {@link upgrade}. A handler that answers normally
 * instead (401, 404, …) sends that HTTP response and the socket is closed. Also keeps the
 * registry of live connections for {@link UpgradeRouter.closeAll} and graceful `server.close()`.
 *
 * @example
 * ```ts
 * const server = http.createServer(handler);
 * handleUpgrades(server);
 * ```
 */
export function handleUpgrades(server: UpgradeServer, options?: HandleUpgradesOptions): UpgradeRouter {
  // Once per server: two routers would run every upgrade request through the app twice (a user
  // calling this next to an adapter's attach, or a plugin registered twice). The first call's
  // options win.
  let router = routers.get(server);
  if (!router) {
    router = new UpgradeRouter(server, options);
    routers.set(server, router);
  }
  return router;
}

const routers = new WeakMap<UpgradeServer, UpgradeRouter>();
