/**
 * A raw TCP WebSocket peer for tests: writes whatever bytes a test wants (malformed frames
 * included) and decodes what comes back with its own minimal decoder, independent of wsup's.
 */
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';

export interface RawFrame {
  fin: boolean;
  rsv: number;
  opcode: number;
  masked: boolean;
  payload: Buffer;
}

export interface FrameSpec {
  fin?: boolean;
  rsv?: number;
  opcode: number;
  payload?: Buffer | string;
  mask?: boolean;
  /** Force a 16- or 64-bit length field even when a shorter one would do. */
  lengthBits?: 7 | 16 | 64;
}

/** Encodes one frame the way a client would (masked unless told otherwise). */
export function encodeFrame(spec: FrameSpec): Buffer {
  const payload = typeof spec.payload === 'string' ? Buffer.from(spec.payload) : (spec.payload ?? Buffer.alloc(0));
  const mask = spec.mask ?? true;
  const len = payload.length;
  const bits = spec.lengthBits ?? (len < 126 ? 7 : len < 65536 ? 16 : 64);
  const head: number[] = [((spec.fin ?? true) ? 0x80 : 0) | ((spec.rsv ?? 0) << 4) | spec.opcode];
  if (bits === 7) head.push((mask ? 0x80 : 0) | len);
  else if (bits === 16) head.push((mask ? 0x80 : 0) | 126, len >> 8, len & 0xff);
  else {
    head.push((mask ? 0x80 : 0) | 127);
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(BigInt(len));
    head.push(...b);
  }
  if (!mask) return Buffer.concat([Buffer.from(head), payload]);
  const key = randomBytes(4);
  const body = Buffer.alloc(len);
  for (let i = 0; i < len; i++) body[i] = payload[i]! ^ key[i & 3]!;
  return Buffer.concat([Buffer.from(head), key, body]);
}

export function closePayload(code: number, reason = ''): Buffer {
  const b = Buffer.alloc(2 + Buffer.byteLength(reason));
  b.writeUInt16BE(code, 0);
  b.write(reason, 2);
  return b;
}

/** Decodes complete frames from the front of `buf`; returns them and the unconsumed rest. */
export function decodeFrames(buf: Buffer): { frames: RawFrame[]; rest: Buffer } {
  const frames: RawFrame[] = [];
  let pos = 0;
  for (;;) {
    if (buf.length - pos < 2) break;
    const b0 = buf[pos]!;
    const b1 = buf[pos + 1]!;
    let len = b1 & 0x7f;
    let p = pos + 2;
    if (len === 126) {
      if (buf.length - p < 2) break;
      len = buf.readUInt16BE(p);
      p += 2;
    } else if (len === 127) {
      if (buf.length - p < 8) break;
      len = Number(buf.readBigUInt64BE(p));
      p += 8;
    }
    const masked = (b1 & 0x80) !== 0;
    let key: Buffer | undefined;
    if (masked) {
      if (buf.length - p < 4) break;
      key = buf.subarray(p, p + 4);
      p += 4;
    }
    if (buf.length - p < len) break;
    const payload = Buffer.from(buf.subarray(p, p + len));
    if (key) for (let i = 0; i < len; i++) payload[i]! ^= key[i & 3]!;
    frames.push({ fin: (b0 & 0x80) !== 0, rsv: (b0 >> 4) & 7, opcode: b0 & 0x0f, masked, payload });
    pos = p + len;
  }
  return { frames, rest: buf.subarray(pos) };
}

