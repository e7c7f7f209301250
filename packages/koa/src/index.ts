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
 * Errors take Koa's error path. A request that is no valid handshake (a plain GET) is answered by
 * `ctx.upgrade()` itself (426, 400, …) and the `WebSocketError` it throws is `expose`d, so Koa
 * neither answers again nor logs the client's mistake. A route that fails after upgrading closes
 * its WebSocket with 1011 and the error goes on as any other: escaping the chain it reaches
 * `app.on('error')`, and an error middleware that catches it (before `websockets()` or after it)
 * renders its 5xx to no one but closes the WebSocket by setting the status. Forgetting
 * `app.use(websockets())` or `attach(server)` makes the first `ctx.upgrade()` throw
 * `ERR_SETUP_MISSING` or `ERR_UPGRADE_NOT_ROUTED` naming the step (for the `koa` package the app
 * resolves; the adapter installs the stand-ins on its context prototype when imported).
 *
 * @packageDocumentation
 * @module @wsup/koa
 */
import { createServer, type Server as HttpServer } from 'node:http';
import { createRequire } from 'node:module';
import type Koa from 'koa';
import type { Context, Middleware, Next } from 'koa';
import {
  attachUpgrades,
  defineSetupFallback,
  failUpgradedRequest,
  isAttached,
  refuseUnrouted,
  setupMissing,
  shortenClientErrorStack,
  upgrade as upgradeRequest,
  wantsWebSocket,
  wasAnswered,
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
    /**
     * Whether the client asks for a WebSocket (`Upgrade: websocket`). Set by {@link websockets};
     * before it has run, throws `ERR_SETUP_MISSING` naming it.
     */
    isUpgrade: boolean;
    /**
     * Turns the request into a WebSocket; Koa then sends no response. A request that is not a valid
     * handshake is answered (400/403/405/426) and the call throws a `WebSocketError`. Set by
     * {@link websockets}; before it has run, throws `ERR_SETUP_MISSING` naming it.
     */
    upgrade<Data = undefined>(options?: UpgradeOptions<Data>): WebSocket<Data>;
  }
}

/** The parts of a Koa context an upgrade needs (any Koa major has them). */
export interface UpgradableContext {
  readonly req: UpgradeRequest;
  readonly res: UpgradeResponse;
  respond?: boolean;
  /** Koa's response object: setting its `status` to 5xx after the upgrade closes the WebSocket with 1011. */
  readonly response?: object;
}

const ATTACH = 'attach(server) from @wsup/koa on the server the app listens on: attach(app.listen(port))';
const WEBSOCKETS = 'app.use(websockets()) from @wsup/koa before this route';

/**
 * Turns the request into a WebSocket and tells Koa not to respond (`ctx.respond = false`): the
 * connection now belongs to the WebSocket. A request that is no valid handshake is answered
 * (400/403/405/426) and the call throws an `expose`d `WebSocketError` (Koa neither answers again
 * nor logs it). A WebSocket handshake on a server that was not attached is answered 500 and
 * throws `ERR_UPGRADE_NOT_ROUTED` naming `attach(server)`.
 */
export function upgrade<Data = undefined>(ctx: UpgradableContext, options?: UpgradeOptions<Data>): WebSocket<Data> {
  try {
    refuseUnrouted(ctx.req, ctx.res, ATTACH);
    const ws = upgradeRequest(ctx.req, ctx.res, options);
    ctx.respond = false;
    // Koa waits for the response to finish (on-finished) with listeners on the socket that hold
    // its context: 6.6 KiB per connection for the WebSocket's whole life. The HTTP exchange is
    // over (101 sent, response detached), so say so and let them go.
    ctx.res.emit('finish');
    if (ctx.response) Object.defineProperty(ctx.response, 'status', STATUS_AFTER_UPGRADE);
    return ws;
  } catch (err) {
    if (wasAnswered(err)) {
      // The rejection is already on the wire: Koa must not answer again.
      ctx.respond = false;
      shortenClientErrorStack(err);
    }
    throw err;
  }
}

// An error middleware that catches a route's error renders a 5xx by setting the status
// (`ctx.status = err.status || 500`) and returns normally, so the error never passes back through
// websockets(). After the upgrade nothing else sets a 5xx, so the status itself is the signal. It
// is watched on the response object because over HTTP/2 the 200 is already sent and Koa's own
// setter ignores the assignment before it could reach `ctx.res`.
const STATUS_AFTER_UPGRADE: PropertyDescriptor = {
  get(this: object): unknown {
    return Reflect.get(Object.getPrototypeOf(this), 'status', this);
  },
  set(this: { req: UpgradeRequest }, code: unknown): void {
    Reflect.set(Object.getPrototypeOf(this), 'status', code, this);
    if (typeof code === 'number' && code >= 500) failUpgradedRequest(this.req);
  },
  configurable: true,
};

function upgradeContext<Data>(this: Context, options?: UpgradeOptions<Data>): WebSocket<Data> {
  return upgrade<Data>(this, options);
}

/**
 * Middleware that gives every context `ctx.upgrade(options)` and `ctx.isUpgrade`. Put it before
 * the routes that upgrade; the server also needs {@link attach} so upgrade requests reach Koa.
 * Without it, `ctx.upgrade()` and `ctx.isUpgrade` throw `ERR_SETUP_MISSING` naming it.
 */
export function websockets(): Middleware {
  return function wsup(ctx: Context, next: Next) {
    ctx.isUpgrade = wantsWebSocket(ctx.req);
    ctx.upgrade = upgradeContext;
    return next().catch(failAfterUpgrade(ctx));
  };
}

// Stand-ins for `ctx.upgrade` and `ctx.isUpgrade` on the context prototype of the app's koa (a
// peer dependency, so the app's own copy, either major). websockets() gives each context its own;
// a context that lacks them reaches these, which name the missing steps where Koa would fail
// with "ctx.upgrade is not a function".
function missingSteps(ctx: Context): string {
  return isAttached(ctx.req) ? WEBSOCKETS : `${WEBSOCKETS}, and ${ATTACH}`;
}

function installSetupFallbacks(): void {
  let context: object;
  try {
    const KoaClass = createRequire(import.meta.url)('koa') as typeof Koa;
    context = Object.getPrototypeOf(new KoaClass().context);
  } catch {
    return;
  }
  defineSetupFallback(context, 'upgrade', {
    method(this: Context) {
      throw setupMissing('ctx.upgrade()', missingSteps(this));
    },
  });
  defineSetupFallback(context, 'isUpgrade', {
    getter(this: Context) {
      throw setupMissing('ctx.isUpgrade', missingSteps(this));
    },
  });
}
installSetupFallbacks();

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
