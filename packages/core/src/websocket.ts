import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { CloseCode, isValidCloseCode, Opcode, ReadyState } from './constants.js';
import type { PerMessageDeflate } from './deflate.js';
import { ErrorCode, protocolError, rangeError, typeError, WebSocketError } from './errors.js';
import { FrameParser } from './frame.js';
import { Heartbeat, IdleTimer, joinTicks, leaveTicks } from './heartbeat.js';
import { getDefaultHub, type Hub } from './hub.js';
import type { ResolvedOptions } from './options.js';
import { Sender } from './sender.js';
import { isValidUtf8, Utf8Validator } from './utf8.js';

/** A text message: `data` is the decoded string. */
export interface TextMessage {
  readonly data: string;
  readonly binary: false;
  /** False in frame mode while more frames of this message follow; otherwise true. */
  readonly fin: boolean;
}

/** A binary message: `data` holds the bytes. */
export interface BinaryMessage {
  readonly data: Buffer;
  readonly binary: true;
  /** False in frame mode while more frames of this message follow; otherwise true. */
  readonly fin: boolean;
}

/** What `receive()`, the async iterator and the `message` event yield. */
export type Message = TextMessage | BinaryMessage;

/** Data `send()` accepts. Strings go as text unless `binary` is true; bytes go as binary. */
export type SendData = string | Buffer | Uint8Array | ArrayBuffer | ArrayBufferView;

/** How a connection ended. */
export interface CloseInfo {
  /** The peer's close code; 1005 if its close frame had none; 1006 if none arrived. */
  code: number;
  reason: string;
  /** Whether both close frames were exchanged. */
  wasClean: boolean;
  /** Why the connection failed, if it did. */
  error?: WebSocketError;
}

/** Events a WebSocket emits, for those who prefer listeners to `receive()`. */
export interface WebSocketEvents {
  message: [message: Message];
  ping: [data: Buffer];
  pong: [data: Buffer];
  close: [code: number, reason: string, error: WebSocketError | undefined];
  error: [error: WebSocketError];
  /** `bufferedAmount` fell back below `sendHighWaterMark` after `send()` returned false. */
  drain: [];
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
}

interface DrainWaiter {
  resolve: () => void;
  reject: (err: Error) => void;
}

interface Waiter {
  resolve: (msg: Message | null) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout | undefined;
}

const kWebSocket = Symbol('wsup.websocket');
const EMPTY = Buffer.alloc(0);
/**
 * The empty receive queue and waiter list every connection starts with, so an idle one keeps no
 * arrays of its own. Never pushed to (a connection swaps in its own array first); `shift()` on
 * it is a no-op.
 */
const NONE: never[] = [];

type SocketWithWs = Duplex & { [kWebSocket]?: WebSocket };

/** The WebSocket a socket carries, if any (used to refuse upgrading a socket twice). */
export function webSocketOf(socket: Duplex): WebSocket | undefined {
  return (socket as SocketWithWs)[kWebSocket];
}

// Socket listeners are shared functions that find their WebSocket through the socket, so a
// connection costs no closures.
function onSocketData(this: SocketWithWs, chunk: Buffer): void {
  this[kWebSocket]!.handleData(chunk);
}
function onSocketEnd(this: SocketWithWs): void {
  this[kWebSocket]!.handleEnd();
}
function onSocketError(this: SocketWithWs, err: Error): void {
  this[kWebSocket]!.handleSocketError(err);
}
function onSocketDrain(this: SocketWithWs): void {
  this[kWebSocket]!.handleDrain();
}
function onSocketClose(this: SocketWithWs): void {
  this[kWebSocket]!.handleSocketClose();
}
function sendPendingClose(ws: WebSocket): void {
  ws.sendPendingClose();
}
function onNewListener(this: WebSocket, event: string | symbol): void {
  if (event === 'message') this.handleNewMessageListener();
}

function toBuffer(data: SendData): Buffer | null {
  if (Buffer.isBuffer(data)) return data;
  if (data instanceof ArrayBuffer) return Buffer.from(data);
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return null;
}

function controlPayload(data: string | SendData | undefined, what: string): Buffer {
  if (data === undefined) return EMPTY;
  const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : toBuffer(data);
  if (buf === null) throw typeError(`${what} payload must be a string or bytes`);
  if (buf.length > 125) throw rangeError(`${what} payload must be at most 125 bytes, got ${buf.length}`);
  return buf;
}

function closePayload(code: number | undefined, reason: string): Buffer {
  if (code === undefined) return EMPTY;
  const len = Buffer.byteLength(reason);
  const buf = Buffer.allocUnsafe(2 + len);
  buf.writeUInt16BE(code, 0);
  buf.utf8Write(reason, 2, len);
  return buf;
}

