import { Buffer, constants } from 'node:buffer';
import { ErrorCode, WebSocketError } from '../errors.js';
import { CloseCode, MAX_CONTROL_PAYLOAD, Opcode } from './constants.js';
import { joinUnmasked, unmask, unmaskAscii } from './mask.js';
import { protocolError } from './protocol-error.js';
import { isAscii, isValidUtf8, Utf8Validator } from './utf8.js';

const EMPTY = Buffer.alloc(0);
/**
 * Shared by every parser until a payload actually spans chunks (an idle connection keeps no array
 * of its own); never pushed to: `payloadPiece` swaps in a fresh array first.
 */
const NO_PIECES: Buffer[] = [];
/** No Buffer can hold more, whatever maxPayload says (e.g. Infinity). */
const MAX_BUFFER = constants.MAX_LENGTH;
/**
 * Text payloads up to this many bytes are checked for ASCII by a JS loop and decoded from the
 * chunk straight away: below it the loop (15 ns for 32 bytes) beats a Buffer view plus the native
 * UTF-8 check (80 ns); above it simdutf wins.
 */
const SHORT_TEXT = 256;

/**
 * Receives what the receiver decodes: whole, validated messages (decompressed when they were
 * compressed), control frames and protocol errors. One object per connection, so no per-frame
 * closures.
 */
export interface ReceiverHandler {
  /**
   * A whole message (message mode). Text has passed UTF-8 validation. A short ASCII text message
   * that arrived in one frame and one read comes decoded, as a string (of as many characters as
   * bytes): what most chat and RPC traffic is, and it skips a Buffer view and the native UTF-8 check.
   */
  onMessage(binary: boolean, data: Buffer | string): void;
  /** One data frame of a message (frame mode), with `fin` marking the last one. */
  onFragment(binary: boolean, data: Buffer, fin: boolean): void;
  /** A close, ping or pong frame (payload ≤ 125 bytes, already unmasked). */
  onControl(opcode: number, data: Buffer): void;
  /** The peer broke the protocol; the receiver has stopped and ignores further input. */
  onError(err: WebSocketError): void;
  /**
   * The receiver has inflated {@link INFLATE_SLICE} bytes from one read and holds the rest
   * of its input until {@link Receiver.resumeParsing}: stop reading the socket and resume on a
   * later turn of the event loop.
   */
  onDeferred(): void;
}

/**
 * Inflated bytes from one read after which the receiver pauses between messages. Inflating is
 * synchronous, and a 64 KiB read can hold a handful of messages that each inflate to just under
 * `maxPayload` (deflate amplification: 1 KiB of zeros on the wire is 1 MiB inflated); pausing lets
 * the other connections run and TCP pace the sender. Ordinary reads never inflate that much.
 */
export const INFLATE_SLICE = 1024 * 1024;

/**
 * Turns the payload of compressed messages (RSV1 set on their first frame) back into validated
 * data: where an extension such as permessage-deflate plugs in. Pieces are handed over as they
 * arrive, so an oversized or bomb message is caught while it streams in.
 */
export interface MessageDecompressor {
  /**
   * One piece of a compressed message. `frameEnd` marks the last piece of a frame and `fin` the
   * last piece of the message. Returns the decompressed, validated payload once the message (in
   * frame mode: the frame) is complete, null while more is needed, or the error to fail the
   * connection with.
   */
  push(binary: boolean, piece: Buffer, frameEnd: boolean, fin: boolean): Buffer | null | WebSocketError;
  /** Drops a message cut off by the end of input. */
  reset(): void;
  /** Bytes of a message being inflated that it holds (for the memory budget). */
  readonly heldBytes: number;
}

export interface ReceiverOptions {
  /** Frames must be masked (server side) or must not be (client side). */
  expectMasked: boolean;
  /** Largest message payload accepted, in bytes (inflated size is checked by the handler). */
  maxPayload: number;
  /** Most frames one message may consist of. */
  maxFragments: number;
  /** Deliver each data frame as it completes instead of whole messages. */
  frameMode: boolean;
  /** Decompresses messages with RSV1 set; without one, RSV1 is a protocol error. */
  decompressor?: MessageDecompressor | undefined;
}

const enum State {
  Header,
  Payload,
  Stopped,
  /** Waiting for resumeParsing() after a slice of inflation; input is kept in `deferred`. */
  Deferred,
}

