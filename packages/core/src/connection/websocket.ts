import type { Buffer } from 'node:buffer';
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import { ErrorCode, rangeError, typeError, WebSocketError } from '../errors.js';
import { NO_BYTES, payloadOf, toBuffer, type SendData } from '../protocol/bytes.js';
import { checkCloseArguments, controlPayload, parseClose } from '../protocol/close-frame.js';
import { CloseCode, Opcode } from '../protocol/constants.js';
import type { Receiver, ReceiverOptions } from '../protocol/receiver.js';
import { getDefaultHub, type Hub } from '../topics/hub.js';
import type { Publication, Subscriber } from '../topics/subscriber.js';
import { CloseHandshake, closeInfoOf, Ending } from './close-handshake.js';
import { type HandshakeResponse, handshakeResponseOf } from './handshake-response.js';
import { heartbeatTimeout } from './heartbeat.js';
import { Liveness } from './liveness.js';
import { Inbound, MessageIterator, onNewListener, Pause } from './inbound.js';
import { join, leave, overBudget } from './memory-budget.js';
import type { CloseInfo, Message, WebSocketEvents } from './message.js';
import { countClosed, countIdle, countOpened, publishError } from './observability.js';
import { inflaterFor, type ResolvedOptions, type WebSocketInit } from './options.js';
import { receive, receiverSettings, resumeReceiving, stopReceiving } from './receiving.js';
import { Outbound, type SendOptions } from './outbound.js';
import { definePeerGetters } from './peer-address.js';
import { startListenerTable } from './listener-table.js';
import { defineReadyStateConstants, ReadyState } from './ready-state.js';
import { abandonIfBacklogged, abort, bindSocket, ownerOf } from './socket-binding.js';
import type { StatsScope } from './stats.js';

/** The WebSocket a socket carries, if any (used to refuse upgrading a socket twice). */
export function webSocketOf(socket: Duplex): WebSocket | undefined {
  return ownerOf(socket) as WebSocket | undefined;
}

/**
 * A WebSocket connection (RFC 6455), the same class on the server (`upgrade()`) and the client
 * (`connect()`).
 *
 * Read messages with `await ws.receive()`, `for await (const msg of ws)`, or `ws.on('message')`.
 * Messages are buffered from the first frame, so none is lost while the code that will read them
 * is still busy. Write with `send()`; finish with `await ws.close()`.
 *
 * @typeParam Data the type of {@link data}, the application's own per-connection state. Plain
 *   `WebSocket` (`unknown` data) is the type of every WebSocket, whatever its data.
 */
// No `implements BudgetMember`: its members are internal, and the published declarations (which
// strip internals) must still type-check; `join(this)` checks the shape instead.
export class WebSocket<Data = unknown> extends EventEmitter<WebSocketEvents> implements Subscriber {
  static readonly CONNECTING = ReadyState.Connecting;
  static readonly OPEN = ReadyState.Open;
  static readonly CLOSING = ReadyState.Closing;
  static readonly CLOSED = ReadyState.Closed;
  // On the prototype (below), as in browsers and ws: as fields they would cost every connection 32 bytes.
  declare readonly CONNECTING: typeof ReadyState.Connecting;
  declare readonly OPEN: typeof ReadyState.Open;
  declare readonly CLOSING: typeof ReadyState.Closing;
  declare readonly CLOSED: typeof ReadyState.Closed;

  /** The subprotocol agreed in the handshake, or `''`. */
  readonly protocol: string;
  /** The extensions agreed in the handshake, as a header value (e.g. `permessage-deflate`), or `''`. */
  readonly extensions: string;
  /** Whether this is the client end of the connection. */
  readonly isClient: boolean;
  // The peer's address: getters on the prototype (below) that read what the socket kept.
  /**
   * The peer's IP address, of the TCP connection (over HTTP/2, of its session), read at the
   * upgrade: it still reads after the connection closed. Undefined without a network peer (`injectUpgrade`).
   */
  declare readonly remoteAddress: string | undefined;
  /** The peer's TCP port (see {@link remoteAddress}). */
  declare readonly remotePort: number | undefined;
  /** `'IPv4'` or `'IPv6'`: the family of {@link remoteAddress}. */
  declare readonly remoteFamily: string | undefined;
  /**
   * The application's own state for this connection (a user, a room): `upgrade(req, res, { data })`
   * sets it, and it may be replaced at any time (after authenticating, say). wsup never reads it.
   */
  data: Data;

