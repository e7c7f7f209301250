import type { Duplex } from 'node:stream';
import { constants as h2, type ServerHttp2Stream } from 'node:http2';
import { compactEmptyListenerTable } from '../connection/listener-table.js';
import type { WebSocket } from '../connection/websocket.js';
import { ErrorCode, WebSocketError } from '../errors.js';
import { countRefusal } from './refusal.js';
import type { Hub } from '../topics/hub.js';
import { isHttp2Request, type UpgradeRequest, type UpgradeResponse } from './transport.js';

/** An upgrade request that {@link handleUpgrades} passed to the request listeners. */
export interface RoutedUpgrade {
  /** Bytes that followed the HTTP/1.1 request head (the first frames); empty over HTTP/2. */
  readonly head: Buffer;
  /** The TCP (or TLS) socket over HTTP/1.1, the request's stream over HTTP/2. */
  readonly socket: Duplex;
  /** The hub of the server's WebSockets. */
  readonly hub: Hub;
  upgraded: boolean;
  accepted(ws: WebSocket): void;
}

/** What a routed request needs of its router. */
export interface RoutingOwner {
  readonly hub: Hub;
  readonly upgradeTimeoutMs: number;
  adopt(ws: WebSocket): void;
}

const routed = new WeakMap<UpgradeRequest, RoutedUpgrade>();

/** The routing record of an upgrade request, if {@link handleUpgrades} routed it. */
export function routedUpgrade(req: UpgradeRequest): RoutedUpgrade | undefined {
  return routed.get(req);
}

export function swallow(): void {
  // A reset while the request is being routed must not crash the process; the request handler
  // sees a closed socket.
}

const EMPTY = Buffer.alloc(0);

/** What an upgraded request maps to: the fact, and nothing of the routing state. */
const UPGRADED: RoutedUpgrade = Object.freeze({
  head: EMPTY,
  socket: null as unknown as Duplex,
  hub: null as unknown as Hub,
  upgraded: true,
  accepted(): void {
    // Never called: upgrade() refuses an upgraded request before it gets this far.
  },
});

/** The pending upgrade of each routed socket (or HTTP/2 stream), for the listeners all of them share. */
const pendingOn = new WeakMap<Duplex, PendingUpgrade>();

// Listeners shared by every pending upgrade, rather than closures made per request: they find
// their request through the socket or the response.
function onPendingSocketClose(this: Duplex): void {
  pendingOn.get(this)?.socketClosed();
}
function onResponseFinish(this: UpgradeResponse): void {
  const pending = routed.get(this.req);
  if (pending instanceof PendingUpgrade) pending.answered();
}
function onUpgradeTimeout(pending: PendingUpgrade): void {
  pending.timedOut();
}

/**
 * A routed upgrade request until it is upgraded or answered. Once upgraded nothing refers to it
 * from the socket or the WebSocket any more, so the request, the response and their state can be
 * collected: an idle connection then costs little more than its socket.
 */
export class PendingUpgrade implements RoutedUpgrade {
  upgraded = false;
  readonly hub: Hub;
  private readonly timer: NodeJS.Timeout;

  private constructor(
    private readonly router: RoutingOwner,
    private readonly req: UpgradeRequest,
    private readonly res: UpgradeResponse,
    readonly socket: Duplex,
    readonly head: Buffer,
  ) {
    this.hub = router.hub;
    this.timer = setTimeout(onUpgradeTimeout, router.upgradeTimeoutMs, this);
    this.timer.unref();
    routed.set(req, this);
    pendingOn.set(socket, this);
    res.on('finish', onResponseFinish);
    socket.on('close', onPendingSocketClose);
    if (isHttp2Request(req)) guardSuccess(req.stream, this);
  }

  /** Starts routing a request: until it is upgraded or answered, `upgradeTimeout` bounds it. */
  static start(router: RoutingOwner, req: UpgradeRequest, res: UpgradeResponse, socket: Duplex, head: Buffer = EMPTY): PendingUpgrade {
    return new PendingUpgrade(router, req, res, socket, head);
  }