/** Cuts a reason to the 123 bytes a close frame allows, on a code point boundary. */
function fitReason(reason: string): string {
  if (Buffer.byteLength(reason) <= 123) return reason;
  const buf = Buffer.from(reason).subarray(0, 123);
  let end = 123;
  while (end > 0 && (buf[end - 1]! & 0xc0) === 0x80) end--;
  if (end > 0 && buf[end - 1]! >= 0xc0) end--;
  return buf.utf8Slice(0, end);
}

/**
 * A WebSocket connection (RFC 6455), the same class on the server (`upgrade()`) and the client
 * (`connect()`).
 *
 * Read messages with `await ws.receive()`, `for await (const msg of ws)`, or `ws.on('message')`.
 * Messages are buffered from the first frame, so none is lost while the code that will read them
 * is still busy. Write with `send()`; finish with `await ws.close()`.
 */
export class WebSocket extends EventEmitter<WebSocketEvents> {
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

  /** @internal */
  readonly socket: Duplex;
  /** @internal */
  readonly options: ResolvedOptions;
  private readonly parser: FrameParser;
  private readonly sender: Sender;

  private state: ReadyState = ReadyState.Open;
  // The three arrays start as shared empty ones (see NONE) and get their own on first push.
  private queue: Message[] = NONE;
  /** Bytes held by `queue`, against `receiveHighWaterMark`. */
  private queuedBytes = 0;
  /** Sizes of the queued messages, parallel to `queue`. */
  private queuedSizes: number[] = NONE;
  private waiters: Waiter[] = NONE;
  /** @internal The live-connection registry of the router that adopted this connection. */
  registry: Set<WebSocket> | undefined;
  /** Reading paused because the queue is over its high-water mark. */
  private readPaused = false;
  /** Reading paused by `pause()`. */
  private userPaused = false;
  /**
   * Reading paused because automatic replies (pongs) wait to be written: a peer that sends pings
   * and never reads the pongs is pushed back by TCP instead of growing our send buffer.
   */
  private replyPaused = false;
  private drainWaiters: DrainWaiter[] | undefined;
  /** send() returned false: a 'drain' event is owed. */
  private needDrain = false;
  private heartbeat: Heartbeat | undefined;
  private idle: IdleTimer | undefined;
  private hubRef: Hub | undefined;
  /** No more messages can arrive (close frame received, connection failed or ended). */
  private inputEnded = false;
  private closeSent = false;
  private closeReceived = false;
  /**
   * The close frame to send once the application has read the messages that arrived before the
   * peer's close frame or the protocol error (see {@link scheduleClose}).
   */
  private pendingClose: { code: number | undefined; reason: string } | undefined;
  /** pendingClose waits for the receive queue to drain. */
  private closeReplyPending = false;
  private receivedCode: number = CloseCode.Abnormal;
  private receivedReason = '';
  private failure: WebSocketError | undefined;
  private closeTimer: NodeJS.Timeout | undefined;
  private closedPromise: Promise<CloseInfo> | undefined;
  private resolveClosed: ((info: CloseInfo) => void) | undefined;
  private closeInfo: CloseInfo | undefined;
  /** Opcode of an outgoing message being sent in fragments with `sendFrame`, or -1. */
  private sendingFragmented = -1;
  private textDecoder: StringDecoder | undefined;
  private readonly deflate: PerMessageDeflate | undefined;
  /** Inflated pieces of the compressed message (or frame) being received. */
  private inflated: Buffer[] | undefined;
  private inflatedUtf8: Utf8Validator | undefined;

  /** @internal Use `upgrade()` or `connect()`. */
  constructor(init: WebSocketInit) {
    super();
    this.socket = init.socket;
    this.isClient = init.client;
    this.protocol = init.protocol;
    this.extensions = init.extensions;
    this.options = init.options;
    this.parser = new FrameParser(this, {
      expectMasked: !init.client,
      maxPayload: init.options.maxPayload,
      maxFragments: init.options.maxFragments,
      frameMode: init.options.frames,
    });
    this.sender = new Sender(init.socket, init.client, this);
    this.deflate = init.deflate;
    if (init.deflate) this.parser.rsv1Allowed = true;
    this.hubRef = init.hub;
    (this as EventEmitter).on('newListener', onNewListener);

    const socket = init.socket as SocketWithWs;
    socket[kWebSocket] = this;
    socket.on('data', onSocketData);
    socket.on('end', onSocketEnd);
    socket.on('error', onSocketError);
    socket.on('close', onSocketClose);
    socket.on('drain', onSocketDrain);
    const o = init.options;
    if (o.heartbeatMs > 0) {
      this.heartbeat = new Heartbeat(
        () => this.ping(),
        () => this.heartbeatTimedOut(),
      );
      joinTicks(o.heartbeatMs, this.heartbeat);
    }
    if (o.idleTimeoutMs > 0) {
      this.idle = new IdleTimer(() => this.idleTimedOut());
      joinTicks(o.idleTimeoutMs, this.idle);
    }
    if (init.head && init.head.length > 0) this.handleData(init.head);
    if (socket.destroyed) queueMicrotask(() => this.handleSocketClose());
  }