  /** @internal */
  readonly socket: Duplex;
  /** @internal */
  readonly options: ResolvedOptions;
  /** @internal The counters (and set of live connections) of the router that adopted this connection. */
  registry: StatsScope | undefined;
  /** @internal When it opened, in milliseconds of `performance.now()`. */
  readonly openedAt: number;
  /** @internal */
  readonly outbound: Outbound;
  /** @internal Held only while something is partly received (receiving.ts). */
  receiver: Receiver | undefined = undefined;
  /** @internal */
  readonly receiving: ReceiverOptions;
  /** @internal */
  readonly inbound: Inbound;
  private state: ReadyState = ReadyState.Open;
  /** Heartbeat and idle timeout, when either is on. */
  private liveness: Liveness | undefined;
  private hubRef: Hub | undefined;
  /** Made when closing starts. */
  private closing: CloseHandshake | undefined;
  /** Why and how the connection ended, and who waits for it: made when it fails, when someone asks, or at the end. */
  private ending: Ending | undefined;

  /** @internal Use `upgrade()` or `connect()`. */
  constructor(init: WebSocketInit) {
    super();
    const o = init.options;
    this.socket = init.socket;
    this.isClient = init.client;
    this.protocol = init.protocol;
    this.extensions = init.extensions;
    this.data = init.data as Data;
    this.options = o;
    this.receiving = receiverSettings(o, init.client, inflaterFor(init));
    this.outbound = new Outbound(init.socket, init.client, o, init.deflate, this);
    this.inbound = new Inbound(this);
    this.hubRef = init.hub;
    startListenerTable(this, onNewListener);
    this.openedAt = countOpened();

    bindSocket(init.socket, this);
    if (o.heartbeatMs > 0 || o.idleTimeoutMs > 0) this.liveness = new Liveness(this, o.heartbeatMs, o.idleTimeoutMs);
    if (init.head && init.head.length > 0) this.handleData(init.head);
    if (init.socket.destroyed) queueMicrotask(() => this.handleSocketClose());
    join(this);
  }

  /** Connection state: 0 connecting, 1 open, 2 closing, 3 closed (as in browsers). */
  get readyState(): ReadyState {
    return this.state;
  }

  /** Bytes passed to `send()` and friends that the kernel has not taken yet. */
  get bufferedAmount(): number {
    return this.outbound.bufferedAmount;
  }

  /** The close code, once closed (see {@link CloseInfo.code}); undefined before. */
  get closeCode(): number | undefined {
    return this.ending?.info?.code;
  }

  /** The close reason, once closed; undefined before. */
  get closeReason(): string | undefined {
    return this.ending?.info?.reason;
  }

  /** Why the connection failed, if it did. */
  get error(): WebSocketError | undefined {
    return this.ending?.failure;
  }

  /** Bytes of received messages waiting to be read (bounded by `receiveHighWaterMark` plus one message). */
  get queuedAmount(): number {
    return this.inbound.bytes;
  }

  /** @internal Messages received and not yet read. */
  get unreadMessages(): number {
    return this.inbound.unread;
  }

  /** @internal */
  get isClosed(): boolean {
    return this.state === ReadyState.Closed;
  }

  /** The hub this connection's topics live in. */
  get hub(): Hub {
    this.hubRef ??= getDefaultHub();
    return this.hubRef;
  }

  /**
   * Subscribes to a topic of this connection's {@link hub}: `hub.publish(topic, …)` then reaches
   * it. Connections leave all their topics when they close.
   * @throws TypeError/RangeError `ERR_INVALID_TOPIC` for an empty, non-string or too long topic.
   */
  subscribe(topic: string): void {
    if (this.state === ReadyState.Closed || this.state === ReadyState.Closing) return;
    this.hub.subscribe(this, topic);
  }

  /** Leaves a topic. */
  unsubscribe(topic: string): void {
    this.hubRef?.unsubscribe(this, topic);
  }

  /** The topics this connection subscribes to. */
  get topics(): ReadonlySet<string> {
    return this.hub.topicsOf(this);
  }

  /**
   * Publishes to a topic of this connection's hub, skipping this connection: the usual "relay to
   * everyone else in the room". Data over `maxSendPayload` throws `ERR_MESSAGE_TOO_BIG`.
   */
  publish(topic: string, data: SendData, binary?: boolean): number {
    this.outbound.checkPublished(data);
    return this.hub.publish(topic, data, binary, { except: this });
  }

  /** Whether reading is paused, by `pause()` or because unread messages reached `receiveHighWaterMark`. */
  get isPaused(): boolean {
    return this.inbound.isPaused;
  }

