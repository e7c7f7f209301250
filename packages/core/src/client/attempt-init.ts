import type { Duplex } from 'node:stream';
import { type HandshakeResponse, recordHandshakeResponse } from '../connection/handshake-response.js';
import { publishOpen } from '../connection/observability.js';
import type { ResolvedOptions } from '../connection/options.js';
import { WebSocket } from '../connection/websocket.js';
import type { ClientAgreement, ClientOffer } from './negotiation.js';
import type { ResolvedConnectOptions } from './options.js';
import type { WebSocketTarget } from './url.js';

/** What every connection attempt needs, whichever way it reaches the server (own socket, agent, HTTP/2). */
export interface AttemptInit {
  target: WebSocketTarget;
  options: ResolvedConnectOptions;
  /** Options of the WebSocket it makes. */
  wsOptions: ResolvedOptions;
  offer: ClientOffer;
  /** The `compress` option, for the codec of what the server accepts. */
  compress: unknown;
  resolve: (ws: WebSocket) => void;
  reject: (err: Error) => void;
}

/**
 * The last step of every attempt: the WebSocket on the switched stream, with the response that
 * switched it (read lazily: most callers never ask). A WebSocket that cannot be made (its
 * options refused by the codec, say) rejects the attempt and frees the stream.
 */
export function openWebSocket(
  init: AttemptInit,
  transport: 'http/1.1' | 'h2',
  socket: Duplex,
  head: Buffer | undefined,
  agreement: ClientAgreement,
  response: () => HandshakeResponse,
): void {
  let ws: WebSocket;
  try {
    ws = new WebSocket({
      socket,
      head,
      client: true,
      protocol: agreement.protocol,
      extensions: agreement.extensions,
      options: init.wsOptions,
      deflate: agreement.deflate,
    });
  } catch (err) {
    socket.destroy();
    init.reject(err as Error);
    return;
  }
  recordHandshakeResponse(ws, response);
  publishOpen(ws, undefined, transport);
  init.resolve(ws);
}
