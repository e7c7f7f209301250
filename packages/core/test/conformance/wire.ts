/**
 * The conformance suite's own RFC 6455 frame codec. It shares no code with wsup or with
 * test/helpers/raw.ts on purpose: a bug in either cannot hide behind the same bug here.
 *
 * The encoder writes whatever it is told (reserved bits and opcodes, lying or non-minimal
 * lengths, fragmented control frames); the decoder is strict about what the implementation under
 * test sends and reports every deviation instead of throwing.
 */
import { randomBytes } from 'node:crypto';

export const OP = { cont: 0x0, text: 0x1, binary: 0x2, close: 0x8, ping: 0x9, pong: 0xa } as const;

/** One frame to put on the wire. Everything defaults to a well-formed final frame. */
export interface FrameSpec {
  opcode: number;
  payload?: Buffer | string;
  fin?: boolean;
  /** RSV1..RSV3 as a 3-bit number (RSV1 = 4, RSV2 = 2, RSV3 = 1), as Autobahn numbers them. */
  rsv?: number;
  /**
   * Mask the frame: true for a random key, a 4-byte key, or false. Undefined leaves the choice to
   * the peer's role (clients mask, servers do not).
   */
  mask?: boolean | Buffer;
  /** Write this length instead of the payload's real one (to announce more than is sent). */
  announcedLength?: number;
  /** Force the 16- or 64-bit length encoding even where a shorter one would do. */
  lengthBits?: 7 | 16 | 64;
}

function payloadOf(spec: FrameSpec): Buffer {
  const p = spec.payload;
  if (p === undefined) return Buffer.alloc(0);
  return typeof p === 'string' ? Buffer.from(p, 'utf8') : p;
}

/** XORs `src` with `key` into a new buffer, a word at a time (16 MiB frames are common here). */
export function xorMask(src: Buffer, key: Buffer): Buffer {
  const out = Buffer.allocUnsafeSlow(src.length);
  src.copy(out);
  const words = src.length >>> 2;
  if (words > 0) {
    // allocUnsafeSlow gives a fresh, aligned ArrayBuffer; the key word is read in the platform's
    // byte order so that the word XOR equals the byte-wise one.
    const view = new Uint32Array(out.buffer, out.byteOffset, words);
    const k = new Uint32Array(new Uint8Array([key[0]!, key[1]!, key[2]!, key[3]!]).buffer)[0]!;
    for (let i = 0; i < words; i++) view[i]! ^= k;
  }
  for (let i = words << 2; i < src.length; i++) out[i]! ^= key[i & 3]!;
  return out;
}

/** Encodes one frame. `defaultMask` is the role's choice when the spec does not make one. */
export function encodeFrame(spec: FrameSpec, defaultMask: boolean): Buffer {
  const payload = payloadOf(spec);
  const len = spec.announcedLength ?? payload.length;
  const bits = spec.lengthBits ?? (len < 126 ? 7 : len < 0x10000 ? 16 : 64);
  const maskOpt = spec.mask ?? defaultMask;
  const key = maskOpt === false ? undefined : maskOpt === true ? randomBytes(4) : maskOpt;

  const headLen = 2 + (bits === 16 ? 2 : bits === 64 ? 8 : 0) + (key ? 4 : 0);
  const head = Buffer.alloc(headLen);
  head[0] = ((spec.fin ?? true) ? 0x80 : 0) | (((spec.rsv ?? 0) & 7) << 4) | (spec.opcode & 0x0f);
  const m = key ? 0x80 : 0;
  let p = 2;
  if (bits === 7) {
    head[1] = m | len;
  } else if (bits === 16) {
    head[1] = m | 126;
    head.writeUInt16BE(len, 2);
    p = 4;
  } else {
    head[1] = m | 127;
    head.writeBigUInt64BE(BigInt(len), 2);
    p = 10;
  }
  if (!key) return Buffer.concat([head, payload]);
  key.copy(head, p);
  return Buffer.concat([head, xorMask(payload, key)]);
}

