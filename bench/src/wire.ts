/**
 * WebSocket wire helpers shared by the load generator and the raw ceiling server. Written for
 * this harness on purpose: the generator must not depend on any library under test.
 */
import { createHash } from 'node:crypto';
import { endianness } from 'node:os';

/**
 * Every generator connection sends the same key. Servers do not care (the key only proves the
 * peer speaks WebSocket), and it lets the raw ceiling server answer with one canned 101.
 */
export const BENCH_KEY = 'd3N1cC1iZW5jaC1rZXkhIQ==';
export const BENCH_ACCEPT = createHash('sha1').update(`${BENCH_KEY}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');

/** The 101 every generator handshake gets from the raw servers, which never look at the key. */
export const CANNED_101 = Buffer.from(
  `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${BENCH_ACCEPT}\r\n\r\n`,
  'latin1',
);

/**
 * The raw servers' side of the opening handshake: the request head is collected across reads and,
 * once complete, answered with {@link CANNED_101}, the key never looked at.
 */
export class CannedHandshake {
  private request = '';

  /**
   * Takes one read of the handshake.
   * @returns the request's path and the bytes that followed its head once the head is complete
   *   (the 101 has then been written); undefined while more of it is to come.
   */
  read(socket: { write(data: Buffer): unknown }, chunk: Buffer): { path: string; rest: Buffer } | undefined {
    const request = (this.request += chunk.toString('latin1'));
    const end = request.indexOf('\r\n\r\n');
    if (end === -1) return undefined;
    this.request = '';
    socket.write(CANNED_101);
    return {
      path: request.slice(request.indexOf(' ') + 1, request.indexOf(' HTTP/')),
      rest: Buffer.from(request.slice(end + 4), 'latin1'),
    };
  }
}

export const DEFLATE_OFFER = 'permessage-deflate; client_no_context_takeover';
/** The bytes RFC 7692 §7.2.1 strips from the end of every compressed message. */
export const DEFLATE_TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);

export const OP_TEXT = 0x1;
export const OP_BINARY = 0x2;
export const OP_CLOSE = 0x8;

/**
 * The opening request. The path tells the server what the connection is for: `/echo` in the echo
 * and idle scenarios, `/pub` and `/sub` in the broadcast scenario.
 */
export function handshakeRequest(port: number, deflate: boolean, path = '/echo'): Buffer {
  return Buffer.from(
    `GET ${path} HTTP/1.1\r\n` +
      `Host: 127.0.0.1:${port}\r\n` +
      'Upgrade: websocket\r\n' +
      'Connection: Upgrade\r\n' +
      `Sec-WebSocket-Key: ${BENCH_KEY}\r\n` +
      'Sec-WebSocket-Version: 13\r\n' +
      (deflate ? `Sec-WebSocket-Extensions: ${DEFLATE_OFFER}\r\n` : '') +
      '\r\n',
    'latin1',
  );
}

/** Bytes of a frame header for a payload of `len` bytes, the mask key not counted (RFC 6455 section 5.2). */
export function headerLength(len: number): number {
  return len < 126 ? 2 : len < 0x10000 ? 4 : 10;
}

/**
 * Writes a frame header at buf[0]: `b0` (FIN, RSV bits, opcode), then the payload length, with
 * the MASK bit set when `masked` (the mask key that follows is the caller's to write).
 */
export function writeFrameHeader(buf: Buffer, b0: number, len: number, masked: boolean): void {
  const mask = masked ? 0x80 : 0;
  buf[0] = b0;
  if (len < 126) {
    buf[1] = mask | len;
  } else if (len < 0x10000) {
    buf[1] = mask | 126;
    buf.writeUInt16BE(len, 2);
  } else {
    buf[1] = mask | 127;
    buf.writeUInt32BE(Math.floor(len / 0x100000000), 2);
    buf.writeUInt32BE(len >>> 0, 6);
  }
}

/** A client frame, masked with `key`, ready to be written as is any number of times. */
export function maskedFrame(opcode: number, payload: Buffer, rsv1: boolean, key: number): Buffer {
  const len = payload.length;
  const head = headerLength(len);
  const frame = Buffer.allocUnsafe(head + 4 + len);
  writeFrameHeader(frame, 0x80 | (rsv1 ? 0x40 : 0) | opcode, len, true);
  frame.writeUInt32BE(key >>> 0, head);
  payload.copy(frame, head + 4);
  xorMask(frame, head + 4, head + 4 + len, frame[head]!, frame[head + 1]!, frame[head + 2]!, frame[head + 3]!, 0);
  return frame;
}

const LITTLE_ENDIAN = endianness() === 'LE';

/**
 * XORs `buf[start, end)` in place with the mask bytes, beginning at mask position `phase`, and
 * returns the phase after the last byte (payloads can arrive in pieces). The aligned middle goes
 * through an Int32Array four bytes at a time; a byte loop alone would make the ceiling server
 * slower than the servers it is meant to bound on the 1 MiB scenario.
 */
export function xorMask(buf: Buffer, start: number, end: number, m0: number, m1: number, m2: number, m3: number, phase: number): number {
  // The mask as one little-endian word, so byte k of the mask is (word >>> 8k) & 0xff.
  const word = (m0 | (m1 << 8) | (m2 << 16) | (m3 << 24)) >>> 0;
  let i = start;
  let p = phase & 3;
  if (LITTLE_ENDIAN && end - start >= 64) {
    while (((buf.byteOffset + i) & 3) !== 0) {
      buf[i] = buf[i]! ^ ((word >>> (p << 3)) & 0xff);
      i++;
      p = (p + 1) & 3;
    }
    const words = (end - i) >>> 2;
    const rotated = p === 0 ? word | 0 : (word >>> (p << 3)) | (word << (32 - (p << 3)));
    const view = new Int32Array(buf.buffer, buf.byteOffset + i, words);
    for (let w = 0; w < words; w++) view[w] = view[w]! ^ rotated;
    i += words << 2;
  }
  while (i < end) {
    buf[i] = buf[i]! ^ ((word >>> (p << 3)) & 0xff);
    i++;
    p = (p + 1) & 3;
  }
  return p;
}

/** A decoder that may hold the start of a frame header that one read split from the next. */
export interface HeaderReader {
  /** 14 bytes: room for the longest header (a 64-bit length and a mask key). */
  readonly hdr: Buffer;
  hdrLen: number;
  /** Decodes a header at buf[at, end); returns its size, or 0 if incomplete. */
  header(buf: Buffer, at: number, end: number): number;
}

/**
 * Reads the frame header at chunk[i], finishing one the previous chunk split. Returns the index
 * after it, or -1 when the chunk ends inside it (the part read is kept in `r.hdr`).
 */
export function readHeader(r: HeaderReader, chunk: Buffer, i: number, len: number): number {
  if (r.hdrLen > 0) {
    const take = Math.min(14 - r.hdrLen, len - i);
    chunk.copy(r.hdr, r.hdrLen, i, i + take);
    const size = r.header(r.hdr, 0, r.hdrLen + take);
    if (size === 0) {
      r.hdrLen += take;
      return -1;
    }
    const at = i + size - r.hdrLen;
    r.hdrLen = 0;
    return at;
  }
  const size = r.header(chunk, i, len);
  if (size === 0) {
    chunk.copy(r.hdr, 0, i, len);
    r.hdrLen = len - i;
    return -1;
  }
  return i + size;
}
