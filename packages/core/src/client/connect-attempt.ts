import { isIP, type Socket } from 'node:net';
import { ErrorCode, WebSocketError } from '../errors.js';
import { type AttemptInit, openWebSocket } from './attempt-init.js';
import { type DialPhase, dialError, PHASE_TEXT } from './dial-errors.js';
import { buildRequest } from './handshake-request.js';
import type { ClientAgreement } from './negotiation.js';
import { BODY_WAIT_MS, BodyExcerpt } from './response-body.js';
import { checkResponse, HandshakeResponseError } from './response-checks.js';
import { nodeHeaders, ResponseHeadParser, type ResponseHead } from './response-head.js';

/** What a connection attempt needs. */
export interface SocketAttemptInit extends AttemptInit {
  /** The stream the handshake goes over, connecting or (an in-memory pair) connected. */
  socket: Socket;
  /** The `Sec-WebSocket-Key` sent. */
  key: string;
  /** Offered h2 by ALPN (`http2: 'auto'`): where the TLS socket goes when the server chose it. */
  onHttp2?: ((socket: Socket) => void) | undefined;
}

/** One connection attempt, from DNS lookup to the WebSocket (or the error). */
export class ConnectAttempt {
  private readonly timer: NodeJS.Timeout;
  private bodyTimer: NodeJS.Timeout | undefined;
  private phase: DialPhase;
  private settled = false;
  private readonly parser: ResponseHeadParser;
  private failedHead: ResponseHead | undefined;
  private excerpt: BodyExcerpt | undefined;
  private readonly onAbort = (): void => {
    this.fail(
      new WebSocketError(ErrorCode.Aborted, `the connection attempt was aborted during ${PHASE_TEXT[this.phase]}`, {
        cause: this.init.options.signal?.reason,
      }),
    );
  };
  private readonly onData = (chunk: Buffer): void => this.handleData(chunk);
  private readonly onError = (err: Error): void => this.handleError(err);
  private readonly onEnd = (): void => this.handleEnd();
  private readonly onLookup = (err: Error | null): void => {
    if (!err) this.phase = 'connect';
  };
  private readonly onConnect = (): void => {
    if (this.init.target.secure) {
      this.phase = 'tls';
    } else {
      this.sendRequest();
    }
  };
  private readonly onSecureConnect = (): void => {
    const handOff = this.init.onHttp2;
    if (handOff && (this.init.socket as Socket & { alpnProtocol?: string | false }).alpnProtocol === 'h2') {
      // The server chose HTTP/2 by ALPN: the socket becomes an HTTP/2 session's.
      this.cleanup();
      handOff(this.init.socket);
      return;
    }
    this.sendRequest();
  };

  constructor(
    private readonly init: SocketAttemptInit,
    connected: boolean,
  ) {
    const { socket, target, options } = init;
    this.parser = new ResponseHeadParser(options.maxHeaderSize);
    // An IP address needs no lookup (and Node emits no 'lookup' event for one).
    this.phase = isIP(target.hostname) === 0 ? 'lookup' : 'connect';
    socket.on('lookup', this.onLookup);
    socket.on('connect', this.onConnect);
    socket.on('secureConnect', this.onSecureConnect);
    socket.on('data', this.onData);
    socket.on('error', this.onError);
    socket.on('end', this.onEnd);
    socket.on('close', this.onEnd);
    this.timer = setTimeout(() => this.handleTimeout(), options.timeoutMs);
    options.signal?.addEventListener('abort', this.onAbort, { once: true });
    if (connected) this.sendRequest();
  }

  private sendRequest(): void {
    this.phase = 'response';
    // An in-memory stream has no Nagle to turn off.
    if (typeof this.init.socket.setNoDelay === 'function') this.init.socket.setNoDelay(true);
    this.init.socket.write(buildRequest(this.init.target, this.init.options, this.init.key, this.init.offer), 'latin1');
  }

  private handleData(chunk: Buffer): void {
    if (this.settled) return;
    if (this.excerpt) {
      if (this.excerpt.push(chunk)) this.failWithStatus();
      return;
    }
    let rest = chunk;
    for (;;) {
      let parsed: { head: ResponseHead; rest: Buffer } | null;
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
    let agreement: ClientAgreement;
    try {
      agreement = checkResponse(head, this.init.key, this.init.offer, this.init.compress);
    } catch (err) {
      this.fail(err as WebSocketError);
      return;
    }
    this.cleanup();
    openWebSocket(this.init, 'http/1.1', this.init.socket, rest, agreement, () => ({
      status: head.status,
      statusText: head.statusText,
      httpVersion: head.httpVersion,
      headers: nodeHeaders(head),
    }));
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
    if (this.phase === 'body') this.failWithStatus();
    else this.fail(dialError(err, this.phase, this.init.target));
  }

  private handleEnd(): void {
    if (this.settled) return;
    if (this.phase === 'body') {
      this.failWithStatus();
    } else if (this.phase === 'tls') {
      this.fail(new WebSocketError(ErrorCode.TlsFailed, `the server closed the connection during the TLS handshake`));
    } else {
      this.fail(
        new WebSocketError(ErrorCode.HandshakeClosed, `the server closed the connection before ${PHASE_TEXT[this.phase]} was complete`),
      );
    }
  }

  private handleTimeout(): void {
    if (this.phase === 'body') {
      this.failWithStatus();
      return;
    }
    this.fail(
      new WebSocketError(
        ErrorCode.ConnectTimeout,
        `no connection within ${this.init.options.timeoutMs / 1000} s (waiting for ${PHASE_TEXT[this.phase]})`,
      ),
    );
  }

  private cleanup(): void {
    this.settled = true;
    clearTimeout(this.timer);
    clearTimeout(this.bodyTimer);
    this.init.options.signal?.removeEventListener('abort', this.onAbort);
    const s = this.init.socket;
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
    this.init.socket.on('error', ignore);
    this.init.socket.destroy();
    this.init.reject(err);
  }
}

function ignore(): void {
  // The attempt has already failed with the error that matters.
}
