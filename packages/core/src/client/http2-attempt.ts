import { type ClientHttp2Stream, constants as h2, type IncomingHttpHeaders } from 'node:http2';
import { ErrorCode, typeError, WebSocketError } from '../errors.js';
import { type AttemptInit, openWebSocket } from './attempt-init.js';
import { type DialPhase, dialError, isTlsError, PHASE_TEXT } from './dial-errors.js';
import type { PooledSession } from './http2-sessions.js';
import { checkAgreement, extensionOfferHeader } from './negotiation.js';
import { BODY_WAIT_MS, BodyExcerpt } from './response-body.js';
import { HandshakeResponseError } from './response-checks.js';
import type { ResponseHead } from './response-head.js';

/** What the attempt waits for, in words; over HTTP/2 the answer is a 200, not a 101. */
function waitingFor(phase: DialPhase): string {
  return phase === 'response' ? 'the response to the extended CONNECT' : PHASE_TEXT[phase];
}

/** What an HTTP/2 attempt needs. */
export interface Http2AttemptInit extends AttemptInit {
  pooled: PooledSession;
  /** Epoch milliseconds by which the WebSocket must be open (the `timeout` option). */
  deadline: number;
  /** How far the session got when this attempt took it over (a session made over an ALPN probe is already connected). */
  phase: DialPhase;
}

/** The response headers of an HTTP/2 answer, in the shape HTTP/1.1 errors carry. */
function headOf(headers: IncomingHttpHeaders): ResponseHead {
  const map = new Map<string, string[]>();
  for (const [name, value] of Object.entries(headers)) {
    if (name.startsWith(':') || value === undefined) continue;
    map.set(name, Array.isArray(value) ? value : [String(value)]);
  }
  return { httpVersion: '2', status: Number(headers[':status']), statusText: '', headers: map };
}

/** Node's header object without the pseudo-headers (RFC 9113 §8.3), which are not fields. */
function fieldsOf(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  const out: IncomingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) if (!name.startsWith(':')) out[name] = value;
  return out;
}

/** The extended CONNECT that asks for a WebSocket (RFC 8441 §4, §5). */
function requestHeaders(init: Http2AttemptInit): Record<string, string | string[]> {
  const { target, options, offer } = init;
  const headers: Record<string, string | string[]> = {
    ':method': 'CONNECT',
    ':protocol': 'websocket',
    ':scheme': target.secure ? 'https' : 'http',
    ':authority': target.host,
    ':path': target.path,
    'sec-websocket-version': '13',
  };
  if (offer.subprotocols.length > 0) headers['sec-websocket-protocol'] = offer.subprotocols.join(', ');
  const extensions = extensionOfferHeader(offer.extensions);
  if (extensions !== undefined) headers['sec-websocket-extensions'] = extensions;
  if (options.origin !== undefined) headers.origin = options.origin;
  for (const [name, value] of options.headers) {
    const key = name.toLowerCase();
    const prev = headers[key];
    headers[key] = prev === undefined ? value : [...(Array.isArray(prev) ? prev : [prev]), value];
  }
  return headers;
}

/**
 * One WebSocket opened as an extended CONNECT stream of a shared HTTP/2 session: waits for the
 * server's settings, checks that it advertises extended CONNECT, sends the request and turns a 200
 * into a WebSocket on the stream, or fails with a typed error.
 */
export class Http2Attempt {
  private phase: DialPhase;
  private settled = false;
  private stream: ClientHttp2Stream | undefined;
  private readonly timer: NodeJS.Timeout;
  private bodyTimer: NodeJS.Timeout | undefined;
  // Only while the session is still connecting; removed once settled, so that many WebSockets on
  // one pooled session do not pile listeners on it.
  private readonly onConnect = (): void => this.connected();
  private readonly onAbort = (): void => {
    const reason = this.init.options.signal?.reason;
    this.fail(
      new WebSocketError(ErrorCode.Aborted, `the connection attempt was aborted during ${waitingFor(this.phase)}`, { cause: reason }),
    );
  };

  constructor(private readonly init: Http2AttemptInit) {
    this.phase = init.phase;
    init.pooled.acquire();
    this.timer = setTimeout(() => this.timedOut(), Math.max(0, init.deadline - Date.now()));
    init.options.signal?.addEventListener('abort', this.onAbort, { once: true });
    const session = init.pooled.session;
    if (this.phase !== 'response' && session.connecting) session.once('connect', this.onConnect);
    else this.connected();
    init.pooled.ready.then(
      () => this.open(),
      (err: Error) => this.fail(dialError(err, this.failedPhase(err), init.target)),
    );
  }

  /** Where a session that failed before its settings got to (a session hides its TLS handshake). */
  private failedPhase(err: Error): DialPhase {
    if (this.init.target.secure && isTlsError(err)) return 'tls';
    return this.phase === 'response' ? 'connect' : this.phase;
  }

  private connected(): void {
    if (this.phase !== 'response') this.phase = 'response';
  }

