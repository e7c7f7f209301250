/**
 * The scripted end of a conformance connection, after the opening handshake: writes frames or raw
 * octets (whole, chopped, or one piece per event-loop turn), decodes what the implementation under
 * test sends, and keeps one ordered log of everything observed, which is what cases are judged on.
 *
 * It is role-agnostic: the server suite drives it as a client (masking its frames); a client suite
 * will drive it as a server, over a socket its scripted server accepted.
 */
import { once } from 'node:events';
import type { Duplex } from 'node:stream';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { PeerDeflate } from './deflate-codec.js';
import { closeBody, encodeFrame, FrameDecoder, isUtf8, OP, type DecodedFrame, type FrameSpec } from './wire.js';

export type PeerEvent =
  /** `compressed`: the message had RSV1 (only set once permessage-deflate is agreed); `data` is inflated. */
  | { type: 'message'; binary: boolean; data: Buffer; compressed?: boolean }
  | { type: 'ping'; data: Buffer }
  | { type: 'pong'; data: Buffer }
  /** The implementation's close frame; `code` is null when it carried no payload. */
  | { type: 'close'; code: number | null; reason: Buffer }
  /** Something the implementation sent that RFC 6455 forbids. */
  | { type: 'violation'; what: string }
  /** We sent a close frame (first, or in reply). */
  | { type: 'sent-close'; code: number | null }
  /** A named point in the script, to check what happened before and after it. */
  | { type: 'mark'; name: string }
  /** The implementation ended its side of the TCP connection (FIN). */
  | { type: 'tcp-end' }
  /** We ended our side of the TCP connection (the server role does, after the close handshake). */
  | { type: 'ended-by-us' }
  /** The TCP connection is gone; `reset` if it ended with an error (RST, EPIPE). */
  | { type: 'tcp-closed'; reset: boolean }
  /** We gave up waiting and destroyed the connection ourselves. */
  | { type: 'dropped-by-us'; why: string };

export interface PeerOptions {
  /** Whether our frames are masked by default: true for a client, false for a server. */
  masks: boolean;
  /** Frames from the other side must be masked (we are the server) or must not be. */
  expectMasked: boolean;
  /** RSV bits the other side may set on any frame (an unknown extension was agreed). Default none. */
  allowedRsv?: number;
  /**
   * permessage-deflate as agreed: RSV1 is then allowed on the first frame of a data message,
   * whose payload is inflated by `deflate.in`; `sendMessage` compresses with `deflate.out`.
   */
  deflate?: PeerDeflate;
}

export interface SendOptions {
  /** Write the octets in pieces of this size. */
  chop?: number;
  /**
   * Let each piece (each frame, or each chop) leave on its own: wait for it to be flushed and for
   * the event loop to turn before writing the next, so the other side reads them separately.
   */
  sync?: boolean;
  /** Wait for the socket to drain when its buffer is full (many big messages in a row). */
  flow?: boolean;
}

/** Messages of the other side, reassembled from its frames while checking their sequencing. */
class Reassembler {
  private opcode = -1;
  private compressed = false;
  private parts: Buffer[] = [];

  constructor(private readonly deflate: PeerDeflate | undefined) {}

  /** Returns the finished message, a protocol problem, or nothing yet. */
  frame(f: DecodedFrame): { message?: { binary: boolean; data: Buffer; compressed?: boolean }; problem?: string } {
    if (f.opcode === OP.cont) {
      if (this.opcode === -1) return { problem: 'continuation frame with no message in progress' };
    } else {
      if (this.opcode !== -1) return { problem: `new data frame (opcode ${f.opcode}) inside a fragmented message` };
      this.opcode = f.opcode;
      this.compressed = this.deflate !== undefined && (f.rsv & 4) !== 0;
    }
    this.parts.push(f.payload);
    if (!f.fin) return {};
    let data = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts);
    const binary = this.opcode === OP.binary;
    const compressed = this.compressed;
    this.opcode = -1;
    this.parts = [];
    if (compressed) {
      try {
        data = this.deflate!.in.inflate(data);
      } catch (err) {
        return { problem: `compressed message that does not inflate under the agreed parameters (${(err as Error).message})` };
      }
    }
    if (!binary && !isUtf8(data)) return { problem: 'text message that is not valid UTF-8' };
    return { message: this.deflate ? { binary, data, compressed } : { binary, data } };
  }
}

const SLICE_KEY = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);

export class ScriptedPeer {
  /** A TCP socket, or an HTTP/2 stream (RFC 8441), whose end and reset stand for TCP's. */
  readonly socket: Duplex;
  readonly log: PeerEvent[] = [];
  private readonly opts: PeerOptions;
  private readonly decoder = new FrameDecoder();
  private readonly messages: Reassembler;
  private waiters = new Set<() => void>();
  private closeFrameSeen = false;
  private closeFrameSent = false;
  private tcpGone = false;
  private endSeen = false;
  /** Reply to the other side's close frame the way Autobahn's fuzzer does: echo its code. */
  autoCloseReply = true;
  /** Called with every event as it is logged, for peers that react (a scripted server). */
  onEvent: ((e: PeerEvent) => void) | undefined;

