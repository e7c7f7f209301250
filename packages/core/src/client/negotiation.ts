/**
 * The transport-independent half of the client's opening handshake (RFC 6455 §4.1, §9.1): what
 * it offers, and whether the server's choices of subprotocol and extensions are acceptable.
 * HTTP/1.1 (and, with RFC 8441, HTTP/2) only differ in how the answer arrives.
 */
import { ErrorCode, WebSocketError } from '../errors.js';
import { PerMessageDeflate } from '../permessage-deflate/codec.js';
import { acceptResponse, clientOffer } from '../permessage-deflate/negotiation.js';
import { resolveDeflateOptions } from '../permessage-deflate/options.js';
import { formatExtensions, parseExtensions, type ExtensionOffer } from '../protocol/header-grammar.js';

/** What the client asks for, to check the answer against. */
export interface ClientOffer {
  subprotocols: readonly string[];
  extensions: readonly ExtensionOffer[];
}

/** What the server agreed to. */
export interface ClientAgreement {
  /** The subprotocol, or `''`. */
  protocol: string;
  /** The accepted extensions as a header value, for `WebSocket.extensions` (`''` for none). */
  extensions: string;
  /** The codec, when the server accepted permessage-deflate. */
  deflate: PerMessageDeflate | undefined;
}

/**
 * The extensions to offer in `Sec-WebSocket-Extensions`, in order of preference, from the
 * connect options.
 * @throws {RangeError | TypeError} `ERR_INVALID_OPTION` for an option that cannot be honoured.
 */
export function clientExtensionOffers(options: { compress?: unknown } | undefined): ExtensionOffer[] {
  const deflate = resolveDeflateOptions(options?.compress);
  const offer = deflate && clientOffer(deflate);
  return offer ? parseExtensions(offer)! : [];
}

/** The `Sec-WebSocket-Extensions` request header for `offers`, or undefined when there are none. */
export function extensionOfferHeader(offers: readonly ExtensionOffer[]): string | undefined {
  return offers.length === 0 ? undefined : formatExtensions(offers);
}

function mismatch(code: ErrorCode, message: string): WebSocketError {
  return new WebSocketError(code, message, { status: 101 });
}

/**
 * Checks the server's `Sec-WebSocket-Protocol` answer (each field value, undefined when absent):
 * at most one subprotocol, and one that was offered (RFC 6455 §4.1 item 6).
 */
function checkProtocol(answer: readonly string[] | undefined, offered: readonly string[]): string | WebSocketError {
  if (answer === undefined) return '';
  const chosen = answer.length === 1 ? answer[0]! : '';
  if (offered.includes(chosen)) return chosen;
  const named = JSON.stringify(answer.join(', '));
  return mismatch(
    ErrorCode.SubprotocolMismatch,
    offered.length === 0
      ? `the server selected subprotocol ${named} but none was offered`
      : `the server selected subprotocol ${named}, which is not one of those offered (${offered.join(', ')})`,
  );
}

/**
 * Checks the server's `Sec-WebSocket-Extensions` answer (undefined when absent) against what was
 * offered (RFC 6455 §4.1 item 5: no extension that was not offered, none twice). Returns the
 * accepted extensions in the server's order.
 */
function checkExtensions(answer: string | undefined, offers: readonly ExtensionOffer[]): ExtensionOffer[] | WebSocketError {
  if (answer === undefined) return [];
  const accepted = parseExtensions(answer);
  if (accepted === null)
    return mismatch(ErrorCode.ExtensionMismatch, `malformed Sec-WebSocket-Extensions answer ${JSON.stringify(answer.slice(0, 100))}`);
  const seen = new Set<string>();
  for (const ext of accepted) {
    const name = ext.name.toLowerCase();
    if (!offers.some((o) => o.name.toLowerCase() === name)) {
      return mismatch(ErrorCode.ExtensionMismatch, `the server accepted extension "${ext.name}", which was not offered`);
    }
    if (seen.has(name)) return mismatch(ErrorCode.ExtensionMismatch, `the server accepted extension "${ext.name}" twice`);
    seen.add(name);
  }
  return accepted;
}

/**
 * Checks the server's choices of subprotocol and extensions, and makes the permessage-deflate
 * codec for what it accepted (RFC 7692 §5: parameters within the offer). Returns the agreement,
 * or the error to fail the connection with.
 */
export function checkAgreement(
  protocolAnswer: readonly string[] | undefined,
  extensionsAnswer: string | undefined,
  offer: ClientOffer,
  compress: unknown,
): ClientAgreement | WebSocketError {
  const protocol = checkProtocol(protocolAnswer, offer.subprotocols);
  if (protocol instanceof WebSocketError) return protocol;
  const accepted = checkExtensions(extensionsAnswer, offer.extensions);
  if (accepted instanceof WebSocketError) return accepted;
  let deflate: PerMessageDeflate | undefined;
  if (accepted.length > 0) {
    const opts = resolveDeflateOptions(compress)!;
    const params = acceptResponse(accepted, opts);
    if (params instanceof WebSocketError) return params;
    deflate = new PerMessageDeflate(params, opts);
  }
  return { protocol, extensions: formatExtensions(accepted), deflate };
}
