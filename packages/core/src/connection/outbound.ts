import { Buffer } from 'node:buffer';
import type { Duplex } from 'node:stream';
import { ErrorCode, rangeError, WebSocketError } from '../errors.js';
import type { PerMessageDeflate } from '../permessage-deflate/codec.js';
import type { SendData } from '../protocol/bytes.js';
import { encodeClose } from '../protocol/close-frame.js';
import { payloadLength } from '../protocol/frame-header.js';
import { CloseCode, Opcode } from '../protocol/constants.js';
import { Sender } from '../protocol/sender.js';
import { isValidUtf8 } from '../protocol/utf8.js';
import type { Publication } from '../topics/subscriber.js';
import { type BudgetMember, mayHold } from './memory-budget.js';
import type { ResolvedOptions } from './options.js';
import { copiesOnWrite } from './socket-binding.js';

/** What the send side tells its connection (a member of the memory budget: what the socket keeps counts). */
export interface OutboundOwner extends BudgetMember {
  /** A send would take the buffered bytes past `maxBuffered`: the peer is not reading. */
  overflowed(err: WebSocketError): void;
  /**
   * The buffered bytes fell below `sendHighWaterMark` after a send returned false (`emitDrain`:
   * the application is owed a 'drain' event) or while the connection waited for it.
   */
  outboundDrained(emitDrain: boolean): void;
}

/** Per-message options of `send()`. */
export interface SendOptions {
  /**
   * `false` sends this message uncompressed on a connection that agreed permessage-deflate
   * (RFC 7692 §6: RSV1 clear), for data that would not shrink (images, encrypted or already
   * compressed bytes). `true` or absent: compressed as the connection's `compress` options decide
   * (`threshold` included); `true` never compresses on a connection without the extension.
   */
  compress?: boolean;
}

interface DrainWaiter {
  resolve: () => void;
  reject: (err: Error) => void;
}

/**
 * The send side of a connection, above the frame writer: the compress-or-not decision, the send
 * budget (`maxBuffered`), the high-water mark and the 'drain' it owes, and the state of a message
 * sent in fragments.
 */
// Not `implements SenderOwner`: `flushed` is internal, and the published declarations (which strip
// internals) must still type-check; `new Sender(this)` checks the shape instead.
export class Outbound {
  /** A send returned false: a 'drain' is owed. */
  needDrain = false;
  /** The connection waits for the buffered bytes to fall below the mark (see {@link OutboundOwner.outboundDrained}). */
  ownerWaits = false;
  /** Opcode of a message being sent in fragments with `sendFrame`, or -1. */
  fragmenting = -1;
  /** A send went past `maxBuffered`: the connection is failing and nothing more is queued. */
  private overflowed = false;
  private readonly sender: Sender;
  private drainWaiters: DrainWaiter[] | undefined;

  constructor(
    private readonly socket: Duplex,
    masked: boolean,
    private readonly options: ResolvedOptions,
    /** @internal The codec, when compression was agreed (it also counts what compression saved). */
    readonly deflate: PerMessageDeflate | undefined,
    private readonly owner: OutboundOwner,
  ) {
    this.sender = new Sender(socket, masked, this, copiesOnWrite(socket));
  }

  /** Bytes queued here and in the socket that the kernel has not taken yet. */
  get bufferedAmount(): number {
    const inSocket = this.socket.writableLength;
    this.sender.inSocket = inSocket;
    return this.sender.queued + inSocket;
  }

  /**
   * `bufferedAmount` or more, without asking the socket (a getter chain through the stream's
   * state that a broadcast would pay per subscriber and message): what the socket held when last
   * asked can only have shrunk since, as nothing but the sender writes to it.
   */
  private get bufferedBound(): number {
    return this.sender.queued + this.sender.inSocket;
  }

  /** Whether a message of `length` bytes is sent compressed: the one place that decides. */
  compresses(length: number): boolean {
    return this.deflate?.compresses(length) === true;
  }

