/**
 * The server side of a scripted connection: a TCP server that answers the opening handshake
 * itself and hands each connection over as a {@link ScriptedPeer} in the server role (unmasked
 * frames out, masked frames expected in). The client suite will script wsup's connect() against
 * it; the harness self-test uses it to play a misbehaving implementation.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { expectedAccept } from './client-peer.js';
import { ScriptedPeer } from './peer.js';

export interface ScriptedServer {
  port: number;
  close(): Promise<void>;
}

/** Reads the request head; answers 101 when it carries a key, 400 otherwise. */
function accept(socket: Socket, onPeer: (peer: ScriptedPeer) => void): void {
  let buf = Buffer.alloc(0);
  const onData = (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    const end = buf.indexOf('\r\n\r\n');
    if (end === -1) return;
    socket.removeListener('data', onData);
    socket.pause();
    const key = /^sec-websocket-key:\s*(\S+)\s*$/im.exec(buf.subarray(0, end).toString('latin1'))?.[1];
    if (!key) {
      socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${expectedAccept(key)}\r\n\r\n`);
    const peer = new ScriptedPeer(socket, { masks: false, expectMasked: true }, buf.subarray(end + 4));
    onPeer(peer);
    socket.resume();
  };
  socket.on('data', onData);
  socket.on('error', () => {});
}

export async function startScriptedServer(onPeer: (peer: ScriptedPeer) => void): Promise<ScriptedServer> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    accept(socket, onPeer);
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
