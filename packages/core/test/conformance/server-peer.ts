/**
 * The server side of a scripted connection: a TCP server that answers the opening handshake
 * itself and hands each connection over as a {@link ScriptedPeer} in the server role (unmasked
 * frames out, masked frames expected in). The client suite scripts wsup's connect() against it;
 * the harness self-test uses it to play a misbehaving implementation.
 *
 * What the 101 says beyond the required headers (Sec-WebSocket-Extensions, extra lines) is up to
 * the caller, per request; when the answer agrees permessage-deflate with the client's offer, the
 * peer compresses and inflates under what it agreed. An answer that agrees nothing valid (the
 * client suite sends such answers on purpose) leaves the peer without compression.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { expectedAccept } from './client-peer.js';
import { agree, peerDeflate } from './deflate-codec.js';
import { ScriptedPeer } from './peer.js';

export interface ScriptedServer {
  port: number;
  close(): Promise<void>;
}

/** The opening handshake request as the scripted server read it. */
export interface ScriptedRequest {
  path: string;
  /** Lower-cased names; repeated headers joined with ", ". */
  headers: Record<string, string>;
}

/** What the scripted server answers beyond the required headers. */
export interface Answer {
  /** Sec-WebSocket-Extensions to send (none when undefined). */
  extensions?: string;
  /** Further header lines, without CRLF. */
  lines?: string[];
}

function parseRequest(head: string): ScriptedRequest {
  const [requestLine = '', ...lines] = head.split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const i = line.indexOf(':');
    if (i <= 0) continue;
    const name = line.slice(0, i).trim().toLowerCase();
    const value = line.slice(i + 1).trim();
    headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
  }
  return { path: requestLine.split(' ')[1] ?? '/', headers };
}

/** Reads the request head; answers 101 when it carries a key, 400 otherwise. */
function accept(
  socket: Socket,
  onPeer: (peer: ScriptedPeer, req: ScriptedRequest) => void,
  answer: (req: ScriptedRequest) => Answer,
): void {
  let buf = Buffer.alloc(0);
  const onData = (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    const end = buf.indexOf('\r\n\r\n');
    if (end === -1) return;
    socket.removeListener('data', onData);
    socket.pause();
    const req = parseRequest(buf.subarray(0, end).toString('latin1'));
    const key = req.headers['sec-websocket-key'];
    if (!key) {
      socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    const a = answer(req);
    const lines = [
      'HTTP/1.1 101 Switching Protocols',
      'Upgrade: websocket',
      'Connection: Upgrade',
      `Sec-WebSocket-Accept: ${expectedAccept(key)}`,
    ];
    if (a.extensions !== undefined) lines.push(`Sec-WebSocket-Extensions: ${a.extensions}`);
    lines.push(...(a.lines ?? []));
    socket.write(`${lines.join('\r\n')}\r\n\r\n`);
    const agreed = agree(req.headers['sec-websocket-extensions'], a.extensions);
    const deflate = agreed !== null && typeof agreed === 'object' ? peerDeflate(agreed, 'server') : undefined;
    const peer = new ScriptedPeer(socket, { masks: false, expectMasked: true, ...(deflate ? { deflate } : {}) }, buf.subarray(end + 4));
    onPeer(peer, req);
    socket.resume();
  };
  socket.on('data', onData);
  socket.on('error', () => {});
}

export async function startScriptedServer(
  onPeer: (peer: ScriptedPeer, req: ScriptedRequest) => void,
  answer: (req: ScriptedRequest) => Answer = () => ({}),
): Promise<ScriptedServer> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    accept(socket, onPeer, answer);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