/**
 * The receiving side of a connection (RFC 6455 §5, §6.2): an incremental frame parser that owns
 * each message end to end — frames, reassembly, decompression through its
 * {@link MessageDecompressor}, UTF-8 validation — so its handler only sees whole messages. Feed
 * it socket chunks of any size and split with {@link Receiver.push}; it yields identical results
 * whatever the split. Payloads are unmasked in place and handed out as slices of the input chunk
 * where the frame arrived whole; only frames that span chunks, and fragmented messages, are
 * copied (once) into an accumulator.
 */
export class Receiver {
  // Settings: a connection's, set again when a spare receiver serves another (spare-receivers.ts).
  private handler!: ReceiverHandler;
  private decompressor: MessageDecompressor | undefined;
  private expectMasked!: boolean;
  private maxPayload!: number;
  private maxFragments!: number;
  private frameMode!: boolean;

  private state = State.Header;
  /**
   * Bytes of a header that straddles chunks. Created on first need, and outside Buffer's shared
   * pool: a long-lived slice of the pool would pin a whole 8 KiB slab per few connections.
   */
  private hdr: Buffer = EMPTY;
  private hdrLen = 0;
  /** The current frame's masking key, big-endian. */
  private mask = 0;

  // Current frame.
  private fin = false;
  private opcode = 0;
  private masked = false;
  private remaining = 0;
  private maskPhase = 0;
  /** Payload bytes of the current frame consumed so far (compressed pieces are not kept). */
  private payloadSeen = 0;
  /**
   * Pieces of the current frame's payload (unmasked slices of the chunks they arrived in), when
   * it spans chunks. Kept by reference and joined once at the end: memory follows what has
   * arrived, never what a header claims, and a 1 MiB frame costs one copy.
   */
  private pieces: Buffer[] = NO_PIECES;
  private frameLen = 0;

  // Current data message (between its first frame and the frame with FIN).
  private inMessage = false;
  private msgBinary = false;
  private msgCompressed = false;
  private msgLen = 0;
  private fragments = 0;
  /** Earlier frames of a fragmented message (message mode). */
  private msgBuf: Buffer = EMPTY;
  /** Whether text validation is streaming (message spans frames or chunks). */
  private utf8: Utf8Validator | undefined;
  private utf8Streaming = false;
  /** Bytes inflated from the current read (compressed messages only). */
  private inflated = 0;
  /** Input received while deferred, parsed on resumeParsing(). */
  private deferred: Buffer = EMPTY;

  constructor(handler: ReceiverHandler, options: ReceiverOptions) {
    this.configure(handler, options);
  }

  /**
   * Takes another connection's settings. Only while {@link isIdle}: each new frame and message
   * sets its own state afresh, so the settings are all an idle receiver holds.
   */
  configure(handler: ReceiverHandler, options: ReceiverOptions): void {
    this.handler = handler;
    this.decompressor = options.decompressor;
    this.expectMasked = options.expectMasked;
    this.maxPayload = options.maxPayload;
    this.maxFragments = options.maxFragments;
    this.frameMode = options.frameMode;
  }

  /** Whether nothing is held between frames: no header, frame or message partly received, no input deferred, not stopped. */
  get isIdle(): boolean {
    return this.state === State.Header && this.hdrLen === 0 && !this.inMessage;
  }

  /**
   * Bytes held for a message not yet complete: earlier fragments, a frame spanning chunks, and
   * what is being inflated. Read by the memory budget a few times a second, not on the hot path.
   */
  get heldBytes(): number {
    let held = this.msgBuf.length + this.deferred.length + (this.decompressor?.heldBytes ?? 0);
    for (const piece of this.pieces) held += piece.length;
    return held;
  }

  /** Ignore all further input, e.g. once a close frame has been received. */
  stop(): void {
    this.state = State.Stopped;
    this.pieces = NO_PIECES;
    this.msgBuf = EMPTY;
    this.deferred = EMPTY;
    this.decompressor?.reset();
  }

  /**
   * Parses the input held since {@link ReceiverHandler.onDeferred}. `all` parses every byte of it
   * without pausing again (the input has ended, nothing would resume it).
   */
  resumeParsing(all = false): void {
    if (this.state !== State.Deferred) return;
    this.state = State.Header;
    const rest = this.deferred;
    this.deferred = EMPTY;
    if (all) this.inflated = Number.NEGATIVE_INFINITY;
    if (rest.length > 0) this.push(rest);
    if (all) this.inflated = 0;
  }

