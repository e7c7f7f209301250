import { headerLines } from '../protocol/header-grammar.js';
import { extensionOfferHeader, type ClientOffer } from './negotiation.js';
import type { ResolvedConnectOptions } from './options.js';
import type { WebSocketTarget } from './url.js';

/**
 * The opening handshake's own fields (RFC 6455 §4.1), before the user's `headers`: the same for a
 * request written on our own socket and one sent through an `http.Agent`.
 */
export function handshakeFields(
  target: WebSocketTarget,
  options: ResolvedConnectOptions,
  key: string,
  offer: ClientOffer,
): [string, string][] {
  const fields: [string, string][] = [
    ['Host', target.host],
    ['Upgrade', 'websocket'],
    ['Connection', 'Upgrade'],
    ['Sec-WebSocket-Key', key],
    ['Sec-WebSocket-Version', '13'],
  ];
  if (offer.subprotocols.length > 0) fields.push(['Sec-WebSocket-Protocol', offer.subprotocols.join(', ')]);
  const extensions = extensionOfferHeader(offer.extensions);
  if (extensions !== undefined) fields.push(['Sec-WebSocket-Extensions', extensions]);
  if (options.origin !== undefined) fields.push(['Origin', options.origin]);
  return fields;
}

/** The HTTP/1.1 opening handshake request (RFC 6455 §4.1), ready to write (latin1). */
export function buildRequest(target: WebSocketTarget, options: ResolvedConnectOptions, key: string, offer: ClientOffer): string {
  return `GET ${target.path} HTTP/1.1\r\n${headerLines(handshakeFields(target, options, key, offer))}${headerLines(options.headers)}\r\n`;
}