  /**
   * Sends a whole message, compressed when it should be (never when `compress` is false). Returns
   * false at the high-water mark or past the budget.
   */
  message(opcode: number, buf: Buffer, compress = true): boolean {
    if (compress && this.compresses(buf.length)) {
      const deflate = this.deflate!;
      const compressed = deflate.compress(buf);
      const belowMark = this.frame(opcode, compressed, compressed.length, true, true);
      if (!this.overflowed) deflate.savedOut += buf.length - compressed.length;
      return belowMark;
    }
    return this.frame(opcode, buf, buf.length, true, false);
  }

  /**
   * Sends a text message given as a string of `len` UTF-8 bytes: one that is not compressed is
   * encoded straight into the outgoing batch, without an intermediate Buffer.
   */
  text(data: string, len: number, compress = true): boolean {
    if (compress && this.compresses(len)) return this.message(Opcode.Text, Buffer.from(data, 'utf8'));
    return this.frame(Opcode.Text, data, len, true, false);
  }

  /**
   * Checks that a data frame of `opcode` may be sent now with `sendFrame()`: text or binary starts
   * a message, continuation (0) goes on with one (RFC 6455 §5.4).
   * @throws RangeError for another opcode, `ERR_FRAGMENTED_SEND_IN_PROGRESS` out of sequence.
   */
  checkFragment(opcode: number): void {
    if (opcode !== Opcode.Continuation && opcode !== Opcode.Text && opcode !== Opcode.Binary) {
      throw rangeError(`invalid opcode ${opcode}`);
    }
    if ((opcode === Opcode.Continuation) !== (this.fragmenting !== -1)) {
      throw new WebSocketError(
        ErrorCode.FragmentedSendInProgress,
        opcode === Opcode.Continuation
          ? 'a continuation frame needs a text or binary frame with fin=false first'
          : 'finish the fragmented message (opcode 0 frames) before starting another',
      );
    }
  }

  /**
   * A string passed to `send()`: text, or binary when `binary` is true.
   * @throws {WebSocketError} `ERR_MESSAGE_TOO_BIG` past `maxSendPayload` (nothing is sent).
   */
  sendString(data: string, binary: boolean | undefined, compress: boolean): boolean {
    if (binary === true) return this.stringAsBinary(data, compress);
    const len = Buffer.byteLength(data);
    if (len > this.options.maxSendPayload) this.checkSize(len);
    return this.text(data, len, compress);
  }

  /**
   * Bytes passed to `send()`: binary, or text when `binary` is false (valid UTF-8 only).
   * @throws {WebSocketError} `ERR_MESSAGE_TOO_BIG` past `maxSendPayload`, `ERR_INVALID_UTF8` (nothing is sent).
   */
  sendBytes(buf: Buffer, binary: boolean | undefined, compress: boolean): boolean {
    if (buf.length > this.options.maxSendPayload) this.checkSize(buf.length);
    if (binary === false && !isValidUtf8(buf)) throw new WebSocketError(ErrorCode.InvalidUtf8, 'bytes sent as text must be valid UTF-8');
    return this.message(binary === false ? Opcode.Text : Opcode.Binary, buf, compress);
  }

  /** What `publish()` from this connection checks first: the same `maxSendPayload` as `send()`. */
  checkPublished(data: SendData): void {
    const max = this.options.maxSendPayload;
    if (typeof data === 'string') {
      if (data.length * 3 > max) this.checkSize(Buffer.byteLength(data));
    } else if (data.byteLength > max) {
      this.checkSize(data.byteLength);
    }
  }

  /** `send(string, true)`, apart from `sendString` to keep the text path short. */
  private stringAsBinary(data: string, compress: boolean): boolean {
    // Its UTF-8 is at most 3 bytes per UTF-16 unit: most strings need no counting.
    if (data.length * 3 > this.options.maxSendPayload) this.checkSize(Buffer.byteLength(data));
    return this.message(Opcode.Binary, Buffer.from(data, 'utf8'), compress);
  }

