/**
 * WebSocket routes for Express 4 and 5. Upgrade requests run through the app like any request
 * (middleware, router, params, error handlers); the route handler turns one into a WebSocket:
 *
 * ```ts
 * const app = express();
 * app.get('/echo', requireLogin, (req, res) => {
 *   const ws = res.upgrade();                     // or upgrade(req, res, options)
 *   ws.on('message', (msg) => ws.send(msg.data, msg.binary));
 * });
 * attach(app.listen(3000));
 * ```
 *
 * @packageDocumentation
 * @module @wsup/express
 */
import { createServer, type IncomingMessage, type RequestListener, type Server as HttpServer, type ServerResponse } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import {
  attachUpgrades,
  ErrorCode,
  injectUpgrade,
  upgrade,
  type ConnectOptions,
  wantsWebSocket,
  type HandleUpgradesOptions,
  type UpgradeOptions,
  type UpgradeRouter,
  type WebSocket,
  WebSocketError,
} from '@wsup/core';
// Express's Request and Response types live here (both majors); loaded for the augmentation below.
import type {} from 'express-serve-static-core';

export { upgrade, wantsWebSocket, WebSocketError, ErrorCode, CloseCode } from '@wsup/core';
export type { HandleUpgradesOptions, UpgradeOptions, UpgradeRouter, WebSocket, Message } from '@wsup/core';

declare module 'express-serve-static-core' {
  interface Request {
    /** Whether the client asks for a WebSocket (`Upgrade: websocket`); set by {@link attach}. */
    isUpgrade: boolean;
  }
  interface Response {
    /**
     * Turns this request into a WebSocket: `upgrade(req, res, options)`. A request that is not a
     * valid handshake is answered (400/403/405/426) and the call throws a `WebSocketError`.
     * Set by {@link attach}.
     */
    upgrade(options?: UpgradeOptions): WebSocket;
  }
}

type Server = HttpServer | HttpsServer;

function upgradeThis(this: ServerResponse & { req: IncomingMessage }, options?: UpgradeOptions): WebSocket {
  return upgrade(this.req, this, options);
}

// Own properties survive Express swapping the prototypes of req and res for app.request and
// app.response, so this works for any app, router or wrapper listening on the server.
function decorate(req: IncomingMessage, res: ServerResponse): void {
  Object.defineProperty(req, 'isUpgrade', { value: wantsWebSocket(req), configurable: true, writable: true });
  Object.defineProperty(res, 'upgrade', { value: upgradeThis, configurable: true, writable: true });
}

const decorated = new WeakSet<Server>();

/**
 * Express (4 and 5) cannot run on node:http2's compatibility API: it swaps the prototypes of `req`
 * and `res` for ones built on node:http's, so even a plain GET over HTTP/2 throws inside Node. A
 * WebSocket route would hang its stream, so an HTTP/2 server is refused up front.
 */
function refuseHttp2(server: Server): void {
  if (typeof (server as { updateSettings?: unknown }).updateSettings === 'function') {
    throw new WebSocketError(
      ErrorCode.Http2Unsupported,
      'Express cannot serve HTTP/2 (it needs node:http request objects); serve Express over node:http or node:https, or use @wsup/fastify or @wsup/koa for WebSockets over HTTP/2',
    );
  }
}

/**
 * Routes the server's WebSocket upgrade requests through the Express app listening on it, and
 * gives every request `req.isUpgrade` and every response `res.upgrade(options)`. Returns the
 * server's {@link UpgradeRouter} (live `clients`, `closeAll()`); `server.close()` closes live
 * WebSockets with 1001. Calling it again for the same server returns the same router.
 *
 * It takes the server rather than the app because the server is what receives upgrades, and so
 * it works the same for `app.listen()`, `http.createServer(app)` and `https.createServer(opts, app)`.
 *
 * @throws `WebSocketError` with code `ERR_HTTP2_UNSUPPORTED` for a node:http2 server: Express
 * does not run on HTTP/2.
 */
export function attach(server: Server, options?: HandleUpgradesOptions): UpgradeRouter {
  refuseHttp2(server);
  if (!decorated.has(server)) {
    decorated.add(server);
    server.prependListener('request', decorate);
  }
  return attachUpgrades(server, options);
}

const injectServers = new WeakMap<RequestListener, HttpServer>();

/**
 * Opens a WebSocket to one of the app's routes in memory, without a port, for tests (like
 * supertest for HTTP routes): the upgrade request goes through the app's middleware and router.
 * A route that refuses rejects with a `HandshakeResponseError` carrying the status and body.
 *
 * @example
 * ```ts
 * const ws = await injectWS(app, '/chat/lobby?token=secret');
 * ws.send('hi');
 * expect((await ws.receive())?.data).toBe('lobby: hi');
 * ```
 */
export function injectWS(app: RequestListener, path = '/', options?: ConnectOptions): Promise<WebSocket> {
  let server = injectServers.get(app);
  if (!server) {
    server = createServer(app);
    attach(server);
    injectServers.set(app, server);
  }
  return injectUpgrade(server, path, options);
}
