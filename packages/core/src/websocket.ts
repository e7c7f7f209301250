import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { CloseCode, isValidCloseCode, Opcode, ReadyState } from './constants.js';
import type { PerMessageDeflate } from './deflate.js';
import { ErrorCode, protocolError, rangeError, typeError, WebSocketError } from './errors.js';
import { FrameParser } from './frame.js';
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
}

interface Waiter {
  resolve: (msg: Message | null) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout | undefined;
}

const kWebSocket = Symbol('wsup.websocket');
const EMPTY = Buffer.alloc(0);

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
function onSocketClose(this: SocketWithWs): void {
  this[kWebSocket]!.handleSocketClose();
}
function replyToClose(ws: WebSocket): void {
  ws.replyToClose();
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
  readonly CONNECTING = ReadyState.Connecting;
  readonly OPEN = ReadyState.Open;
  readonly CLOSING = ReadyState.Closing;
  readonly CLOSED = ReadyState.Closed;

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
  private queue: Message[] = [];
  private waiters: Waiter[] = [];
  /** No more messages can arrive (close frame received, connection failed or ended). */
  private inputEnded = false;
  private closeSent = false;
  private closeReceived = false;
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
    this.sender = new Sender(init.socket, init.client);
    this.deflate = init.deflate;
    if (init.deflate) this.parser.rsv1Allowed = true;
    (this as EventEmitter).on('newListener', onNewListener);

    const socket = init.socket as SocketWithWs;
    socket[kWebSocket] = this;
    socket.on('data', onSocketData);
    socket.on('end', onSocketEnd);
    socket.on('error', onSocketError);
    socket.on('close', onSocketClose);
    if (init.head && init.head.length > 0) this.parser.push(init.head);
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
   * @returns false if the connection is closing or closed (the message is dropped), true otherwise.
   * @throws {WebSocketError} `ERR_NOT_OPEN` before the connection is open,
   *   `ERR_FRAGMENTED_SEND_IN_PROGRESS` while a `sendFrame` message is unfinished.
   */
  send(data: SendData, binary?: boolean): boolean {
    if (!this.canSend()) return this.notOpen();
    if (this.sendingFragmented !== -1) {
      throw new WebSocketError(ErrorCode.FragmentedSendInProgress, 'finish the fragmented message sent with sendFrame() first');
    }
    if (typeof data === 'string') {
      if (binary === true) {
        this.sendBytes(Opcode.Binary, Buffer.from(data, 'utf8'));
        return true;
      }
      const len = data.length < 32 && isAscii(data) ? data.length : Buffer.byteLength(data);
      if (this.deflate && len >= this.deflate.threshold) this.sendBytes(Opcode.Text, Buffer.from(data, 'utf8'));
      else this.sender.frame(Opcode.Text, data, len, true, false);
      return true;
    }
    const buf = toBuffer(data);
    if (buf === null) throw typeError('send() takes a string, Buffer, ArrayBuffer or typed array');
    if (binary === false) {
      if (!isValidUtf8(buf)) throw new WebSocketError(ErrorCode.InvalidUtf8, 'bytes sent as text must be valid UTF-8');
      this.sendBytes(Opcode.Text, buf);
    } else {
      this.sendBytes(Opcode.Binary, buf);
    }
    return true;
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
      this.sender.frame(opcode, buf, buf.length, true, false);
      return true;
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
    this.sendingFragmented = fin ? -1 : opcode === Opcode.Continuation ? this.sendingFragmented : opcode;
    this.sender.frame(opcode, buf, buf.length, fin, false);
    return true;
  }

  /**
   * Sends a ping (payload at most 125 bytes; RangeError otherwise).
   * @returns false if the connection is closing or closed.
   */
  ping(data?: string | SendData): boolean {
    const buf = controlPayload(data, 'ping');
    if (!this.canSend()) return this.notOpen();
    this.sender.frame(Opcode.Ping, buf, buf.length, true, false);
    return true;
  }

  /**
   * Sends a pong (payload at most 125 bytes; RangeError otherwise). Unsolicited pongs serve as a
   * one-way keep-alive.
   * @returns false if the connection is closing or closed.
   */
  pong(data?: string | SendData): boolean {
    const buf = controlPayload(data, 'pong');
    if (!this.canSend()) return this.notOpen();
    this.sender.frame(Opcode.Pong, buf, buf.length, true, false);
    return true;
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
      if (this.queue.length === 0 && this.closeReplyPending) this.scheduleCloseReply();
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
      this.waiters.push(waiter);
    });
  }

  /** `for await (const msg of ws)`: every message until the connection closes. */
  [Symbol.asyncIterator](): AsyncIterableIterator<Message> {
    const next = (msg: Message | null): IteratorResult<Message> =>
      msg === null ? { value: undefined, done: true } : { value: msg, done: false };
    const it: AsyncIterableIterator<Message> = {
      next: () => this.receive().then(next),
      // Leaving the loop early does not close the connection; call close() for that.
      return: () => Promise.resolve({ value: undefined, done: true }),
      [Symbol.asyncIterator]: () => it,
    };
    return it;
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
    } else if (this.closeReceived && !this.closeSent && this.state === ReadyState.Closing) {
      // The peer closed first and our reply was waiting: this is the reply.
      this.closeReplyPending = false;
      this.sendClose(code, reason);
      this.finishClose();
    }
    return this.closed;
  }

  /** Destroys the connection at once, without a close handshake (close code 1006). */
  terminate(): void {
    if (this.state === ReadyState.Closed) return;
    this.state = ReadyState.Closing;
    this.endInput();
    this.socket.destroy();
  }

  // ---- FrameHandler (called by the parser) ----

  /** @internal */
  onMessage(binary: boolean, data: Buffer): void {
    this.deliver(
      binary ? { data, binary: true, fin: true } : { data: data.utf8Slice(0, data.length), binary: false, fin: true },
    );
  }

  /** @internal */
  onFragment(binary: boolean, data: Buffer, fin: boolean): void {
    if (binary) {
      this.deliver({ data, binary: true, fin });
      return;
    }
    this.textDecoder ??= new StringDecoder('utf8');
    const text = fin ? this.textDecoder.end(data) : this.textDecoder.write(data);
    this.deliver({ data: text, binary: false, fin });
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
    else if (binary) this.deliver({ data, binary: true, fin: true });
    else this.deliver({ data: data.utf8Slice(0, data.length), binary: false, fin: true });
    return null;
  }

  /** @internal */
  onControl(opcode: number, data: Buffer): void {
    if (opcode === Opcode.Ping) {
      if (this.options.autoPong && this.state === ReadyState.Open) {
        this.sender.frame(Opcode.Pong, data, data.length, true, false);
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
    this.parser.push(chunk);
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
    if (this.closeTimer) {
      clearTimeout(this.closeTimer);
      this.closeTimer = undefined;
    }
    const info: CloseInfo = this.closeReceived
      ? { code: this.receivedCode, reason: this.receivedReason, wasClean: this.closeSent }
      : this.failure?.closeCode !== undefined
        ? { code: this.failure.closeCode, reason: this.failure.message, wasClean: false }
        : { code: CloseCode.Abnormal, reason: '', wasClean: false };
    if (this.failure) info.error = this.failure;
    this.closeInfo = info;
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

  private sendBytes(opcode: number, buf: Buffer): void {
    const deflate = this.deflate;
    if (deflate && buf.length >= deflate.threshold) {
      const compressed = deflate.compress(buf);
      this.sender.frame(opcode, compressed, compressed.length, true, true);
    } else {
      this.sender.frame(opcode, buf, buf.length, true, false);
    }
  }

  private notOpen(): false {
    if (this.state === ReadyState.Connecting) {
      throw new WebSocketError(ErrorCode.NotOpen, 'the WebSocket is not open yet');
    }
    return false;
  }

  private deliver(msg: Message): void {
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
    this.queue.push(msg);
  }

  private drainQueueToListeners(): void {
    while (this.queue.length > 0 && this.listenerCount('message') > 0) {
      this.emit('message', this.queue.shift()!);
    }
    if (this.queue.length === 0 && this.closeReplyPending) this.scheduleCloseReply();
  }

  /** No more messages: pending `receive()` calls get null. */
  private endInput(): void {
    if (this.inputEnded) return;
    this.inputEnded = true;
    const waiters = this.waiters;
    this.waiters = [];
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
    } else if (this.queue.length > 0) {
      // Messages that arrived before the close frame are still unread. The reply waits until the
      // application has read them (or closeTimeout passes), so that what it sends in response to
      // them still goes out before our close frame, as the peer expects (RFC 6455 §5.5.1).
      this.closeReplyPending = true;
      this.armCloseTimer();
    } else {
      this.scheduleCloseReply();
    }
  }

  private scheduleCloseReply(): void {
    this.closeReplyPending = false;
    // One turn of the event loop lets code reacting to the last message (a `for await` body)
    // send its answer before the close frame.
    setImmediate(replyToClose, this);
  }

  /** @internal */
  replyToClose(): void {
    if (this.closeSent || this.state === ReadyState.Closed) return;
    // Echo the peer's code (RFC 6455 §5.5.1).
    this.sendClose(this.receivedCode === CloseCode.NoStatus ? undefined : this.receivedCode, '');
    this.finishClose();
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
    return this.state === ReadyState.Open || (this.state === ReadyState.Closing && this.closeReceived && !this.closeSent);
  }

  private sendClose(code: number | undefined, reason: string): void {
    this.closeSent = true;
    const payload = closePayload(code, reason);
    this.sender.frame(Opcode.Close, payload, payload.length, true, false);
    this.sender.flush();
  }

  /** Fails the connection (RFC 6455 §7.1.7): close frame with the error's code, then TCP end. */
  private fail(err: WebSocketError): void {
    if (this.state === ReadyState.Closed) return;
    this.failure ??= err;
    this.parser.stop();
    this.endInput();
    if (!this.closeSent && this.state === ReadyState.Open && !this.socket.destroyed) {
      this.sendClose(err.closeCode ?? CloseCode.ProtocolError, fitReason(err.message));
    }
    this.state = ReadyState.Closing;
    if (!this.socket.writableEnded) this.socket.end();
    this.armCloseTimer();
    if (this.listenerCount('error') > 0) this.emit('error', err);
  }

  private armCloseTimer(): void {
    if (this.closeTimer || this.state === ReadyState.Closed) return;
    this.closeTimer = setTimeout(() => {
      this.closeTimer = undefined;
      if (this.closeReplyPending) {
        // The application did not read its queue in time: answer the close anyway.
        this.closeReplyPending = false;
        this.replyToClose();
      } else {
        this.socket.destroy();
      }
    }, this.options.closeTimeoutMs);
    this.closeTimer.unref();
  }
}

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}