  /** Stops reading from the socket, so TCP pushes back on the peer; messages already received are still delivered. */
  pause(): void {
    this.inbound.pause(Pause.User);
  }

  /** Resumes reading after {@link pause}. */
  resume(): void {
    this.inbound.resume(Pause.User);
  }

  /**
   * Resolves once `bufferedAmount` is below `sendHighWaterMark` (at once if it already is).
   * Rejects with `ERR_NOT_OPEN` if the connection closes first.
   */
  drained(): Promise<void> {
    return this.outbound.drained(this.state === ReadyState.Closed);
  }

  /** Settles with how the connection ended, once the TCP connection is closed. */
  get closed(): Promise<CloseInfo> {
    return this.end.promise;
  }

  /**
   * Sends a message. Strings are sent as text and bytes as binary unless `binary` says otherwise
   * (bytes sent as text must be valid UTF-8).
   *
   * Frames are batched: everything sent in one turn of the event loop leaves in one write.
   * Do not modify a Buffer after passing it here (as with `stream.write`).
   *
   * @returns true while `bufferedAmount` stays below `sendHighWaterMark`. False once it does not
   *   (the message is queued; wait with `drained()` or the `drain` event), or when the connection
   *   is closing or closed (the message is dropped; `readyState` tells which). A send that would
   *   take `bufferedAmount` past `maxBuffered` is refused and closes the connection with 1008.
   * @param options `compress: false` sends this message uncompressed where permessage-deflate was
   *   agreed (for data that does not shrink, such as images); by default the `compress` options decide.
   * @throws {WebSocketError} `ERR_NOT_OPEN` before the connection is open,
   *   `ERR_FRAGMENTED_SEND_IN_PROGRESS` while a `sendFrame` message is unfinished,
   *   `ERR_MESSAGE_TOO_BIG` past `maxSendPayload` (nothing is sent; the connection stays open).
   */
  send(data: SendData, binary?: boolean, options?: SendOptions): boolean {
    if (!this.canSend()) return this.notOpen();
    if (this.outbound.fragmenting !== -1) {
      throw new WebSocketError(ErrorCode.FragmentedSendInProgress, 'finish the fragmented message sent with sendFrame() first');
    }
    this.liveness?.active();
    const compress = options === undefined || options.compress !== false;
    if (typeof data === 'string') return this.outbound.sendString(data, binary, compress);
    const buf = toBuffer(data);
    if (buf === null) throw typeError('send() takes a string, Buffer, ArrayBuffer or typed array');
    return this.outbound.sendBytes(buf, binary, compress);
  }

  /**
   * Sends one raw frame, for streaming a message in fragments: the first frame has opcode 1
   * (text) or 2 (binary) and `fin` false, the following ones opcode 0, and the last one `fin`
   * true. Ping (9) and pong (10) frames may be interleaved. Payloads are sent as they are: text
   * fragments together must form valid UTF-8.
   *
   * @returns false if the connection is closing or closed, true otherwise.
   * @throws {WebSocketError} `ERR_MESSAGE_TOO_BIG` for a payload over `maxSendPayload` (nothing is sent).
   */
  sendFrame(fin: boolean, opcode: number, payload?: SendData): boolean {
    if (opcode === Opcode.Close) throw rangeError('use close() to send a close frame');
    if (opcode === Opcode.Ping || opcode === Opcode.Pong) {
      if (!fin) throw rangeError('control frames cannot be fragmented');
      return opcode === Opcode.Ping ? this.ping(payload) : this.pong(payload);
    }
    this.outbound.checkFragment(opcode);
    const buf = payload === undefined ? NO_BYTES : payloadOf(payload, 'sendFrame()');
    if (!this.canSend()) return this.notOpen();
    this.liveness?.active();
    return this.outbound.fragment(fin, opcode, buf);
  }

  /** Sends a ping (payload at most 125 bytes; RangeError otherwise). @returns false if the connection is closing or closed. */
  ping(data?: SendData): boolean {
    return this.sendControl(Opcode.Ping, controlPayload(data, 'ping'));
  }

  /**
   * Sends a pong (payload at most 125 bytes; RangeError otherwise). Unsolicited pongs serve as a
   * one-way keep-alive.
   * @returns false if the connection is closing or closed.
   */
  pong(data?: SendData): boolean {
    return this.sendControl(Opcode.Pong, controlPayload(data, 'pong'));
  }

