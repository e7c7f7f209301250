import { connect as netConnect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import { resolveOptions } from '../connection/options.js';
import type { WebSocket } from '../connection/websocket.js';
import { ErrorCode, typeError, WebSocketError } from '../errors.js';
import { newKey } from '../protocol/keys.js';
import { AgentAttempt } from './agent-attempt.js';
import { ConnectAttempt } from './connect-attempt.js';
import { type DialPhase, dialError } from './dial-errors.js';
import { Http2Attempt } from './http2-attempt.js';
import { existingSession, type PooledSession, sessionFor } from './http2-sessions.js';
import { clientExtensionOffers, type ClientOffer } from './negotiation.js';
import { resolveConnectOptions, type ConnectOptions, type ResolvedConnectOptions } from './options.js';
import { tlsConnectOptions } from './tls-options.js';
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
  const deadline = Date.now() + resolved.timeoutMs;
  const compress = options?.compress;
  return new Promise<WebSocket>((resolve, reject) => {
    const overHttp2 = (pooled: PooledSession, phase: DialPhase): void => {
      new Http2Attempt({ pooled, target, options: resolved, wsOptions, offer, compress, deadline, phase, resolve, reject });
    };
    const overHttp1 = (socket: Socket, onHttp2?: (socket: Socket) => void): void => {
      const remaining = { ...resolved, timeoutMs: Math.max(1, deadline - Date.now()) };
      new ConnectAttempt(
        { socket, target, options: remaining, wsOptions, key: newKey(), offer, compress, resolve, reject, onHttp2 },
        false,
      );
    };
    if (resolved.agent) {
      // The agent makes the connection (through a proxy, say); Node's HTTP client speaks to it.
      new AgentAttempt({
        agent: resolved.agent,
        target,
        options: resolved,
        wsOptions,
        key: newKey(),
        offer,
        compress,
        deadline,
        resolve,
        reject,
      });
      return;
    }
    if (resolved.http2 === true) {
      overHttp2(sessionFor(target, resolved), 'connect');
      return;
    }
    if (resolved.http2 !== 'auto' || !target.secure) {
      overHttp1(dial(target, resolved, false));
      return;
    }
    // 'auto': a session to this origin that carries WebSockets is reused; otherwise ALPN decides.
    const known = existingSession(target, resolved);
    if (known?.extendedConnect) {
      overHttp2(known, 'response');
      return;
    }
    overHttp1(dial(target, resolved, true), (socket) => {
      const pooled = sessionFor(target, resolved, socket);
      pooled.ready.then(
        () => {
          if (pooled.extendedConnect) {
            overHttp2(pooled, 'response');
          } else {
            // HTTP/2 without extended CONNECT cannot carry a WebSocket: HTTP/1.1, on a connection of its own.
            pooled.session.close();
            overHttp1(dial(target, resolved, false));
          }
        },
        (err: Error) => reject(dialError(err, 'connect', target)),
      );
    });
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

/** Starts the TCP (and TLS) connection; `offerH2` offers HTTP/2 by ALPN as well (`http2: 'auto'`). */
function dial(target: WebSocketTarget, options: ResolvedConnectOptions, offerH2: boolean): Socket {
  if (!target.secure) return netConnect({ host: target.hostname, port: target.port });
  const tls = tlsConnectOptions(target, options.tls);
  try {
    return tlsConnect({
      ...tls,
      host: target.hostname,
      port: target.port,
      ALPNProtocols: offerH2 ? ['h2', 'http/1.1'] : ['http/1.1'],
    });
  } catch (err) {
    // Node checks TLS options (a malformed `ca`, say) synchronously.
    const e = typeError(`invalid TLS options: ${(err as Error).message}`);
    (e as { cause?: unknown }).cause = err;
    throw e;
  }
}
