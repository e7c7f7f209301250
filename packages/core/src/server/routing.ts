import { EventEmitter } from 'node:events';
import { ServerResponse, type IncomingMessage, type Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import { Defaults } from '../connection/options.js';
import type { WebSocket } from '../connection/websocket.js';
import { rangeError } from '../errors.js';
import { seconds } from '../option-validators.js';
import { CloseCode } from '../protocol/constants.js';
import { Hub } from '../topics/hub.js';
import { wasAnswered } from './refusal.js';

/** An upgrade request that {@link handleUpgrades} passed to the request listeners. */
export interface RoutedUpgrade {
  readonly head: Buffer;
  readonly socket: Duplex;
  /** The hub of the server's WebSockets. */
  readonly hub: Hub;
  upgraded: boolean;
  accepted(ws: WebSocket): void;
}

const routed = new WeakMap<IncomingMessage, RoutedUpgrade>();

/** The routing record of an upgrade request, if {@link handleUpgrades} routed it. @internal */
export function routedUpgrade(req: IncomingMessage): RoutedUpgrade | undefined {
  return routed.get(req);
}

/** Options for {@link handleUpgrades}. */
export interface HandleUpgradesOptions {
  /**
   * Which upgrade requests to route; others are left to other `'upgrade'` listeners (a dev
   * server's HMR socket, say). Default: all.
   */
  filter?: (req: IncomingMessage) => boolean;
  /**
   * Seconds a request handler has to either upgrade a routed request or answer it. After that the
   * client gets a 503 and the socket is closed, so a handler that forgets a request cannot leak
   * sockets. Default 10.
   */
  upgradeTimeout?: number;
  /**
   * Seconds a client may take to send a complete request head (slowloris protection for the
   * opening handshake). Lowers the server's `headersTimeout` to this when it is higher; Node
   * enforces it every `connectionsCheckingInterval` (a `createServer` option, default 30 s).
   * Default 10.
   */
  handshakeTimeout?: number;
  /**
   * Close live WebSockets (code 1001) when `server.close()` is called, so the server can
   * actually finish closing. Default true.
   */
  closeOnServerClose?: boolean;
  /** The hub for the server's WebSockets' topics. Default: a new hub per server. */
  hub?: Hub;
}

type AnyServer = HttpServer | HttpsServer;

function swallow(): void {
  // A reset while the request is being routed must not crash the process; the request handler
  // sees a closed socket.
}

/** Events of an {@link UpgradeRouter}. */
export interface UpgradeRouterEvents {
  /**
   * A request handler's `upgrade()` refused a request (400/403/405/426, or 500 for bad options)
   * and the handler let the error escape; it has been answered already, so wsup keeps it from
   * crashing the process and reports it here (for logs and metrics).
   */
  refused: [error: Error, req: IncomingMessage];
}

type RequestListener = (req: IncomingMessage, res: ServerResponse) => unknown;

/**
 * The link between a server and the WebSockets its request handlers create: routes upgrade
 * requests into the request listeners and keeps the registry of live connections.
 */
export class UpgradeRouter extends EventEmitter<UpgradeRouterEvents> {
  readonly server: AnyServer;
  /** Topics of this server's WebSockets: `router.hub.publish(topic, data)`. */
  readonly hub: Hub;
  private readonly live = new Set<WebSocket>();
  private readonly filter: ((req: IncomingMessage) => boolean) | undefined;
  /** @internal */
  readonly upgradeTimeoutMs: number;
  private readonly onUpgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
  private readonly originalClose: AnyServer['close'] | undefined;

  private readonly guarded = new Map<RequestListener, RequestListener>();

  constructor(server: AnyServer, options: HandleUpgradesOptions = {}) {
    super();
    if (typeof options !== 'object' || options === null) throw rangeError('handleUpgrades options must be an object');
    this.server = server;
    this.guardListeners();
    this.hub = options.hub ?? new Hub();
    this.filter = options.filter;
    this.upgradeTimeoutMs = seconds(options.upgradeTimeout, 'upgradeTimeout', Defaults.upgradeTimeout);
    const handshakeMs = seconds(options.handshakeTimeout, 'handshakeTimeout', Defaults.handshakeTimeout);
    const s = server as AnyServer & { headersTimeout: number };
    if (!(s.headersTimeout > 0) || s.headersTimeout > handshakeMs) s.headersTimeout = handshakeMs;
    this.onUpgrade = (req, socket, head) => this.route(req, socket, head);
    server.on('upgrade', this.onUpgrade);
    if (options.closeOnServerClose !== false) {
      // net.Server counts upgraded sockets as connections, so server.close() would wait for every
      // WebSocket to end on its own. Start their close handshakes instead.
      const original = server.close;
      this.originalClose = original;
      server.close = ((callback?: (err?: Error) => void) => {
        void this.closeAll(CloseCode.GoingAway, 'server shutting down');
        return original.call(server, callback);
      }) as AnyServer['close'];
    }
  }

  /** The open WebSockets created from this server's requests. */
  get clients(): ReadonlySet<WebSocket> {
    return this.live;
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
        if (result && typeof (result as Promise<unknown>).then === 'function') {
          return (result as Promise<unknown>).then(undefined, (err: unknown) => {
            if (!wasAnswered(err)) throw err;
            router.emit('refused', err as Error, req);
          });
        }
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
    if (routers.get(this.server) === this) routers.delete(this.server);
    if (this.originalClose) this.server.close = this.originalClose;
  }

  private route(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (this.filter && !this.filter(req)) return;
    socket.on('error', swallow);
    const res = new ServerResponse(req);
    res.assignSocket(socket as never);
    res.shouldKeepAlive = false;
    const pending = new PendingUpgrade(this, req, res, socket, head);
    routed.set(req, pending);
    if (this.server.listenerCount('request') === 0) {
      res.statusCode = 404;
      res.end();
      return;
    }
    this.server.emit('request', req, res);
  }

  /** @internal A routed request became a WebSocket. */
  adopt(ws: WebSocket): void {
    this.live.add(ws);
    // The connection removes itself when it closes: cheaper per connection than a 'close' listener.
    ws.registry = this.live;
  }
}

/** What an upgraded request maps to: the fact, and nothing of the routing state. */
const UPGRADED: RoutedUpgrade = Object.freeze({
  head: Buffer.alloc(0),
  socket: null as unknown as Duplex,
  hub: null as unknown as Hub,
  upgraded: true,
  accepted(): void {
    // Never called: upgrade() refuses an upgraded request before it gets this far.
  },
});

/**
 * A routed upgrade request until it is upgraded or answered. Once upgraded nothing refers to it
 * from the socket or the WebSocket any more, so the request, the response and their state can be
 * collected: an idle connection then costs little more than its socket.
 */
class PendingUpgrade implements RoutedUpgrade {
  upgraded = false;
  readonly hub: Hub;
  private readonly timer: NodeJS.Timeout;
  private readonly onSocketClose = (): void => clearTimeout(this.timer);
  private readonly onFinish = (): void => this.answered();

  constructor(
    private readonly router: UpgradeRouter,
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    readonly socket: Duplex,
    readonly head: Buffer,
  ) {
    this.hub = router.hub;
    this.timer = setTimeout(() => this.timedOut(), router.upgradeTimeoutMs);
    this.timer.unref();
    res.on('finish', this.onFinish);
    socket.once('close', this.onSocketClose);
  }

  accepted(ws: WebSocket): void {
    this.upgraded = true;
    clearTimeout(this.timer);
    this.socket.removeListener('error', swallow);
    this.socket.removeListener('close', this.onSocketClose);
    // A handler's frame (`for await` over the WebSocket) often keeps `req` and `res` for the whole
    // connection: neither may keep this record, its timer and the head buffer alive with it.
    this.res.removeListener('finish', this.onFinish);
    routed.set(this.req, UPGRADED);
    this.router.adopt(ws);
  }

  private answered(): void {
    clearTimeout(this.timer);
    if (this.upgraded) return;
    // An ordinary response to an upgrade request ends the connection: the client is waiting for
    // a 101 and cannot reuse it.
    const s = this.socket as Duplex & { destroySoon?: () => void };
    if (s.destroySoon) s.destroySoon();
    else s.end();
  }

  private timedOut(): void {
    const res = this.res;
    if (this.upgraded || res.writableEnded) return;
    if (!res.headersSent) {
      res.writeHead(503, { 'Content-Type': 'text/plain; charset=utf-8', Connection: 'close' });
      res.end('The WebSocket route did not answer in time');
    } else {
      this.socket.destroy();
    }
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
export function handleUpgrades(server: AnyServer, options?: HandleUpgradesOptions): UpgradeRouter {
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

const routers = new WeakMap<AnyServer, UpgradeRouter>();
