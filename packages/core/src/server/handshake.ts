import type { IncomingMessage } from 'node:http';
import { ErrorCode, WebSocketError } from '../errors.js';
import { hasToken, isValidKey } from '../protocol/validation.js';
import { headerOf, readOffer, type WebSocketOffer } from './negotiation.js';

/** The parts of a request the handshake looks at; `IncomingMessage` has them all. */
export type HandshakeRequest = Pick<IncomingMessage, 'method' | 'httpVersionMajor' | 'httpVersionMinor' | 'headers'>;

/** What a valid opening handshake asks for. */
export interface HandshakeOffer extends WebSocketOffer {
  /** The `Sec-WebSocket-Key` of an HTTP/1.1 handshake; `''` over HTTP/2, which has none (RFC 8441 §5). */
  key: string;
}

function refusal(code: ErrorCode, status: number, message: string): WebSocketError {
  return new WebSocketError(code, message, { status });
}

/**
 * Validates an opening handshake without side effects: an HTTP/1.1 upgrade (RFC 6455 §4.2.1) or an
 * HTTP/2 extended CONNECT (RFC 8441 §4, §5). Returns the offer, or the error to reject with; the
 * error's `status` is the HTTP status to answer with.
 */
export function checkHandshake(req: HandshakeRequest): HandshakeOffer | WebSocketError {
  if (req.httpVersionMajor === 2) return checkExtendedConnect(req);
  const h = req.headers;
  // A request that does not ask for WebSocket at all is answered 426 (it may be a plain GET to a
  // WebSocket route); one that asks but gets details wrong is a 400.
  if (!hasToken(headerOf(h, 'upgrade'), 'websocket')) {
    return refusal(ErrorCode.NotUpgrade, 426, 'Expected an Upgrade: websocket request');
  }
  if (req.method !== 'GET') {
    return refusal(ErrorCode.BadMethod, 405, `WebSocket handshakes must use GET, not ${req.method}`);
  }
  if (req.httpVersionMajor < 1 || (req.httpVersionMajor === 1 && req.httpVersionMinor < 1)) {
    return refusal(ErrorCode.BadHttpVersion, 400, 'WebSocket handshakes need HTTP/1.1 or later');
  }
  if (!h.host) return refusal(ErrorCode.MissingHost, 400, 'Missing Host header');
  if (!hasToken(headerOf(h, 'connection'), 'upgrade')) {
    return refusal(ErrorCode.BadConnectionHeader, 400, 'Connection header must contain "Upgrade"');
  }
  const offer = readOffer(h);
  if (offer instanceof WebSocketError) return offer;
  const key = headerOf(h, 'sec-websocket-key')?.trim();
  if (key === undefined || !isValidKey(key)) {
    return refusal(ErrorCode.BadKey, 400, 'Sec-WebSocket-Key must be the base64 encoding of 16 bytes');
  }
  return { key, protocols: offer.protocols, extensions: offer.extensions, origin: offer.origin };
}

/**
 * Checks an HTTP/2 request for a WebSocket (RFC 8441 §4, §5): an extended CONNECT with
 * `:protocol websocket`, `:scheme`, `:path` and `:authority`, then what every transport checks.
 * There is no key: the stream itself proves the server understood.
 */
function checkExtendedConnect(req: HandshakeRequest): HandshakeOffer | WebSocketError {
  const h = req.headers;
  const protocol = headerOf(h, ':protocol');
  if (protocol === undefined) {
    // A plain HTTP/2 request to a WebSocket route: HTTP/2 has no Upgrade; say what it needs instead.
    return refusal(ErrorCode.NotUpgrade, 426, 'WebSocket over HTTP/2 needs an extended CONNECT with :protocol websocket (RFC 8441)');
  }
  if (protocol.toLowerCase() !== 'websocket')
    return refusal(ErrorCode.NotUpgrade, 400, `unsupported :protocol ${JSON.stringify(protocol)}`);
  if (!headerOf(h, ':authority') && !h.host) return refusal(ErrorCode.MissingHost, 400, 'Missing :authority');
  if (!headerOf(h, ':path') || !headerOf(h, ':scheme'))
    return refusal(ErrorCode.BadHttpVersion, 400, 'An extended CONNECT needs :scheme and :path');
  const offer = readOffer(h);
  if (offer instanceof WebSocketError) return offer;
  return { key: '', ...offer };
}

/**
 * Whether `req` is a well-formed WebSocket opening handshake. Has no side effects, so it is safe to
 * call before deciding how to answer.
 */
export function isWebSocketRequest(req: HandshakeRequest): boolean {
  return !(checkHandshake(req) instanceof WebSocketError);
}

/**
 * Whether the request asks for a WebSocket (`Upgrade: websocket`), whatever else is wrong with its
 * handshake: a route that checks this before calling `upgrade()` lets `upgrade()` answer a broken
 * handshake with its precise 400 instead of serving the page meant for plain GETs.
 */
export function wantsWebSocket(req: Pick<IncomingMessage, 'headers'>): boolean {
  const h = req.headers;
  if (h[':protocol'] !== undefined) return String(h[':protocol']).toLowerCase() === 'websocket';
  return typeof h.upgrade === 'string' && hasToken(h.upgrade, 'websocket');
}
