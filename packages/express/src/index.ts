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
 * Errors take Express's error path. A request that is no valid handshake (a plain GET) is answered
 * by `res.upgrade()` itself (426, 400, …) and the `WebSocketError` it throws, with `statusCode`
 * and a one-line stack, goes on to the error handlers, which can write nothing more: an error
 * handler that answers anyway (`res.status(err.statusCode || 500).json(…)`) is ignored rather
 * than failing with `ERR_HTTP_HEADERS_SENT`. A route that fails after upgrading (a throw,
 * `next(err)`, a rejected promise in Express 5) reaches the error handlers too, and its
 * WebSocket is closed with 1011 when they answer. Forgetting `attach(server)` makes `res.upgrade()`
 * and `req.isUpgrade` throw `ERR_SETUP_MISSING` naming it (for the `express` package the app
 * resolves; the adapter installs these stand-ins on its prototypes when imported).
 *
 * @packageDocumentation
 * @module @wsup/express
 */
import { createServer, type IncomingMessage, type RequestListener, type Server as HttpServer, type ServerResponse } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import { createRequire } from 'node:module';
import {
  attachUpgrades,
  defineSetupFallback,
  ErrorCode,
  injectUpgrade,
  refuseUnrouted,
  setupMissing,
  shortenClientErrorStack,
  upgrade as upgradeRequest,
  type ConnectOptions,
  wantsWebSocket,
  wasAnswered,
  type HandleUpgradesOptions,
  type UpgradeOptions,
  type UpgradeRouter,
  type WebSocket,
  WebSocketError,
} from '@wsup/core';
// Express's Request and Response types live here (both majors); loaded for the augmentation below.
import type {} from 'express-serve-static-core';

export { wantsWebSocket, WebSocketError, ErrorCode, CloseCode } from '@wsup/core';
export type { HandleUpgradesOptions, UpgradeOptions, UpgradeRouter, WebSocket, Message } from '@wsup/core';

declare module 'express-serve-static-core' {
  interface Request {
    /**
     * Whether the client asks for a WebSocket (`Upgrade: websocket`); set by {@link attach}.
     * On a server that was not attached it throws `ERR_SETUP_MISSING` naming `attach(server)`.
     */
    isUpgrade: boolean;
  }
  interface Response {
    /**
     * Turns this request into a WebSocket: `upgrade(req, res, options)`. A request that is not a
     * valid handshake is answered (400/403/405/426) and the call throws a `WebSocketError`.
     * Set by {@link attach}; on a server that was not attached it throws `ERR_SETUP_MISSING`
     * naming `attach(server)`.
     */
    upgrade<Data = undefined>(options?: UpgradeOptions<Data>): WebSocket<Data>;
  }
}

type Server = HttpServer | HttpsServer;

const ATTACH = 'attach(server) from @wsup/express on the server the app listens on: attach(app.listen(port))';

/**
 * Turns the request into a WebSocket (core's `upgrade()`, for Express). A request that is no
 * valid handshake is answered (400/403/405/426) and the call throws a `WebSocketError` with its
 * `statusCode`; a 4xx one has a one-line stack (Express's default handler prints every error's
 * stack, and the client's mistake has nothing to show in the server's frames). The error handlers
 * it then reaches cannot answer again: what they write is ignored. A WebSocket handshake on a
 * server that was not attached is answered 500 and throws `ERR_UPGRADE_NOT_ROUTED` naming
 * `attach(server)`.
 */
export function upgrade<Data = undefined>(req: IncomingMessage, res: ServerResponse, options?: UpgradeOptions<Data>): WebSocket<Data> {
  try {
    refuseUnrouted(req, res, ATTACH);
    return upgradeRequest<Data>(req, res, options);
  } catch (err) {
    if (wasAnswered(err)) {
      ignoreLateAnswers(res);
      shortenClientErrorStack(err);
    }
    throw err;
  }
}

const LATE_WRITES = ['setHeader', 'appendHeader', 'removeHeader', 'writeHead', 'write', 'end'] as const;

function ignored(): boolean {
  return true;
}

// The refusal is on the wire and the connection closing. An error handler that answers without
// checking `res.headersSent`, as many do, would fail with ERR_HTTP_HEADERS_SENT, which Express
// then prints as a second, unrelated error; there is nothing left for it to say, so it is ignored.
function ignoreLateAnswers(res: ServerResponse): void {
  for (const name of LATE_WRITES) Object.defineProperty(res, name, { value: ignored, configurable: true, writable: true });
}

function upgradeThis<Data>(this: ServerResponse & { req: IncomingMessage }, options?: UpgradeOptions<Data>): WebSocket<Data> {
  return upgrade<Data>(this.req, this, options);
}

// Own properties survive Express swapping the prototypes of req and res for app.request and
// app.response, so this works for any app, router or wrapper listening on the server.
function decorate(req: IncomingMessage, res: ServerResponse): void {
  Object.defineProperty(req, 'isUpgrade', { value: wantsWebSocket(req), configurable: true, writable: true });
  Object.defineProperty(res, 'upgrade', { value: upgradeThis, configurable: true, writable: true });
}

const decorated = new WeakSet<Server>();

// Stand-ins for `res.upgrade` and `req.isUpgrade` on the prototypes of the app's express (a peer
// dependency, so the app's own copy, either major): a request on a server that was never
// attached lacks the own properties above and reaches these, which name the missing step where
// Express would fail with "res.upgrade is not a function".
function installSetupFallbacks(): void {
  let express: { request?: object; response?: object } | undefined;
  try {
    express = createRequire(import.meta.url)('express');
  } catch {
    return;
  }
  if (express?.response) {
    defineSetupFallback(express.response, 'upgrade', {
      method: () => {
        throw setupMissing('res.upgrade()', ATTACH);
      },
    });
  }
  if (express?.request) {
    defineSetupFallback(express.request, 'isUpgrade', {
      getter: () => {
        throw setupMissing('req.isUpgrade', ATTACH);
      },
    });
  }
}
installSetupFallbacks();

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
