import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { WS_GUID } from './constants.js';
import { ErrorCode, WebSocketError } from './errors.js';
import { parseExtensions, parseProtocols, type ExtensionOffer } from './extensions.js';

/** The parts of a request the handshake looks at; `IncomingMessage` has them all. */
export type HandshakeRequest = Pick<IncomingMessage, 'method' | 'httpVersionMajor' | 'httpVersionMinor' | 'headers'>;

/** What a valid opening handshake asks for. */
export interface HandshakeOffer {
  key: string;
  /** Subprotocols offered, in the client's order of preference. */
  protocols: string[];
  /** Extension offers, in order. */
  extensions: ExtensionOffer[];
  origin: string | undefined;
}

const KEY_RE = /^[+/0-9A-Za-z]{22}==$/;

/** `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key` (RFC 6455 §4.2.2). */
export function acceptKey(key: string): string {
  return createHash('sha1').update(key + WS_GUID).digest('base64');
}

function hasToken(value: string | undefined, token: string): boolean {
  if (value === undefined) return false;
  for (const part of value.split(',')) {
    if (part.trim().toLowerCase() === token) return true;
  }
  return false;
}

function single(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v.join(', ') : v;
}

function reject(code: ErrorCode, status: number, message: string): WebSocketError {
  return new WebSocketError(code, message, { status });
}

/**
 * Validates an opening handshake (RFC 6455 §4.2.1) without side effects. Returns the offer, or the
 * error to reject with; the error's `status` is the HTTP status to answer with.
 */
export function checkHandshake(req: HandshakeRequest): HandshakeOffer | WebSocketError {
  const h = req.headers;
  // A request that does not ask for WebSocket at all is answered 426 (it may be a plain GET to a
  // WebSocket route); one that asks but gets details wrong is a 400.
  if (!hasToken(single(h, 'upgrade'), 'websocket')) {
    return reject(ErrorCode.NotUpgrade, 426, 'Expected an Upgrade: websocket request');
  }
  if (req.method !== 'GET') {
    return reject(ErrorCode.BadMethod, 405, `WebSocket handshakes must use GET, not ${req.method}`);
  }
  if (req.httpVersionMajor < 1 || (req.httpVersionMajor === 1 && req.httpVersionMinor < 1)) {
    return reject(ErrorCode.BadHttpVersion, 400, 'WebSocket handshakes need HTTP/1.1 or later');
  }
  if (!h.host) {
    return reject(ErrorCode.MissingHost, 400, 'Missing Host header');
  }
  if (!hasToken(single(h, 'connection'), 'upgrade')) {
    return reject(ErrorCode.BadConnectionHeader, 400, 'Connection header must contain "Upgrade"');
  }
  const version = single(h, 'sec-websocket-version');
  if (version === undefined || version.trim() !== '13') {
    return reject(ErrorCode.UnsupportedVersion, 426, 'Unsupported Sec-WebSocket-Version; only 13 is supported');
  }
  const key = single(h, 'sec-websocket-key')?.trim();
  if (key === undefined || !KEY_RE.test(key)) {
    return reject(ErrorCode.BadKey, 400, 'Sec-WebSocket-Key must be the base64 encoding of 16 bytes');
  }
  let protocols: string[] = [];
  const protoHeader = single(h, 'sec-websocket-protocol');
  if (protoHeader !== undefined) {
    const parsed = parseProtocols(protoHeader);
    if (parsed === null) return reject(ErrorCode.BadProtocolHeader, 400, 'Malformed Sec-WebSocket-Protocol header');
    protocols = parsed;
  }
  let extensions: ExtensionOffer[] = [];
  const extHeader = single(h, 'sec-websocket-extensions');
  if (extHeader !== undefined) {
    const parsed = parseExtensions(extHeader);
    if (parsed === null) return reject(ErrorCode.BadExtensionsHeader, 400, 'Malformed Sec-WebSocket-Extensions header');
    extensions = parsed;
  }
  return { key, protocols, extensions, origin: single(h, 'origin') };
}

/**
 * Whether `req` is a well-formed WebSocket opening handshake. Has no side effects, so it is safe to
 * call before deciding how to answer (lua-http's `new_from_stream`).
 */
export function isWebSocketRequest(req: HandshakeRequest): boolean {
  return !(checkHandshake(req) instanceof WebSocketError);
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  403: 'Forbidden',
  405: 'Method Not Allowed',
  426: 'Upgrade Required',
  500: 'Internal Server Error',
};

/** Headers that go with a handshake rejection, beyond the body's. */
export function rejectionHeaders(err: WebSocketError): Record<string, string> {
  const headers: Record<string, string> = {};
  if (err.status === 426) {
    headers['Upgrade'] = 'websocket';
    headers['Sec-WebSocket-Version'] = '13';
  } else if (err.status === 405) {
    headers['Allow'] = 'GET';
  }
  return headers;
}

/** A complete HTTP/1.1 response for a rejection, for sockets no ServerResponse wraps. */
export function rawRejection(err: WebSocketError): string {
  const status = err.status ?? 400;
  const body = err.message;
  let out = `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n`;
  for (const [k, v] of Object.entries(rejectionHeaders(err))) out += `${k}: ${v}\r\n`;
  return `${out}\r\n${body}`;
}
