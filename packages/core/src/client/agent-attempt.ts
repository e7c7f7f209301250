/**
 * The opening handshake through an `http.Agent` (the `agent` option): the agent makes the
 * connection (a CONNECT tunnel through a proxy, say), so Node's HTTP client sends the request and
 * parses the answer, and this attempt applies to it the same checks, errors and limits as the
 * direct path.
 */
import { type Agent, type ClientRequest, type IncomingMessage, request as httpRequest, type OutgoingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { HandshakeResponse } from '../connection/handshake-response.js';
import { ErrorCode, typeError, WebSocketError } from '../errors.js';
import { type AttemptInit, openWebSocket } from './attempt-init.js';
import { type DialPhase, dialError, isTlsError, PHASE_TEXT } from './dial-errors.js';
import { handshakeFields } from './handshake-request.js';
import type { ClientAgreement } from './negotiation.js';
import { BODY_WAIT_MS, BodyExcerpt } from './response-body.js';
import { checkResponse, HandshakeResponseError } from './response-checks.js';
import { headFromRaw, type ResponseHead } from './response-head.js';
import { tlsConnectOptions } from './tls-options.js';

/** What an attempt through an agent needs. */
export interface AgentAttemptInit extends AttemptInit {
  agent: Agent;
  /** The `Sec-WebSocket-Key` sent. */
  key: string;
  /** Epoch milliseconds by which the WebSocket must be open (the `timeout` option). */
  deadline: number;
}

/** The opening handshake request's fields (RFC 6455 §4.1), repeated user fields as one list each. */
function requestHeaders(init: AgentAttemptInit): OutgoingHttpHeaders {
  const { target, options, key, offer } = init;
  const headers: Record<string, string | string[]> = Object.fromEntries(handshakeFields(target, options, key, offer));
  // Node's headers are case-insensitive: names that differ only in case are one field.
  const spelling = new Map<string, string>();
  for (const [name, value] of options.headers) {
    const lower = name.toLowerCase();
    const first = spelling.get(lower);
    if (first === undefined) {
      spelling.set(lower, name);
      headers[name] = value;
    } else {
      const prev = headers[first]!;
      headers[first] = [...(Array.isArray(prev) ? prev : [prev]), value];
    }
  }
  return headers;
}

/** What an agent that speaks CONNECT (agent-base's family) reports of the proxy's answer. */
interface ProxyConnect {
  statusCode?: number;
}

/** One connection attempt through an agent, from the request to the WebSocket (or the error). */
export class AgentAttempt {
  private phase: DialPhase = 'connect';
  private settled = false;
  private readonly timer: NodeJS.Timeout;
  private bodyTimer: NodeJS.Timeout | undefined;
  private req: ClientRequest | undefined;
  private socket: Socket | undefined;
  /** The status of a proxy that refused the tunnel, when the agent says so. */
  private proxyStatus: number | undefined;
  /** A refusal whose body is being collected. */
  private refusal: { head: ResponseHead; excerpt: BodyExcerpt } | undefined;
  private readonly onAbort = (): void => {
    this.fail(
      new WebSocketError(ErrorCode.Aborted, `the connection attempt was aborted during ${PHASE_TEXT[this.phase]}`, {
        cause: this.init.options.signal?.reason,
      }),
    );
  };
  private readonly onConnect = (): void => {
    if (this.phase === 'connect') this.phase = (this.socket as TLSSocket).encrypted ? 'tls' : 'response';
  };
  private readonly onSecureConnect = (): void => {
    if (!this.settled) this.phase = 'response';
  };

  constructor(private readonly init: AgentAttemptInit) {
    const { target, options } = init;
    this.timer = setTimeout(() => this.timedOut(), Math.max(1, init.deadline - Date.now()));
    options.signal?.addEventListener('abort', this.onAbort, { once: true });
    let req: ClientRequest;
    try {
      const tls = target.secure ? tlsConnectOptions(target, options.tls) : {};
      req = (target.secure ? httpsRequest : httpRequest)({
        ...tls,
        agent: init.agent,
        // agent-base tells http from https by it.
        protocol: target.secure ? 'https:' : 'http:',
        hostname: target.hostname,
        port: target.port,
        path: target.path,
        method: 'GET',
        headers: requestHeaders(init),
        maxHeaderSize: options.maxHeaderSize,
      });
    } catch (err) {
      // An http.Agent for wss: (or an https.Agent for ws:) is refused by Node at once.
      const e = (err as { code?: unknown }).code === ErrorCode.InvalidOption ? (err as Error) : agentRefused(err as Error);
      this.fail(e);
      return;
    }
    this.req = req;
    req.on('socket', (socket: Socket) => this.gotSocket(socket));
    req.on('upgrade', (res: IncomingMessage, socket: Socket, head: Buffer) => this.upgraded(res, socket, head));
    req.on('response', (res: IncomingMessage) => this.responded(res));
    // Stays after settling: a late error (a reset while being destroyed) has nobody to tell.
    req.on('error', (err: Error) => this.errored(err));
    req.on('proxyConnect', (connect: ProxyConnect) => {
      if (connect.statusCode !== 200) this.proxyStatus = connect.statusCode;
    });
    req.end();
  }

  /** Where the agent's socket is: still connecting, in its TLS handshake, or ready for the request. */
  private gotSocket(socket: Socket): void {
    if (this.settled) return;
    this.socket = socket;
    const secure = (socket as TLSSocket).encrypted === true;
    if ((this.req as { reusedSocket?: boolean }).reusedSocket) {
      this.phase = 'response';
    } else if (socket.connecting) {
      socket.once('connect', this.onConnect);
    } else {
      // A proxy agent hands over a tunnel that is already connected (and starting TLS through it).
      this.phase = secure ? 'tls' : 'response';
    }
    if (secure) socket.once('secureConnect', this.onSecureConnect);
  }

  private upgraded(res: IncomingMessage, socket: Socket, rest: Buffer): void {
    if (this.settled) {
      socket.destroy();
      return;
    }
    const head = headFromRaw(res.httpVersion, res.statusCode ?? 0, res.statusMessage ?? '', res.rawHeaders);
    let agreement: ClientAgreement;
    try {
      agreement = checkResponse(head, this.init.key, this.init.offer, this.init.compress);
    } catch (err) {
      socket.destroy();
      this.fail(err as Error);
      return;
    }
    this.cleanup();
    // An agent may have set an idle timeout for pooled sockets; this one is the WebSocket's now.
    socket.setTimeout(0);
    if (typeof socket.setNoDelay === 'function') socket.setNoDelay(true);
    const response: HandshakeResponse = {
      status: head.status,
      statusText: head.statusText,
      httpVersion: head.httpVersion,
      headers: { ...res.headers },
    };
    openWebSocket(this.init, 'http/1.1', socket, rest, agreement, () => response);
  }

  /** A final response that is not an upgrade: a refusal (the server's, or the proxy's), or a 101 Node would not take. */
  private responded(res: IncomingMessage): void {
    if (this.settled) {
      res.resume();
      return;
    }
    const head = headFromRaw(res.httpVersion, res.statusCode ?? 0, res.statusMessage ?? '', res.rawHeaders);
    if (head.status === 101) {
      // Node takes a 101 as an upgrade only with Upgrade and Connection: upgrade; the checks name what is missing.
      try {
        checkResponse(head, this.init.key, this.init.offer, this.init.compress);
      } catch (err) {
        this.fail(err as Error);
        return;
      }
      this.fail(new HandshakeResponseError(ErrorCode.MalformedResponse, 'the 101 response does not switch to WebSocket', head));
      return;
    }
    this.phase = 'body';
    // Node has undone the transfer coding already: the excerpt must not decode it again.
    const fields = new Map(head.headers);
    fields.delete('transfer-encoding');
    const excerpt = new BodyExcerpt({ ...head, headers: fields });
    this.refusal = { head, excerpt };
    const finish = (): void => this.failWithStatus();
    res.on('data', (chunk: Buffer) => {
      if (excerpt.push(chunk)) finish();
    });
    res.once('end', finish);
    res.once('close', finish);
    this.bodyTimer = setTimeout(finish, BODY_WAIT_MS);
  }

  private failWithStatus(): void {
    if (this.settled || !this.refusal) return;
    const { head, excerpt } = this.refusal;
    const status = `${head.status}${head.statusText ? ` ${head.statusText}` : ''}`;
    const message =
      this.proxyStatus === head.status || head.status === 407
        ? `the proxy answered ${status} instead of opening a tunnel to ${this.init.target.host}`
        : `the server answered ${status} instead of 101 Switching Protocols`;
    this.fail(new HandshakeResponseError(ErrorCode.NotSwitchingProtocols, message, head, excerpt.text()));
  }

  private errored(err: Error): void {
    if (this.settled) return;
    if (this.phase === 'body') {
      this.failWithStatus();
      return;
    }
    const code = (err as { code?: unknown }).code;
    if (code === 'HPE_HEADER_OVERFLOW') {
      const limit = this.init.options.maxHeaderSize;
      this.fail(new WebSocketError(ErrorCode.ResponseHeadTooLarge, `the response head is larger than ${limit} bytes`, { cause: err }));
    } else if (typeof code === 'string' && code.startsWith('HPE_')) {
      // llhttp's parse errors: what the direct path's own parser calls malformed.
      this.fail(new WebSocketError(ErrorCode.MalformedResponse, `the response is not valid HTTP/1.1: ${err.message}`, { cause: err }));
    } else {
      const phase = this.init.target.secure && isTlsError(err) ? 'tls' : this.phase;
      this.fail(dialError(err, phase, this.init.target));
    }
  }

  private timedOut(): void {
    if (this.phase === 'body') {
      this.failWithStatus();
      return;
    }
    const seconds = this.init.options.timeoutMs / 1000;
    this.fail(new WebSocketError(ErrorCode.ConnectTimeout, `no connection within ${seconds} s (waiting for ${PHASE_TEXT[this.phase]})`));
  }

  private cleanup(): void {
    this.settled = true;
    clearTimeout(this.timer);
    clearTimeout(this.bodyTimer);
    this.init.options.signal?.removeEventListener('abort', this.onAbort);
    this.socket?.removeListener('connect', this.onConnect);
    this.socket?.removeListener('secureConnect', this.onSecureConnect);
  }

  private fail(err: Error): void {
    if (this.settled) return;
    this.cleanup();
    this.req?.destroy();
    this.init.reject(err);
  }
}

/** Node refused the request before sending it: the agent does not fit the URL's scheme, say. */
function agentRefused(err: Error): Error {
  const scheme = (err as { code?: unknown }).code === 'ERR_INVALID_PROTOCOL' ? ' (wss: needs an https.Agent, ws: an http.Agent)' : '';
  return Object.assign(typeError(`the agent cannot make this request${scheme}: ${err.message}`), { cause: err });
}
