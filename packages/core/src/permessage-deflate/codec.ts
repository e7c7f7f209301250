import zlib from 'node:zlib';
import { ErrorCode } from '../errors.js';
import { CloseCode } from '../protocol/constants.js';
import { protocolError } from '../protocol/protocol-error.js';
import type { DeflateParams } from './negotiation.js';
import { LARGE_MESSAGE, type ResolvedDeflateOptions } from './options.js';
import { SyncZlib, type WriteResult } from './zlib-sync.js';

/**
 * The permessage-deflate codec of one connection (RFC 7692 §7.2): compresses whole messages and
 * inflates received ones piece by piece.
 *
 * Design (measured on a 2-core machine, 4 KiB JSON messages): zlib runs synchronously on
 * persistent contexts (see zlib-sync.ts) — ~4–20 µs per message, against a thread-pool round trip
 * per message for zlib streams. Contexts are created lazily, on the first message that needs
 * one. Without context takeover a context is reset rather than recreated, and is shared: one
 * deflater per parameter set for the whole process (compression is synchronous, so it is never
 * in use by two connections at once) and a small pool of inflaters (a message being received in
 * pieces holds one until its last piece).
 */

/** Output space shared by every connection: compression and decompression are synchronous. */
const SCRATCH_SIZE = 64 * 1024;
let scratch: Buffer | undefined;
function scratchBuffer(): Buffer {
  scratch ??= Buffer.allocUnsafeSlow(SCRATCH_SIZE);
  return scratch;
}

const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);
const EMPTY_MESSAGE = Buffer.from([0x00]);

const sharedDeflaters = new Map<string, SyncZlib>();
const inflaterPools = new Map<number, SyncZlib[]>();
const POOL_LIMIT = 16;

function windowBits(bits: number): number {
  // zlib cannot produce an 8-bit raw deflate window and raises 8 to 9 itself; ask for 9 directly.
  return Math.max(bits, 9);
}

/**
 * The stream's own output buffer (16 KiB by default, per context) is never used: SyncZlib writes
 * into buffers of its own. The smallest one zlib allows saves 16 KiB per compressing connection.
 */
const UNUSED_CHUNK = zlib.constants.Z_MIN_CHUNK;

function newDeflater(bits: number, level: number, memLevel: number): SyncZlib {
  return new SyncZlib(zlib.createDeflateRaw({ level, memLevel, windowBits: windowBits(bits), chunkSize: UNUSED_CHUNK }));
}

function newInflater(bits: number): SyncZlib {
  return new SyncZlib(zlib.createInflateRaw({ windowBits: windowBits(bits), chunkSize: UNUSED_CHUNK }));
}

/** Per-connection permessage-deflate state. */
export class PerMessageDeflate {
  private readonly threshold: number;
  private readonly params: DeflateParams;
  private deflater: SyncZlib | undefined;
  private inflater: SyncZlib | undefined;
  /** Inflated bytes of the current message (or frame in frame mode), against the limit. */
  private produced = 0;
  /** Output of the current call that did not fit in the scratch buffer. */
  private spilled: Buffer[] | undefined;
  private closed = false;
  /**
   * Bytes compression saved on the messages received (inflated minus compressed size), for the
   * counters: kept here, made only where compression was agreed, rather than on every connection.
   */
  savedIn = 0;
  /** The same for the messages sent (uncompressed minus compressed size). */
  savedOut = 0;

  /**
   * Identifies connections whose compressed output for a message is identical (no server context
   * takeover, same window, level and memLevel), so a broadcast is compressed once for all of them;
   * undefined when this connection keeps a compression context.
   */
  readonly sharedKey: string | undefined;

  constructor(params: DeflateParams, opts: Pick<ResolvedDeflateOptions, 'threshold'>) {
    this.params = params;
    this.threshold = opts.threshold;
    this.sharedKey = params.deflateNoContextTakeover
      ? `${params.deflateBits}/${params.deflateLevel}/${params.deflateLargeLevel}/${params.deflateMemLevel}`
      : undefined;
  }

  /** Whether a message of `length` bytes is worth compressing (the `threshold` rule). */
  compresses(length: number): boolean {
    return length >= this.threshold;
  }

