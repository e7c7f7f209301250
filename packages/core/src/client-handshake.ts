/**
 * The client's half of the opening handshake (RFC 6455 §4.1): the request it sends and the checks
 * the server's response must pass.
 */
import { randomBytes } from 'node:crypto';
import type { ResolvedConnectOptions } from './client-options.js';
import { acceptExtensionAnswer, extensionOfferHeader } from './client-extensions.js';
import type { WebSocketTarget } from './client-url.js';
import { ErrorCode, WebSocketError, type WebSocketErrorDetails } from './errors.js';
import { formatExtensions, type ExtensionOffer } from './extensions.js';
import { acceptKey } from './handshake.js';
import { headersObject, headerValue, type ResponseHead } from './response-head.js';

/**
 * A handshake that failed because of the server's response. Besides `code` and `status`, it keeps
 * the response headers and, when the server did not switch protocols, the start of the body.
 */
export class HandshakeResponseError extends WebSocketError {
  /** The response headers, by lower-case name (repeated fields joined with `, `). */
  readonly headers: Readonly<Record<string, string>>;
  /**
   * The first bytes of the response body (at most {@link BODY_EXCERPT_BYTES}, decoded as UTF-8),
   * or `''`. Only a non-101 response has one.
   */
  readonly body: string;

  constructor(code: ErrorCode, message: string, head: ResponseHead, body = '', details: WebSocketErrorDetails = {}) {
    super(code, message, { ...details, status: head.status });
    this.headers = headersObject(head);
    this.body = body;
  }
}

/** Most bytes of a non-101 response body kept on the error. */
export const BODY_EXCERPT_BYTES = 512;

/** What the client asked for, to check the response against. */
export interface ClientOffer {
  key: string;
  subprotocols: readonly string[];
  extensions: readonly ExtensionOffer[];
}

/** What the server agreed to. */
export interface HandshakeAgreement {
  /** The subprotocol, or `''`. */
  protocol: string;
  /** The accepted extensions with their parameters, in the server's order. */
  accepted: ExtensionOffer[];
  /** The same as a header value, for `WebSocket.extensions` (`''` for none). */
  extensions: string;
}

/** A fresh `Sec-WebSocket-Key`: 16 random bytes, base64 (RFC 6455 §4.1). */
export function newKey(): string {
  return randomBytes(16).toString('base64');
}

/** The opening handshake request, ready to write (latin1). */
export function buildRequest(target: WebSocketTarget, options: ResolvedConnectOptions, offer: ClientOffer): string {
  let out =
    `GET ${target.path} HTTP/1.1\r\n` +
    `Host: ${target.host}\r\n` +
    'Upgrade: websocket\r\n' +
    'Connection: Upgrade\r\n' +
    `Sec-WebSocket-Key: ${offer.key}\r\n` +
    'Sec-WebSocket-Version: 13\r\n';
  if (offer.subprotocols.length > 0) out += `Sec-WebSocket-Protocol: ${offer.subprotocols.join(', ')}\r\n`;
  const extensions = extensionOfferHeader(offer.extensions);
  if (extensions !== undefined) out += `Sec-WebSocket-Extensions: ${extensions}\r\n`;
  if (options.origin !== undefined) out += `Origin: ${options.origin}\r\n`;
  return `${out}${options.headerLines}\r\n`;
}

function hasToken(value: string | undefined, token: string): boolean {
  return value !== undefined && value.split(',').some((part) => part.trim().toLowerCase() === token);
}

/**
 * Checks a 101 response (RFC 6455 §4.1, the client's "MUST _Fail the WebSocket Connection_"
 * list) and returns what was agreed.
 * @throws {HandshakeResponseError} with the code of the first check that fails.
 */