  push(chunk: Buffer): void {
    const len = chunk.length;
    let pos = 0;
    // The slice is per read: a read that inflates less never pauses (nor do ordinary loads).
    if (this.inflated > 0) this.inflated = 0;
    while (pos < len) {
      if (this.state === State.Header) {
        if (this.hdrLen === 0) {
          const n = this.parseHeader(chunk, pos, len);
          if (n < 0) return;
          if (n === 0) {
            if (this.hdr === EMPTY) this.hdr = Buffer.allocUnsafeSlow(14);
            chunk.copy(this.hdr, 0, pos, len);
            this.hdrLen = len - pos;
            return;
          }
          pos += n;
        } else {
          const old = this.hdrLen;
          const take = Math.min(14 - old, len - pos);
          chunk.copy(this.hdr, old, pos, pos + take);
          const n = this.parseHeader(this.hdr, 0, old + take);
          if (n < 0) return;
          if (n === 0) {
            this.hdrLen = old + take;
            return;
          }
          this.hdrLen = 0;
          pos += n - old;
        }
        if (this.remaining === 0) {
          this.frameComplete(EMPTY);
          continue;
        }
        this.state = State.Payload;
        if (pos === len) return;
      }
      if (this.state === State.Payload) {
        const avail = len - pos;
        if (this.payloadSeen === 0 && avail >= this.remaining) {
          // Fast path: the whole payload is in this chunk.
          const end = pos + this.remaining;
          let ascii = false;
          if (this.opcode === Opcode.Text && end - pos <= SHORT_TEXT && this.fin && !this.msgCompressed && !this.frameMode) {
            // Unmasked and checked in one pass over the bytes.
            ascii = this.masked ? unmaskAscii(chunk, pos, end, this.mask) : isAscii(chunk, pos, end);
          } else if (this.masked) {
            unmask(chunk, pos, end, this.mask, 0);
          }
          if (ascii) {
            // A whole single-frame text message: nothing of an earlier message to join, and
            // ASCII is valid UTF-8 that decodes byte for byte.
            const start = pos;
            pos = end;
            this.remaining = 0;
            this.state = State.Header;
            this.inMessage = false;
            this.handler.onMessage(false, chunk.latin1Slice(start, end));
            continue;
          }
          const payload = chunk.subarray(pos, end);
          pos = end;
          this.remaining = 0;
          this.state = State.Header;
          this.frameComplete(payload);
        } else {
          pos = this.payloadPiece(chunk, pos, Math.min(len, pos + this.remaining));
        }
      } else {
        // Stopped, or deferred: then what is left waits for resumeParsing().
        if (this.state === State.Deferred) this.defer(chunk, pos);
        return;
      }
    }
  }

  private defer(chunk: Buffer, pos: number): void {
    const rest = chunk.subarray(pos);
    this.deferred = this.deferred.length === 0 ? rest : Buffer.concat([this.deferred, rest]);
  }

