/**
 * The transport-independent half of the server's opening handshake: what the client offers
 * (version, subprotocols, extensions, origin) and what the server agrees to. HTTP/1.1 (and, with
 * RFC 8441, HTTP/2) only differ in how the request arrives and the answer is written.
 */
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { ErrorCode, WebSocketError } from '../errors.js';
import { PerMessageDeflate } from '../permessage-deflate/codec.js';
import { acceptOffer } from '../permessage-deflate/negotiation.js';
import { parseExtensions, parseProtocols, type ExtensionOffer } from '../protocol/header-grammar.js';
import { addressedHost, isSameOrigin } from './same-origin.js';
import type { ResolvedUpgradeOptions } from './upgrade-options.js';

/** What a client asks for beyond the transport. */
export interface WebSocketOffer {
  /** Subprotocols offered, in the client's order of preference. */
  protocols: string[];
  /** Extension offers, in order. */
  extensions: ExtensionOffer[];
  origin: string | undefined;
}

/** What the server agreed to. */
export interface Agreement {
  /** The subprotocol, or `''`. */
  protocol: string;
  /** The `Sec-WebSocket-Extensions` answer, or `''`. */
  extensions: string;
  /** The codec, when permessage-deflate was agreed. */
  deflate: PerMessageDeflate | undefined;
}

/** A header's value; a repeated header's values joined as a list (RFC 7230 §3.2.2). */
export function headerOf(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v.join(', ') : v;
}

function refusal(code: ErrorCode, status: number, message: string): WebSocketError {
  return new WebSocketError(code, message, { status });
}

/**
 * Reads the transport-independent part of a handshake (RFC 6455 §4.2.1 items 6, 8–10): version
 * 13, well-formed subprotocol and extension lists, the origin. Returns the refusal otherwise.
 */
export function readOffer(headers: IncomingHttpHeaders): WebSocketOffer | WebSocketError {
  const version = headerOf(headers, 'sec-websocket-version');
  if (version !== '13' && version?.trim() !== '13') {
    return refusal(ErrorCode.UnsupportedVersion, 426, 'Unsupported Sec-WebSocket-Version; only 13 is supported');
  }
  let protocols: string[] = [];
  const protoHeader = headerOf(headers, 'sec-websocket-protocol');
  if (protoHeader !== undefined) {
    const parsed = parseProtocols(protoHeader);
    if (parsed === null) return refusal(ErrorCode.BadProtocolHeader, 400, 'Malformed Sec-WebSocket-Protocol header');
    protocols = parsed;
  }
  let extensions: ExtensionOffer[] = [];
  const extHeader = headerOf(headers, 'sec-websocket-extensions');
  if (extHeader !== undefined) {
    const parsed = parseExtensions(extHeader);
    if (parsed === null) return refusal(ErrorCode.BadExtensionsHeader, 400, 'Malformed Sec-WebSocket-Extensions header');
    extensions = parsed;
  }
  return { protocols, extensions, origin: headerOf(headers, 'origin') };
}

function originAllowed(check: NonNullable<ResolvedUpgradeOptions['origin']>, origin: string | undefined, req: IncomingMessage): boolean {
  if (typeof check === 'function') return check(origin, req) === true;
  if (origin === undefined) return false;
  if (check instanceof RegExp) return check.test(origin);
  const o = origin.toLowerCase();
  if (typeof check === 'string') return check.toLowerCase() === o;
  return check.some((c) => c.toLowerCase() === o);
}

function selectProtocol(choice: ResolvedUpgradeOptions['subprotocol'], offered: string[], req: IncomingMessage): string | WebSocketError {
  if (choice === undefined || offered.length === 0) return '';
  if (typeof choice === 'string') return offered.includes(choice) ? choice : '';
  if (typeof choice === 'function') {
    const picked = choice(offered, req);
    if (picked === undefined || picked === null || picked === false || picked === '') return '';
    if (typeof picked !== 'string' || !offered.includes(picked)) {
      return refusal(
        ErrorCode.InvalidOption,
        500,
        `subprotocol selector returned ${JSON.stringify(picked)}, which the client did not offer`,
      );
    }
    return picked;
  }
  return offered.find((p) => choice.includes(p)) ?? '';
}

/**
 * Decides the server's side of the handshake (RFC 6455 §4.2.2): whether the origin may connect
 * (403 otherwise), the subprotocol, and permessage-deflate. Returns the agreement or the refusal.
 */
export function negotiate(offer: WebSocketOffer, options: ResolvedUpgradeOptions, req: IncomingMessage): Agreement | WebSocketError {
  if (options.origin === undefined) {
    if (offer.origin !== undefined && !isSameOrigin(offer.origin, addressedHost(req.headers, options.trustProxy))) {
      return refusal(
        ErrorCode.OriginForbidden,
        403,
        `cross-origin WebSocket from ${offer.origin} refused (only same-origin pages by default; allow others with the origin option)`,
      );
    }
  } else if (options.origin !== '*' && !originAllowed(options.origin, offer.origin, req)) {
    return refusal(ErrorCode.OriginForbidden, 403, `origin ${offer.origin ?? '(none)'} is not allowed`);
  }
  const protocol = selectProtocol(options.subprotocol, offer.protocols, req);
  if (protocol instanceof WebSocketError) return protocol;
  const agreed = options.deflate ? acceptOffer(offer.extensions, options.deflate) : null;
  return {
    protocol,
    extensions: agreed?.response ?? '',
    deflate: agreed ? new PerMessageDeflate(agreed.params, options.deflate!) : undefined,
  };
}
