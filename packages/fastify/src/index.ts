/**
 * WebSocket routes for Fastify 4 and 5. Upgrade requests go through Fastify's routing, hooks and
 * error handler like any request; the route handler turns one into a WebSocket:
 *
 * ```ts
 * const app = Fastify();
 * await app.register(wsup);
 * app.get('/echo', { onRequest: auth }, (request, reply) => {
 *   const ws = reply.upgrade();                   // or upgrade(request, reply, options)
 *   ws.on('message', (msg) => ws.send(msg.data, msg.binary));
 * });
 * await app.listen({ port: 3000 });
 * ```
 *
 * Errors take Fastify's paths. A request that is no valid handshake (a plain GET) makes
 * `reply.upgrade()` throw a `WebSocketError` with its `statusCode` (426, 400, 405), which the
 * scope's error handler answers and Fastify logs as a client error. A route that fails after
 * upgrading is logged through the request's logger with the real error and its WebSocket closed
 * with 1011. Without `app.register(wsup)`, `reply.upgrade()` and `request.isUpgrade` throw
 * `ERR_SETUP_MISSING` naming it. (Importing the adapter equips every new Fastify instance, through
 * Fastify's `fastify.initialization` diagnostics channel, with these stand-ins and with the guard
 * on its route handlers that reports errors after the upgrade; a request that is no WebSocket
 * handshake passes the guard with one header check.)
 *
 * @packageDocumentation
 * @module @wsup/fastify
 */
import { subscribe } from 'node:diagnostics_channel';
import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  attachUpgrades,
  CloseCode,
  failUpgradedRequest,
  handshakeRefusal,
  refuseUnrouted,
  setupMissing,
  upgrade as upgradeRequest,
  wantsWebSocket,
  wasAnswered,
  webSocketOfRequest,
  type HandleUpgradesOptions,
  type UpgradeOptions,
  type UpgradeRequest,
  type UpgradeResponse,
  type UpgradeRouter,
  type WebSocket,
  injectUpgrade,
  type ConnectOptions,
} from '@wsup/core';

export { wantsWebSocket, WebSocketError, ErrorCode, CloseCode } from '@wsup/core';
export type { HandleUpgradesOptions, UpgradeOptions, UpgradeRouter, WebSocket, Message } from '@wsup/core';

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * Whether the client asks for a WebSocket (`Upgrade: websocket`). Throws `ERR_SETUP_MISSING`
     * in a scope where the plugin is not registered.
     */
    readonly isUpgrade: boolean;
  }
  interface FastifyReply {
    /**
     * Hijacks the reply and turns the request into a WebSocket. A request that is not a valid
     * handshake is answered (400/403/405/426) and the call throws a `WebSocketError`. Throws
     * `ERR_SETUP_MISSING` in a scope where the plugin is not registered.
     */
    upgrade<Data = undefined>(options?: UpgradeOptions<Data>): WebSocket<Data>;
  }
  interface FastifyInstance {
    /** The live WebSockets of this server and `closeAll()`. */
    readonly websockets: UpgradeRouter;
    /**
     * Opens a WebSocket to one of this instance's routes in memory, without a port, for tests
     * (the WebSocket counterpart of `fastify.inject`). Hooks and handlers run as for a real
     * upgrade; a route that refuses rejects with a `HandshakeResponseError`.
     */
    injectWS(path?: string, options?: ConnectOptions): Promise<WebSocket>;
  }
}

/** Options for the plugin: how the server's upgrade requests are routed. */
export type WsupFastifyOptions = HandleUpgradesOptions;

/** The parts of a Fastify request and reply an upgrade needs (any Fastify major has them). */
export interface UpgradableRequest {
  readonly raw: UpgradeRequest;
}
export interface UpgradableReply {
  readonly raw: UpgradeResponse;
  hijack(): unknown;
  headers(values: Record<string, string>): unknown;
}

const REGISTER = 'app.register(wsup) from @wsup/fastify, in this scope or a parent';

