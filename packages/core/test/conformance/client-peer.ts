/**
 * The client side of the server suite: a TCP connection that performs the opening handshake
 * itself (checking `Sec-WebSocket-Accept` with its own SHA-1) and then becomes a masking
 * {@link ScriptedPeer}. Also reads plain HTTP answers, for the handshake-rejection cases.
 */
import { createHash, randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import { agree, peerDeflate, type PeerDeflate } from './deflate-codec.js';
import { ScriptedPeer } from './peer.js';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

export interface HttpHead {
  status: number;
  /** Lower-cased names; repeated headers joined with ", ". */
  headers: Record<string, string>;
}

/** An HTTP response read off a raw socket: its head, its body, and whether the server hung up. */
export interface RawResponse extends HttpHead {
  body: Buffer;
  /** Whether the server ended the TCP connection (FIN or reset) within the wait. */
  closedByServer: boolean;
}

/** What the opening handshake offers beyond the required headers. */
export interface RequestSpec {
  path?: string;
  key?: string;
  extensions?: string;
  protocols?: string;
  headers?: Record<string, string>;
}

export function newKey(): string {
  return randomBytes(16).toString('base64');
}

export function expectedAccept(key: string): string {
  return createHash('sha1')
    .update(key + GUID)
    .digest('base64');
}

export function handshakeText(port: number, spec: RequestSpec & { key: string }): string {
  const lines = [
    `GET ${spec.path ?? '/'} HTTP/1.1`,
    `Host: 127.0.0.1:${port}`,
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Key: ${spec.key}`,
    'Sec-WebSocket-Version: 13',
  ];
  if (spec.extensions !== undefined) lines.push(`Sec-WebSocket-Extensions: ${spec.extensions}`);
  if (spec.protocols !== undefined) lines.push(`Sec-WebSocket-Protocol: ${spec.protocols}`);
  for (const [k, v] of Object.entries(spec.headers ?? {})) lines.push(`${k}: ${v}`);
  return `${lines.join('\r\n')}\r\n\r\n`;
}

function parseHead(text: string): HttpHead | undefined {
  const [statusLine, ...lines] = text.split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})(?: |$)/.exec(statusLine ?? '');
  if (!m) return undefined;
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const i = line.indexOf(':');
    if (i <= 0) continue;
    const name = line.slice(0, i).trim().toLowerCase();
    const value = line.slice(i + 1).trim();
    headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
  }
  return { status: Number(m[1]), headers };
}

function dial(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ port, host: '127.0.0.1', noDelay: true });
    s.once('connect', () => {
      s.removeListener('error', reject);
      resolve(s);
    });
    s.once('error', reject);
  });
}

/** Reads a response head; resolves with it and the bytes after it, or undefined if none came. */
function readHead(socket: Socket, ms: number): Promise<{ head: HttpHead; rest: Buffer } | undefined> {
  return new Promise((resolve) => {
    let buf = Buffer.alloc(0);
    const done = (v: { head: HttpHead; rest: Buffer } | undefined) => {
      clearTimeout(timer);
      socket.removeListener('data', onData);
      socket.removeListener('close', onClose);
      resolve(v);
    };
    const onData = (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      const end = buf.indexOf('\r\n\r\n');
      if (end === -1) return;
      // Stop reading before the frames that may follow: the peer takes over the socket.
      socket.pause();
      const head = parseHead(buf.subarray(0, end).toString('latin1'));
      done(head && { head, rest: buf.subarray(end + 4) });
    };
    const onClose = () => done(undefined);
    const timer = setTimeout(() => done(undefined), ms);
    socket.on('data', onData);
    socket.once('close', onClose);
  });
}

export type Opened = { ok: true; peer: ScriptedPeer; head: HttpHead } | { ok: false; problem: string };

/** Connects and performs the opening handshake; on success the socket belongs to the peer. */
export async function openClientPeer(port: number, spec: RequestSpec = {}, ms = 5000): Promise<Opened> {
  const socket = await dial(port);
  socket.on('error', () => {});
  const key = spec.key ?? newKey();
  socket.write(handshakeText(port, { ...spec, key }));
  const got = await readHead(socket, ms);
  if (!got) {
    socket.destroy();
    return { ok: false, problem: 'no HTTP response to the opening handshake' };
  }
  const { head, rest } = got;
  const problems: string[] = [];
  if (head.status !== 101) problems.push(`status ${head.status} instead of 101`);
  if (head.headers.upgrade?.toLowerCase() !== 'websocket') problems.push(`Upgrade: ${head.headers.upgrade}`);
  if (!/(^|,)\s*upgrade\s*(,|$)/i.test(head.headers.connection ?? '')) problems.push(`Connection: ${head.headers.connection}`);
  if (head.headers['sec-websocket-accept'] !== expectedAccept(key)) {
    problems.push(`Sec-WebSocket-Accept ${head.headers['sec-websocket-accept']} does not match the key`);
  }
  // Nothing may be agreed that was not offered (RFC 6455 §4.1, the client's checks 5 and 6).
  if (spec.extensions === undefined && head.headers['sec-websocket-extensions'] !== undefined) {
    problems.push(`Sec-WebSocket-Extensions: ${head.headers['sec-websocket-extensions']} answered to no offer`);
  }
  if (spec.protocols === undefined && head.headers['sec-websocket-protocol'] !== undefined) {
    problems.push(`Sec-WebSocket-Protocol: ${head.headers['sec-websocket-protocol']} answered to no offer`);
  }
  // permessage-deflate: the answer must fit an offer (RFC 7692 §7.1); we then use what it agreed.
  let deflate: PeerDeflate | undefined;
  if (spec.extensions !== undefined) {
    const agreed = agree(spec.extensions, head.headers['sec-websocket-extensions']);
    if (typeof agreed === 'string') problems.push(agreed);
    else if (agreed) deflate = peerDeflate(agreed, 'client');
  }
  if (problems.length > 0) {
    socket.destroy();
    return { ok: false, problem: `handshake: ${problems.join('; ')}` };
  }
  const peer = new ScriptedPeer(socket, { masks: true, expectMasked: false, ...(deflate ? { deflate } : {}) }, rest);
  socket.resume();
  // A server may start reading its upgraded socket a loop iteration after sending the 101: give
  // it that, so that frame-wise and octet-wise chops reach it as separate reads from the start.
  await sleep(1);
  await nextTurn();
  return { ok: true, peer, head };
}

/**
 * Sends raw request octets and reads the whole answer: head, body (by Content-Length, or until
 * the server hangs up), and whether the server closed the connection within `ms`.
 */
export async function rawExchange(port: number, request: string | Buffer, ms = 3000): Promise<RawResponse | undefined> {
  const socket = await dial(port);
  let buf = Buffer.alloc(0);
  let closed = false;
  socket.on('data', (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
  });
  socket.on('error', () => {});
  const gone = new Promise<void>((resolve) => {
    socket.once('end', () => {
      closed = true;
      socket.end();
      resolve();
    });
    socket.once('close', () => {
      closed = true;
      resolve();
    });
  });
  socket.write(request);
  const timer = new Promise<void>((resolve) => setTimeout(resolve, ms).unref());
  await Promise.race([gone, timer]);
  socket.destroy();
  const end = buf.indexOf('\r\n\r\n');
  if (end === -1) return undefined;
  const head = parseHead(buf.subarray(0, end).toString('latin1'));
  if (!head) return undefined;
  const len = Number(head.headers['content-length']);
  const after = buf.subarray(end + 4);
  return { ...head, body: Number.isFinite(len) ? after.subarray(0, len) : after, closedByServer: closed };
}
