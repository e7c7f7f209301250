import { headerLines } from '../protocol/header-grammar.js';
import { extensionOfferHeader, type ClientOffer } from './negotiation.js';
import type { ResolvedConnectOptions } from './options.js';
import type { WebSocketTarget } from './url.js';

/** The HTTP/1.1 opening handshake request (RFC 6455 §4.1), ready to write (latin1). */
export function buildRequest(target: WebSocketTarget, options: ResolvedConnectOptions, key: string, offer: ClientOffer): string {
  let out =
    `GET ${target.path} HTTP/1.1\r\n` +
    `Host: ${target.host}\r\n` +
    'Upgrade: websocket\r\n' +
    'Connection: Upgrade\r\n' +
    `Sec-WebSocket-Key: ${key}\r\n` +
    'Sec-WebSocket-Version: 13\r\n';
  if (offer.subprotocols.length > 0) out += `Sec-WebSocket-Protocol: ${offer.subprotocols.join(', ')}\r\n`;
  const extensions = extensionOfferHeader(offer.extensions);
  if (extensions !== undefined) out += `Sec-WebSocket-Extensions: ${extensions}\r\n`;
  if (options.origin !== undefined) out += `Origin: ${options.origin}\r\n`;
  return `${out}${headerLines(options.headers)}\r\n`;
}
