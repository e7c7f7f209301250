import type { ServerResponse } from 'node:http';
import { ReadyState } from '../connection/ready-state.js';
import { webSocketOf, type WebSocket } from '../connection/websocket.js';
import { WebSocketError } from '../errors.js';
import { CloseCode } from '../protocol/constants.js';
import { checkHandshake } from './handshake.js';
import { routedUpgrade } from './pending-upgrade.js';
import { refusalHeaders } from './refusal.js';
import { transportOf, type UpgradeRequest, type UpgradeResponse, type UpgradeServer } from './transport.js';
import { handleUpgrades, type HandleUpgradesOptions, type UpgradeRouter } from './routing.js';

// The adapter kit: what the framework adapters (@wsup/express, @wsup/fastify, @wsup/koa) share.
// Each adapter only translates its framework's request/response objects; the rules live here.
// The contract an adapter fulfils is written in docs/architecture.md.

const watched = new WeakSet<UpgradeServer>();

/**
 * Routes a server's upgrade requests into its request listeners ({@link handleUpgrades}, once per
 * server). It also ends a WebSocket with 1011 when the framework answers its request after the upgrade:
 * frameworks send their error page (or 404, when a handler calls `next()` after upgrading) on the
 * response object, which `upgrade()` has detached from the socket, so the route is known to have
 * failed but the client would otherwise never hear of it.
 */
export function attachUpgrades(server: UpgradeServer, options?: HandleUpgradesOptions): UpgradeRouter {
  const router = handleUpgrades(server, options);
  if (!watched.has(server)) {
    watched.add(server);
    server.prependListener('request', watchLateResponse);
  }
  return router;
}

function watchLateResponse(req: UpgradeRequest, res: UpgradeResponse): void {
  if (!routedUpgrade(req)) return;
  const r = res as ServerResponse;
  const end = r.end;
  r.end = function endUnlessUpgraded(this: ServerResponse, ...args: unknown[]) {
    if (failUpgradedRequest(req)) return this;
    return (end as (...a: unknown[]) => ServerResponse).apply(this, args);
  } as ServerResponse['end'];
}

/** A handshake refusal: the error `upgrade()` would throw and the headers its response needs. */
export interface HandshakeRefusal {
  /** Carries the HTTP `status` (400, 405, 426) and a stable `code`. */
  error: WebSocketError;
  /** `Upgrade` and `Sec-WebSocket-Version` with a 426, `Allow` with a 405. */
  headers: Record<string, string>;
}

/**
 * The refusal `upgrade()` would send for this request's handshake, or undefined if the handshake
 * is valid. Lets a framework that renders errors itself (error handlers, hooks, its own logging)
 * answer a plain GET on a WebSocket route the framework's way; `upgrade()` still checks the
 * origin and the options.
 */
export function handshakeRefusal(req: UpgradeRequest): HandshakeRefusal | undefined {
  const offer = checkHandshake(req);
  if (!(offer instanceof WebSocketError)) return undefined;
  return { error: offer, headers: refusalHeaders(offer, req.httpVersionMajor === 2) };
}

/** The WebSocket that `upgrade()` made of this request, if it was upgraded. */
export function webSocketOfRequest(req: UpgradeRequest): WebSocket | undefined {
  if (!routedUpgrade(req)?.upgraded) return undefined;
  const stream = transportOf(req);
  return stream && webSocketOf(stream);
}

/**
 * Ends the WebSocket of a request whose route failed after upgrading, with 1011: the framework
 * can no longer send the client an error response, and a connection nobody reads must not stay
 * open. Returns whether the request had been upgraded (so the caller knows no HTTP response is
 * possible).
 */
export function failUpgradedRequest(req: UpgradeRequest): boolean {
  const ws = webSocketOfRequest(req);
  if (!ws) return false;
  if (ws.readyState === ReadyState.Open) void ws.close(CloseCode.InternalError, 'internal error');
  return true;
}
