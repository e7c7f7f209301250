import type { Duplex } from 'node:stream';
import { boolean, checkObject, positiveNumber, seconds } from '../option-validators.js';
import type { PerMessageDeflate } from '../permessage-deflate/codec.js';
import { MessageInflater } from '../permessage-deflate/message-inflater.js';
import type { DeflateOptions } from '../permessage-deflate/options.js';
import type { Hub } from '../topics/hub.js';
import { resolveRateLimit, sameRateLimit, type RateLimitOptions, type ResolvedRateLimit } from './rate-limit.js';

/** Default limits. Every one can be changed per connection through options. */
export const Defaults = {
  /** Largest message (after decompression) accepted: 16 MiB. */
  maxPayload: 16 * 1024 * 1024,
  /** Most frames one message may be split into. */
  maxFragments: 100_000,
  /** Seconds to wait for the peer's close frame (and for the TCP end) before destroying. */
  closeTimeout: 3,
  /** Queued received bytes at which socket reading pauses: 1 MiB. */
  receiveHighWaterMark: 1024 * 1024,
  /** bufferedAmount from which send() returns false: 1 MiB. */
  sendHighWaterMark: 1024 * 1024,
  /** bufferedAmount past which a send closes the connection with 1008: 64 MiB. */
  maxBuffered: 64 * 1024 * 1024,
  /** Seconds a routed upgrade request may wait for its handler to upgrade or answer it. */
  upgradeTimeout: 10,
  /** Seconds a client may take to send its request head (the server's headersTimeout). */
  handshakeTimeout: 10,
} as const;

/** Options every WebSocket accepts, on the server (`upgrade`) and client (`connect`) side. */
export interface WebSocketOptions {
  /**
   * Largest message accepted, in bytes, counted after decompression. A bigger message closes the
   * connection with 1009. Default 16 MiB. `Infinity` disables the limit.
   */
  maxPayload?: number;
  /**
   * Largest message `send()` (and `publish()` from this connection) may send, in bytes, before
   * compression; with `sendFrame()`, the largest frame. A bigger one throws `ERR_MESSAGE_TOO_BIG`:
   * nothing is sent and the connection stays open. Default: `maxPayload`, which is what a peer
   * with the same options accepts. Set it apart for a route that receives small messages and
   * sends big ones (history, snapshots); `Infinity` disables the check.
   */
  maxSendPayload?: number;
  /** Most frames one message may be split into; more closes with 1009. Default 100,000. */
  maxFragments?: number;
  /**
   * Seconds to wait for the close handshake to finish (the peer's close frame and the end of the
   * TCP connection) before the socket is destroyed. Default 3: long enough for a peer across the
   * world to answer, short enough that a vanished one does not hold a socket for long.
   */
  closeTimeout?: number;
  /** Answer pings with pongs automatically. Default true. */
  autoPong?: boolean;
  /**
   * Frame mode: `receive()`, the iterator and `message` events yield each data frame as it
   * arrives, with `fin: false` while more frames of the message follow, so a huge message can be
   * processed without being buffered whole. `maxPayload` then limits each frame. Default false.
   */
  frames?: boolean;
  /**
   * permessage-deflate (RFC 7692): `true` for the defaults, or options. On the server it is
   * accepted when the client offers it; on the client it is offered. Default off.
   */
  compress?: boolean | DeflateOptions;
  /**
   * Seconds of silence from the peer after which a ping is sent; if the peer stays silent for
   * another period the connection is terminated (close code 1006, `ERR_HEARTBEAT_TIMEOUT`). Any
   * frame from the peer counts as life. 0 or absent: off, since a heartbeat costs every
   * connection traffic that only long-lived ones behind proxies need.
   */
  heartbeat?: number;
  /**
   * Seconds without a data message in either direction after which the connection is closed with
   * 1001. Pings and pongs do not count, so it works alongside `heartbeat`. 0 or absent: off.
   */
  idleTimeout?: number;
  /**
   * Bytes of received messages waiting to be read (by `receive()`, the iterator, or a paused
   * event listener) at which reading from the socket pauses, so TCP pushes back on the peer.
   * Reading resumes once half of it has been read. Each waiting message counts 64 bytes beyond
   * its payload, so many empty messages are bounded too. Default 1 MiB.
   */
  receiveHighWaterMark?: number;
  /** `bufferedAmount` from which `send()` returns false (wait with `drained()`). Default 1 MiB. */
  sendHighWaterMark?: number;
  /**
   * Most bytes that may wait to be written to a peer that does not read. A `send()` that would go
   * past it is refused and the connection is closed with 1008 (`ERR_BUFFER_OVERFLOW`).
   * Default 64 MiB. `Infinity` disables the limit.
   */
  maxBuffered?: number;
  /**
   * Limits how fast the peer may send data messages: `{ messages, bytes, per, action }`, a token
   * bucket per connection (see {@link RateLimitOptions}). Past it, `'close'` (the default) closes
   * with 1008 and `ERR_RATE_LIMITED`; `'drop'` discards the message and emits `'ratelimit'`.
   * Default: no limit.
   */
  rateLimit?: RateLimitOptions;
}

