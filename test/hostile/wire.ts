/**
 * The attacker's tools: raw TCP connections that send whatever bytes a probe wants, read the
 * server's answer with a streaming frame scanner (counting frames and keeping only the close
 * code, so reading a flood of pongs costs nothing), and frames built once and written many times.
 * Frames use the all-zero masking key (legal: RFC 6455 leaves the key to the client), so a
 * prebuilt frame is its own masked form and a flood costs the attacker no CPU.
 */
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { constants, deflateRawSync } from 'node:zlib';
import { handshakeRequest } from '../../packages/core/test/helpers/raw.js';

export { handshakeRequest };

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;

export const Op = { continuation: 0, text: 1, binary: 2, close: 8, ping: 9, pong: 10 } as const;

export const DEFLATE_OFFER = { 'Sec-WebSocket-Extensions': 'permessage-deflate; client_max_window_bits' };

/** One client frame, masked with the zero key. */
export function frame(opcode: number, payload: Buffer | string = Buffer.alloc(0), opts: { fin?: boolean; rsv1?: boolean } = {}): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const len = body.length;
  const extra = len < 126 ? 0 : len < 65536 ? 2 : 8;
  const head = Buffer.alloc(2 + extra + 4);
  head[0] = ((opts.fin ?? true) ? 0x80 : 0) | (opts.rsv1 ? 0x40 : 0) | opcode;
  if (extra === 0) head[1] = 0x80 | len;
  else if (extra === 2) {
    head[1] = 0x80 | 126;
    head.writeUInt16BE(len, 2);
  } else {
    head[1] = 0x80 | 127;
    head.writeBigUInt64BE(BigInt(len), 2);
  }
  return Buffer.concat([head, body]);
}

export function closeFrame(code: number): Buffer {
  const payload = Buffer.alloc(2);
  payload.writeUInt16BE(code);
  return frame(Op.close, payload);
}

/** `count` copies of `one` in one buffer. */
export function repeat(one: Buffer, count: number): Buffer {
  return Buffer.concat(Array.from({ length: count }, () => one));
}

/**
 * A permessage-deflate payload that inflates to `size` zero bytes (rounded up to MiB), about
 * 1/1000 of that on the wire: one MiB of zeros deflated and ended with a full flush (so the next
 * block needs no history), repeated, without the final 00 00 ff ff (RFC 7692 §7.2.1).
 */
export function deflateBomb(size: number): Buffer {
  const block = deflateRawSync(Buffer.alloc(MiB), { level: 9, finishFlush: constants.Z_FULL_FLUSH });
  const all = repeat(block, Math.ceil(size / MiB));
  return all.subarray(0, all.length - 4);
}

/** Reads a server's frames as they stream by: counts them and keeps the first close code. */
export class FrameScanner {
  frames = 0;
  bytes = 0;
  closeCode: number | undefined;
  closeSeen = false;
  private readonly head = Buffer.alloc(14);
  private headLen = 0;
  private left = 0;
  private opcode = 0;
  private closePayload: number[] = [];

  push(chunk: Buffer): void {
    this.bytes += chunk.length;
    let i = 0;
    while (i < chunk.length) {
      if (this.left > 0) {
        const n = Math.min(this.left, chunk.length - i);
        if (this.opcode === Op.close) for (let k = 0; k < n; k++) this.closePayload.push(chunk[i + k]!);
        this.left -= n;
        i += n;
        if (this.left === 0) this.done();
        continue;
      }
      this.head[this.headLen++] = chunk[i++]!;
      if (this.headLen < 2) continue;
      const len7 = this.head[1]! & 0x7f;
      const need = 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + (this.head[1]! & 0x80 ? 4 : 0);
      if (this.headLen < need) continue;
      this.opcode = this.head[0]! & 0x0f;
      this.left = len7 === 126 ? this.head.readUInt16BE(2) : len7 === 127 ? Number(this.head.readBigUInt64BE(2)) : len7;
      this.headLen = 0;
      this.closePayload = [];
      if (this.left === 0) this.done();
    }
  }

  private done(): void {
    this.frames++;
    if (this.opcode === Op.close && !this.closeSeen) {
      this.closeSeen = true;
      if (this.closePayload.length >= 2) this.closeCode = (this.closePayload[0]! << 8) | this.closePayload[1]!;
    }
  }
}

export interface OpenOptions {
  /** Request path; `/echo` by default. */
  path?: string;
  /** Extra request headers. */
  headers?: Record<string, string>;
  /** Give up waiting for the response head after this many ms (the socket is destroyed). */
  timeoutMs?: number;
}

/**
 * A raw client connection. `status` is the response's status once its head arrived (101 for an
 * upgrade), `undefined` if the server closed or timed out first; after a 101 the frames go
 * through `scan`.
 */
export class RawClient {
  readonly scan = new FrameScanner();
  status: number | undefined;
  /** Why the socket ended: 'end' (the server closed), 'reset', another error code, or 'timeout'. */
  endedBy: string | undefined;
  readonly closed: Promise<void>;
  private head: Buffer | undefined = Buffer.alloc(0);
  private headWaiter: (() => void) | undefined;

