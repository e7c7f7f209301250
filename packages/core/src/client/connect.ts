import { connect as netConnect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import { resolveOptions } from '../connection/options.js';
import type { WebSocket } from '../connection/websocket.js';
import { ErrorCode, typeError, WebSocketError } from '../errors.js';
import { newKey } from '../protocol/keys.js';
import { ConnectAttempt } from './connect-attempt.js';
import { clientExtensionOffers, type ClientOffer } from './negotiation.js';
import { resolveConnectOptions, type ConnectOptions, type ResolvedConnectOptions } from './options.js';
import { parseWebSocketUrl, type WebSocketTarget } from './url.js';

/**
 * Opens a WebSocket connection to `url` (`ws://` or `wss://`).
 *
 * Resolves with an open {@link WebSocket} (the same class as the server side, masking every frame
 * it sends) once the server has accepted the opening handshake. Rejects with a
 * {@link WebSocketError} whose `code` says what went wrong (bad URL, DNS, refused, TLS, timeout,
 * a response that is not a valid 101, …); a response error is a {@link HandshakeResponseError}
 * with the `status`, `headers` and the start of the `body`. Option mistakes reject with a
 * TypeError or RangeError carrying `code: 'ERR_INVALID_OPTION'`.
 *
 * @example
 * ```ts
 * const ws = await connect('wss://example.com/chat', { subprotocols: ['chat.v2'], timeout: 5 });
 * ws.send('hello');
 * const reply = await ws.receive();
 * await ws.close();
 * ```
 */
export async function connect(url: string | URL, options?: ConnectOptions): Promise<WebSocket> {
  const target = parseWebSocketUrl(url);
  const resolved = resolveConnectOptions(options);
  // Every shared option (maxPayload, heartbeat, …) reaches the WebSocket through resolveOptions.
  const wsOptions = resolveOptions(options);
  const offer: ClientOffer = { subprotocols: resolved.subprotocols, extensions: clientExtensionOffers(options) };
  const signal = resolved.signal;
  if (signal?.aborted) {
    throw new WebSocketError(ErrorCode.Aborted, 'the connection attempt was aborted', { cause: signal.reason });
  }
  const socket = dial(target, resolved);
  return new Promise<WebSocket>((resolve, reject) => {
    new ConnectAttempt(
      { socket, target, options: resolved, wsOptions, key: newKey(), offer, compress: options?.compress, resolve, reject },
      false,
    );
  });
}

/**
 * The opening handshake over a stream that is already connected (an in-memory pair, say):
 * `connect()` without the dialling. `url` names the host and path the request asks for.
 * @internal
 */
export function connectOver(socket: Duplex, url: string | URL, options?: ConnectOptions): Promise<WebSocket> {
  const target = parseWebSocketUrl(url);
  const resolved = resolveConnectOptions(options);
  const wsOptions = resolveOptions(options);
  const offer: ClientOffer = { subprotocols: resolved.subprotocols, extensions: clientExtensionOffers(options) };
  return new Promise<WebSocket>((resolve, reject) => {
    const init = {
      socket: socket as Socket,
      target,
      options: resolved,
      wsOptions,
      key: newKey(),
      offer,
      compress: options?.compress,
      resolve,
      reject,
    };
    new ConnectAttempt(init, true);
  });
}

/** Starts the TCP (and TLS) connection. */
function dial(target: WebSocketTarget, options: ResolvedConnectOptions): Socket {
  if (!target.secure) return netConnect({ host: target.hostname, port: target.port });
  try {
    return tlsConnect({
      host: target.hostname,
      port: target.port,
      servername: target.servername,
      ca: options.ca,
      rejectUnauthorized: options.rejectUnauthorized,
      ALPNProtocols: ['http/1.1'],
    });
  } catch (err) {
    // Node checks TLS options (a malformed `ca`, say) synchronously.
    const e = typeError(`invalid TLS options: ${(err as Error).message}`);
    (e as { cause?: unknown }).cause = err;
    throw e;
  }
}