  /** Connection state: 0 connecting, 1 open, 2 closing, 3 closed (as in browsers). */
  get readyState(): ReadyState {
    return this.state;
  }

  /** Bytes passed to `send()` and friends that the kernel has not taken yet. */
  get bufferedAmount(): number {
    return this.sender.queuedBytes + this.socket.writableLength;
  }

  /** The close code, once closed (see {@link CloseInfo.code}); undefined before. */
  get closeCode(): number | undefined {
    return this.closeInfo?.code;
  }

  /** The close reason, once closed; undefined before. */
  get closeReason(): string | undefined {
    return this.closeInfo?.reason;
  }

  /** Why the connection failed, if it did. */
  get error(): WebSocketError | undefined {
    return this.failure;
  }

  /** Bytes of received messages waiting to be read (bounded by `receiveHighWaterMark` plus one message). */
  get queuedAmount(): number {
    return this.queuedBytes;
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
   * Publishes to a topic of this connection's hub, skipping this connection (uWS's
   * `ws.publish`): the usual "relay to everyone else in the room".
   */
  publish(topic: string, data: SendData, binary?: boolean): number {
    return this.hub.publish(topic, data, binary, { except: this });
  }

  /** @internal The negotiated permessage-deflate codec, for the hub's shared compression. */
  get deflateCodec(): PerMessageDeflate | undefined {
    return this.deflate;
  }

  /**
   * @internal Queues a complete frame shared with other connections (a published message).
   * @returns whether it was queued.
   */
  sendFramed(frame: Buffer): boolean {
    if (!this.canSend() || this.sendingFragmented !== -1) return false;
    if (!this.reserve(frame.length)) return false;
    this.sender.framed(frame);
    this.afterSend();
    return true;
  }

  /** Whether reading is paused, by `pause()` or because unread messages reached `receiveHighWaterMark`. */
  get isPaused(): boolean {
    return this.userPaused || this.readPaused || this.replyPaused;
  }

  /**
   * Stops reading from the socket, so TCP pushes back on the peer (for event-style users whose
   * handlers cannot keep up). Messages already received are still delivered.
   */
  pause(): void {
    this.userPaused = true;
    this.socket.pause();
  }

  /** Resumes reading after {@link pause}. */
  resume(): void {
    this.userPaused = false;
    this.resumeReading();
  }

  /**
   * Resolves once `bufferedAmount` is below `sendHighWaterMark` (at once if it already is).
   * Rejects with `ERR_NOT_OPEN` if the connection closes first.
   */
  drained(): Promise<void> {
    if (this.bufferedAmount < this.options.sendHighWaterMark) return Promise.resolve();
    if (this.state === ReadyState.Closed) return Promise.reject(new WebSocketError(ErrorCode.NotOpen, 'the connection is closed'));
    return new Promise<void>((resolve, reject) => {
      (this.drainWaiters ??= []).push({ resolve, reject });
    });
  }