  /** @throws {WebSocketError} `ERR_MESSAGE_TOO_BIG` when `len` bytes are more than `maxSendPayload`. */
  checkSize(len: number): void {
    const max = this.options.maxSendPayload;
    if (len <= max) return;
    throw new WebSocketError(ErrorCode.MessageTooBig, `cannot send ${len} bytes: more than maxSendPayload (${max}, by default maxPayload)`);
  }

  /** Sends one data frame of a message sent in fragments, keeping track of where the message is. */
  fragment(fin: boolean, opcode: number, buf: Buffer): boolean {
    if (buf.length > this.options.maxSendPayload) this.checkSize(buf.length);
    if (!this.reserve(buf.length)) return false;
    this.sender.payloadBytesSent += buf.length;
    if (fin) {
      this.fragmenting = -1;
      this.sender.messagesSent++;
    } else if (opcode !== Opcode.Continuation) {
      this.fragmenting = opcode;
    }
    this.sender.queueFrame(opcode, buf, buf.length, fin, false);
    return this.afterSend();
  }

  /**
   * Answers a ping with a pong (RFC 6455 §5.5.2).
   * @returns true when pongs pile up past the send high-water mark: the peer pings faster than it
   *   reads them, so the connection stops reading until they drain (it is then told, see
   *   {@link OutboundOwner.outboundDrained}).
   */
  answerPing(data: Buffer): boolean {
    if (!this.control(Opcode.Pong, data) || this.bufferedAmount < this.options.sendHighWaterMark) return false;
    this.ownerWaits = true;
    this.sender.drainOwed = true;
    return true;
  }

  /**
   * Sends a ping or pong. Control frames count against `maxBuffered` like messages: a peer that
   * never reads must not make us hold its pongs without bound. Returns false past the budget.
   */
  control(opcode: number, buf: Buffer): boolean {
    if (!this.reserve(buf.length)) return false;
    this.sender.queueFrame(opcode, buf, buf.length, true, false);
    return true;
  }

  /**
   * Sends a published message: the frame the publication shares among connections when this one
   * can take it, or a frame of its own (client connections mask theirs; a compression context of
   * its own makes its output unique). `member`: the publication's run may write to this
   * connection itself and carry it over to later turns (see `FanOut`).
   * @returns whether it was queued (false past the budget).
   */
  publication(p: Publication, masked: boolean, member: boolean): boolean {
    const deflate = this.deflate;
    let frame: Buffer;
    if (masked || (deflate !== undefined && this.compresses(p.payload.length))) {
      if (masked || deflate!.sharedKey === undefined) {
        if (p.binary) this.message(Opcode.Binary, p.payload);
        else this.text(p.text, p.payload.length);
        return !this.overflowed;
      }
      frame = p.compressedFrame(deflate!);
      const wire = payloadLength(frame);
      if (!this.reserve(frame.length)) return false;
      this.sender.payloadBytesSent += wire;
      deflate!.savedOut += p.payload.length - wire;
    } else {
      // The common case, once per subscriber and message of a broadcast: kept short.
      frame = p.frame();
      const run = p.fanOut;
      // Not with compression agreed: whether each later message is compressed is its own size's call.
      if (run?.open && deflate === undefined) {
        // Follow the topic's run: the messages published after this one in the same turn are then
        // queued for every follower at once, while they keep it below its high-water mark (and so
        // within maxBuffered): then no 'drain' can be owed.
        const room = Math.min(this.options.maxBuffered, this.options.sendHighWaterMark - 1) - this.bufferedBound;
        if (frame.length <= room) {
          if (run.frames.length === 0) run.add(frame, p.payload.length);
          run.follow(room);
          this.sender.queueRun(run, member);
          return true;
        }
      }
      if (!this.reserve(frame.length)) return false;
      this.sender.payloadBytesSent += p.payload.length;
    }
    this.sender.messagesSent++;
    this.sender.queueShared(frame);
    this.afterSend();
    return true;
  }

  /** Drops the frames queued and not yet written (the connection is closed for abuse). */
  dropQueued(): void {
    this.sender.discard();
  }