  /**
   * The next whole message (in frame mode: the next frame), or null once the connection is closed
   * and every message received before has been read.
   *
   * @param timeout seconds to wait; on expiry the promise rejects with `ERR_TIMEOUT` and the
   *   connection stays open, so the next `receive()` works.
   */
  receive(timeout?: number): Promise<Message | null> {
    const queued = this.inbound.take();
    if (queued !== undefined) return Promise.resolve(queued);
    if (this.inbound.ended) return Promise.resolve(null);
    return this.inbound.wait(timeout);
  }

  /** `for await (const msg of ws)`: every message until the connection closes. */
  [Symbol.asyncIterator](): AsyncIterableIterator<Message> {
    return new MessageIterator(this.inbound);
  }

  /**
   * Starts the close handshake: sends a close frame, waits for the peer's, then ends the TCP
   * connection. After `closeTimeout` seconds without that, the socket is destroyed.
   *
   * @param code 1000 (default), 1001–1003, 1007–1011 or 3000–4999.
   * @param reason at most 123 bytes of UTF-8.
   * @returns how the connection ended, once it has.
   */
  close(code: number = CloseCode.Normal, reason = ''): Promise<CloseInfo> {
    checkCloseArguments(code, reason);
    if (this.state === ReadyState.Open) {
      this.state = ReadyState.Closing;
      this.closing = CloseHandshake.initiate(this, code, reason);
    } else if (this.state === ReadyState.Closing) {
      this.closing?.closeNow(code, reason);
    }
    return this.closed;
  }

  /** Destroys the connection at once, without a close handshake (close code 1006). */
  terminate(): void {
    if (this.state === ReadyState.Closed) return;
    this.liveness?.stop();
    this.state = ReadyState.Closing;
    this.inbound.end();
    this.outbound.dropQueued();
    abort(this.socket);
  }

  /**
   * Queues a message published to one of this connection's topics. Part of the
   * {@link Subscriber} contract: the hub calls it, applications call `hub.publish()`.
   * @returns whether it was queued.
   */
  deliver(publication: Publication): boolean {
    if (!this.canSend() || this.outbound.fragmenting !== -1) return false;
    this.liveness?.active();
    // A run that carries over reaches its members without this call: not those whose sends are activity.
    return this.outbound.publication(publication, this.isClient, !this.liveness?.watchesActivity);
  }

  /** The server's answer to a client's opening handshake (status, headers); undefined server-side. */
  get handshakeResponse(): HandshakeResponse | undefined {
    return handshakeResponseOf(this);
  }

  // ---- ReceiverHandler: what the receiver decoded ----

  /** @internal */
  onMessage(binary: boolean, data: Buffer | string): void {
    this.liveness?.active();
    this.inbound.deliverMessage(binary, data);
  }

  /** @internal */
  onFragment(binary: boolean, data: Buffer, fin: boolean): void {
    this.liveness?.active();
    this.inbound.deliverFrame(binary, data, fin);
  }

  /** @internal */
  onControl(opcode: number, data: Buffer): void {
    if (opcode === Opcode.Ping) {
      if (this.options.autoPong && this.state === ReadyState.Open && this.outbound.answerPing(data)) this.inbound.pause(Pause.Replies);
      this.emit('ping', data);
    } else if (opcode === Opcode.Pong) {
      this.emit('pong', data);
    } else {
      this.onCloseFrame(data);
    }
  }

  /** @internal */
  onError(err: WebSocketError): void {
    this.fail(err);
  }

  /** @internal */
  onDeferred(): void {
    this.inbound.yieldTurn(() => resumeReceiving(this, false));
  }

  // ---- OutboundOwner and CloseHost ----

  /** @internal */
  overflowed(err: WebSocketError): void {
    this.fail(err, true, true);
  }

  /** @internal What the memory budget counts: queued to send, unread, and still arriving. */
  heldBytes(): number {
    return this.outbound.bufferedAmount + this.inbound.heldBytes + (this.receiver?.heldBytes ?? 0);
  }

  /** @internal The memory budget closes this connection (1013) to release what it holds. */
  shed(): void {
    this.outbound.dropQueued();
    this.fail(overBudget(), true, true);
  }

  /** @internal */
  outboundDrained(emitDrain: boolean): void {
    if (this.inbound.pausedFor(Pause.Replies)) this.inbound.resume(Pause.Replies);
    if (emitDrain) this.emit('drain');
  }

  /** @internal */
  writeClose(code: number | undefined, reason: string): void {
    this.liveness?.stop();
    this.outbound.close(code, reason);
  }