/**
 * Turns the request into a WebSocket. The reply is hijacked before the 101 goes out, so Fastify
 * leaves the connection to the WebSocket (no onSend, no serialization, no reply after the handler
 * returns).
 *
 * A request that is no WebSocket handshake (a plain GET, say) throws the `WebSocketError` before
 * anything is sent, so Fastify answers it like any error: its `statusCode` (426, 400, 405), the
 * scope's error handler and onError hooks, logged as a client error. What `upgrade()` refuses
 * after the handshake check (a foreign origin, bad options) it answers itself and logs through
 * the request's logger.
 * A WebSocket handshake on a server without the plugin is answered 500 and throws
 * `ERR_UPGRADE_NOT_ROUTED` naming `app.register(wsup)`.
 */
export function upgrade<Data = undefined>(
  request: UpgradableRequest,
  reply: UpgradableReply,
  options?: UpgradeOptions<Data>,
): WebSocket<Data> {
  const refusal = handshakeRefusal(request.raw);
  if (refusal) {
    reply.headers(refusal.headers);
    throw refusal.error;
  }
  reply.hijack();
  refuseUnrouted(request.raw, reply.raw, REGISTER);
  return upgradeRequest(request.raw, reply.raw, options);
}

// The scopes (Fastify instances) the plugin was registered in, and those given `reply.upgrade`
// and `request.isUpgrade`. A child scope's instance inherits from its parent's, so a scope is in
// one if it or an ancestor is.
const registered = new WeakSet<object>();
const decorated = new WeakSet<object>();

function inScope(scopes: WeakSet<object>, instance: object | null): boolean {
  for (let scope = instance; scope; scope = Object.getPrototypeOf(scope)) if (scopes.has(scope)) return true;
  return false;
}

function upgradeReply<Data>(this: FastifyReply, options?: UpgradeOptions<Data>): WebSocket<Data> {
  if (!inScope(registered, this.server)) throw setupMissing('reply.upgrade()', REGISTER);
  return upgrade(this.request, this, options);
}

function isUpgrade(this: FastifyRequest): boolean {
  if (!inScope(registered, this.server)) throw setupMissing('request.isUpgrade', REGISTER);
  return wantsWebSocket(this.raw);
}

/** Gives a scope (and its children) `reply.upgrade`, `request.isUpgrade` and guarded route handlers, once. */
function equip(fastify: FastifyInstance): void {
  if (inScope(decorated, fastify)) return;
  fastify.decorateReply('upgrade', upgradeReply);
  fastify.decorateRequest('isUpgrade', { getter: isUpgrade });
  fastify.addHook('onRoute', (route) => {
    route.handler = guardRoute(route.handler as RouteHandler) as typeof route.handler;
  });
  decorated.add(fastify);
}

// Fastify 4 and 5 publish every new instance on this channel. Equipping each at once means an
// app that forgets to register the plugin gets ERR_SETUP_MISSING naming it from `reply.upgrade()`,
// not "reply.upgrade is not a function", and registering the plugin then makes them work. It also
// guards routes added before the plugin has loaded (`app.register(wsup)` without await, then
// `app.get(…)`), which an onRoute hook added by the plugin would never see.
subscribe('fastify.initialization', (message: unknown) => {
  const fastify = (message as { fastify?: FastifyInstance } | undefined)?.fastify;
  try {
    if (fastify) equip(fastify);
  } catch {
    // Nothing can be decorated yet when Fastify publishes, so this does not fail; if it ever did,
    // the plugin would still equip the instance, while an error escaping a subscriber would
    // become an uncaught exception.
  }
});

type RouteHandler = (this: FastifyInstance, request: FastifyRequest, reply: FastifyReply) => unknown;

/**
 * Wraps a route's handler so that an error Fastify can no longer answer (the reply is hijacked)
 * is reported for what it is. Fastify would only log FST_ERR_REP_ALREADY_SENT (or "Promise errored,
 * but reply.sent = true was set"), leave the WebSocket of a route that failed after upgrading
 * open and unread (Fastify 4), and hide the error. Errors before the upgrade take Fastify's
 * error path unchanged; requests that are no WebSocket handshake go straight to the handler.
 */
