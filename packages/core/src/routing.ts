import { ServerResponse, type IncomingMessage, type Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import type { WebSocket } from './websocket.js';

/** An upgrade request that {@link handleUpgrades} passed to the request listeners. */
export interface RoutedUpgrade {
  readonly head: Buffer;
  readonly socket: Duplex;
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
}

type AnyServer = HttpServer | HttpsServer;

function swallow(): void {
  // A reset while the request is being routed must not crash the process; the request handler
  // sees a closed socket.
}

/**
 * The link between a server and the WebSockets its request handlers create: routes upgrade
 * requests into the request listeners and tracks the live connections.
 */
export class UpgradeRouter {
  readonly server: AnyServer;
  private readonly live = new Set<WebSocket>();
  private readonly filter: ((req: IncomingMessage) => boolean) | undefined;
  private readonly onUpgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;

  constructor(server: AnyServer, options: HandleUpgradesOptions = {}) {
    this.server = server;
    this.filter = options.filter;
    this.onUpgrade = (req, socket, head) => this.route(req, socket, head);
    server.on('upgrade', this.onUpgrade);
  }

  /** The open WebSockets created from this server's requests. */
  get clients(): ReadonlySet<WebSocket> {
    return this.live;
  }

  /** Stops routing upgrades (live connections stay open). */
  detach(): void {
    this.server.removeListener('upgrade', this.onUpgrade);
  }

  private route(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (this.filter && !this.filter(req)) return;
    socket.on('error', swallow);
    const res = new ServerResponse(req);
    res.assignSocket(socket as never);
    res.shouldKeepAlive = false;
    const record: RoutedUpgrade = {
      head,
      socket,
      upgraded: false,
      accepted: (ws) => {
        record.upgraded = true;
        socket.removeListener('error', swallow);
        this.live.add(ws);
        ws.once('close', () => this.live.delete(ws));
      },
    };
    routed.set(req, record);
    res.on('finish', () => {
      // An ordinary response to an upgrade request ends the connection: the client is waiting
      // for a 101 and cannot reuse it.
      if (record.upgraded) return;
      const s = socket as Duplex & { destroySoon?: () => void };
      if (s.destroySoon) s.destroySoon();
      else s.end();
    });
    if (this.server.listenerCount('request') === 0) {
      res.statusCode = 404;
      res.end();
      return;
    }
    this.server.emit('request', req, res);
  }
}

/**
 * Routes a server's upgrade requests into its ordinary request listeners, so that WebSocket
 * routes are plain request handlers that call {@link upgrade}. A handler that answers normally
 * instead (401, 404, …) sends that HTTP response and the socket is closed.
 *
 * @example
 * ```ts
 * const server = http.createServer(handler);
 * handleUpgrades(server);
 * ```
 */
export function handleUpgrades(server: AnyServer, options?: HandleUpgradesOptions): UpgradeRouter {
  return new UpgradeRouter(server, options);
}