  /** @internal */
  inboxEmptied(): void {
    this.closing?.inboxEmptied();
  }

  // ---- socket events ----

  /** @internal */
  handleDrain(): void {
    this.outbound.flushed();
  }

  /** @internal */
  handleData(chunk: Buffer): void {
    this.liveness?.seen();
    receive(this, chunk);
  }

  /** @internal */
  handleEnd(): void {
    // The peer half-closed. Nothing more will arrive; finish our side too (server sockets are
    // allowHalfOpen, so Node would otherwise leave them open). Input held back between inflated
    // messages is parsed first: nothing else would.
    resumeReceiving(this, true);
    this.inbound.end();
    if (this.state === ReadyState.Open) this.state = ReadyState.Closing;
    this.outbound.flush();
    if (!this.socket.writableEnded) this.socket.end();
    (this.closing ??= CloseHandshake.ending(this)).peerEnded();
  }

  /** @internal */
  handleSocketError(err: Error): void {
    if (!this.ending?.failure && !this.closing?.received) {
      this.end.failure = new WebSocketError(ErrorCode.ConnectionReset, `socket error: ${err.message}`, { cause: err });
      publishError(this, this.end.failure);
    }
  }

  /** @internal */
  handleSocketClose(): void {
    if (this.state === ReadyState.Closed) return;
    this.state = ReadyState.Closed;
    this.inbound.end();
    stopReceiving(this);
    this.outbound.discard();
    this.liveness?.stop();
    this.closing?.stop();
    this.hubRef?.unsubscribeAll(this);
    const info = closeInfoOf(this.closing, this.end.failure);
    this.end.settle(info);
    countClosed(this, info, this.closing);
    leave(this);
    this.emit('close', info.code, info.reason, info.error);
  }

  // ---- internals ----

  /** @internal Whether data may be sent: open, or closing with answers to earlier messages still owed. */
  canSend(): boolean {
    return this.state === ReadyState.Open || (this.state === ReadyState.Closing && this.closing !== undefined && this.closing.replyPending);
  }

  private sendControl(opcode: number, payload: Buffer): boolean {
    return this.canSend() ? this.outbound.control(opcode, payload) : this.notOpen();
  }

  private notOpen(): false {
    if (this.state === ReadyState.Connecting) throw new WebSocketError(ErrorCode.NotOpen, 'the WebSocket is not open yet');
    return false;
  }

  private onCloseFrame(data: Buffer): void {
    const received = parseClose(data);
    if (received instanceof WebSocketError) {
      this.fail(received);
      return;
    }
    stopReceiving(this);
    this.inbound.end();
    if (this.state === ReadyState.Open) this.state = ReadyState.Closing;
    (this.closing ??= CloseHandshake.answering(this)).peerClosed(received);
  }

  /**
   * Fails the connection (RFC 6455 §7.1.7): stops reading, sends a close frame with the error's
   * code (after the application's answers to earlier messages, unless `now`), then ends TCP.
   */
  private fail(err: WebSocketError, now = false, abusive = false): void {
    if (this.state === ReadyState.Closed) return;
    this.end.failure ??= err;
    stopReceiving(this);
    this.inbound.end();
    const mayReply = this.state === ReadyState.Open && !this.socket.destroyed;
    this.state = ReadyState.Closing;
    (this.closing ??= mayReply ? CloseHandshake.answering(this) : CloseHandshake.ending(this)).failed(err, mayReply, now);
    if (abusive) {
      // Closed for abuse (not reading, or holding too much): what it holds goes now, not after the close timeout.
      this.inbound.discard();
      abandonIfBacklogged(this.socket);
    }
    this.report(err);
  }

  /** Reports an error: to the `error` listeners, if any (none is no crash), and on its diagnostics channel. */
  private report(err: WebSocketError): void {
    publishError(this, err);
    if (this.listenerCount('error') > 0) this.emit('error', err);
  }

  /** @internal */
  heartbeatTimedOut(): void {
    if (this.state === ReadyState.Closed) return;
    this.report((this.end.failure ??= heartbeatTimeout(this.options.heartbeatMs)));
    this.terminate();
  }

  /** @internal */
  idleTimedOut(): void {
    if (this.state !== ReadyState.Open) return;
    countIdle(this);
    void this.close(CloseCode.GoingAway, 'idle timeout');
  }

  /** Why and how the connection ended, made on first need. */
  private get end(): Ending {
    return (this.ending ??= new Ending());
  }
}

defineReadyStateConstants(WebSocket.prototype);
definePeerGetters(WebSocket.prototype);