  private constructor(readonly socket: Socket) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err: Error & { code?: string }) => {
      this.endedBy ??= err.code === 'ECONNRESET' ? 'reset' : (err.code ?? err.message);
    });
    this.closed = new Promise((resolve) => {
      socket.once('close', () => {
        this.endedBy ??= 'end';
        this.headWaiter?.();
        resolve();
      });
    });
  }

  /** Connects; resolves once connected (or failed: then `endedBy` says why). */
  static async connect(port: number, track: (s: Socket) => void): Promise<RawClient> {
    const socket = connect(port, '127.0.0.1');
    track(socket);
    const client = new RawClient(socket);
    await Promise.race([once(socket, 'connect').catch(() => undefined), client.closed]);
    return client;
  }

  /** Connects and sends an upgrade request (or `raw` bytes), then waits for the response head. */
  static async open(port: number, track: (s: Socket) => void, opts: OpenOptions & { raw?: string | Buffer } = {}): Promise<RawClient> {
    const client = await RawClient.connect(port, track);
    if (client.socket.destroyed) return client;
    client.socket.write(opts.raw ?? handshakeRequest(opts.path ?? '/echo', opts.headers ?? {}));
    await client.response(opts.timeoutMs ?? 5000);
    return client;
  }

  /** Waits for the response head (or the end of the connection, or `timeoutMs`: then destroyed). */
  async response(timeoutMs: number): Promise<number | undefined> {
    if (this.head !== undefined && !this.socket.destroyed) {
      const arrived = new Promise<void>((resolve) => {
        this.headWaiter = resolve;
      });
      const timer = setTimeout(() => {
        this.endedBy ??= 'timeout';
        this.socket.destroy();
      }, timeoutMs);
      await arrived;
      clearTimeout(timer);
    }
    return this.status;
  }

  private onData(chunk: Buffer): void {
    if (this.head === undefined) {
      this.scan.push(chunk);
      return;
    }
    this.head = Buffer.concat([this.head, chunk]);
    const eol = this.head.indexOf('\r\n');
    if (eol !== -1 && this.status === undefined) this.status = Number(this.head.subarray(0, eol).toString('latin1').split(' ')[1]);
    const end = this.head.indexOf('\r\n\r\n');
    if (end === -1 && this.status === undefined) return;
    if (this.status === 101 && end !== -1) {
      const rest = this.head.subarray(end + 4);
      this.head = undefined;
      if (rest.length > 0) this.scan.push(rest);
    } else if (this.status !== 101) {
      // Any other answer: the status is all a probe needs, the body is dropped.
      this.head = Buffer.alloc(0);
    } else return;
    this.headWaiter?.();
    this.headWaiter = undefined;
  }

  /**
   * Writes `buf`; if the kernel does not take it, waits for `drain` up to `stallMs`.
   * 'ok' written, 'stalled' no drain within `stallMs` (TCP backpressure), 'closed' the socket ended.
   */
  async write(buf: Buffer, stallMs: number): Promise<'ok' | 'stalled' | 'closed'> {
    if (this.socket.destroyed || this.socket.writableEnded) return 'closed';
    if (this.socket.write(buf)) return 'ok';
    const drained = await Promise.race([
      once(this.socket, 'drain').then(
        () => 'ok' as const,
        () => 'closed' as const,
      ),
      this.closed.then(() => 'closed' as const),
      sleep(stallMs).then(() => 'stalled' as const),
    ]);
    return this.socket.destroyed ? 'closed' : drained;
  }

  /** Resumes reading (after `pause()`) and waits up to `ms` for the server's close frame or the end. */
  async drainUntilClose(ms: number): Promise<void> {
    this.socket.resume();
    const deadline = Date.now() + ms;
    while (!this.scan.closeSeen && !this.socket.destroyed && Date.now() < deadline) {
      await Promise.race([this.closed, sleep(20)]);
    }
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** Runs `task(i)` for i in [0, count) with at most `concurrency` at a time, stopping new ones after `deadline`. */
export async function pool(count: number, concurrency: number, deadline: number, task: (i: number) => Promise<void>): Promise<number> {
  let next = 0;
  let started = 0;
  const worker = async (): Promise<void> => {
    while (next < count && Date.now() < deadline) {
      const i = next++;
      started++;
      await task(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return started;
}

/** A tally of strings, printed as `a ×3, b ×1` (most frequent first). */
export class Counter {
  private readonly counts = new Map<string, number>();

  add(key: string | number | undefined, n = 1): void {
    const k = String(key ?? 'none');
    this.counts.set(k, (this.counts.get(k) ?? 0) + n);
  }

  get(key: string | number): number {
    return this.counts.get(String(key)) ?? 0;
  }

  get total(): number {
    let sum = 0;
    for (const n of this.counts.values()) sum += n;
    return sum;
  }

  keys(): string[] {
    return [...this.counts.keys()];
  }

  toString(): string {
    return [...this.counts.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([k, n]) => `${k} ×${n.toLocaleString('en-US')}`)
      .join(', ');
  }

  toJSON(): Record<string, number> {
    return Object.fromEntries(this.counts);
  }
}

/** `12.3 MiB`, `850 KiB`. */
export function mib(bytes: number): string {
  if (Math.abs(bytes) < MiB) return `${Math.round(bytes / KiB)} KiB`;
  if (Math.abs(bytes) >= GiB) return `${(bytes / GiB).toFixed(1)} GiB`;
  return `${(bytes / MiB).toFixed(Math.abs(bytes) < 10 * MiB ? 1 : 0)} MiB`;
}

/** `1,234`. */
export function n(value: number): string {
  return value.toLocaleString('en-US');
}