export interface HandshakeResult {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export const GOOD_KEY = 'dGhlIHNhbXBsZSBub25jZQ==';

export function handshakeRequest(path = '/', extra: Record<string, string> = {}, omit: string[] = []): string {
  const headers: Record<string, string> = {
    Host: '127.0.0.1',
    Upgrade: 'websocket',
    Connection: 'Upgrade',
    'Sec-WebSocket-Key': GOOD_KEY,
    'Sec-WebSocket-Version': '13',
    ...extra,
  };
  let out = `GET ${path} HTTP/1.1\r\n`;
  for (const [k, v] of Object.entries(headers)) if (!omit.includes(k)) out += `${k}: ${v}\r\n`;
  return `${out}\r\n`;
}

/**
 * A raw connection. `frames()` yields decoded frames as they arrive; `ended` settles when the
 * server closes the TCP connection.
 */
export class RawPeer {
  readonly socket: Socket;
  private buf: Buffer = Buffer.alloc(0);
  private waiting: (() => void) | undefined;
  private frameQueue: RawFrame[] = [];
  private inHandshake = true;
  response: HandshakeResult | undefined;
  readonly ended: Promise<void>;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.parse();
      this.waiting?.();
    });
    this.ended = new Promise((resolve) => {
      socket.on('close', () => {
        this.waiting?.();
        resolve();
      });
    });
    socket.on('error', () => {});
  }

  static async connect(port: number): Promise<RawPeer> {
    const socket = connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    socket.setNoDelay(true);
    return new RawPeer(socket);
  }

  /** Connects, sends the request and waits for the response head (and body for non-101). */
  static async open(port: number, request = handshakeRequest()): Promise<RawPeer> {
    const peer = await RawPeer.connect(port);
    peer.socket.write(request);
    await peer.until(() => peer.response !== undefined);
    return peer;
  }

  private parse(): void {
    if (this.inHandshake) {
      const end = this.buf.indexOf('\r\n\r\n');
      if (end === -1) return;
      const head = this.buf.subarray(0, end).toString('latin1').split('\r\n');
      const status = Number(head[0]!.split(' ')[1]);
      const headers: Record<string, string> = {};
      for (const line of head.slice(1)) {
        const i = line.indexOf(':');
        headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
      }
      let rest = this.buf.subarray(end + 4);
      let body = '';
      if (status !== 101) {
        const len = Number(headers['content-length'] ?? NaN);
        if (headers['transfer-encoding']?.toLowerCase() === 'chunked') {
          const endAt = rest.indexOf('0\r\n\r\n');
          if (endAt === -1) return;
          let p = 0;
          const parts: Buffer[] = [];
          for (;;) {
            const eol = rest.indexOf('\r\n', p);
            const size = parseInt(rest.subarray(p, eol).toString(), 16);
            if (!(size > 0)) break;
            parts.push(rest.subarray(eol + 2, eol + 2 + size));
            p = eol + 2 + size + 2;
          }
          body = Buffer.concat(parts).toString();
          rest = rest.subarray(endAt + 5);
        } else if (Number.isFinite(len)) {
          if (rest.length < len) return;
          body = rest.subarray(0, len).toString();
          rest = rest.subarray(len);
        } else {
          body = rest.toString();
        }
      }
      this.inHandshake = false;
      this.response = { status, headers, body };
      this.buf = rest;
    }
    const { frames, rest } = decodeFrames(this.buf);
    this.frameQueue.push(...frames);
    this.buf = rest;
  }

  /** Waits until `cond()` holds or the connection ends. */
  async until(cond: () => boolean): Promise<void> {
    while (!cond()) {
      if (this.socket.destroyed) return;
      await new Promise<void>((resolve) => {
        this.waiting = resolve;
      });
      this.waiting = undefined;
    }
  }

  send(bytes: Buffer | string): void {
    this.socket.write(bytes);
  }

  sendFrame(spec: FrameSpec): void {
    this.socket.write(encodeFrame(spec));
  }

  /** The next frame, or undefined if the connection ended first. */
  async nextFrame(): Promise<RawFrame | undefined> {
    await this.until(() => this.frameQueue.length > 0);
    return this.frameQueue.shift();
  }

  /** Frames until (and including) a close frame or the end of the connection. */
  async readUntilClose(): Promise<RawFrame[]> {
    const out: RawFrame[] = [];
    for (;;) {
      const f = await this.nextFrame();
      if (!f) return out;
      out.push(f);
      if (f.opcode === 8) return out;
    }
  }

  /**
   * Reads until the server's close frame and the end of the TCP connection, answering the close
   * like a well-behaved client. Returns the close code (undefined if none) and whatever data
   * frames came before it.
   */
  async expectClose(): Promise<{ code: number | undefined; reason: string; frames: RawFrame[] }> {
    const frames = await this.readUntilClose();
    const close = frames.at(-1)?.opcode === 8 ? frames.pop()! : undefined;
    if (close && !this.socket.destroyed) {
      this.sendFrame({ opcode: 8, payload: close.payload.subarray(0, 2) });
    }
    await this.ended;
    return {
      code: close && close.payload.length >= 2 ? close.payload.readUInt16BE(0) : undefined,
      reason: close ? close.payload.subarray(2).toString() : '',
      frames,
    };
  }

  destroy(): void {
    this.socket.destroy();
  }
}
