/**
 * A raw TCP "WebSocket server" for client tests: reads the opening handshake request and lets the
 * test answer with whatever bytes it wants (wrong keys, bad statuses, masked frames, garbage).
 * It computes accept keys and decodes frames on its own, independently of wsup.
 */
import { createHash } from 'node:crypto';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { decodeFrames, type RawFrame } from './raw.js';

export interface RawRequest {
  /** Request line and header lines, as received. */
  head: string;
  requestLine: string;
  /** Header values by lower-case name (repeated headers joined with ", "). */
  headers: Record<string, string>;
  /** The accept key that matches the request's Sec-WebSocket-Key. */
  accept: string;
}

/** One connection to the raw server, after its request has been read. */
export class RawConnection {
  private buf: Buffer = Buffer.alloc(0);
  private frameQueue: RawFrame[] = [];
  private waiting: (() => void) | undefined;
  readonly ended: Promise<void>;

  constructor(
    readonly socket: Socket,
    readonly request: RawRequest,
    rest: Buffer,
  ) {
    this.ended = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('data', (d: Buffer) => this.take(d));
    socket.on('close', () => this.waiting?.());
    this.take(rest);
  }

  private take(d: Buffer): void {
    this.buf = Buffer.concat([this.buf, d]);
    const { frames, rest } = decodeFrames(this.buf);
    this.frameQueue.push(...frames);
    this.buf = rest;
    this.waiting?.();
  }

  /** A valid 101 answer for this request, with `extra` header lines (each ending in CRLF). */
  accept101(extra = ''): string {
    return `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${this.request.accept}\r\n${extra}\r\n`;
  }

  write(bytes: Buffer | string): void {
    this.socket.write(bytes);
  }

  /** The next frame the client sent, or undefined if the connection ended first. */
  async nextFrame(): Promise<RawFrame | undefined> {
    while (this.frameQueue.length === 0) {
      if (this.socket.destroyed || this.socket.readableEnded) return undefined;
      await new Promise<void>((resolve) => {
        this.waiting = resolve;
      });
      this.waiting = undefined;
    }
    return this.frameQueue.shift();
  }
}

export interface RawServer {
  server: Server;
  port: number;
  url: string;
  /** Connections whose request has been read, in order. */
  connections: RawConnection[];
  /** Resolves with the next connection whose request has been read. */
  nextConnection(): Promise<RawConnection>;
  close(): Promise<void>;
}

function parseRequest(head: string): RawRequest {
  const lines = head.split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const i = line.indexOf(':');
    if (i <= 0) continue;
    const k = line.slice(0, i).trim().toLowerCase();
    const v = line.slice(i + 1).trim();
    headers[k] = headers[k] === undefined ? v : `${headers[k]}, ${v}`;
  }
  const key = headers['sec-websocket-key'] ?? '';
  const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
  return { head, requestLine: lines[0]!, headers, accept };
}

/**
 * Starts a raw server on 127.0.0.1 and an ephemeral port. `onRequest` runs once per connection
 * after the request head has arrived (omit it to answer from the test via `nextConnection()`).
 * With `silent`, requests are never read: connections are accepted and left alone.
 */
export async function startRawServer(onRequest?: (conn: RawConnection) => void, opts: { silent?: boolean } = {}): Promise<RawServer> {
  const connections: RawConnection[] = [];
  const waiters: ((c: RawConnection) => void)[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.setNoDelay(true);
    socket.on('error', () => {});
    socket.once('close', () => sockets.delete(socket));
    if (opts.silent) return;
    let buf = Buffer.alloc(0);
    const onData = (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      const end = buf.indexOf('\r\n\r\n');
      if (end === -1) return;
      socket.removeListener('data', onData);
      const conn = new RawConnection(socket, parseRequest(buf.subarray(0, end).toString('latin1')), buf.subarray(end + 4));
      connections.push(conn);
      onRequest?.(conn);
      waiters.shift()?.(conn);
    };
    socket.on('data', onData);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  let seen = 0;
  return {
    server,
    port,
    url: `ws://127.0.0.1:${port}`,
    connections,
    nextConnection: () =>
      new Promise<RawConnection>((resolve) => {
        if (connections.length > seen) resolve(connections[seen++]!);
        else
          waiters.push((c) => {
            seen++;
            resolve(c);
          });
      }),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Encodes one server frame (unmasked unless `mask`). */
export function serverFrame(
  opcode: number,
  payload: Buffer | string = Buffer.alloc(0),
  opts: { fin?: boolean; mask?: boolean } = {},
): Buffer {
  const data = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const len = data.length;
  const head: number[] = [((opts.fin ?? true) ? 0x80 : 0) | opcode];
  const maskBit = opts.mask ? 0x80 : 0;
  if (len < 126) head.push(maskBit | len);
  else if (len < 65536) head.push(maskBit | 126, len >> 8, len & 0xff);
  else {
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(BigInt(len));
    head.push(maskBit | 127, ...b);
  }
  if (!opts.mask) return Buffer.concat([Buffer.from(head), data]);
  const key = Buffer.from([1, 2, 3, 4]);
  const body = Buffer.alloc(len);
  for (let i = 0; i < len; i++) body[i] = data[i]! ^ key[i & 3]!;
  return Buffer.concat([Buffer.from(head), key, body]);
}
