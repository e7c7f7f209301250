/**
 * The scripted end of a conformance connection, after the opening handshake: writes frames or raw
 * octets (whole, chopped, or one piece per event-loop turn), decodes what the implementation under
 * test sends, and keeps one ordered log of everything observed, which is what cases are judged on.
 *
 * It is role-agnostic: the server suite drives it as a client (masking its frames); a client suite
 * will drive it as a server, over a socket its scripted server accepted.
 */
import type { Socket } from 'node:net';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { closeBody, encodeFrame, FrameDecoder, isUtf8, OP, type DecodedFrame, type FrameSpec } from './wire.js';

export type PeerEvent =
  | { type: 'message'; binary: boolean; data: Buffer }
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
  /** The TCP connection is gone; `reset` if it ended with an error (RST, EPIPE). */
  | { type: 'tcp-closed'; reset: boolean }
  /** We gave up waiting and destroyed the connection ourselves. */
  | { type: 'dropped-by-us'; why: string };

export interface PeerOptions {
  /** Whether our frames are masked by default: true for a client, false for a server. */
  masks: boolean;
  /** Frames from the other side must be masked (we are the server) or must not be. */
  expectMasked: boolean;
  /** RSV bits the other side may set (an extension was negotiated). Default none. */
  allowedRsv?: number;
}

export interface SendOptions {
  /** Write the octets in pieces of this size. */
  chop?: number;
  /**
   * Let each piece (each frame, or each chop) leave on its own: wait for it to be flushed and for
   * the event loop to turn before writing the next, so the other side reads them separately.
   */
  sync?: boolean;
}

/** Messages of the other side, reassembled from its frames while checking their sequencing. */
class Reassembler {
  private opcode = -1;
  private parts: Buffer[] = [];

  /** Returns the finished message, a protocol problem, or nothing yet. */
  frame(f: DecodedFrame): { message?: { binary: boolean; data: Buffer }; problem?: string } {
    if (f.opcode === OP.cont) {
      if (this.opcode === -1) return { problem: 'continuation frame with no message in progress' };
    } else {
      if (this.opcode !== -1) return { problem: `new data frame (opcode ${f.opcode}) inside a fragmented message` };
      this.opcode = f.opcode;
    }
    this.parts.push(f.payload);
    if (!f.fin) return {};
    const data = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts);
    const binary = this.opcode === OP.binary;
    this.opcode = -1;
    this.parts = [];
    if (!binary && !isUtf8(data)) return { problem: 'text message that is not valid UTF-8' };
    return { message: { binary, data } };
  }
}

export class ScriptedPeer {
  readonly socket: Socket;
  readonly log: PeerEvent[] = [];
  private readonly opts: PeerOptions;
  private readonly decoder = new FrameDecoder();
  private readonly messages = new Reassembler();
  private waiters = new Set<() => void>();
  private closeFrameSeen = false;
  private closeFrameSent = false;
  private tcpGone = false;
  private endSeen = false;
  /** Reply to the other side's close frame the way Autobahn's fuzzer does: echo its code. */
  autoCloseReply = true;
  /** Called with every event as it is logged, for peers that react (a scripted server). */
  onEvent: ((e: PeerEvent) => void) | undefined;

  constructor(socket: Socket, opts: PeerOptions, leftover?: Buffer) {
    this.socket = socket;
    this.opts = opts;
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
    socket.on('close', (hadError: boolean) => {
      this.tcpGone = true;
      this.record({ type: 'tcp-closed', reset: hadError && !this.endSeen });
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
      await this.writePiece(encoded.length === 1 ? encoded[0]! : Buffer.concat(encoded), false);
      return;
    }
    if (opts.chop === undefined) {
      for (const e of encoded) if (!(await this.writePiece(e, true))) return;
      return;
    }
    // Chops run across frame boundaries, as Autobahn's do.
    await this.writeBytes(Buffer.concat(encoded), { chop: opts.chop, sync: true });
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

  private async writePiece(piece: Buffer, alone: boolean): Promise<boolean> {
    const s = this.socket;
    if (s.destroyed || s.writableEnded) return false;
    if (!alone) {
      s.write(piece);
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
    if ((f.rsv & ~(this.opts.allowedRsv ?? 0)) !== 0) {
      this.record({ type: 'violation', what: `RSV bits ${f.rsv.toString(2).padStart(3, '0')} set without an extension` });
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
