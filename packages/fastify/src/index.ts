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
 * @packageDocumentation
 * @module @wsup/fastify
 */
import { subscribe } from 'node:diagnostics_channel';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  attachUpgrades,
  CloseCode,
  failUpgradedRequest,
  handshakeRefusal,
  upgrade as upgradeRequest,
  wantsWebSocket,
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
    /** Whether the client asks for a WebSocket (`Upgrade: websocket`). */
    readonly isUpgrade: boolean;
  }
  interface FastifyReply {
    /**
     * Hijacks the reply and turns the request into a WebSocket. A request that is not a valid
     * handshake is answered (400/403/405/426) and the call throws a `WebSocketError`.
     */
    upgrade(options?: UpgradeOptions): WebSocket;
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

/**
 * Turns the request into a WebSocket. The reply is hijacked before the 101 goes out, so Fastify
 * leaves the connection to the WebSocket (no onSend, no serialization, no reply after the handler
 * returns).
 *
 * A request that is no WebSocket handshake (a plain GET, say) throws the `WebSocketError` before
 * anything is sent, so Fastify answers it like any error: its `status` (426, 400, 405), the
 * scope's error handler and onError hooks, logged as a client error.
 */
export function upgrade(request: UpgradableRequest, reply: UpgradableReply, options?: UpgradeOptions): WebSocket {
  const refusal = handshakeRefusal(request.raw);
  if (refusal) {
    reply.headers(refusal.headers);
    throw refusal.error;
  }
  reply.hijack();
  return upgradeRequest(request.raw, reply.raw, options);
}

function upgradeReply(this: FastifyReply, options?: UpgradeOptions): WebSocket {
  return upgrade(this.request, this, options);
}

function isUpgrade(this: FastifyRequest): boolean {
  return wantsWebSocket(this.raw);
}

// A hijacked reply's handler error is only logged by Fastify, but Fastify 5 also publishes it
// here; a WebSocket whose route failed is then closed with 1011 instead of staying open unread.
// (Fastify 4 has no such channel.)
const HANDLER_ERRORS = 'tracing:fastify.request.handler:error';
let subscribed = false;

function onHandlerError(message: unknown): void {
  const raw = (message as { request?: { raw?: UpgradeRequest } } | undefined)?.request?.raw;
  if (raw) failUpgradedRequest(raw);
}

/**
 * The plugin: routes the server's upgrade requests into Fastify's request handling, decorates
 * `reply.upgrade()`, `request.isUpgrade` and `fastify.websockets`, and closes live WebSockets with
 * 1001 when Fastify closes. It does not create an encapsulation context (like a plugin wrapped in
 * fastify-plugin), so registered at the root it serves every route.
 */
async function wsup(fastify: FastifyInstance, options: WsupFastifyOptions): Promise<void> {
  const router = attachUpgrades(fastify.server, options);
  if (!subscribed) {
    subscribed = true;
    subscribe(HANDLER_ERRORS, onHandlerError);
  }
  fastify.decorateReply('upgrade', upgradeReply);
  fastify.decorateRequest('isUpgrade', { getter: isUpgrade });
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
