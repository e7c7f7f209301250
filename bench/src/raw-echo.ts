/** The frame echo of the raw servers (servers/raw-net.ts, servers/http-floor.ts). */
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import { routeRaw, subscribers } from './raw-routes.js';
import { CannedHandshake, xorMask } from './wire.js';

const bufferUtil = createRequire(import.meta.url)('bufferutil') as { unmask(buf: Buffer, mask: Buffer): void };

/** Below this a JS loop beats the cost of calling into the addon. */
const NATIVE_MIN = 64;
/**
 * Payload pieces at least this long are not slid down over the gap the mask key left: they go
 * out as their own slice in the same writev, which costs less than moving kilobytes.
 */
const MOVE_MAX = 2048;

/** Writes the pieces of one rewritten chunk to a socket, in one syscall. */
function writePieces(socket: Socket, pieces: Buffer[]): void {
  if (pieces.length === 1) {
    socket.write(pieces[0]!);
    return;
  }
  socket.cork();
  for (const piece of pieces) socket.write(piece);
  socket.uncork();
}

/**
 * One connection of the raw servers: the handshake answered with the canned 101, then frames
 * rewritten in place (see servers/raw-net.ts). Given the request's path, the handshake is already
 * done (by node:http, for servers/http-floor.ts) and `head` is what followed it.
 */
export class Echo {
  /** Until the 101 is written (none for a connection node:http handed over). */
  private handshake: CannedHandshake | undefined = new CannedHandshake();
  /** This is the broadcast publisher: its frames go to the subscribers instead of back. */
  private publisher = false;
  /** Header bytes of a frame split across chunks. */
  private readonly partial = Buffer.alloc(14);
  private partialLen = 0;
  /** Payload bytes of the current frame still to come. */
  private remaining = 0;
  private m0 = 0;
  private m1 = 0;
  private m2 = 0;
  private m3 = 0;
  private phase = 0;
  /** The mask rotated to the current phase, for bufferutil (which always starts at byte 0). */
  private readonly maskBuf = Buffer.alloc(4);

  constructor(
    private readonly socket: Socket,
    path?: string,
    head?: Buffer,
  ) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.data(chunk));
    socket.on('error', () => socket.destroy());
    if (path !== undefined) {
      this.handshake = undefined;
      this.publisher = routeRaw(path, this.socket);
      if (head && head.length > 0) this.frames(head);
    }
  }

  private data(chunk: Buffer): void {
    if (this.handshake) {
      const done = this.handshake.read(this.socket, chunk);
      if (!done) return;
      this.handshake = undefined;
      this.publisher = routeRaw(done.path, this.socket);
      if (done.rest.length === 0) return;
      chunk = done.rest;
    }
    this.frames(chunk);
  }

  private frames(chunk: Buffer): void {
    const len = chunk.length;
    let i = 0; // read position
    let o = 0; // write position, never ahead of i: a server header is 4 bytes shorter
    let from = 0; // start of the output not yet in `out`
    const out: Buffer[] = [];

    if (this.partialLen > 0) {
      // Finish a header that straddled chunks; its rewritten form goes out on its own.
      const take = Math.min(14 - this.partialLen, len);
      chunk.copy(this.partial, this.partialLen, 0, take);
      const have = this.partialLen + take;
      const size = headerSize(this.partial, 0, have);
      if (size === 0) {
        this.partialLen = have;
        return;
      }
      const out = Buffer.allocUnsafe(size - 4);
      this.header(this.partial, 0, out, 0, size);
      this.emit([out]);
      i = size - this.partialLen;
      o = from = i;
      this.partialLen = 0;
    }

    while (i < len) {
      if (this.remaining === 0) {
        const size = headerSize(chunk, i, len);
        if (size === 0) {
          chunk.copy(this.partial, 0, i, len);
          this.partialLen = len - i;
          break;
        }
        o += this.header(chunk, i, chunk, o, size);
        i += size;
        if (this.remaining === 0) continue;
      }
      const n = Math.min(this.remaining, len - i);
      if (n >= NATIVE_MIN) {
        const m = [this.m0, this.m1, this.m2, this.m3];
        const p = this.phase;
        for (let k = 0; k < 4; k++) this.maskBuf[k] = m[(p + k) & 3]!;
        bufferUtil.unmask(chunk.subarray(i, i + n), this.maskBuf);
        this.phase = (p + n) & 3;
      } else {
        this.phase = xorMask(chunk, i, i + n, this.m0, this.m1, this.m2, this.m3, this.phase);
      }
      this.remaining -= n;
      if (o === i) {
        o = i += n;
      } else if (n >= MOVE_MAX) {
        if (o > from) out.push(chunk.subarray(from, o));
        out.push(chunk.subarray(i, i + n));
        o = from = i += n;
      } else {
        chunk.copyWithin(o, i, i + n);
        o += n;
        i += n;
      }
    }
    if (o > from) out.push(chunk.subarray(from, o));
    if (out.length > 0) this.emit(out);
  }

  private emit(pieces: Buffer[]): void {
    if (!this.publisher) writePieces(this.socket, pieces);
    else for (const s of subscribers) writePieces(s, pieces);
  }

  /** Reads the client header at src[at] and writes the unmasked server header at dst[to]. */
  private header(src: Buffer, at: number, dst: Buffer, to: number, size: number): number {
    const len7 = src[at + 1]! & 0x7f;
    const ext = size - 6;
    const key = at + 2 + ext;
    this.m0 = src[key]!;
    this.m1 = src[key + 1]!;
    this.m2 = src[key + 2]!;
    this.m3 = src[key + 3]!;
    this.phase = 0;
    this.remaining =
      len7 < 126 ? len7 : len7 === 126 ? src.readUInt16BE(at + 2) : src.readUInt32BE(at + 2) * 0x100000000 + src.readUInt32BE(at + 6);
    dst[to] = src[at]!;
    dst[to + 1] = len7;
    for (let k = 0; k < ext; k++) dst[to + 2 + k] = src[at + 2 + k]!;
    return 2 + ext;
  }
}

/** Size of the masked client header at buf[at], or 0 if it is not all there. */
function headerSize(buf: Buffer, at: number, end: number): number {
  if (end - at < 2) return 0;
  const len7 = buf[at + 1]! & 0x7f;
  const size = 6 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0);
  return end - at >= size ? size : 0;
}