  /** Writes a close frame now, after everything queued before it. */
  close(code: number | undefined, reason: string): void {
    const payload = encodeClose(code, reason);
    this.sender.queueFrame(Opcode.Close, payload, payload.length, true, false);
    this.sender.flush();
  }

  /** Writes everything queued now. */
  flush(): void {
    this.sender.flush();
  }

  /**
   * Resolves once `bufferedAmount` is below `sendHighWaterMark`; rejects with `ERR_NOT_OPEN` when
   * the connection is `closed` and it is not (it never will be).
   */
  drained(closed: boolean): Promise<void> {
    if (this.bufferedAmount < this.options.sendHighWaterMark) return Promise.resolve();
    if (closed) return Promise.reject(new WebSocketError(ErrorCode.NotOpen, 'the connection is closed'));
    return new Promise<void>((resolve, reject) => {
      (this.drainWaiters ??= []).push({ resolve, reject });
      this.sender.drainOwed = true;
    });
  }

  /** Data messages queued (for the counters). */
  get sent(): number {
    return this.sender.messagesSent;
  }

  /** Their payload bytes, as they go on the wire (compressed, when they are). */
  get sentBytes(): number {
    return this.sender.payloadBytesSent;
  }

  /** @internal The socket kept part of a batch: the memory budget asks what it holds until it holds nothing. */
  socketHolds(): void {
    mayHold(this.owner);
  }

  /** @internal The socket took a batch without needing a 'drain', or emitted 'drain'. */
  flushed(): void {
    // Only a connection that owes someone a 'drain' goes further.
    if (!this.needDrain && !this.ownerWaits && this.drainWaiters === undefined) {
      this.sender.drainOwed = false;
      return;
    }
    if (this.bufferedAmount >= this.options.sendHighWaterMark) return;
    this.sender.drainOwed = false;
    const waiters = this.drainWaiters;
    if (waiters) {
      this.drainWaiters = undefined;
      for (const w of waiters) w.resolve();
    }
    const emitDrain = this.needDrain;
    this.needDrain = false;
    this.ownerWaits = false;
    this.owner.outboundDrained(emitDrain);
  }

  /**
   * The connection is gone: drops what is queued, fails those waiting for a drain, and frees the
   * compression contexts (held here, as the codec's owner).
   */
  discard(): void {
    this.sender.discard();
    this.deflate?.close();
    const waiters = this.drainWaiters;
    if (waiters) {
      this.drainWaiters = undefined;
      const err = new WebSocketError(ErrorCode.NotOpen, 'the connection closed before its buffer drained');
      for (const w of waiters) w.reject(err);
    }
  }

  private frame(opcode: number, payload: string | Buffer, len: number, fin: boolean, rsv1: boolean): boolean {
    if (!this.reserve(len)) return false;
    this.sender.messagesSent++;
    this.sender.payloadBytesSent += len;
    this.sender.queueFrame(opcode, payload, len, fin, rsv1);
    return this.afterSend();
  }

  /**
   * Checks that `len` more bytes fit under `maxBuffered`; if not, the peer is not reading: what is
   * queued is dropped and the connection is told to close with 1008.
   */
  private reserve(len: number): boolean {
    const max = this.options.maxBuffered;
    return this.bufferedBound + len <= max || this.bufferedAmount + len <= max || this.refuse();
  }

  /** Past `maxBuffered`: drops what is queued and fails the connection (see {@link reserve}). */
  private refuse(): false {
    const max = this.options.maxBuffered;
    this.sender.discard();
    this.overflowed = true;
    this.owner.overflowed(
      new WebSocketError(ErrorCode.BufferOverflow, `the peer is not reading: more than maxBuffered (${max} bytes) waiting`, {
        closeCode: CloseCode.PolicyViolation,
      }),
    );
    return false;
  }

  private afterSend(): boolean {
    const mark = this.options.sendHighWaterMark;
    if (this.bufferedBound < mark || this.bufferedAmount < mark) return true;
    this.needDrain = true;
    this.sender.drainOwed = true;
    return false;
  }
}