  accepted(ws: WebSocket): void {
    this.upgraded = true;
    clearTimeout(this.timer);
    pendingOn.delete(this.socket);
    this.socket.removeListener('error', swallow);
    this.socket.removeListener('close', onPendingSocketClose);
    // A handler's frame (`for await` over the WebSocket) often keeps `req` and `res` for the whole
    // connection: neither may keep this record, its timer and the head buffer alive with it, nor
    // an empty listener table.
    this.res.removeListener('finish', onResponseFinish);
    compactEmptyListenerTable(this.res);
    routed.set(this.req, UPGRADED);
    this.router.adopt(ws);
  }

  /** @internal The connection closed before the request was upgraded or answered. */
  socketClosed(): void {
    clearTimeout(this.timer);
    pendingOn.delete(this.socket);
  }

  /** @internal The response finished: the request was answered (or refused) without an upgrade. */
  answered(): void {
    clearTimeout(this.timer);
    pendingOn.delete(this.socket);
    if (this.upgraded) return;
    if (isHttp2Request(this.req)) {
      // The response is complete; what the client may still be sending (frames it sent before
      // the answer) is not wanted: RST_STREAM(NO_ERROR) ends the stream (RFC 9113 §8.1), and the
      // session goes on serving its other streams.
      const stream = this.req.stream;
      if (!stream.closed) stream.close(h2.NGHTTP2_NO_ERROR);
      return;
    }
    // An ordinary response to an HTTP/1.1 upgrade request ends the connection: the client is
    // waiting for a 101 and cannot reuse it.
    const s = this.socket as Duplex & { destroySoon?: () => void };
    if (s.destroySoon) s.destroySoon();
    else s.end();
  }

  /** @internal */
  timedOut(): void {
    const res = this.res;
    if (this.upgraded || res.writableEnded) return;
    if (!res.headersSent) {
      const err = new WebSocketError(ErrorCode.UpgradeTimeout, 'The WebSocket route did not answer in time', { status: 503 });
      countRefusal(this.req, err);
      // Connection-specific fields are not allowed over HTTP/2 (RFC 9113 §8.2.2).
      const headers: Record<string, string> = { 'Content-Type': 'text/plain; charset=utf-8' };
      if (!isHttp2Request(this.req)) headers.Connection = 'close';
      res.writeHead(503, headers);
      res.end(err.message);
    } else if (isHttp2Request(this.req)) {
      this.req.stream.close(h2.NGHTTP2_CANCEL);
    } else {
      this.socket.destroy();
    }
  }
}

type Guarded = Pick<ServerHttp2Stream, 'respond'>;

/**
 * Over HTTP/2 a 2xx answer to an extended CONNECT means the WebSocket is open (RFC 8441 §5), so a
 * route that answers such a request normally (a page, say) must not send one: over HTTP/1.1 a
 * 200 is plainly not a 101, here it would be taken for one. Until the request is upgraded, a 2xx
 * goes out as 405: the resource does not allow the CONNECT. `upgrade()` removes the guard.
 */
function guardSuccess(stream: ServerHttp2Stream, pending: PendingUpgrade): void {
  const respond = stream.respond;
  (stream as Guarded).respond = function guardedRespond(this: ServerHttp2Stream, headers, options) {
    const status = Number(headers?.[':status'] ?? 200);
    if (!pending.upgraded && status >= 200 && status < 300)
      headers = { ...headers, ':status': h2.HTTP_STATUS_METHOD_NOT_ALLOWED, allow: 'GET' };
    return respond.call(this, headers, options);
  };
}

/** Lifts the guard from a stream that is being upgraded, so its 200 goes out as it is. */
export function releaseSuccessGuard(stream: ServerHttp2Stream): void {
  delete (stream as Partial<Guarded>).respond;
}