function guardRoute(handler: RouteHandler): RouteHandler {
  return function wsupRoute(this: FastifyInstance, request: FastifyRequest, reply: FastifyReply): unknown {
    if (!wantsWebSocket(request.raw)) return handler.call(this, request, reply);
    let result: unknown;
    try {
      result = handler.call(this, request, reply);
    } catch (err) {
      if (!reportAfterHijack(err, request)) throw err;
      return undefined;
    }
    if (result === null || typeof result !== 'object' || typeof (result as Promise<unknown>).then !== 'function') {
      // A route that returns the WebSocket it made (`(request, reply) => reply.upgrade()`): there
      // is no HTTP reply left to send it as, and Fastify would build an FST_ERR_REP_ALREADY_SENT
      // (a stack trace) and log a warning for every connection.
      return webSocketOfRequest(request.raw) === undefined ? result : undefined;
    }
    return (result as Promise<unknown>).then(undefined, (err: unknown) => {
      if (!reportAfterHijack(err, request)) throw err;
    });
  };
}

/** Logs an error that came after the reply was taken (closing the route's WebSocket with 1011); false for any other. */
function reportAfterHijack(err: unknown, request: FastifyRequest): boolean {
  if (failUpgradedRequest(request.raw)) {
    request.log.error({ err }, 'WebSocket route failed after upgrading; its WebSocket was closed with 1011');
    return true;
  }
  if (!wasAnswered(err)) return false;
  logRefusal(request.log, err);
  return true;
}

/** A refusal `upgrade()` or the router answered itself: at Fastify's client-error level for a 4xx, like its error handler. */
function logRefusal(log: FastifyBaseLogger, err: unknown): void {
  const status = (err as { statusCode?: unknown }).statusCode;
  if (typeof status === 'number' && status < 500) log.info({ err }, 'WebSocket upgrade refused');
  else log.error({ err }, 'WebSocket upgrade refused');
}

const logging = new WeakSet<UpgradeRouter>();

/**
 * The plugin: routes the server's upgrade requests into Fastify's request handling, gives
 * `reply.upgrade()`, `request.isUpgrade` and `fastify.websockets` to this scope and its children,
 * and closes live WebSockets with 1001 when Fastify closes. Errors Fastify can no longer answer
 * (a route that fails after upgrading, whose WebSocket is closed with 1011; refusals `upgrade()`
 * answered itself) and the router's refusals (`maxConnections`) are logged through Fastify's
 * logger. It does not create an encapsulation context (like a plugin wrapped in fastify-plugin),
 * so registered at the root it serves every route.
 */
async function wsup(fastify: FastifyInstance, options: WsupFastifyOptions): Promise<void> {
  const router = attachUpgrades(fastify.server, options);
  registered.add(fastify);
  equip(fastify);
  if (!logging.has(router)) {
    logging.add(router);
    router.on('refused', (err) => logRefusal(fastify.log, err));
  }
  fastify.decorate('websockets', router);
  fastify.decorate('injectWS', async function injectWS(this: FastifyInstance, path = '/', opts?: ConnectOptions) {
    await this.ready();
    return injectUpgrade(this.server, path, opts);
  });
  // preClose runs before Fastify closes the server, which would otherwise wait for every open
  // WebSocket to end by itself.
  fastify.addHook('preClose', async () => {
    await router.closeAll(CloseCode.GoingAway, 'server shutting down');
  });
}

// What fastify-plugin would set: skip-override keeps the decorators in the registering scope.
Object.assign(wsup, {
  [Symbol.for('skip-override')]: true,
  [Symbol.for('fastify.display-name')]: '@wsup/fastify',
  [Symbol.for('plugin-meta')]: { name: '@wsup/fastify', fastify: '>=4' },
  default: wsup,
});

export default wsup;
export { wsup };