  /**
   * Parses a frame header at `buf[at]`. Returns its length, 0 if more bytes are needed, or -1
   * after failing the connection.
   */
  private parseHeader(buf: Buffer, at: number, end: number): number {
    if (end - at < 2) return 0;
    const b0 = buf[at]!;
    const b1 = buf[at + 1]!;
    const len7 = b1 & 0x7f;
    const masked = (b1 & 0x80) !== 0;
    const need = 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + (masked ? 4 : 0);

    // Validate what the first two bytes already tell, so a bad frame fails before its payload.
    const fin = (b0 & 0x80) !== 0;
    const rsv1 = (b0 & 0x40) !== 0;
    const opcode = b0 & 0x0f;
    if ((b0 & 0x30) !== 0) {
      return this.fail(ErrorCode.ReservedBits, 'RSV2 and RSV3 must be clear');
    }
    if (opcode >= 0x8) {
      if (opcode > Opcode.Pong) return this.fail(ErrorCode.InvalidOpcode, `reserved opcode ${opcode}`);
      if (!fin) return this.fail(ErrorCode.FragmentedControlFrame, 'control frames must not be fragmented');
      if (len7 > MAX_CONTROL_PAYLOAD) return this.fail(ErrorCode.ControlFrameTooLong, 'control frame payload over 125 bytes');
      if (rsv1) return this.fail(ErrorCode.ReservedBits, 'RSV1 set on a control frame');
    } else if (opcode === Opcode.Continuation) {
      if (!this.inMessage) return this.fail(ErrorCode.UnexpectedContinuation, 'continuation frame without a message in progress');
      if (rsv1) return this.fail(ErrorCode.ReservedBits, 'RSV1 set on a continuation frame');
    } else if (opcode === Opcode.Text || opcode === Opcode.Binary) {
      if (this.inMessage) return this.fail(ErrorCode.ExpectedContinuation, 'new data frame while a fragmented message is in progress');
      if (rsv1 && this.decompressor === undefined) return this.fail(ErrorCode.ReservedBits, 'RSV1 set but no extension negotiated');
    } else {
      return this.fail(ErrorCode.InvalidOpcode, `reserved opcode ${opcode}`);
    }
    if (masked !== this.expectMasked) {
      return this.expectMasked
        ? this.fail(ErrorCode.UnmaskedFrame, 'frames from a client must be masked')
        : this.fail(ErrorCode.MaskedFrame, 'frames from a server must not be masked');
    }
    const extLen = len7 === 126 ? 2 : len7 === 127 ? 8 : 0;
    if (end - at < 2 + extLen) return 0;

    let length = len7;
    let p = at + 2;
    if (len7 === 126) {
      length = (buf[p]! << 8) | buf[p + 1]!;
      p += 2;
    } else if (len7 === 127) {
      const high = buf.readUInt32BE(p);
      if (high > 0x7fffffff) return this.fail(ErrorCode.InvalidLength, 'the most significant bit of a 64-bit length must be 0');
      // Anything past 2^53 is beyond any limit anyway; the multiplication stays exact below it.
      length = high * 0x100000000 + buf.readUInt32BE(p + 4);
      p += 8;
    }
    // Checked before the mask key arrives, so an oversized message fails on its length alone.
    if (opcode < 0x8 && !(rsv1 || (opcode === Opcode.Continuation && this.msgCompressed))) {
      const total = (opcode === Opcode.Continuation ? this.msgLen : 0) + length;
      if (total > this.maxPayload || total > MAX_BUFFER) {
        return this.fail(ErrorCode.PayloadTooLarge, `message exceeds maxPayload (${this.maxPayload} bytes)`, CloseCode.MessageTooBig);
      }
    }
    if (end - at < need) return 0;

    if (opcode < 0x8) {
      if (opcode !== Opcode.Continuation) {
        this.inMessage = true;
        this.msgBinary = opcode === Opcode.Binary;
        this.msgCompressed = rsv1;
        this.msgLen = 0;
        this.fragments = 0;
        this.utf8Streaming = false;
      }
      if (++this.fragments > this.maxFragments) {
        return this.fail(ErrorCode.TooManyFragments, `message split into more than ${this.maxFragments} frames`, CloseCode.MessageTooBig);
      }
    }

    if (masked) {
      this.mask = ((buf[p]! << 24) | (buf[p + 1]! << 16) | (buf[p + 2]! << 8) | buf[p + 3]!) >>> 0;
      p += 4;
    }
    this.fin = fin;
    this.opcode = opcode;
    this.masked = masked;
    this.remaining = length;
    this.maskPhase = 0;
    this.payloadSeen = 0;
    this.frameLen = 0;
    if (this.pieces.length > 0) this.pieces = NO_PIECES;
    return p - at;
  }

  /** Handles `chunk[start, end)`, part of a payload that spans chunks. Returns the new position. */
  private payloadPiece(chunk: Buffer, start: number, end: number): number {
    const n = end - start;
    this.remaining -= n;
    this.payloadSeen += n;
    const isData = this.opcode < 0x8;
    // Nothing reads an uncompressed binary payload before the frame is whole, so its pieces stay
    // masked and are unmasked while being joined: one pass over the bytes instead of two.
    const unmaskOnJoin = this.masked && isData && this.msgBinary && !this.msgCompressed;
    if (this.masked && !unmaskOnJoin) this.maskPhase = unmask(chunk, start, end, this.mask, this.maskPhase);

    if (isData && this.msgCompressed) {
      // Compressed payload goes to the decompressor piece by piece, so an oversized or bomb
      // message is caught while it streams in rather than after it has been buffered whole.
      if (this.decompress(chunk.subarray(start, end), this.remaining === 0) && this.remaining === 0) this.dataFrameDone();
      return end;
    }

    if (isData && !this.msgBinary) {
      if (!this.utf8Streaming) {
        this.utf8Streaming = true;
        (this.utf8 ??= new Utf8Validator()).reset();
      }
      if (!this.utf8!.push(chunk, start, end)) {
        this.failWith(protocolError(ErrorCode.InvalidUtf8, 'invalid UTF-8 in a text message', CloseCode.InvalidPayload));
        return end;
      }
    }

    if (this.pieces === NO_PIECES) this.pieces = [];
    this.pieces.push(chunk.subarray(start, end));
    this.frameLen += n;

    if (this.remaining === 0) {
      const pieces = this.pieces;
      const payload = unmaskOnJoin
        ? joinUnmasked(pieces, this.frameLen, this.mask)
        : pieces.length === 1
          ? pieces[0]!
          : Buffer.concat(pieces, this.frameLen);
      this.pieces = NO_PIECES;
      this.frameLen = 0;
      this.state = State.Header;
      this.frameComplete(payload, true);
    }
    return end;
  }

