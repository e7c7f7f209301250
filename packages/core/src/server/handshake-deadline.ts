/**
 * The handshake deadline: a client must complete its first request head within
 * `handshakeTimeout` of connecting, or it is dropped (slowloris: a head sent a byte at a time
 * holds a socket and its parser for as long as the server lets it). Node's own `headersTimeout`
 * is only checked every `connectionsCheckingInterval` (30 s by default, fixed when the server is
 * created), so it fires up to 30 s late; a timer per connection makes the deadline exact.
 *
 * What it bounds: over HTTP/1.1, from the TCP connection (TLS handshake included) to the first
 * request head; over HTTP/2, from the session to its first stream. Later requests on a kept-alive
 * HTTP/1.1 connection fall under Node's `headersTimeout`, which the router lowers to the same value.
 */
import type { EventEmitter } from 'node:events';
import type { IncomingMessage } from 'node:http';
import type { Http2Session, Http2ServerRequest } from 'node:http2';
import type { Socket } from 'node:net';
import { isHttp2Server, type UpgradeServer } from './transport.js';

/** Node's answer to a request head that took too long, so the client knows why (RFC 9110 §15.5.9). */
const REQUEST_TIMEOUT = 'HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n';

/**
 * The running deadlines, by TCP socket or HTTP/2 session. A WeakMap rather than a property on the
 * socket, and entries deleted when the deadline ends, so a connection that made its request keeps
 * nothing of it (a property added to every socket cost ~500 B of heap per idle WebSocket).
 */
const deadlines = new WeakMap<object, NodeJS.Timeout>();

type Holder = EventEmitter & { _parent?: Holder | null };

/** Shared by every connection: no closure per socket. */
function onHolderClose(this: Holder): void {
  end(this);
}

function expire(deadline: HandshakeDeadline, socket: Socket): void {
  deadline.expired(socket);
}

function expireSession(session: Http2Session): void {
  deadlines.delete(session);
  session.destroy();
}

/** Holds a server's per-connection deadlines; detach() removes its listeners. */
export class HandshakeDeadline {
  private readonly listeners: [event: string, listener: (...args: unknown[]) => void][] = [];
  private readonly secure: boolean;
  /** The latest connection: an h2c session is made from it synchronously, in its 'connection' event. */
  private latest: Socket | undefined;

  constructor(
    private readonly server: UpgradeServer,
    private readonly timeoutMs: number,
  ) {
    this.secure = 'addContext' in server;
    this.on('connection', (socket: Socket) => this.start(socket));
    this.on('request', (req: IncomingMessage | Http2ServerRequest) => {
      // Over HTTP/2 the session's first stream has already ended it.
      if (req.httpVersionMajor !== 2) end((req as IncomingMessage).socket);
    });
    this.on('upgrade', (req: IncomingMessage) => end(req.socket));
    if (isHttp2Server(server)) {
      this.on('session', (session: Http2Session) => this.startSession(session));
      this.on('stream', (stream: { session: Http2Session | undefined }) => end(stream.session));
    }
  }

  /** Removes the listeners; deadlines already running still fire. */
  detach(): void {
    for (const [event, listener] of this.listeners) this.server.off(event, listener);
  }

  private on(event: string, listener: (...args: never[]) => void): void {
    const l = listener as (...args: unknown[]) => void;
    // Prepended: the deadline ends before any handler runs, however long that takes.
    this.server.prependListener(event, l);
    this.listeners.push([event, l]);
  }

  /** From the TCP connection (the TLS handshake included) to the first request head. */
  private start(socket: Socket): void {
    const timer = setTimeout(expire, this.timeoutMs, this, socket);
    timer.unref();
    deadlines.set(socket, timer);
    socket.on('close', onHolderClose);
    this.latest = socket;
  }

  /** An HTTP/2 session: from now on its first stream, not a request head, ends the deadline. */
  private startSession(session: Http2Session): void {
    // session.socket is a proxy: its properties are the TLS socket's (whose _parent is the TCP
    // socket the deadline is kept for), or the TCP socket's in cleartext, whose session Node made
    // within the socket's 'connection' event, so it is the latest connection.
    const proxy = session.socket as Socket & { _parent?: Socket | null };
    const latest = this.latest;
    this.latest = undefined;
    const sameAsLatest = latest !== undefined && latest.remotePort === proxy.remotePort && latest.remoteAddress === proxy.remoteAddress;
    end(proxy._parent ?? (sameAsLatest ? latest : undefined));
    const timer = setTimeout(expireSession, this.timeoutMs, session);
    timer.unref();
    deadlines.set(session, timer);
    session.on('close', onHolderClose);
  }

  /** @internal */
  expired(socket: Socket): void {
    deadlines.delete(socket);
    socket.removeListener('close', onHolderClose);
    if (socket.destroyed) return;
    // Answer a client that got as far as speaking HTTP in the clear; a stalled TLS handshake or
    // an encrypted connection just loses its connection.
    if (!this.secure && socket.bytesRead > 0) {
      socket.end(REQUEST_TIMEOUT);
      setTimeout(() => socket.destroy(), 1000).unref();
    } else {
      socket.destroy();
    }
  }
}

/** Ends the deadline of a connection (its TCP socket, or the TLS socket on it) or of a session. */
function end(holder: object | null | undefined): void {
  if (!holder) return;
  let owner = holder as Holder;
  let timer = deadlines.get(owner);
  if (timer === undefined) {
    const parent = owner._parent;
    if (!parent) return;
    timer = deadlines.get(parent);
    if (timer === undefined) return;
    owner = parent;
  }
  clearTimeout(timer);
  deadlines.delete(owner);
  owner.removeListener('close', onHolderClose);
}
