/**
 * WebSocket routes for Koa 2 and 3. Upgrade requests run through the whole middleware chain
 * (auth, sessions, @koa/router and its params); the route turns one into a WebSocket:
 *
 * ```ts
 * const app = new Koa();
 * app.use(websockets());
 * app.use(auth);
 * router.get('/rooms/:room', (ctx) => {
 *   const ws = ctx.upgrade();                     // or upgrade(ctx, options)
 *   ws.on('message', (msg) => ws.send(msg.data, msg.binary));
 * });
 * app.use(router.routes());
 * attach(app.listen(3000));
 * ```
 *
 * @packageDocumentation
 * @module @wsup/koa
 */
import { createServer, type Server as HttpServer } from 'node:http';
import type Koa from 'koa';
import type { Context, Middleware, Next } from 'koa';
import {
  attachUpgrades,
  failUpgradedRequest,
  upgrade as upgradeRequest,
  wantsWebSocket,
  WebSocketError,
  type HandleUpgradesOptions,
  type UpgradeOptions,
  type UpgradeRequest,
  type UpgradeResponse,
  type UpgradeRouter,
  type UpgradeServer,
  type WebSocket,
  injectUpgrade,
  type ConnectOptions,
} from '@wsup/core';

export { wantsWebSocket, WebSocketError, ErrorCode, CloseCode } from '@wsup/core';
export type { HandleUpgradesOptions, UpgradeOptions, UpgradeRouter, WebSocket, Message } from '@wsup/core';

declare module 'koa' {
  interface ExtendableContext {
    /** Whether the client asks for a WebSocket (`Upgrade: websocket`). Set by {@link websockets}. */
    isUpgrade: boolean;
    /**
     * Turns the request into a WebSocket; Koa then sends no response. A request that is not a valid
     * handshake is answered (400/403/405/426) and the call throws a `WebSocketError`. Set by
     * {@link websockets}.
     */
    upgrade(options?: UpgradeOptions): WebSocket;
  }
}

/** The parts of a Koa context an upgrade needs (any Koa major has them). */
export interface UpgradableContext {
  readonly req: UpgradeRequest;
  readonly res: UpgradeResponse;
  respond?: boolean;
}

/**
 * Turns the request into a WebSocket and tells Koa not to respond (`ctx.respond = false`): the
 * connection now belongs to the WebSocket.
 */
export function upgrade(ctx: UpgradableContext, options?: UpgradeOptions): WebSocket {
  try {
    const ws = upgradeRequest(ctx.req, ctx.res, options);
    ctx.respond = false;
    // Koa waits for the response to finish (on-finished) with listeners on the socket that hold
    // its context: 6.6 KiB per connection for the WebSocket's whole life. The HTTP exchange is
    // over (101 sent, response detached), so say so and let them go.
    ctx.res.emit('finish');
    return ws;
  } catch (err) {
    if (err instanceof WebSocketError && ctx.res.headersSent) {
      // The rejection is already on the wire. Koa must not answer again, and, as for any error
      // with a 4xx status, it should not log the client's mistake.
      ctx.respond = false;
      if (err.status !== undefined && err.status < 500) Object.assign(err, { expose: true });
    }
    throw err;
  }
}

function upgradeContext(this: Context, options?: UpgradeOptions): WebSocket {
  return upgrade(this, options);
}

/**
 * Middleware that gives every context `ctx.upgrade(options)` and `ctx.isUpgrade`. Put it before
 * the routes that upgrade; the server also needs {@link attach} so upgrade requests reach Koa.
 */
export function websockets(): Middleware {
  return function wsup(ctx: Context, next: Next) {
    ctx.isUpgrade = wantsWebSocket(ctx.req);
    ctx.upgrade = upgradeContext;
    return next().catch(failAfterUpgrade(ctx));
  };
}

// A route that fails after upgrading can no longer be answered over HTTP: its WebSocket is closed
// with 1011 so the client learns of it. Core also sees Koa's error response over HTTP/1.1, but
// over HTTP/2 the 200 is already sent and Koa writes nothing, so the error is caught on its way
// back through this middleware.
function failAfterUpgrade(ctx: Context): (err: unknown) => never {
  return (err) => {
    failUpgradedRequest(ctx.req);
    throw err;
  };
}

/**
 * Routes the server's WebSocket upgrade requests through the Koa app listening on it:
 * `attach(app.listen(3000))`, or `attach(http2.createSecureServer({ allowHTTP1: true, ...tls },
 * app.callback()))` for HTTP/2 (RFC 8441) and HTTP/1.1 on one port. Returns the server's {@link UpgradeRouter} (live `clients`,
 * `closeAll()`); `server.close()` closes live WebSockets with 1001. Calling it again for the same
 * server returns the same router.
 */
export function attach(server: UpgradeServer, options?: HandleUpgradesOptions): UpgradeRouter {
  return attachUpgrades(server, options);
}

const injectServers = new WeakMap<object, HttpServer>();

/**
 * Opens a WebSocket to one of the app's routes in memory, without a port, for tests: the upgrade
 * request runs through the app's middleware chain. A route that refuses (`ctx.throw(401)`)
 * rejects with a `HandshakeResponseError` carrying the status and body.
 */
export function injectWS(app: Pick<Koa, 'callback'>, path = '/', options?: ConnectOptions): Promise<WebSocket> {
  let server = injectServers.get(app);
  if (!server) {
    server = createServer(app.callback());
    attach(server);
    injectServers.set(app, server);
  }
  return injectUpgrade(server, path, options);
}
