import type { ServerResponse } from 'node:http';
import { ReadyState } from '../connection/ready-state.js';
import { webSocketOf, type WebSocket } from '../connection/websocket.js';
import { ErrorCode, WebSocketError } from '../errors.js';
import { CloseCode } from '../protocol/constants.js';
import { checkHandshake, wantsWebSocket } from './handshake.js';
import { routedUpgrade } from './pending-upgrade.js';
import { countRefusal, refusalHeaders, refuse } from './refusal.js';
import { transportOf, type UpgradeRequest, type UpgradeResponse, type UpgradeServer } from './transport.js';
import { handleUpgrades, type HandleUpgradesOptions, type UpgradeRouter } from './routing.js';

// The adapter kit: what the framework adapters (@wsup/express, @wsup/fastify, @wsup/koa) share.
// Each adapter only translates its framework's request/response objects; the rules live here.
// The contract an adapter fulfils is written in docs/architecture.md.

export { wasAnswered } from './refusal.js';

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
 * origin and the options. Nothing is sent, but a refusal returned is counted as one (in the
 * counters and on `wsup:handshake:refused`), as `upgrade()` would count it: call this to refuse.
 */
export function handshakeRefusal(req: UpgradeRequest): HandshakeRefusal | undefined {
  const offer = checkHandshake(req);
  if (!(offer instanceof WebSocketError)) return undefined;
  countRefusal(req, offer);
  return { error: shortenClientErrorStack(offer), headers: refusalHeaders(offer, req.httpVersionMajor === 2) };
}

/**
 * Gives a `WebSocketError` with a 4xx status (the client's mistake: a plain GET on a WebSocket
 * route, a bad handshake, a foreign origin) a one-line `stack`, `WebSocketError [CODE]: message`.
 * The frames of the server's handler say nothing about a client's bad request, and frameworks that
 * print every error's stack (Express's default handler) would print one for each. Returns `err`.
 */
export function shortenClientErrorStack<T>(err: T): T {
  if (err instanceof WebSocketError && err.expose) err.stack = `${err.name} [${err.code}]: ${err.message}`;
  return err;
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

/**
 * The error for a skipped setup step: `what` (`'res.upgrade()'`) needs `step` (`'attach(server)
 * from @wsup/express'`). `ERR_SETUP_MISSING`, status 500: the server's mistake, not the client's.
 */
export function setupMissing(what: string, step: string): WebSocketError {
  return new WebSocketError(ErrorCode.SetupMissing, `${what} needs ${step}`, { status: 500 });
}

// Marks the stand-ins defineSetupFallback installs, so a second copy of an adapter (two versions
// in one app, or a test runner's fresh module graph) replaces its own but never another library's.
const FALLBACK = Symbol.for('wsup.setupFallback');

/** What {@link defineSetupFallback} puts on the prototype: a method or a getter. */
export type SetupFallback = { method: (this: never, ...args: never[]) => unknown } | { getter: (this: never) => unknown };

/**
 * Puts a stand-in on a framework's prototype (`express.response`, Koa's context) for a property
 * the adapter's setup step gives each request as an own property (`res.upgrade`, `ctx.isUpgrade`).
 * The own property shadows it, so the stand-in runs only when the step was skipped, and then it
 * can throw {@link setupMissing} instead of the framework failing with "… is not a function".
 * Non-enumerable; assigning the property on a request (what the setup step does) still gives that
 * request its own value. Leaves a property some other library put there alone.
 */
export function defineSetupFallback(proto: object, name: string, fallback: SetupFallback): void {
  const existing = Object.getOwnPropertyDescriptor(proto, name);
  if (existing && !(existing.value ?? existing.get)?.[FALLBACK]) return;
  const own = (fn: object) => Object.assign(fn, { [FALLBACK]: true });
  if ('method' in fallback) {
    Object.defineProperty(proto, name, { value: own(fallback.method), writable: true, configurable: true, enumerable: false });
    return;
  }
  Object.defineProperty(proto, name, {
    get: own(fallback.getter) as () => unknown,
    set(this: object, value: unknown) {
      Object.defineProperty(this, name, { value, writable: true, configurable: true, enumerable: true });
    },
    configurable: true,
    enumerable: false,
  });
}

/**
 * Whether the request came to a server an adapter attached (`attachUpgrades`), so that a
 * setup error names only the steps that were really skipped.
 */
export function isAttached(req: UpgradeRequest): boolean {
  if (routedUpgrade(req)) return true;
  // node:net sets `server` on every socket it accepts (over HTTP/2, the session's socket).
  const server = (req.socket as { server?: UpgradeServer } | null)?.server;
  return server !== undefined && watched.has(server);
}

/**
 * For an adapter's `upgrade()`, before calling core's: a genuine handshake that reached the
 * handler without being routed (the server was not attached, so node:http delivered it as a
 * plain request) is answered 500 and `ERR_UPGRADE_NOT_ROUTED` is thrown, its message naming the
 * adapter's own `step` where core's would name `handleUpgrades(server)`. Anything else is left to
 * `upgrade()`; a routed request costs one lookup.
 */
export function refuseUnrouted(req: UpgradeRequest, res: UpgradeResponse, step: string): void {
  if (routedUpgrade(req) || res.headersSent || !wantsWebSocket(req)) return;
  const socket = transportOf(req);
  if (!socket || checkHandshake(req) instanceof WebSocketError) return;
  const message = `WebSocket upgrades are not routed to this app's request handlers; call ${step}`;
  throw refuse(req, new WebSocketError(ErrorCode.UpgradeNotRouted, message, { status: 500 }), socket, res);
}
