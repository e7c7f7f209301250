import zlib from 'node:zlib';
import { CloseCode } from './constants.js';
import { ErrorCode, protocolError, rangeError, typeError, WebSocketError } from './errors.js';
import type { ExtensionOffer } from './extensions.js';
import { SyncZlib, syncZlibAvailable } from './zlib-sync.js';

/**
 * permessage-deflate (RFC 7692): negotiation for both sides, and the per-connection codec.
 *
 * Design (measured on a 2-core machine, 4 KiB JSON messages): zlib runs synchronously on
 * persistent contexts (see zlib-sync.ts) — ~4–20 µs per message, against a thread-pool round trip
 * per message for zlib streams. Contexts are created lazily, on the first message that needs
 * one. Without context takeover a context is reset rather than recreated, and is shared: one
 * deflater per parameter set for the whole process (compression is synchronous, so it is never
 * in use by two connections at once) and a small pool of inflaters (a message being received in
 * pieces holds one until its last piece).
 */

/** Options for `compress`. */
export interface DeflateOptions {
  /** Messages smaller than this many bytes are sent uncompressed. Default 1024. */
  threshold?: number;
  /** zlib level 0–9. Default 1: on chatty JSON it gets nearly level 6's ratio at half the CPU. */
  level?: number;
  /** zlib memLevel 1–9. Default 8. Lower saves up to 128 KiB per compressing connection. */
  memLevel?: number;
  /** The server forgets its compression context after each message (server_no_context_takeover). */
  serverNoContextTakeover?: boolean;
  /** The client forgets its compression context after each message (client_no_context_takeover). */
  clientNoContextTakeover?: boolean;
  /** Largest LZ77 window of the server's compressor, 8–15 (server_max_window_bits). Default 15. */
  serverMaxWindowBits?: number;
  /**
   * Largest LZ77 window of the client's compressor, 8–15 (client_max_window_bits; the server
   * only asks for it when the client offered the parameter). Default 15.
   */
  clientMaxWindowBits?: number;
}

export interface ResolvedDeflateOptions {
  threshold: number;
  level: number;
  memLevel: number;
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  serverMaxWindowBits: number;
  clientMaxWindowBits: number;
}

/** What both sides agreed on, from the point of view of one endpoint. */
export interface DeflateParams {
  /** Window bits and context-takeover rule of this endpoint's compressor. */
  deflateBits: number;
  deflateNoContextTakeover: boolean;
  /** Window bits of the peer's compressor (this endpoint's inflater) and its takeover rule. */
  inflateBits: number;
  inflateNoContextTakeover: boolean;
}

export const EXTENSION_NAME = 'permessage-deflate';

function intIn(value: unknown, name: string, min: number, max: number, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw rangeError(`compress.${name} must be an integer from ${min} to ${max}, got ${String(value)}`);
  }
  return value;
}

function bool(value: unknown, name: string): boolean {
  if (value === undefined) return false;
  if (typeof value !== 'boolean') throw typeError(`compress.${name} must be a boolean`);
  return value;
}

/** Validates the `compress` option; null when compression is off. */
export function resolveDeflateOptions(value: unknown): ResolvedDeflateOptions | null {
  if (value === undefined || value === false) return null;
  if (value !== true && (typeof value !== 'object' || value === null)) {
    throw typeError('compress must be a boolean or an options object');
  }
  const o = (value === true ? {} : value) as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    if (!KNOWN_OPTIONS.has(key)) throw typeError(`unknown compress option ${key}`);
  }
  const threshold = o.threshold === undefined ? 1024 : o.threshold;
  if (typeof threshold !== 'number' || !(threshold >= 0)) throw rangeError('compress.threshold must be a number of bytes, 0 or more');
  return {
    threshold,
    level: intIn(o.level, 'level', 0, 9, 1),
    memLevel: intIn(o.memLevel, 'memLevel', 1, 9, 8),
    serverNoContextTakeover: bool(o.serverNoContextTakeover, 'serverNoContextTakeover'),
    clientNoContextTakeover: bool(o.clientNoContextTakeover, 'clientNoContextTakeover'),
    serverMaxWindowBits: intIn(o.serverMaxWindowBits, 'serverMaxWindowBits', 8, 15, 15),
    clientMaxWindowBits: intIn(o.clientMaxWindowBits, 'clientMaxWindowBits', 8, 15, 15),
  };
}

const KNOWN_OPTIONS = new Set([
  'threshold',
  'level',
  'memLevel',
  'serverNoContextTakeover',
  'clientNoContextTakeover',
  'serverMaxWindowBits',
  'clientMaxWindowBits',
]);

