/**
 * The client's side of extension negotiation (RFC 6455 §9.1): what to offer, and whether the
 * server's answer is acceptable. The only place the client deals with extensions, so that
 * permessage-deflate plugs in here.
 */
import { acceptResponse, clientOffer, PerMessageDeflate, resolveDeflateOptions } from './deflate.js';
import { ErrorCode, WebSocketError } from './errors.js';
import { formatExtensions, parseExtensions, type ExtensionOffer } from './extensions.js';

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

/**
 * The codec for what the server accepted (already checked by {@link acceptExtensionAnswer}), or
 * undefined when it accepted nothing.
 * @throws {WebSocketError} `ERR_EXTENSION_MISMATCH` for permessage-deflate parameters the offer
 *   does not allow.
 */
export function extensionCodec(accepted: readonly ExtensionOffer[], options: { compress?: unknown } | undefined): PerMessageDeflate | undefined {
  if (accepted.length === 0) return undefined;
  const opts = resolveDeflateOptions(options?.compress)!;
  const params = acceptResponse(accepted, opts);
  if (params instanceof WebSocketError) throw params;
  return new PerMessageDeflate(params, opts);
}

/** The `Sec-WebSocket-Extensions` request header for `offers`, or undefined when there are none. */
export function extensionOfferHeader(offers: readonly ExtensionOffer[]): string | undefined {
  return offers.length === 0 ? undefined : formatExtensions(offers);
}

/**
 * Checks the server's `Sec-WebSocket-Extensions` answer (undefined when absent) against what was
 * offered (RFC 6455 §4.1: the client must fail the connection if the server names an extension
 * the client did not offer, or names one twice). Returns the accepted extensions, in the order
 * the server listed them (empty for none).
 * @throws {WebSocketError} `ERR_EXTENSION_MISMATCH`.
 */
export function acceptExtensionAnswer(offers: readonly ExtensionOffer[], answer: string | undefined): ExtensionOffer[] {
  if (answer === undefined) return [];
  const accepted = parseExtensions(answer);
  if (accepted === null) {
    throw new WebSocketError(ErrorCode.ExtensionMismatch, `malformed Sec-WebSocket-Extensions answer ${JSON.stringify(answer.slice(0, 100))}`, { status: 101 });
  }
  const seen = new Set<string>();
  for (const ext of accepted) {
    const name = ext.name.toLowerCase();
    if (!offers.some((o) => o.name.toLowerCase() === name)) {
      throw new WebSocketError(ErrorCode.ExtensionMismatch, `the server accepted extension "${ext.name}", which was not offered`, { status: 101 });
    }
    if (seen.has(name)) {
      throw new WebSocketError(ErrorCode.ExtensionMismatch, `the server accepted extension "${ext.name}" twice`, { status: 101 });
    }
    seen.add(name);
  }
  return accepted;
}