  /** Compresses one whole message; the result has the trailing 00 00 ff ff removed (§7.2.1). */
  compress(data: Buffer): Buffer {
    const p = this.params;
    const nct = p.deflateNoContextTakeover;
    let z = this.deflater;
    if (!z) {
      if (nct) {
        // One shared deflater per parameter set and level (see LARGE_MESSAGE).
        const level = data.length >= LARGE_MESSAGE ? p.deflateLargeLevel : p.deflateLevel;
        const key = `${p.deflateBits}/${level}/${p.deflateMemLevel}`;
        z = sharedDeflaters.get(key);
        if (!z) sharedDeflaters.set(key, (z = newDeflater(p.deflateBits, level, p.deflateMemLevel)));
      } else {
        z = this.deflater = newDeflater(this.params.deflateBits, this.params.deflateLevel, this.params.deflateMemLevel);
      }
    }
    // Sync-flushed deflate output exceeds its input by at most a few bytes per 16 KiB block. The
    // output starts in the scratch buffer and moves to a buffer of that bound only if it outgrows
    // it: a large message that compresses well (15 MiB of zeros: 15 KiB) then allocates nothing
    // of its size.
    const bound = data.length + (data.length >>> 10) + 64;
    let out = scratchBuffer();
    let written = 0;
    let inOff = 0;
    for (;;) {
      const r = z.write(data, inOff, out, written, out.length - written);
      written += r.written;
      inOff += r.consumed;
      if (!r.full) break;
      const grown = Buffer.allocUnsafe(Math.max(bound, out.length * 2));
      out.copy(grown, 0, 0, written);
      out = grown;
    }
    if (nct) z.reset();
    // A sync flush ends with 00 00 ff ff, or is empty when nothing new went in since the last
    // one (an empty message under context takeover); that one is sent as the single byte 00
    // (§7.2.3.6), which with the receiver's appended tail forms an empty stored block.
    if (written < 4) return Buffer.from(EMPTY_MESSAGE);
    const len = written - 4;
    // A slice of a buffer mostly unused would pin all of it for as long as the frame is queued.
    if (out !== scratch && len >= out.length >>> 1) return out.subarray(0, len);
    const result = Buffer.allocUnsafe(len);
    out.copy(result, 0, 0, len);
    return result;
  }

  /**
   * Inflates a piece of a compressed message. `last` marks the message's last piece (the
   * 00 00 ff ff tail is then appended, §7.2.2); `endOfLimitUnit` resets the size count (the end of
   * the message, or of the frame in frame mode). Output beyond `limit` bytes is never produced:
   * zlib is given only `limit + 1` bytes of room, so a decompression bomb stops right there.
   *
   * @throws WebSocketError 1009 past the limit, 1007 on corrupt data.
   */
  inflate(piece: Buffer, last: boolean, endOfLimitUnit: boolean, limit: number): Buffer {
    let z = this.inflater;
    if (!z) {
      const pool = this.params.inflateNoContextTakeover ? inflaterPools.get(this.params.inflateBits) : undefined;
      z = this.inflater = pool?.pop() ?? newInflater(this.params.inflateBits);
    }
    const out = scratchBuffer();
    let written = 0;
    try {
      written = this.run(z, piece, out, written, limit, false);
      if (last) written = this.run(z, TAIL, out, written, limit, true);
    } catch (err) {
      this.dropInflater();
      this.spilled = undefined;
      throw err;
    }
    if (endOfLimitUnit) this.produced = 0;
    if (last && this.params.inflateNoContextTakeover) this.releaseInflater();
    const rest = Buffer.allocUnsafe(written);
    out.copy(rest, 0, 0, written);
    const parts = this.spilled;
    if (!parts) return rest;
    this.spilled = undefined;
    parts.push(rest);
    return Buffer.concat(parts);
  }

  /** Feeds `input` through `z` into the scratch buffer, copying out full scratch loads. */
  private run(z: SyncZlib, input: Buffer, out: Buffer, written: number, limit: number, isTail: boolean): number {
    let inOff = 0;
    for (;;) {
      const room = Math.min(out.length - written, limit - this.produced + 1);
      let r: WriteResult;
      try {
        r = z.write(input, inOff, out, written, room);
      } catch (err) {
        throw protocolError(
          ErrorCode.InvalidCompressedData,
          `invalid compressed data: ${(err as Error).message}`,
          CloseCode.InvalidPayload,
        );
      }
      written += r.written;
      inOff += r.consumed;
      this.produced += r.written;
      if (this.produced > limit) {
        throw protocolError(ErrorCode.PayloadTooLarge, `inflated message exceeds maxPayload (${limit} bytes)`, CloseCode.MessageTooBig);
      }
      if (!r.full) {
        if (inOff >= input.length) return written;
        // zlib stopped with input left and room to spare: a block with BFINAL set ended the
        // deflate stream (RFC 7692 §7.2.3.4). What follows starts a new stream, as the sender's
        // did; the 00 00 ff ff appended after such a message is no data at all.
        z.reset();
        if (isTail) return written;
        continue;
      }
      if (written === out.length) {
        (this.spilled ??= []).push(Buffer.from(out));
        written = 0;
      }
    }
  }

  private releaseInflater(): void {
    const z = this.inflater!;
    this.inflater = undefined;
    z.reset();
    let pool = inflaterPools.get(this.params.inflateBits);
    if (!pool) inflaterPools.set(this.params.inflateBits, (pool = []));
    if (pool.length < POOL_LIMIT) pool.push(z);
    else z.close();
  }

  private dropInflater(): void {
    this.inflater?.close();
    this.inflater = undefined;
    this.produced = 0;
  }

  /** Frees this connection's contexts (pooled ones go back to the pool). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.deflater?.close();
    this.deflater = undefined;
    // An inflater still held was cut off mid-message: its context is dirty, never pooled.
    this.dropInflater();
  }
}
