import type { IncomingMessage } from 'node:http';
import { ErrorCode, typeError, WebSocketError } from '../errors.js';
import { boolean } from '../option-validators.js';
import { resolveOptions, type ResolvedOptions, type WebSocketOptions } from '../connection/options.js';
import { resolveDeflateOptions, type ResolvedDeflateOptions } from '../permessage-deflate/options.js';
import { headerFields, type HeaderFields } from '../protocol/header-grammar.js';
import { Hub } from '../topics/hub.js';

/**
 * Chooses a subprotocol from those the client offered (in its order of preference). Return one of
 * them, or nothing to proceed without a subprotocol.
 */
export type SubprotocolSelector = (offered: string[], req: IncomingMessage) => string | null | undefined | false;

/** Decides whether a request's `Origin` (undefined when absent) may connect. */
export type OriginCheck = (origin: string | undefined, req: IncomingMessage) => boolean;

/**
 * Options for {@link upgrade}.
 * @typeParam Data the type of `data`, and so of the WebSocket's `ws.data`.
 */
export interface UpgradeOptions<Data = unknown> extends WebSocketOptions {
  /**
   * The first value of `ws.data`, the application's own state for this connection (the user a
   * token named, say). Typed: `upgrade(req, res, { data: user })` returns a `WebSocket<User>`.
   */
  data?: Data;
  /**
   * The subprotocol to select: a name (chosen only if the client offered it), a list of
   * acceptable names (the client's first offered one that is listed wins), or a function.
   */
  subprotocol?: string | readonly string[] | SubprotocolSelector;
  /** Extra headers for the 101 response. */
  headers?: HeaderFields;
  /**
   * Which pages may open a WebSocket here, by their `Origin`. By default, same-origin only: a
   * request with an `Origin` whose host and port differ from the request's `Host` (`:authority`
   * over HTTP/2) gets 403, which stops cross-site WebSocket hijacking; a request without
   * `Origin` (not from a browser) is accepted. Otherwise: `'*'` for any origin, one origin or a
   * list (compared case-insensitively), a RegExp, or a function; with these, a request whose
   * `Origin` is missing or not allowed gets 403 (a function decides for itself).
   */
  origin?: '*' | string | readonly string[] | RegExp | OriginCheck;
  /**
   * Judge the default same-origin check against the host a proxy forwarded (`Forwarded: host=`,
   * else `X-Forwarded-Host`, the first entry) instead of `Host`. Only behind a proxy that sets
   * that header itself: a client could send it otherwise. Default false.
   */
  trustProxy?: boolean;
  /**
   * The hub for this connection's topics (`ws.subscribe`). Default: the server's hub when
   * {@link handleUpgrades} routed the request, else the process-wide default hub.
   */
  hub?: Hub;
}

/** {@link UpgradeOptions} after defaults and validation. */
export interface ResolvedUpgradeOptions {
  connection: ResolvedOptions;
  /** null when compression is off. */
  deflate: ResolvedDeflateOptions | null;
  /** Extra response header fields, validated. */
  headers: readonly (readonly [name: string, value: string])[];
  subprotocol: UpgradeOptions['subprotocol'];
  /** undefined: same-origin (or no `Origin`) only. */
  origin: UpgradeOptions['origin'];
  trustProxy: boolean;
  hub: Hub | undefined;
}

/** Header fields the handshake itself sets in its response. */
const RESERVED_HEADERS = new Map(
  ['upgrade', 'connection', 'sec-websocket-accept', 'sec-websocket-protocol', 'sec-websocket-extensions'].map((n) => [n, '']),
);

/**
 * Validates every upgrade option before anything is written: a bad option is the caller's bug.
 * @throws TypeError or RangeError `ERR_INVALID_OPTION` (a `hub` that is not a Hub: a
 *   WebSocketError with status 500).
 */
export function resolveUpgradeOptions(options: UpgradeOptions | undefined): ResolvedUpgradeOptions {
  // Most routes pass no options. Resolved afresh, the defaults cost 1.3–1.8 µs per handshake in
  // the accept benchmark (code and data gone cold between handshakes), for the same result.
  if (options === undefined) return (defaults ??= Object.freeze(resolveFresh(undefined)));
  return resolveFresh(options);
}

/** The options of every `upgrade()` without any: the same, so resolved once. */
let defaults: ResolvedUpgradeOptions | undefined;

function resolveFresh(options: UpgradeOptions | undefined): ResolvedUpgradeOptions {
  const hub = options?.hub;
  if (hub !== undefined && !(hub instanceof Hub)) {
    throw new WebSocketError(ErrorCode.InvalidOption, 'the hub option must be a Hub', { status: 500 });
  }
  return {
    connection: resolveOptions(options),
    deflate: resolveDeflateOptions(options?.compress),
    headers: Object.freeze(headerFields(options?.headers, RESERVED_HEADERS)),
    subprotocol: options?.subprotocol,
    origin: originOption(options?.origin),
    trustProxy: boolean(options?.trustProxy, 'trustProxy', false),
    hub,
  };
}

function originOption(value: unknown): UpgradeOptions['origin'] {
  const ok =
    value === undefined ||
    typeof value === 'string' ||
    typeof value === 'function' ||
    value instanceof RegExp ||
    (Array.isArray(value) && value.every((v) => typeof v === 'string'));
  if (!ok) throw typeError("origin must be '*', an origin, a list of origins, a RegExp or a function");
  return value as UpgradeOptions['origin'];
}