/** A close frame payload: a 2-byte code and a reason (string, or raw bytes for invalid UTF-8). */
export function closeBody(code: number, reason: string | Buffer = ''): Buffer {
  const r = typeof reason === 'string' ? Buffer.from(reason, 'utf8') : reason;
  const b = Buffer.alloc(2 + r.length);
  b.writeUInt16BE(code, 0);
  r.copy(b, 2);
  return b;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** Whether `b` is well-formed UTF-8 (WHATWG decoder, independent of wsup's validator). */
export function isUtf8(b: Uint8Array): boolean {
  try {
    strictUtf8.decode(b);
    return true;
  } catch {
    return false;
  }
}

/** A frame as it arrived, payload unmasked. */
export interface DecodedFrame {
  fin: boolean;
  rsv: number;
  opcode: number;
  masked: boolean;
  payload: Buffer;
}

/**
 * Incremental decoder for frames coming from the implementation under test. Never throws: a frame
 * it cannot make sense of (a 64-bit length with the top bit set) is reported and stops it.
 * Pieces of a big frame are only joined once the whole frame is there, so a 16 MiB message
 * arriving in 64 KiB reads costs one copy, not hundreds.
 */
export class FrameDecoder {
  private pieces: Buffer[] = [];
  private have = 0;
  /** Bytes the frame at the front needs in total, once its header is known. */
  private need = 2;
  private broken = false;

  /** Appends bytes; returns the frames completed by them and any framing problem found. */
  push(chunk: Buffer): { frames: DecodedFrame[]; problem?: string } {
    if (this.broken) return { frames: [] };
    this.pieces.push(chunk);
    this.have += chunk.length;
    if (this.have < this.need) return { frames: [] };
    const b = this.pieces.length === 1 ? this.pieces[0]! : Buffer.concat(this.pieces, this.have);
    const frames: DecodedFrame[] = [];
    let pos = 0;
    let problem: string | undefined;
    for (;;) {
      const size = frameSize(b, pos);
      if (typeof size === 'string') {
        this.broken = true;
        problem = size;
        break;
      }
      if (size === undefined || b.length - pos < size.total) {
        // An incomplete header needs any more byte; a known frame needs all of itself.
        this.need = size === undefined ? b.length - pos + 1 : size.total;
        break;
      }
      const { total, headLen, len } = size;
      const b0 = b[pos]!;
      const masked = (b[pos + 1]! & 0x80) !== 0;
      const raw = b.subarray(pos + headLen, pos + headLen + len);
      frames.push({
        fin: (b0 & 0x80) !== 0,
        rsv: (b0 >> 4) & 7,
        opcode: b0 & 0x0f,
        masked,
        payload: masked ? xorMask(raw, b.subarray(pos + headLen - 4, pos + headLen)) : Buffer.from(raw),
      });
      pos += total;
    }
    const rest = b.subarray(pos);
    this.pieces = rest.length > 0 ? [rest] : [];
    this.have = rest.length;
    return problem === undefined ? { frames } : { frames, problem };
  }

  /** Bytes received that do not form a whole frame yet. */
  get pending(): number {
    return this.have;
  }
}

/**
 * The size of the frame at `b[pos]`: its total length and header length, undefined while its
 * header is incomplete, or a problem description.
 */
function frameSize(b: Buffer, pos: number): { total: number; headLen: number; len: number } | undefined | string {
  if (b.length - pos < 2) return undefined;
  const b1 = b[pos + 1]!;
  let len = b1 & 0x7f;
  let headLen = 2;
  if (len === 126) {
    if (b.length - pos < 4) return undefined;
    len = b.readUInt16BE(pos + 2);
    headLen = 4;
  } else if (len === 127) {
    if (b.length - pos < 10) return undefined;
    const big = b.readBigUInt64BE(pos + 2);
    if (big > BigInt(Number.MAX_SAFE_INTEGER)) return `frame length ${big} is not a valid 63-bit length`;
    len = Number(big);
    headLen = 10;
  }
  if (b1 & 0x80) headLen += 4;
  return { total: headLen + len, headLen, len };
}