export function checkResponse(head: ResponseHead, offer: ClientOffer): HandshakeAgreement {
  const fail = (code: ErrorCode, message: string) => new HandshakeResponseError(code, message, head);
  if (head.status !== 101) {
    // Callers handle other statuses themselves, to collect the body.
    throw fail(ErrorCode.NotSwitchingProtocols, `the server answered ${head.status} ${head.statusText} instead of 101`.trimEnd());
  }
  if (head.httpVersion !== '1.1') throw fail(ErrorCode.MalformedResponse, `a 101 response must be HTTP/1.1, not HTTP/${head.httpVersion}`);

  const upgrade = head.headers.get('upgrade');
  if (upgrade === undefined || upgrade.length !== 1 || upgrade[0]!.toLowerCase() !== 'websocket') {
    throw fail(ErrorCode.ResponseUpgrade, upgrade === undefined ? 'the 101 response has no Upgrade header' : `the 101 response has Upgrade: ${upgrade.join(', ')}, not websocket`);
  }
  const connection = headerValue(head, 'connection');
  if (!hasToken(connection, 'upgrade')) {
    throw fail(ErrorCode.ResponseConnection, connection === undefined ? 'the 101 response has no Connection header' : `the 101 response's Connection header (${connection}) does not contain upgrade`);
  }

  const accept = head.headers.get('sec-websocket-accept');
  if (accept === undefined || accept.length !== 1 || accept[0] !== acceptKey(offer.key)) {
    throw fail(ErrorCode.BadAcceptKey, accept === undefined ? 'the 101 response has no Sec-WebSocket-Accept header' : 'Sec-WebSocket-Accept does not match the key sent');
  }

  let protocol = '';
  const protocols = head.headers.get('sec-websocket-protocol');
  if (protocols !== undefined) {
    const chosen = protocols.length === 1 ? protocols[0]! : '';
    if (!offer.subprotocols.includes(chosen)) {
      throw fail(
        ErrorCode.SubprotocolMismatch,
        offer.subprotocols.length === 0
          ? `the server selected subprotocol ${JSON.stringify(protocols.join(', '))} but none was offered`
          : `the server selected subprotocol ${JSON.stringify(protocols.join(', '))}, which is not one of those offered (${offer.subprotocols.join(', ')})`,
      );
    }
    protocol = chosen;
  }

  let accepted: ExtensionOffer[];
  try {
    accepted = acceptExtensionAnswer(offer.extensions, headerValue(head, 'sec-websocket-extensions'));
  } catch (err) {
    if (err instanceof WebSocketError && !(err instanceof HandshakeResponseError)) throw fail(err.code, err.message);
    throw err;
  }
  return { protocol, accepted, extensions: formatExtensions(accepted) };
}

/**
 * Collects the start of a non-101 response body for the error, undoing chunked transfer coding.
 * Done when the excerpt is full, the body is complete, or (for a body without a length) when the
 * connection ends.
 */
export class BodyExcerpt {
  private readonly remaining: number | undefined;
  private readonly chunked: boolean;
  private raw: Buffer = Buffer.alloc(0);
  private received = 0;

  constructor(head: ResponseHead) {
    const te = headerValue(head, 'transfer-encoding');
    this.chunked = te !== undefined && te.toLowerCase().split(',').at(-1)!.trim() === 'chunked';
    const length = headerValue(head, 'content-length');
    const noBody = head.status === 204 || head.status === 304 || (head.status >= 100 && head.status < 200);
    this.remaining = noBody ? 0 : !this.chunked && length !== undefined && /^[0-9]+$/.test(length) ? Number(length) : undefined;
  }

  /** Adds bytes; returns true once there is nothing more worth waiting for. */
  push(chunk: Buffer): boolean {
    this.received += chunk.length;
    if (this.raw.length < BODY_EXCERPT_BYTES * 2 + 64) this.raw = Buffer.concat([this.raw, chunk]);
    return this.done();
  }

  done(): boolean {
    if (this.remaining !== undefined && this.received >= this.remaining) return true;
    if (this.chunked) {
      const { bytes, complete } = dechunk(this.raw);
      return complete || bytes.length >= BODY_EXCERPT_BYTES;
    }
    return this.raw.length >= BODY_EXCERPT_BYTES;
  }

  /** The excerpt, cut on a character boundary. */
  text(): string {
    let bytes = this.chunked ? dechunk(this.raw).bytes : this.raw;
    if (this.remaining !== undefined) bytes = bytes.subarray(0, this.remaining);
    if (bytes.length > BODY_EXCERPT_BYTES) {
      let end = BODY_EXCERPT_BYTES;
      // Do not split a UTF-8 sequence: back up over continuation bytes to the lead byte.
      while (end > BODY_EXCERPT_BYTES - 4 && (bytes[end]! & 0xc0) === 0x80) end--;
      bytes = bytes.subarray(0, end);
    }
    return bytes.toString('utf8');
  }
}

/** Decodes as much chunked transfer coding as `raw` holds (RFC 7230 §4.1). */
function dechunk(raw: Buffer): { bytes: Buffer; complete: boolean } {
  const parts: Buffer[] = [];
  let pos = 0;
  for (;;) {
    const eol = raw.indexOf('\n', pos);
    if (eol === -1) break;
    const size = parseInt(raw.toString('latin1', pos, eol).split(';')[0]!.trim(), 16);
    if (!Number.isFinite(size) || size < 0) break;
    if (size === 0) return { bytes: Buffer.concat(parts), complete: true };
    const start = eol + 1;
    parts.push(raw.subarray(start, Math.min(start + size, raw.length)));
    if (start + size > raw.length) break;
    pos = start + size;
    if (raw[pos] === 0x0d) pos++;
    if (raw[pos] === 0x0a) pos++;
  }
  return { bytes: Buffer.concat(parts), complete: false };
}
