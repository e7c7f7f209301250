import { isIP, connect as netConnect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import { clientExtensionOffers, extensionCodec } from './client-extensions.js';
import {
  BodyExcerpt,
  buildRequest,
  checkResponse,
  HandshakeResponseError,
  newKey,
  type ClientOffer,
} from './client-handshake.js';
import { resolveConnectOptions, type ConnectOptions, type ResolvedConnectOptions } from './client-options.js';
import { parseWebSocketUrl, type WebSocketTarget } from './client-url.js';
import { ErrorCode, typeError, WebSocketError } from './errors.js';
import { resolveOptions, type ResolvedOptions } from './options.js';
import { ResponseHeadParser, type ResponseHead } from './response-head.js';
import { WebSocket } from './websocket.js';

/**
 * How long the start of a non-101 response body is waited for. The status already decided the
 * outcome; the excerpt is a courtesy that must not turn a clear refusal into a timeout.
 */
const BODY_WAIT_MS = 2000;

/** Resolver errors (getaddrinfo's EAI_* family, as Node names them). */
const DNS_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NODATA', 'EAI_NONAME', 'EAI_ADDRFAMILY', 'EAI_SERVICE', 'EAI_SOCKTYPE']);

/** What the attempt is waiting for, to name the failure precisely. */
type Phase = 'lookup' | 'connect' | 'tls' | 'response' | 'body';

const PHASE_TEXT: Record<Phase, string> = {
  lookup: 'the DNS lookup',
  connect: 'the TCP connection',
  tls: 'the TLS handshake',
  response: 'the 101 response',
  body: 'the response body',
};

/** A one-line description of a socket error: its message, or its code for OpenSSL's raw dumps. */
function describe(err: Error): string {
  const code = (err as { code?: unknown }).code;
  const line = (err.message || '').split('\n')[0]!.trim();
  if (line === '' || /^[0-9A-F]+:error:/.test(line)) return typeof code === 'string' ? code : 'unknown error';
  return typeof code === 'string' && !line.includes(code) ? `${line} (${code})` : line;
}

function errorCodes(err: Error): string[] {
  if (err instanceof AggregateError) return err.errors.map((e: { code?: string }) => String(e?.code));
  return [String((err as { code?: string }).code)];
}

/**
 * Opens a WebSocket connection to `url` (`ws://` or `wss://`), the eryx / lua-eco `connect`.
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
  const offer: ClientOffer = { key: newKey(), subprotocols: resolved.subprotocols, extensions: clientExtensionOffers(options) };
  const signal = resolved.signal;
  if (signal?.aborted) {
    throw new WebSocketError(ErrorCode.Aborted, 'the connection attempt was aborted', { cause: signal.reason });
  }
  const socket = dial(target, resolved);
  return new Promise<WebSocket>((resolve, reject) => {
    new ConnectAttempt(socket, target, resolved, wsOptions, offer, options, false, resolve, reject);
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
  const offer: ClientOffer = { key: newKey(), subprotocols: resolved.subprotocols, extensions: clientExtensionOffers(options) };
  return new Promise<WebSocket>((resolve, reject) => {
    new ConnectAttempt(socket as Socket, target, resolved, wsOptions, offer, options, true, resolve, reject);
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

/** One connection attempt, from DNS lookup to the WebSocket (or the error). */
class ConnectAttempt {
  private readonly timer: NodeJS.Timeout;
  private bodyTimer: NodeJS.Timeout | undefined;
  private phase: Phase;
  private settled = false;
  private readonly parser: ResponseHeadParser;
  private failedHead: ResponseHead | undefined;
  private excerpt: BodyExcerpt | undefined;
  private readonly onAbort = (): void => {
    this.fail(new WebSocketError(ErrorCode.Aborted, `the connection attempt was aborted during ${PHASE_TEXT[this.phase]}`, { cause: this.options.signal?.reason }));
  };
  private readonly onData = (chunk: Buffer): void => this.handleData(chunk);
  private readonly onError = (err: Error): void => this.handleError(err);
  private readonly onEnd = (): void => this.handleEnd();
  private readonly onLookup = (err: Error | null): void => {
    if (!err) this.phase = 'connect';
  };
  private readonly onConnect = (): void => {
    if (this.target.secure) {
      this.phase = 'tls';
    } else {
      this.sendRequest();
    }
  };
  private readonly onSecureConnect = (): void => this.sendRequest();

  constructor(
    private readonly socket: Socket,
    private readonly target: WebSocketTarget,
    private readonly options: ResolvedConnectOptions,
    private readonly wsOptions: ResolvedOptions,
    private readonly offer: ClientOffer,
    private readonly connectOptions: ConnectOptions | undefined,
    connected: boolean,
    private readonly resolve: (ws: WebSocket) => void,
    private readonly reject: (err: Error) => void,
  ) {
    this.parser = new ResponseHeadParser(options.maxHeaderSize);
    // An IP address needs no lookup (and Node emits no 'lookup' event for one).
    this.phase = isIP(target.hostname) === 0 ? 'lookup' : 'connect';
    this.socket.on('lookup', this.onLookup);
    this.socket.on('connect', this.onConnect);
    this.socket.on('secureConnect', this.onSecureConnect);
    this.socket.on('data', this.onData);
    this.socket.on('error', this.onError);
    this.socket.on('end', this.onEnd);
    this.socket.on('close', this.onEnd);
    this.timer = setTimeout(() => this.handleTimeout(), options.timeoutMs);
    options.signal?.addEventListener('abort', this.onAbort, { once: true });
    if (connected) this.sendRequest();
  }

  private sendRequest(): void {
    this.phase = 'response';
    // An in-memory stream has no Nagle to turn off.
    if (typeof this.socket.setNoDelay === 'function') this.socket.setNoDelay(true);
    this.socket.write(buildRequest(this.target, this.options, this.offer), 'latin1');
  }

  private handleData(chunk: Buffer): void {
    if (this.settled) return;
    if (this.excerpt) {
      if (this.excerpt.push(chunk)) this.failWithStatus();
      return;
    }
    let rest = chunk;
    for (;;) {
      let parsed;
      try {
        parsed = this.parser.push(rest);
      } catch (err) {
        this.fail(err as WebSocketError);
        return;
      }
      if (parsed === null) return;
      const { head } = parsed;
      rest = parsed.rest;
      if (head.status >= 100 && head.status < 200 && head.status !== 101) {
        // Interim responses (100 Continue, 103 Early Hints) precede the real one; the head-size
        // limit covers them together.
        continue;
      }
      if (head.status !== 101) {
        this.failedHead = head;
        this.phase = 'body';
        this.excerpt = new BodyExcerpt(head);
        this.bodyTimer = setTimeout(() => this.failWithStatus(), BODY_WAIT_MS);
        if (this.excerpt.push(rest)) this.failWithStatus();
        return;
      }
      this.succeed(head, rest);
      return;
    }
  }

  private succeed(head: ResponseHead, rest: Buffer): void {
    let agreement;
    let deflate;
    try {
      agreement = checkResponse(head, this.offer);
      deflate = extensionCodec(agreement.accepted, this.connectOptions);
    } catch (err) {
      this.fail(err as WebSocketError);
      return;
    }
    this.cleanup();
    let ws: WebSocket;
    try {
      ws = new WebSocket({
        socket: this.socket,
        head: rest,
        client: true,
        protocol: agreement.protocol,
        extensions: agreement.extensions,
        options: this.wsOptions,
        deflate,
      });
    } catch (err) {
      this.socket.destroy();
      this.reject(err as Error);
      return;
    }
    this.resolve(ws);
  }

  private failWithStatus(): void {
    if (this.settled || !this.failedHead) return;
    const head = this.failedHead;
    const body = this.excerpt?.text() ?? '';
    const message = `the server answered ${head.status}${head.statusText ? ` ${head.statusText}` : ''} instead of 101 Switching Protocols`;
    this.fail(new HandshakeResponseError(ErrorCode.NotSwitchingProtocols, message, head, body));
  }

  private handleError(err: Error): void {
    if (this.settled) return;
    const codes = errorCodes(err);
    const detail = describe(err);
    if (this.phase === 'lookup' || codes.some((c) => DNS_CODES.has(c)) || (err as { syscall?: string }).syscall === 'getaddrinfo') {
      this.fail(new WebSocketError(ErrorCode.DnsLookupFailed, `could not resolve ${this.target.hostname}: ${detail}`, { cause: err }));
    } else if (codes.every((c) => c === 'ECONNREFUSED')) {
      this.fail(new WebSocketError(ErrorCode.ConnectionRefused, `connection to ${this.target.hostname}:${this.target.port} refused`, { cause: err }));
    } else if (this.phase === 'tls') {
      this.fail(new WebSocketError(ErrorCode.TlsFailed, `TLS handshake with ${this.target.hostname}:${this.target.port} failed: ${detail}`, { cause: err }));
    } else if (this.phase === 'connect') {
      this.fail(new WebSocketError(ErrorCode.ConnectFailed, `could not connect to ${this.target.hostname}:${this.target.port}: ${detail}`, { cause: err }));
    } else if (this.phase === 'body') {
      this.failWithStatus();
    } else {
      this.fail(new WebSocketError(ErrorCode.HandshakeClosed, `the connection failed during the opening handshake: ${detail}`, { cause: err }));
    }
  }

  private handleEnd(): void {
    if (this.settled) return;
    if (this.phase === 'body') {
      this.failWithStatus();
    } else if (this.phase === 'tls') {
      this.fail(new WebSocketError(ErrorCode.TlsFailed, `the server closed the connection during the TLS handshake`));
    } else {
      this.fail(new WebSocketError(ErrorCode.HandshakeClosed, `the server closed the connection before ${PHASE_TEXT[this.phase]} was complete`));
    }
  }

  private handleTimeout(): void {
    if (this.phase === 'body') {
      this.failWithStatus();
      return;
    }
    this.fail(new WebSocketError(ErrorCode.ConnectTimeout, `no connection within ${this.options.timeoutMs / 1000} s (waiting for ${PHASE_TEXT[this.phase]})`));
  }

  private cleanup(): void {
    this.settled = true;
    clearTimeout(this.timer);
    clearTimeout(this.bodyTimer);
    this.options.signal?.removeEventListener('abort', this.onAbort);
    const s = this.socket;
    s.removeListener('lookup', this.onLookup);
    s.removeListener('connect', this.onConnect);
    s.removeListener('secureConnect', this.onSecureConnect);
    s.removeListener('data', this.onData);
    s.removeListener('error', this.onError);
    s.removeListener('end', this.onEnd);
    s.removeListener('close', this.onEnd);
  }

  private fail(err: Error): void {
    if (this.settled) return;
    this.cleanup();
    // Errors after this point (a reset while being destroyed) have nobody to tell.
    this.socket.on('error', ignore);
    this.socket.destroy();
    this.reject(err);
  }
}

function ignore(): void {
  // The attempt has already failed with the error that matters.
}