  constructor(socket: Duplex, opts: PeerOptions, leftover?: Buffer) {
    this.socket = socket;
    this.opts = opts;
    this.messages = new Reassembler(opts.deflate);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('end', () => {
      this.endSeen = true;
      this.record({ type: 'tcp-end' });
      // The other side is done: finish ours too, as a TCP stack with no half-close would.
      if (!socket.writableEnded) socket.end();
    });
    socket.on('error', () => {
      // Reported through 'close' (reset = true); a case only cares that the connection went.
    });
    socket.on('close', (hadError?: boolean) => {
      this.tcpGone = true;
      // An HTTP/2 stream says how it ended in its RST_STREAM code (0: it ended normally).
      const rst = (socket as Duplex & { rstCode?: number }).rstCode;
      const reset = rst === undefined ? hadError === true : rst !== 0;
      this.record({ type: 'tcp-closed', reset: reset && !this.endSeen });
    });
    if (leftover && leftover.length > 0) this.onData(leftover);
  }

  /** Whether the other side's close frame has arrived. */
  get closeReceived(): boolean {
    return this.closeFrameSeen;
  }

  /** Whether we have sent a close frame. */
  get closeSent(): boolean {
    return this.closeFrameSent;
  }

  /** Whether the TCP connection is gone. */
  get closed(): boolean {
    return this.tcpGone;
  }

  /** Whether the other side has ended its side of the TCP connection. */
  get tcpEnded(): boolean {
    return this.endSeen;
  }

  /** The agreed permessage-deflate codec, if any. */
  get deflate(): PeerDeflate | undefined {
    return this.opts.deflate;
  }

  /** Ends our side of the TCP connection (FIN), and says so in the log. */
  endTcp(): void {
    if (this.tcpGone || this.socket.writableEnded) return;
    this.record({ type: 'ended-by-us' });
    this.socket.end();
  }

  /** Writes raw octets, whole or chopped (each chop then travels alone, as with `sync`). */
  async writeBytes(bytes: Buffer, opts: SendOptions = {}): Promise<void> {
    if (opts.chop === undefined) {
      await this.writePiece(bytes, opts.sync === true);
      return;
    }
    for (let at = 0; at < bytes.length; at += opts.chop) {
      if (!(await this.writePiece(bytes.subarray(at, at + opts.chop), true))) return;
    }
  }

  /** Encodes and writes frames; with `sync`, each frame (or each chop of it) travels alone. */
  async sendFrames(frames: FrameSpec[], opts: SendOptions = {}): Promise<void> {
    const encoded = frames.map((f) => {
      if (f.opcode === OP.close && !this.closeFrameSent) {
        this.closeFrameSent = true;
        const body = f.payload === undefined ? Buffer.alloc(0) : Buffer.from(f.payload);
        this.record({ type: 'sent-close', code: body.length >= 2 ? body.readUInt16BE(0) : null });
      }
      return encodeFrame(f, this.opts.masks);
    });
    if (opts.chop === undefined && !opts.sync) {
      await this.writePiece(encoded.length === 1 ? encoded[0]! : Buffer.concat(encoded), false, opts.flow === true);
      return;
    }
    if (opts.chop === undefined) {
      for (const e of encoded) if (!(await this.writePiece(e, true))) return;
      return;
    }
    // Chops run across frame boundaries, as Autobahn's do.
    await this.writeBytes(Buffer.concat(encoded), { chop: opts.chop, sync: true });
  }

  /**
   * Sends one data message: compressed with the agreed codec (RSV1 on its first frame) or not,
   * in frames of at most `fragment` payload octets (the compressed payload is what is split).
   */
  async sendMessage(binary: boolean, data: Buffer, compress: boolean, fragment?: number, opts: SendOptions = {}): Promise<void> {
    if (compress && !this.opts.deflate) throw new Error('sendMessage: no permessage-deflate agreed for this case');
    const payload = compress ? this.opts.deflate!.out.compress(data) : data;
    const size = fragment && fragment > 0 ? fragment : Math.max(payload.length, 1);
    const frames: FrameSpec[] = [];
    for (let at = 0; at < payload.length || frames.length === 0; at += size) {
      frames.push({
        opcode: frames.length === 0 ? (binary ? OP.binary : OP.text) : OP.cont,
        payload: payload.subarray(at, at + size),
        rsv: frames.length === 0 && compress ? 4 : 0,
        fin: at + size >= payload.length,
      });
    }
    await this.sendFrames(frames, { flow: true, ...opts });
  }

  /**
   * Sends octets `[length - from, length - to)` of `frames` as this role encodes them; a masking
   * role uses a fixed key, so that slices of the same frames taken by several steps fit together.
   */
  async sendSlice(frames: FrameSpec[], from: number, to: number, chop?: number): Promise<void> {
    const wire = Buffer.concat(
      frames.map((f) => encodeFrame(f.mask === undefined && this.opts.masks ? { ...f, mask: SLICE_KEY } : f, this.opts.masks)),
    );
    const start = from === Infinity ? 0 : wire.length - from;
    await this.writeBytes(wire.subarray(start, wire.length - to), chop === undefined ? {} : { chop });
  }