  private open(): void {
    if (this.settled) return;
    const { pooled } = this.init;
    this.phase = 'response';
    if (!pooled.usable) {
      this.fail(new WebSocketError(ErrorCode.SessionGoingAway, 'the HTTP/2 session is going away and takes no new streams'));
      return;
    }
    if (!pooled.extendedConnect) {
      this.fail(
        new WebSocketError(
          ErrorCode.NoExtendedConnect,
          `${this.init.target.host} speaks HTTP/2 but does not advertise extended CONNECT (RFC 8441), so it cannot carry WebSockets; connect over HTTP/1.1`,
        ),
      );
      return;
    }
    let stream: ClientHttp2Stream;
    try {
      stream = pooled.session.request(requestHeaders(this.init), { endStream: false });
    } catch (err) {
      // Connection-specific fields (Keep-Alive, Transfer-Encoding, …) are not allowed over HTTP/2.
      this.fail(Object.assign(typeError(`these headers cannot be sent over HTTP/2: ${(err as Error).message}`), { cause: err }));
      return;
    }
    this.stream = stream;
    stream.once('response', (headers) => this.response(headers));
    stream.on('error', (err: Error) => this.streamEnded(err));
    stream.once('close', () => this.streamEnded(undefined));
  }

  private response(headers: IncomingHttpHeaders): void {
    if (this.settled) return;
    const stream = this.stream!;
    const head = headOf(headers);
    if (head.status < 200 || head.status > 299) {
      this.refused(head);
      return;
    }
    const protocols = headers['sec-websocket-protocol'];
    const agreement = checkAgreement(
      protocols === undefined ? undefined : [String(protocols)],
      headers['sec-websocket-extensions'] === undefined ? undefined : String(headers['sec-websocket-extensions']),
      this.init.offer,
      this.init.compress,
    );
    if (agreement instanceof WebSocketError) {
      stream.close(h2.NGHTTP2_CANCEL);
      this.fail(new HandshakeResponseError(agreement.code, agreement.message, head));
      return;
    }
    this.settle();
    stream.removeAllListeners('error');
    stream.removeAllListeners('close');
    stream.setTimeout(0);
    const pooled = this.init.pooled;
    // The WebSocket holds the session until its stream closes.
    stream.once('close', () => pooled.release());
    openWebSocket(this.init, 'h2', stream, undefined, agreement, () => ({
      status: head.status,
      statusText: '',
      httpVersion: '2',
      headers: fieldsOf(headers),
    }));
  }

  /** A status other than 2xx: collect the start of the body for the error, then fail. */
  private refused(head: ResponseHead): void {
    this.phase = 'body';
    const stream = this.stream!;
    const excerpt = new BodyExcerpt(head);
    const finish = (): void => {
      const message = `the server answered ${head.status} instead of 200 to the extended CONNECT`;
      this.fail(new HandshakeResponseError(ErrorCode.NotSwitchingProtocols, message, head, excerpt.text()));
    };
    stream.on('data', (chunk: Buffer) => {
      if (excerpt.push(chunk)) finish();
    });
    stream.once('end', finish);
    this.bodyTimer = setTimeout(finish, BODY_WAIT_MS);
  }

  private streamEnded(err: Error | undefined): void {
    if (this.settled) return;
    if (this.phase === 'body') return; // the refusal's own 'end' finishes it
    const { pooled } = this.init;
    const rst = this.stream?.rstCode;
    if (pooled.goingAway || pooled.session.closed) {
      this.fail(
        new WebSocketError(ErrorCode.SessionGoingAway, 'the HTTP/2 session went away before the extended CONNECT was answered', {
          cause: err,
        }),
      );
    } else if (rst !== undefined && rst !== h2.NGHTTP2_NO_ERROR) {
      const refused = rst === h2.NGHTTP2_REFUSED_STREAM ? 'refused' : `reset (error code ${rst})`;
      this.fail(
        new WebSocketError(ErrorCode.StreamRefused, `the server ${refused} the WebSocket's stream before answering it`, { cause: err }),
      );
    } else {
      this.fail(new WebSocketError(ErrorCode.HandshakeClosed, 'the stream ended before the extended CONNECT was answered', { cause: err }));
    }
  }

  private timedOut(): void {
    const seconds = this.init.options.timeoutMs / 1000;
    this.fail(new WebSocketError(ErrorCode.ConnectTimeout, `no connection within ${seconds} s (waiting for ${waitingFor(this.phase)})`));
  }

  private settle(): void {
    this.settled = true;
    clearTimeout(this.timer);
    clearTimeout(this.bodyTimer);
    this.init.options.signal?.removeEventListener('abort', this.onAbort);
    this.init.pooled.session.removeListener('connect', this.onConnect);
  }

  private fail(err: Error): void {
    if (this.settled) return;
    this.settle();
    const stream = this.stream;
    if (stream && !stream.closed) stream.close(h2.NGHTTP2_CANCEL);
    this.init.pooled.release();
    this.init.reject(err);
  }
}