  /** A frame's payload is complete. `validated` means text was already checked while streaming. */
  private frameComplete(payload: Buffer, validated = false): void {
    const opcode = this.opcode;
    if (opcode >= 0x8) {
      this.handler.onControl(opcode, payload);
      return;
    }
    const fin = this.fin;

    if (this.msgCompressed) {
      // The piece path has already handed the frame over; a frame that arrived whole comes here.
      if (validated || this.decompress(payload, true)) this.dataFrameDone();
      return;
    }

    const binary = this.msgBinary;
    if (!binary) {
      if (fin && !this.utf8Streaming && this.msgBuf === EMPTY && !this.frameMode) {
        // Whole text message in one frame: one simdutf pass.
        if (!isValidUtf8(payload)) {
          this.failWith(protocolError(ErrorCode.InvalidUtf8, 'invalid UTF-8 in a text message', CloseCode.InvalidPayload));
          return;
        }
      } else {
        if (!this.utf8Streaming) {
          this.utf8Streaming = true;
          (this.utf8 ??= new Utf8Validator()).reset();
        }
        if (!validated && !this.utf8!.push(payload)) {
          this.failWith(protocolError(ErrorCode.InvalidUtf8, 'invalid UTF-8 in a text message', CloseCode.InvalidPayload));
          return;
        }
        if (fin && !this.utf8!.end()) {
          this.failWith(protocolError(ErrorCode.InvalidUtf8, 'text message ends inside a UTF-8 sequence', CloseCode.InvalidPayload));
          return;
        }
      }
    }

    if (this.frameMode) {
      // msgLen stays 0: in frame mode maxPayload limits each frame, not the whole message.
      if (fin) this.inMessage = false;
      this.handler.onFragment(binary, payload, fin);
      return;
    }

    if (fin && this.msgBuf === EMPTY) {
      this.inMessage = false;
      this.msgLen = 0;
      this.handler.onMessage(binary, payload);
      return;
    }
    this.appendToMessage(payload);
    if (fin) {
      const data = this.msgBuf.subarray(0, this.msgLen);
      this.msgBuf = EMPTY;
      this.inMessage = false;
      this.msgLen = 0;
      this.handler.onMessage(binary, data);
    }
  }

  /**
   * Hands a piece of a compressed frame to the decompressor and delivers what it completes.
   * Returns false once the connection has failed.
   */
  private decompress(piece: Buffer, frameEnd: boolean): boolean {
    const fin = frameEnd && this.fin;
    const out = this.decompressor!.push(this.msgBinary, piece, frameEnd, fin);
    if (out === null) return true;
    if (out instanceof WebSocketError) {
      this.failWith(out);
      return false;
    }
    this.inflated += out.length;
    if (this.frameMode) this.handler.onFragment(this.msgBinary, out, fin);
    else this.handler.onMessage(this.msgBinary, out);
    return true;
  }

  private dataFrameDone(): void {
    // The handler may have stopped the parser (a message handler that terminates the connection).
    if (this.state === State.Stopped) return;
    this.state = State.Header;
    if (this.fin) {
      this.inMessage = false;
      this.msgCompressed = false;
      this.msgLen = 0;
      if (this.inflated >= INFLATE_SLICE) {
        this.inflated = 0;
        this.state = State.Deferred;
        this.handler.onDeferred();
      }
    }
  }

  /** Appends a frame of a fragmented message, growing the accumulator geometrically. */
  private appendToMessage(payload: Buffer): void {
    const needed = this.msgLen + payload.length;
    if (needed > this.msgBuf.length) {
      const cap = this.fin ? needed : Math.min(Math.max(needed * 2, 1024), this.maxPayload);
      const grown = Buffer.allocUnsafe(Math.max(cap, needed));
      if (this.msgLen > 0) this.msgBuf.copy(grown, 0, 0, this.msgLen);
      this.msgBuf = grown;
    }
    payload.copy(this.msgBuf, this.msgLen);
    this.msgLen = needed;
  }

  private fail(code: ErrorCode, message: string, closeCode: number = CloseCode.ProtocolError): -1 {
    this.failWith(protocolError(code, message, closeCode));
    return -1;
  }

  private failWith(err: WebSocketError): void {
    this.stop();
    this.handler.onError(err);
  }
}