  /** Sends a close frame (a code, or none for an empty close frame). */
  sendClose(code: number | null, reason = ''): Promise<void> {
    return this.sendFrames([{ opcode: OP.close, payload: code === null ? undefined : closeBody(code, reason) }]);
  }

  mark(name: string): void {
    this.record({ type: 'mark', name });
  }

  /**
   * Resolves true as soon as `cond()` holds, or false after `ms` (or once the connection is gone
   * and `cond()` still does not hold). Waiting never fails a case by itself.
   */
  waitFor(cond: () => boolean, ms: number): Promise<boolean> {
    if (cond()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const check = () => {
        if (cond()) finish(true);
        else if (this.tcpGone) finish(false);
      };
      const finish = (ok: boolean) => {
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve(ok);
      };
      const timer = setTimeout(() => finish(false), ms);
      this.waiters.add(check);
    });
  }

  /** Destroys the connection after a wait ran out, and says so in the log. */
  drop(why: string): void {
    if (this.tcpGone) return;
    this.record({ type: 'dropped-by-us', why });
    this.socket.destroy();
  }

  private async writePiece(piece: Buffer, alone: boolean, flow = false): Promise<boolean> {
    const s = this.socket;
    if (s.destroyed || s.writableEnded) return false;
    if (!alone) {
      if (!s.write(piece) && flow) await drainOrClose(s);
      return true;
    }
    await new Promise<void>((resolve) => s.write(piece, () => resolve()));
    // One turn of the event loop lets the other side read this piece before the next is written.
    await nextTurn();
    return !s.destroyed;
  }

  private record(e: PeerEvent): void {
    this.log.push(e);
    this.onEvent?.(e);
    for (const w of [...this.waiters]) w();
  }

  private onData(chunk: Buffer): void {
    const { frames, problem } = this.decoder.push(chunk);
    for (const f of frames) this.onFrame(f);
    if (problem) this.record({ type: 'violation', what: problem });
  }

  private onFrame(f: DecodedFrame): void {
    if (this.closeFrameSeen) {
      this.record({ type: 'violation', what: `frame (opcode ${f.opcode}) after the close frame` });
      return;
    }
    if (f.masked !== this.opts.expectMasked) {
      this.record({ type: 'violation', what: f.masked ? 'masked frame from a server' : 'unmasked frame from a client' });
    }
    // With permessage-deflate, RSV1 marks the first frame of a compressed message, nothing else.
    const deflateRsv = this.opts.deflate && (f.opcode === OP.text || f.opcode === OP.binary) ? 4 : 0;
    const stray = f.rsv & ~((this.opts.allowedRsv ?? 0) | deflateRsv);
    if (stray !== 0) {
      const what =
        this.opts.deflate && stray === 4
          ? `RSV1 on a ${f.opcode === OP.cont ? 'continuation' : f.opcode >= 0x8 ? 'control' : 'reserved-opcode'} frame`
          : `RSV bits ${f.rsv.toString(2).padStart(3, '0')} set without an extension`;
      this.record({ type: 'violation', what });
    }
    if (f.opcode >= 0x8) {
      if (!f.fin) this.record({ type: 'violation', what: `fragmented control frame (opcode ${f.opcode})` });
      if (f.payload.length > 125) this.record({ type: 'violation', what: `control frame with ${f.payload.length} bytes` });
    }
    switch (f.opcode) {
      case OP.cont:
      case OP.text:
      case OP.binary: {
        const { message, problem } = this.messages.frame(f);
        if (problem) this.record({ type: 'violation', what: problem });
        if (message) this.record({ type: 'message', ...message });
        return;
      }
      case OP.ping:
        this.record({ type: 'ping', data: f.payload });
        return;
      case OP.pong:
        this.record({ type: 'pong', data: f.payload });
        return;
      case OP.close:
        this.onClose(f.payload);
        return;
      default:
        this.record({ type: 'violation', what: `reserved opcode ${f.opcode}` });
    }
  }

  private onClose(body: Buffer): void {
    this.closeFrameSeen = true;
    let code: number | null = null;
    if (body.length === 1) this.record({ type: 'violation', what: 'close frame with a 1-byte payload' });
    if (body.length >= 2) {
      code = body.readUInt16BE(0);
      if (!isUtf8(body.subarray(2))) this.record({ type: 'violation', what: 'close reason that is not valid UTF-8' });
    }
    this.record({ type: 'close', code, reason: body.subarray(Math.min(2, body.length)) });
    if (this.autoCloseReply && !this.closeFrameSent && !this.socket.destroyed && !this.socket.writableEnded) {
      void this.sendClose(code);
    }
  }
}

/**
 * Waits for 'drain' or 'close' and removes the listeners of the one that did not come: a flood
 * case waits thousands of times on one socket.
 */
async function drainOrClose(s: Duplex): Promise<void> {
  const ac = new AbortController();
  try {
    await Promise.race([once(s, 'drain', { signal: ac.signal }), once(s, 'close', { signal: ac.signal })]);
  } finally {
    ac.abort();
  }
}
