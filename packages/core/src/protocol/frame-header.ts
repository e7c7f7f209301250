import { Buffer } from 'node:buffer';
/** Writing frame headers (RFC 6455 §5.2). */

/** Length of the header for a payload of `len` bytes. */
export function headerSize(len: number, masked: boolean): number {
  return (len < 126 ? 2 : len < 0x10000 ? 4 : 10) + (masked ? 4 : 0);
}

/**
 * Writes a frame header at `dst[at]` and returns its length. When `masked`, the 4 mask key bytes
 * are left for the caller to fill (they sit at the returned offset minus 4).
 */
export function writeHeader(
  dst: Uint8Array,
  at: number,
  fin: boolean,
  rsv1: boolean,
  opcode: number,
  len: number,
  masked: boolean,
): number {
  dst[at] = (fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | opcode;
  const m = masked ? 0x80 : 0;
  if (len < 126) {
    dst[at + 1] = m | len;
    return 2 + (masked ? 4 : 0);
  }
  if (len < 0x10000) {
    dst[at + 1] = m | 126;
    dst[at + 2] = len >>> 8;
    dst[at + 3] = len & 0xff;
    return 4 + (masked ? 4 : 0);
  }
  dst[at + 1] = m | 127;
  const high = Math.floor(len / 0x100000000);
  const low = len >>> 0;
  dst[at + 2] = high >>> 24;
  dst[at + 3] = (high >>> 16) & 0xff;
  dst[at + 4] = (high >>> 8) & 0xff;
  dst[at + 5] = high & 0xff;
  dst[at + 6] = low >>> 24;
  dst[at + 7] = (low >>> 16) & 0xff;
  dst[at + 8] = (low >>> 8) & 0xff;
  dst[at + 9] = low & 0xff;
  return 10 + (masked ? 4 : 0);
}

/** A whole message as one unmasked (server) frame: what every plain subscriber of a topic is sent. */
export function serverFrame(payload: Buffer, opcode: number, rsv1: boolean): Buffer {
  const h = headerSize(payload.length, false);
  const frame = Buffer.allocUnsafe(h + payload.length);
  writeHeader(frame, 0, true, rsv1, opcode, payload.length, false);
  payload.copy(frame, h);
  return frame;
}

/** The payload length of an unmasked frame such as {@link serverFrame} makes. */
export function payloadLength(frame: Buffer): number {
  const len7 = frame[1]! & 0x7f;
  return frame.length - (len7 < 126 ? 2 : len7 === 126 ? 4 : 10);
}