  /** Settles with how the connection ended, once the TCP connection is closed. */
  get closed(): Promise<CloseInfo> {
    if (!this.closedPromise) {
      this.closedPromise = this.closeInfo
        ? Promise.resolve(this.closeInfo)
        : new Promise<CloseInfo>((resolve) => {
            this.resolveClosed = resolve;
          });
    }
    return this.closedPromise;
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
   * @throws {WebSocketError} `ERR_NOT_OPEN` before the connection is open,
   *   `ERR_FRAGMENTED_SEND_IN_PROGRESS` while a `sendFrame` message is unfinished.
   */
  send(data: SendData, binary?: boolean): boolean {
    if (!this.canSend()) return this.notOpen();
    if (this.sendingFragmented !== -1) {
      throw new WebSocketError(ErrorCode.FragmentedSendInProgress, 'finish the fragmented message sent with sendFrame() first');
    }
    if (typeof data === 'string') {
      if (binary === true) return this.sendBytes(Opcode.Binary, Buffer.from(data, 'utf8'));
      const len = data.length < 32 && isAscii(data) ? data.length : Buffer.byteLength(data);
      if (this.deflate && len >= this.deflate.threshold) return this.sendBytes(Opcode.Text, Buffer.from(data, 'utf8'));
      if (!this.reserve(len)) return false;
      this.sender.frame(Opcode.Text, data, len, true, false);
      return this.afterSend();
    }
    const buf = toBuffer(data);
    if (buf === null) throw typeError('send() takes a string, Buffer, ArrayBuffer or typed array');
    if (binary === false) {
      if (!isValidUtf8(buf)) throw new WebSocketError(ErrorCode.InvalidUtf8, 'bytes sent as text must be valid UTF-8');
      return this.sendBytes(Opcode.Text, buf);
    }
    return this.sendBytes(Opcode.Binary, buf);
  }

  /**
   * Sends one raw frame, for streaming a message in fragments (lua-eco `send_frame`): the first
   * frame has opcode 1 (text) or 2 (binary) and `fin` false, the following ones opcode 0, and the
   * last one `fin` true. Ping (9) and pong (10) frames may be interleaved. Payloads are sent as
   * they are: text fragments together must form valid UTF-8.
   *
   * @returns false if the connection is closing or closed, true otherwise.
   */
  sendFrame(fin: boolean, opcode: number, payload?: SendData): boolean {
    if (opcode === Opcode.Close) throw rangeError('use close() to send a close frame');
    if (opcode === Opcode.Ping || opcode === Opcode.Pong) {
      if (!fin) throw rangeError('control frames cannot be fragmented');
      const buf = controlPayload(payload, opcode === Opcode.Ping ? 'ping' : 'pong');
      if (!this.canSend()) return this.notOpen();
      return this.sendControl(opcode, buf);
    }
    if (opcode !== Opcode.Continuation && opcode !== Opcode.Text && opcode !== Opcode.Binary) {
      throw rangeError(`invalid opcode ${opcode}`);
    }
    if (opcode === Opcode.Continuation && this.sendingFragmented === -1) {
      throw new WebSocketError(ErrorCode.FragmentedSendInProgress, 'a continuation frame needs a text or binary frame with fin=false first');
    }
    if (opcode !== Opcode.Continuation && this.sendingFragmented !== -1) {
      throw new WebSocketError(ErrorCode.FragmentedSendInProgress, 'finish the fragmented message (opcode 0 frames) before starting another');
    }
    const buf = payload === undefined ? EMPTY : typeof payload === 'string' ? Buffer.from(payload, 'utf8') : toBuffer(payload);
    if (buf === null) throw typeError('sendFrame() payload must be a string or bytes');
    if (!this.canSend()) return this.notOpen();
    if (!this.reserve(buf.length)) return false;
    this.sendingFragmented = fin ? -1 : opcode === Opcode.Continuation ? this.sendingFragmented : opcode;
    this.sender.frame(opcode, buf, buf.length, fin, false);
    return this.afterSend();
  }

  /**
   * Sends a ping (payload at most 125 bytes; RangeError otherwise).
   * @returns false if the connection is closing or closed.
   */
  ping(data?: string | SendData): boolean {
    const buf = controlPayload(data, 'ping');
    if (!this.canSend()) return this.notOpen();
    return this.sendControl(Opcode.Ping, buf);
  }

  /**
   * Sends a pong (payload at most 125 bytes; RangeError otherwise). Unsolicited pongs serve as a
   * one-way keep-alive.
   * @returns false if the connection is closing or closed.
   */
  pong(data?: string | SendData): boolean {
    const buf = controlPayload(data, 'pong');
    if (!this.canSend()) return this.notOpen();
    return this.sendControl(Opcode.Pong, buf);
  }

  /**
   * The next whole message (in frame mode: the next frame), or null once the connection is closed
   * and every message received before has been read.
   *
   * @param timeout seconds to wait; on expiry the promise rejects with `ERR_TIMEOUT` and the
   *   connection stays open, so the next `receive()` works.
   */
  receive(timeout?: number): Promise<Message | null> {
    const queued = this.queue.shift();
    if (queued !== undefined) {
      this.dequeued();
      return Promise.resolve(queued);
    }
    if (this.inputEnded) return Promise.resolve(null);
    let ms: number | undefined;
    if (timeout !== undefined) {
      if (typeof timeout !== 'number' || !(timeout >= 0) || !Number.isFinite(timeout)) {
        return Promise.reject(rangeError(`receive() timeout must be a number of seconds, got ${String(timeout)}`));
      }
      ms = timeout * 1000;
    }
    return new Promise<Message | null>((resolve, reject) => {
      const waiter: Waiter = { resolve, reject, timer: undefined };
      if (ms !== undefined) {
        waiter.timer = setTimeout(() => {
          const i = this.waiters.indexOf(waiter);
          if (i !== -1) this.waiters.splice(i, 1);
          reject(new WebSocketError(ErrorCode.Timeout, `no message within ${timeout} s`));
        }, ms);
      }
      if (this.waiters === NONE) this.waiters = [];
      this.waiters.push(waiter);
    });
  }

  /** `for await (const msg of ws)`: every message until the connection closes. */
  [Symbol.asyncIterator](): AsyncIterableIterator<Message> {
    return new MessageIterator(this);
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
    if (typeof code !== 'number' || !isValidCloseCode(code)) throw rangeError(`invalid close code ${String(code)}`);
    if (typeof reason !== 'string') throw typeError('close reason must be a string');
    if (Buffer.byteLength(reason) > 123) throw rangeError('close reason must be at most 123 bytes');
    if (this.state === ReadyState.Open) {
      this.sendClose(code, reason);
      this.state = ReadyState.Closing;
      this.armCloseTimer();
    } else if (this.pendingClose && !this.closeSent && this.state === ReadyState.Closing) {
      // Our close frame was waiting for the application: this call sends it now.
      // After the peer's close the caller's code answers it; after a failure the failure's stands.
      if (this.closeReceived) this.pendingClose = { code, reason };
      this.sendPendingClose();
    }
    return this.closed;
  }

  /** Destroys the connection at once, without a close handshake (close code 1006). */
  terminate(): void {
    if (this.state === ReadyState.Closed) return;
    this.stopTimers();
    this.state = ReadyState.Closing;
    this.endInput();
    this.socket.destroy();
  }

  // ---- FrameHandler (called by the parser) ----

  /** @internal */
  onMessage(binary: boolean, data: Buffer): void {
    this.deliver(
      binary ? { data, binary: true, fin: true } : { data: data.utf8Slice(0, data.length), binary: false, fin: true },
      data.length,
    );
  }

  /** @internal */
  onFragment(binary: boolean, data: Buffer, fin: boolean): void {
    if (binary) {
      this.deliver({ data, binary: true, fin }, data.length);
      return;
    }
    this.textDecoder ??= new StringDecoder('utf8');
    const text = fin ? this.textDecoder.end(data) : this.textDecoder.write(data);
    this.deliver({ data: text, binary: false, fin }, data.length);
  }

  /** @internal */
  onCompressed(binary: boolean, piece: Buffer, frameEnd: boolean, fin: boolean): WebSocketError | null {
    const deflate = this.deflate;
    if (!deflate) return protocolError(ErrorCode.ReservedBits, 'compressed message without permessage-deflate');
    const frames = this.options.frames;
    let out: Buffer;
    try {
      out = deflate.inflate(piece, fin, frames ? frameEnd : fin, this.options.maxPayload);
    } catch (err) {
      this.inflated = undefined;
      return err as WebSocketError;
    }
    if (!binary) {
      // Inflated text is validated as it is produced, so invalid UTF-8 fails fast here too.
      const v = (this.inflatedUtf8 ??= new Utf8Validator());
      if (!v.push(out) || (fin && !v.end())) {
        this.inflated = undefined;
        v.reset();
        return protocolError(ErrorCode.InvalidUtf8, 'invalid UTF-8 in a text message', CloseCode.InvalidPayload);
      }
    }
    const unitEnd = frames ? frameEnd : fin;
    if (!unitEnd) {
      if (out.length > 0) (this.inflated ??= []).push(out);
      return null;
    }
    let data = out;
    if (this.inflated) {
      this.inflated.push(out);
      data = Buffer.concat(this.inflated);
      this.inflated = undefined;
    }
    if (frames) this.onFragment(binary, data, fin);
    else if (binary) this.deliver({ data, binary: true, fin: true }, data.length);
    else this.deliver({ data: data.utf8Slice(0, data.length), binary: false, fin: true }, data.length);
    return null;
  }

  /** @internal */
  onControl(opcode: number, data: Buffer): void {
    if (opcode === Opcode.Ping) {
      if (this.options.autoPong && this.state === ReadyState.Open && this.sendControl(Opcode.Pong, data)) {
        if (!this.replyPaused && this.bufferedAmount >= this.options.sendHighWaterMark) {
          // The peer sends pings faster than it reads our pongs: stop reading until they drain.
          this.replyPaused = true;
          this.socket.pause();
        }
      }
      this.emit('ping', data);
    } else if (opcode === Opcode.Pong) {
      this.emit('pong', data);
    } else {
      this.handleCloseFrame(data);
    }
  }

  /** @internal */
  onError(err: WebSocketError): void {
    this.fail(err);
  }

  // ---- socket events ----

  /** @internal */
  handleData(chunk: Buffer): void {
    if (this.heartbeat) this.heartbeat.seen = true;
    this.parser.push(chunk);
  }

  /** @internal The sender wrote a batch the socket took without needing a 'drain'. */
  flushed(): void {
    if (this.needDrain || this.drainWaiters !== undefined || this.replyPaused) this.handleDrain();
  }

  /** @internal */
  handleDrain(): void {
    if (this.bufferedAmount >= this.options.sendHighWaterMark) return;
    if (this.replyPaused) {
      this.replyPaused = false;
      this.resumeReading();
    }
    const waiters = this.drainWaiters;
    if (waiters) {
      this.drainWaiters = undefined;
      for (const w of waiters) w.resolve();
    }
    if (this.needDrain) {
      this.needDrain = false;
      this.emit('drain');
    }
  }

  /** @internal */
  handleEnd(): void {
    // The peer half-closed. Nothing more will arrive; finish our side too (server sockets are
    // allowHalfOpen, so Node would otherwise leave them open).
    this.endInput();
    if (this.state === ReadyState.Open) this.state = ReadyState.Closing;
    this.sender.flush();
    if (!this.socket.writableEnded) this.socket.end();
    this.armCloseTimer();
  }

  /** @internal */
  handleSocketError(err: Error): void {
    if (!this.failure && !this.closeReceived) {
      this.failure = new WebSocketError(ErrorCode.ConnectionReset, `socket error: ${err.message}`, { cause: err });
    }
  }

  /** @internal */
  handleSocketClose(): void {
    if (this.state === ReadyState.Closed) return;
    this.state = ReadyState.Closed;
    this.endInput();
    this.parser.stop();
    this.sender.discard();
    this.deflate?.close();
    this.inflated = undefined;
    this.stopTimers();
    this.hubRef?.unsubscribeAll(this);
    if (this.closeTimer) {
      clearTimeout(this.closeTimer);
      this.closeTimer = undefined;
    }
    const drainWaiters = this.drainWaiters;
    if (drainWaiters) {
      this.drainWaiters = undefined;
      const err = new WebSocketError(ErrorCode.NotOpen, 'the connection closed before its buffer drained');
      for (const w of drainWaiters) w.reject(err);
    }
    const info: CloseInfo = this.closeReceived
      ? { code: this.receivedCode, reason: this.receivedReason, wasClean: this.closeSent }
      : this.failure?.closeCode !== undefined
        ? { code: this.failure.closeCode, reason: this.failure.message, wasClean: false }
        : { code: CloseCode.Abnormal, reason: '', wasClean: false };
    if (this.failure) info.error = this.failure;
    this.closeInfo = info;
    this.registry?.delete(this);
    this.resolveClosed?.(info);
    this.emit('close', info.code, info.reason, info.error);
  }

  /** @internal */
  handleNewMessageListener(): void {
    // Messages that arrived before anyone listened are delivered to the first listener, after it
    // has been added (newListener fires before).
    if (this.queue.length > 0) queueMicrotask(() => this.drainQueueToListeners());
  }

  // ---- internals ----

  private sendBytes(opcode: number, buf: Buffer): boolean {
    const deflate = this.deflate;
    if (deflate && buf.length >= deflate.threshold) {
      const compressed = deflate.compress(buf);
      if (!this.reserve(compressed.length)) return false;
      this.sender.frame(opcode, compressed, compressed.length, true, true);
    } else {
      if (!this.reserve(buf.length)) return false;
      this.sender.frame(opcode, buf, buf.length, true, false);
    }
    return this.afterSend();
  }

  /**
   * Queues a ping or pong. Control frames count against `maxBuffered` like messages: a peer
   * that never reads must not make us hold its pongs without bound.
   */
  private sendControl(opcode: number, buf: Buffer): boolean {
    if (!this.reserve(buf.length)) return false;
    this.sender.frame(opcode, buf, buf.length, true, false);
    return true;
  }

  private resumeReading(): void {
    if (!this.userPaused && !this.readPaused && !this.replyPaused && this.state !== ReadyState.Closed) this.socket.resume();
  }

  private notOpen(): false {
    if (this.state === ReadyState.Connecting) {
      throw new WebSocketError(ErrorCode.NotOpen, 'the WebSocket is not open yet');
    }
    return false;
  }

  private deliver(msg: Message, size: number): void {
    if (this.idle) this.idle.active = true;
    const waiter = this.waiters.shift();
    if (waiter !== undefined) {
      if (waiter.timer) clearTimeout(waiter.timer);
      waiter.resolve(msg);
      if (this.listenerCount('message') > 0) this.emit('message', msg);
      return;
    }
    if (this.listenerCount('message') > 0) {
      this.emit('message', msg);
      return;
    }
    if (this.queue === NONE) {
      this.queue = [];
      this.queuedSizes = [];
    }
    this.queue.push(msg);
    this.queuedSizes.push(size);
    this.queuedBytes += size;
    if (this.queuedBytes >= this.options.receiveHighWaterMark && !this.readPaused) {
      // Nobody is reading: stop reading the socket, so TCP pushes back instead of memory growing.
      this.readPaused = true;
      this.socket.pause();
    }
  }

  /** Bookkeeping after a queued message was taken. */
  private dequeued(): void {
    this.queuedBytes -= this.queuedSizes.shift()!;
    if (this.readPaused && this.queuedBytes <= this.options.receiveHighWaterMark / 2) {
      this.readPaused = false;
      this.resumeReading();
    }
    if (this.queue.length === 0 && this.closeReplyPending) this.scheduleCloseReply();
  }

  private drainQueueToListeners(): void {
    while (this.queue.length > 0 && this.listenerCount('message') > 0) {
      const msg = this.queue.shift()!;
      this.dequeued();
      this.emit('message', msg);
    }
  }

  /**
   * Checks that `len` more bytes fit under `maxBuffered`; if not, the peer is not reading and the
   * connection is closed with 1008.
   */
  private reserve(len: number): boolean {
    if (this.sender.queuedBytes + this.socket.writableLength + len <= this.options.maxBuffered) return true;
    this.sender.discard();
    this.fail(
      new WebSocketError(ErrorCode.BufferOverflow, `the peer is not reading: more than maxBuffered (${this.options.maxBuffered} bytes) waiting`, {
        closeCode: CloseCode.PolicyViolation,
      }),
      true,
    );
    return false;
  }

  private afterSend(): boolean {
    if (this.idle) this.idle.active = true;
    if (this.bufferedAmount < this.options.sendHighWaterMark) return true;
    this.needDrain = true;
    return false;
  }

  private heartbeatTimedOut(): void {
    this.heartbeat = undefined;
    if (this.state === ReadyState.Closed) return;
    this.failure ??= new WebSocketError(ErrorCode.HeartbeatTimeout, `no answer from the peer within ${(2 * this.options.heartbeatMs) / 1000} s`);
    if (this.listenerCount('error') > 0) this.emit('error', this.failure);
    this.terminate();
  }

  private idleTimedOut(): void {
    this.idle = undefined;
    if (this.state !== ReadyState.Open) return;
    void this.close(CloseCode.GoingAway, 'idle timeout');
  }

  /** Heartbeat and idle timer end once closing starts (eryx cancels its heartbeat in close). */
  private stopTimers(): void {
    if (this.heartbeat) {
      leaveTicks(this.options.heartbeatMs, this.heartbeat);
      this.heartbeat = undefined;
    }
    if (this.idle) {
      leaveTicks(this.options.idleTimeoutMs, this.idle);
      this.idle = undefined;
    }
  }

  /** No more messages: pending `receive()` calls get null. */
  private endInput(): void {
    if (this.inputEnded) return;
    this.inputEnded = true;
    const waiters = this.waiters;
    this.waiters = NONE;
    for (const w of waiters) {
      if (w.timer) clearTimeout(w.timer);
      w.resolve(null);
    }
  }

  private handleCloseFrame(data: Buffer): void {
    if (data.length === 1) {
      this.fail(protocolError(ErrorCode.InvalidClosePayload, 'close frame with a 1-byte payload'));
      return;
    }
    let code: number = CloseCode.NoStatus;
    let reason = '';
    if (data.length >= 2) {
      code = data.readUInt16BE(0);
      if (!isValidCloseCode(code)) {
        this.fail(protocolError(ErrorCode.InvalidCloseCode, `invalid close code ${code}`));
        return;
      }
      if (!isValidUtf8(data.subarray(2))) {
        this.fail(protocolError(ErrorCode.InvalidUtf8, 'close reason is not valid UTF-8', CloseCode.InvalidPayload));
        return;
      }
      reason = data.utf8Slice(2, data.length);
    }
    this.closeReceived = true;
    this.receivedCode = code;
    this.receivedReason = reason;
    this.parser.stop();
    this.endInput();
    if (this.state === ReadyState.Open) this.state = ReadyState.Closing;
    if (this.closeSent) {
      // Our close was answered: the handshake is complete.
      this.finishClose();
    } else {
      // Echo the peer's code (RFC 6455 §5.5.1).
      this.scheduleClose(code === CloseCode.NoStatus ? undefined : code, '');
    }
  }

  /**
   * Queues our close frame behind the application's answers to the messages that arrived before
   * the peer's close frame (or before a protocol error): it goes out once those messages have
   * been read, plus one turn of the event loop so that code reacting to the last one (a
   * `for await` body) has sent its reply — at the latest after closeTimeout. This is what a peer
   * expects (RFC 6455 §5.5.1; Autobahn's cases 3.2, 4.x, 5.15 check it) and what event listeners,
   * which run synchronously, get anyway.
   */
  private scheduleClose(code: number | undefined, reason: string): void {
    this.pendingClose = { code, reason };
    if (this.queue.length > 0) {
      this.closeReplyPending = true;
      this.armCloseTimer();
    } else {
      this.scheduleCloseReply();
    }
  }

  private scheduleCloseReply(): void {
    this.closeReplyPending = false;
    setImmediate(sendPendingClose, this);
  }

  /** @internal */
  sendPendingClose(): void {
    const pending = this.pendingClose;
    if (!pending || this.closeSent || this.state === ReadyState.Closed) return;
    this.closeReplyPending = false;
    this.sendClose(pending.code, pending.reason);
    if (this.closeReceived) {
      this.finishClose();
    } else {
      // A failed connection (RFC 6455 §7.1.7): both sides close TCP right after the close frame.
      if (!this.socket.writableEnded) this.socket.end();
      if (this.closeTimer) {
        clearTimeout(this.closeTimer);
        this.closeTimer = undefined;
      }
      this.armCloseTimer();
    }
  }

  /** Both close frames have been sent: the server ends TCP first (RFC 6455 §7.1.1). */
  private finishClose(): void {
    this.sender.flush();
    if (!this.isClient && !this.socket.writableEnded) this.socket.end();
    if (this.closeTimer) {
      clearTimeout(this.closeTimer);
      this.closeTimer = undefined;
    }
    this.armCloseTimer();
  }

  private canSend(): boolean {
    return this.state === ReadyState.Open || (this.state === ReadyState.Closing && this.pendingClose !== undefined && !this.closeSent);
  }

  private sendClose(code: number | undefined, reason: string): void {
    this.closeSent = true;
    this.stopTimers();
    const payload = closePayload(code, reason);
    this.sender.frame(Opcode.Close, payload, payload.length, true, false);
    this.sender.flush();
  }

  /**
   * Fails the connection (RFC 6455 §7.1.7): stops reading, sends a close frame with the error's
   * code (after the application's answers to earlier messages, see {@link scheduleClose}, unless
   * `now`), then ends TCP.
   */
  private fail(err: WebSocketError, now = false): void {
    if (this.state === ReadyState.Closed) return;
    this.failure ??= err;
    this.parser.stop();
    this.endInput();
    const wasOpen = this.state === ReadyState.Open;
    this.state = ReadyState.Closing;
    if (!this.closeSent && !this.pendingClose && wasOpen && !this.socket.destroyed) {
      this.scheduleClose(err.closeCode ?? CloseCode.ProtocolError, fitReason(err.message));
      if (now) this.sendPendingClose();
    } else if (!this.closeSent && now) {
      this.sendPendingClose();
    }
    this.armCloseTimer();
    if (this.listenerCount('error') > 0) this.emit('error', err);
  }

  private armCloseTimer(): void {
    if (this.closeTimer || this.state === ReadyState.Closed) return;
    this.closeTimer = setTimeout(() => {
      this.closeTimer = undefined;
      if (this.pendingClose && !this.closeSent) {
        // The application did not read its queue in time: send the close frame anyway.
        this.sendPendingClose();
      } else {
        this.socket.destroy();
      }
    }, this.options.closeTimeoutMs);
    this.closeTimer.unref();
  }
}

const DONE: IteratorReturnResult<undefined> = Object.freeze({ value: undefined, done: true });

function toResult(msg: Message | null): IteratorResult<Message> {
  return msg === null ? DONE : { value: msg, done: false };
}

/**
 * `for await` over a WebSocket. A class rather than an object of closures: a loop suspended in
 * it is held for the whole life of an idle connection, so every byte of it counts.
 */
class MessageIterator implements AsyncIterableIterator<Message> {
  constructor(private readonly ws: WebSocket) {}

  next(): Promise<IteratorResult<Message>> {
    return this.ws.receive().then(toResult);
  }

  /** Leaving the loop early does not close the connection; call close() for that. */
  return(): Promise<IteratorResult<Message>> {
    return Promise.resolve(DONE);
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<Message> {
    return this;
  }
}

for (const [name, value] of [
  ['CONNECTING', ReadyState.Connecting],
  ['OPEN', ReadyState.Open],
  ['CLOSING', ReadyState.Closing],
  ['CLOSED', ReadyState.Closed],
] as const) {
  Object.defineProperty(WebSocket.prototype, name, { value, enumerable: true });
}

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}