interface OfferParams {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  serverMaxWindowBits: number | undefined;
  /** `true` when present without a value. */
  clientMaxWindowBits: number | true | undefined;
}

const BITS_RE = /^(?:8|9|1[0-5])$/;

/**
 * Reads the parameters of one permessage-deflate offer or response (RFC 7692 §7.1). Null if a
 * parameter is unknown, repeated or has an invalid value. In a response, client_max_window_bits
 * must carry a value.
 */
function readParams(offer: ExtensionOffer, isResponse: boolean): OfferParams | null {
  const p: OfferParams = {
    serverNoContextTakeover: false,
    clientNoContextTakeover: false,
    serverMaxWindowBits: undefined,
    clientMaxWindowBits: undefined,
  };
  const seen = new Set<string>();
  for (const [name, value] of offer.params) {
    if (seen.has(name)) return null;
    seen.add(name);
    switch (name) {
      case 'server_no_context_takeover':
        if (value !== true) return null;
        p.serverNoContextTakeover = true;
        break;
      case 'client_no_context_takeover':
        if (value !== true) return null;
        p.clientNoContextTakeover = true;
        break;
      case 'server_max_window_bits':
        if (value === true || !BITS_RE.test(value)) return null;
        p.serverMaxWindowBits = Number(value);
        break;
      case 'client_max_window_bits':
        if (value === true) {
          if (isResponse) return null;
          p.clientMaxWindowBits = true;
        } else {
          if (!BITS_RE.test(value)) return null;
          p.clientMaxWindowBits = Number(value);
        }
        break;
      default:
        return null;
    }
  }
  return p;
}

/**
 * Server side: accepts the first acceptable permessage-deflate offer (RFC 7692 §5). Returns the
 * response header value and the agreed parameters, or null to proceed without compression.
 */
export function acceptOffer(
  offers: readonly ExtensionOffer[],
  opts: ResolvedDeflateOptions,
): { response: string; params: DeflateParams } | null {
  if (!syncZlibAvailable) return null;
  for (const offer of offers) {
    if (offer.name !== EXTENSION_NAME) continue;
    const p = readParams(offer, false);
    if (!p) continue;

    let serverBits = opts.serverMaxWindowBits;
    let sendServerBits = serverBits < 15;
    if (p.serverMaxWindowBits !== undefined) {
      serverBits = Math.min(serverBits, p.serverMaxWindowBits);
      sendServerBits = true;
    }
    // client_max_window_bits may only be answered when offered (§7.1.2.2).
    let clientBits = 15;
    let sendClientBits = false;
    if (p.clientMaxWindowBits !== undefined) {
      const offered = p.clientMaxWindowBits === true ? 15 : p.clientMaxWindowBits;
      clientBits = Math.min(offered, opts.clientMaxWindowBits);
      sendClientBits = clientBits < 15;
    }
    const serverNct = opts.serverNoContextTakeover || p.serverNoContextTakeover;
    const clientNct = opts.clientNoContextTakeover || p.clientNoContextTakeover;

    let response = EXTENSION_NAME;
    if (serverNct) response += '; server_no_context_takeover';
    if (clientNct) response += '; client_no_context_takeover';
    if (sendServerBits) response += `; server_max_window_bits=${serverBits}`;
    if (sendClientBits) response += `; client_max_window_bits=${clientBits}`;
    return {
      response,
      params: {
        deflateBits: serverBits,
        deflateNoContextTakeover: serverNct,
        inflateBits: clientBits,
        inflateNoContextTakeover: clientNct,
      },
    };
  }
  return null;
}

/** Client side: the offer to send, or null when compression is unavailable. */
export function clientOffer(opts: ResolvedDeflateOptions): string | null {
  if (!syncZlibAvailable) return null;
  let offer = EXTENSION_NAME;
  if (opts.serverNoContextTakeover) offer += '; server_no_context_takeover';
  if (opts.clientNoContextTakeover) offer += '; client_no_context_takeover';
  if (opts.serverMaxWindowBits < 15) offer += `; server_max_window_bits=${opts.serverMaxWindowBits}`;
  offer += opts.clientMaxWindowBits < 15 ? `; client_max_window_bits=${opts.clientMaxWindowBits}` : '; client_max_window_bits';
  return offer;
}

/**
 * Client side: validates the server's answer to {@link clientOffer} (RFC 7692 §5, §7.1). Returns
 * the agreed parameters, or the error to fail the connection with.
 */
