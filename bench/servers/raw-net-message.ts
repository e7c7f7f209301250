/**
 * The ceiling for a server that hands each message to the application as one Buffer: node:net,
 * canned 101, payloads unmasked in place by bufferutil's native code, as in `raw-net`, but a
 * message that arrived in several reads is joined into one fresh Buffer (one allocation, one
 * copy) before it goes back out as one frame (header and payload in one writev). No events, no
 * UTF-8 check, no limits.
 *
 * `raw-net` never holds a message: it rewrites each read in place and writes it straight back.
 * Any API that delivers messages (`ws`, wsup, uWebSockets.js' JS side) must at least join the
 * reads of a message that spans them. The difference between the two servers with 1 MiB
 * messages is the price of that join, which no message API on node:net can avoid.
 *
 * Broadcast likewise: each message from `/pub` is framed on its own (one Buffer: header and
 * payload), as a publish call that takes one message must, and the frames of one turn of the
 * event loop are joined once and written to every `/sub` connection, one write per subscriber per
 * turn (the batching wsup's hub and uWebSockets.js' cork do). `raw-net` instead writes each
 * publisher read to the subscribers as it came, never knowing where a message ends. No limits,
 * no per-subscriber state.
 */
import { createRequire } from 'node:module';
import { createServer, type Socket } from 'node:net';
import { listen, serve } from '../src/harness.js';
import { routeRaw, subscribers } from '../src/raw-routes.js';
import { CannedHandshake, type HeaderReader, headerLength, readHeader, writeFrameHeader, xorMask } from '../src/wire.js';

const bufferUtil = createRequire(import.meta.url)('bufferutil') as { unmask(buf: Buffer, mask: Buffer): void };

/** Below this a JS loop beats the cost of calling into the addon. */
const NATIVE_MIN = 64;

/** The frames published in this turn of the event loop, and their bytes. */
let published: Buffer[] = [];
let publishedBytes = 0;

/** Writes this turn's frames, joined once, to every subscriber. */
function fanOut(): void {
  const all = published.length === 1 ? published[0]! : Buffer.concat(published, publishedBytes);
  published = [];
  publishedBytes = 0;
  for (const s of subscribers) s.write(all);
}

class MessageEcho implements HeaderReader {
  readonly hdr = Buffer.alloc(14);
  hdrLen = 0;
  private handshake: CannedHandshake | undefined = new CannedHandshake();
  private b0 = 0;
  private length = 0;
  private remaining = 0;
  private readonly mask = Buffer.alloc(4);
  private readonly rotated = Buffer.alloc(4);
  private phase = 0;
  private pieces: Buffer[] = [];
  /** This is the broadcast publisher: its messages go to the subscribers instead of back. */
  private publisher = false;

  constructor(private readonly socket: Socket) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.data(chunk));
    socket.on('error', () => socket.destroy());
  }

  header(buf: Buffer, at: number, end: number): number {
    if (end - at < 2) return 0;
    const len7 = buf[at + 1]! & 0x7f;
    const ext = len7 === 126 ? 2 : len7 === 127 ? 8 : 0;
    if (end - at < 6 + ext) return 0;
    this.b0 = buf[at]!;
    this.length =
      len7 < 126 ? len7 : len7 === 126 ? buf.readUInt16BE(at + 2) : buf.readUInt32BE(at + 2) * 0x100000000 + buf.readUInt32BE(at + 6);
    buf.copy(this.mask, 0, at + 2 + ext, at + 6 + ext);
    return 6 + ext;
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
    const len = chunk.length;
    let i = 0;
    let corked = false;
    while (i < len) {
      if (this.remaining === 0 && this.pieces.length === 0) {
        const at = readHeader(this, chunk, i, len);
        if (at === -1) break;
        i = at;
        this.remaining = this.length;
        this.phase = 0;
        if (this.remaining === 0) {
          this.reply(Buffer.alloc(0));
          continue;
        }
      }
      const n = Math.min(this.remaining, len - i);
      this.unmask(chunk, i, n);
      const piece = chunk.subarray(i, i + n);
      i += n;
      this.remaining -= n;
      if (this.remaining === 0) {
        const pieces = this.pieces;
        this.pieces = [];
        if (!corked) {
          this.socket.cork();
          corked = true;
        }
        if (pieces.length === 0) this.reply(piece);
        else {
          pieces.push(piece);
          this.reply(Buffer.concat(pieces, this.length));
        }
      } else {
        this.pieces.push(piece);
      }
    }
    if (corked) this.socket.uncork();
  }

  private unmask(chunk: Buffer, at: number, n: number): void {
    const m = this.mask;
    const p = this.phase;
    if (n >= NATIVE_MIN) {
      for (let k = 0; k < 4; k++) this.rotated[k] = m[(p + k) & 3]!;
      bufferUtil.unmask(chunk.subarray(at, at + n), this.rotated);
      this.phase = (p + n) & 3;
    } else {
      this.phase = xorMask(chunk, at, at + n, m[0]!, m[1]!, m[2]!, m[3]!, p);
    }
  }

  /** Writes the message back as one unmasked frame with the client frame's first byte. */
  private reply(payload: Buffer): void {
    if (this.publisher) {
      this.publish(payload);
      return;
    }
    const n = payload.length;
    const head = Buffer.allocUnsafe(headerLength(n));
    writeFrameHeader(head, this.b0, n, false);
    this.socket.write(head);
    if (n > 0) this.socket.write(payload);
  }

  /** Frames the message once, in one Buffer, for every subscriber; the turn's frames leave together. */
  private publish(payload: Buffer): void {
    const n = payload.length;
    const h = headerLength(n);
    const frame = Buffer.allocUnsafe(h + n);
    writeFrameHeader(frame, this.b0, n, false);
    payload.copy(frame, h);
    if (published.length === 0) setImmediate(fanOut);
    published.push(frame);
    publishedBytes += frame.length;
  }
}

serve(() => listen(createServer((socket) => new MessageEcho(socket))));