/** Options after defaults and validation; durations in milliseconds. */
export interface ResolvedOptions {
  maxPayload: number;
  maxSendPayload: number;
  maxFragments: number;
  closeTimeoutMs: number;
  autoPong: boolean;
  frames: boolean;
  /** 0 when off. */
  heartbeatMs: number;
  /** 0 when off. */
  idleTimeoutMs: number;
  receiveHighWaterMark: number;
  sendHighWaterMark: number;
  maxBuffered: number;
  /** undefined when off. */
  rateLimit: ResolvedRateLimit | undefined;
}

export function resolveOptions(opts: WebSocketOptions | undefined): ResolvedOptions {
  const o = checkObject(opts, 'options');
  const maxPayload = positiveNumber(o.maxPayload, 'maxPayload', Defaults.maxPayload, true);
  return intern({
    maxPayload,
    maxSendPayload: positiveNumber(o.maxSendPayload, 'maxSendPayload', maxPayload, true),
    maxFragments: positiveNumber(o.maxFragments, 'maxFragments', Defaults.maxFragments, true),
    closeTimeoutMs: seconds(o.closeTimeout, 'closeTimeout', Defaults.closeTimeout),
    autoPong: boolean(o.autoPong, 'autoPong', true),
    frames: boolean(o.frames, 'frames', false),
    heartbeatMs: seconds(o.heartbeat, 'heartbeat', 0, true),
    idleTimeoutMs: seconds(o.idleTimeout, 'idleTimeout', 0, true),
    receiveHighWaterMark: positiveNumber(o.receiveHighWaterMark, 'receiveHighWaterMark', Defaults.receiveHighWaterMark, true),
    sendHighWaterMark: positiveNumber(o.sendHighWaterMark, 'sendHighWaterMark', Defaults.sendHighWaterMark, true),
    maxBuffered: positiveNumber(o.maxBuffered, 'maxBuffered', Defaults.maxBuffered, true),
    rateLimit: resolveRateLimit(o.rateLimit),
  });
}

/** Distinct resolved option sets kept for sharing; a server has a handful, so more means a caller varies them per connection. */
const MAX_INTERNED = 64;
const interned: ResolvedOptions[] = [];

function same(a: ResolvedOptions, b: ResolvedOptions): boolean {
  return (
    a.maxPayload === b.maxPayload &&
    a.maxSendPayload === b.maxSendPayload &&
    a.maxFragments === b.maxFragments &&
    a.closeTimeoutMs === b.closeTimeoutMs &&
    a.autoPong === b.autoPong &&
    a.frames === b.frames &&
    a.heartbeatMs === b.heartbeatMs &&
    a.idleTimeoutMs === b.idleTimeoutMs &&
    a.receiveHighWaterMark === b.receiveHighWaterMark &&
    a.sendHighWaterMark === b.sendHighWaterMark &&
    a.maxBuffered === b.maxBuffered &&
    sameRateLimit(a.rateLimit, b.rateLimit)
  );
}

/**
 * Every connection keeps its resolved options, and nearly all of a server's connections resolve
 * the same ones (from an options literal written in the handler, so a new object each time):
 * they share one frozen object instead of holding 100-odd bytes each. Compared field by field,
 * most recent first: a string key cost microseconds per handshake.
 */
function intern(r: ResolvedOptions): ResolvedOptions {
  for (let i = interned.length - 1; i >= 0; i--) {
    const shared = interned[i]!;
    if (same(shared, r)) return shared;
  }
  if (interned.length < MAX_INTERNED) interned.push(Object.freeze(r));
  return r;
}

/** Everything the constructor needs; built by `upgrade()` and `connect()`. @internal */
export interface WebSocketInit {
  socket: Duplex;
  head?: Buffer | undefined;
  client: boolean;
  protocol: string;
  extensions: string;
  options: ResolvedOptions;
  /** The permessage-deflate codec when the extension was negotiated. */
  deflate?: PerMessageDeflate | undefined;
  /** The hub for `subscribe()`; default: the process-wide default hub. */
  hub?: Hub | undefined;
  /** The first value of `ws.data`. */
  data?: unknown;
}

/** The inflater of a connection that agreed permessage-deflate: its own, as its window is. */
export function inflaterFor(init: WebSocketInit): MessageInflater | undefined {
  const o = init.options;
  return init.deflate && new MessageInflater(init.deflate, o.maxPayload, o.frames);
}