export function acceptResponse(answer: readonly ExtensionOffer[], opts: ResolvedDeflateOptions): DeflateParams | WebSocketError {
  const bad = (why: string) => new WebSocketError(ErrorCode.ExtensionMismatch, `invalid permessage-deflate response: ${why}`);
  if (answer.length !== 1 || answer[0]!.name !== EXTENSION_NAME) return bad('the server must accept exactly the offered extension');
  const p = readParams(answer[0]!, true);
  if (!p) return bad('unknown, repeated or invalid parameter');
  if (opts.serverNoContextTakeover && !p.serverNoContextTakeover) return bad('server_no_context_takeover was requested but not confirmed');
  // A server accepts a server_max_window_bits offer "by including" it (RFC 7692 §7.1.2.1).
  if (opts.serverMaxWindowBits < 15 && p.serverMaxWindowBits === undefined) return bad('server_max_window_bits was requested but not confirmed');
  if (p.serverMaxWindowBits !== undefined && p.serverMaxWindowBits > opts.serverMaxWindowBits) {
    return bad('server_max_window_bits larger than offered');
  }
  const clientBits = p.clientMaxWindowBits === undefined ? opts.clientMaxWindowBits : (p.clientMaxWindowBits as number);
  if (clientBits > opts.clientMaxWindowBits) return bad('client_max_window_bits larger than offered');
  return {
    deflateBits: clientBits,
    deflateNoContextTakeover: opts.clientNoContextTakeover || p.clientNoContextTakeover,
    inflateBits: p.serverMaxWindowBits ?? 15,
    inflateNoContextTakeover: p.serverNoContextTakeover,
  };
}

// ---- the codec ----

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
  return bits < 9 ? 9 : bits;
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
  readonly threshold: number;
  private readonly params: DeflateParams;
  private readonly level: number;
  private readonly memLevel: number;
  private deflater: SyncZlib | undefined;
  private inflater: SyncZlib | undefined;
  /** Inflated bytes of the current message (or frame in frame mode), against the limit. */
  private produced = 0;
  /** Output of the current call that did not fit in the scratch buffer. */
  private spilled: Buffer[] | undefined;
  private closed = false;

  /**
   * Identifies connections whose compressed output for a message is identical (no server context
   * takeover, same window, level and memLevel), so a broadcast is compressed once for all of them;
   * undefined when this connection keeps a compression context.
   */
  readonly sharedKey: string | undefined;

  constructor(params: DeflateParams, opts: ResolvedDeflateOptions) {
    this.params = params;
    this.threshold = opts.threshold;
    this.level = opts.level;
    this.memLevel = opts.memLevel;
    this.sharedKey = params.deflateNoContextTakeover ? `${params.deflateBits}/${opts.level}/${opts.memLevel}` : undefined;
  }

  /** Compresses one whole message; the result has the trailing 00 00 ff ff removed (§7.2.1). */
  compress(data: Buffer): Buffer {
    const nct = this.params.deflateNoContextTakeover;
    let z = this.deflater;
    if (!z) {
      if (nct) {
        const key = this.sharedKey!;
        z = sharedDeflaters.get(key);
        if (!z) sharedDeflaters.set(key, (z = newDeflater(this.params.deflateBits, this.level, this.memLevel)));
      } else {
        z = this.deflater = newDeflater(this.params.deflateBits, this.level, this.memLevel);
      }
    }
    // Sync-flushed deflate output exceeds its input by at most a few bytes per 16 KiB block.
    const bound = data.length + (data.length >>> 10) + 64;
    const useScratch = bound <= SCRATCH_SIZE;
    let out = useScratch ? scratchBuffer() : Buffer.allocUnsafe(bound);
    let written = 0;
    let inOff = 0;
    for (;;) {
      const r = z.write(data, inOff, out, written, out.length - written);
      written += r.written;
      inOff += r.consumed;
      if (!r.full) break;
      const grown = Buffer.allocUnsafe(out.length * 2);
      out.copy(grown, 0, 0, written);
      out = grown;
    }
    if (nct) z.reset();
    // A sync flush ends with 00 00 ff ff, or is empty when nothing new went in since the last
    // one (an empty message under context takeover); that one is sent as the single byte 00
    // (§7.2.3.6), which with the receiver's appended tail forms an empty stored block.
    if (written < 4) return Buffer.from(EMPTY_MESSAGE);
    const len = written - 4;
    if (out !== scratch) return out.subarray(0, len);
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
      let r;
      try {
        r = z.write(input, inOff, out, written, room);
      } catch (err) {
        throw protocolError(ErrorCode.InvalidCompressedData, `invalid compressed data: ${(err as Error).message}`, CloseCode.InvalidPayload);
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
