/**
 * The floor of a WebSocket handshake on node:http: the server's HTTP parser, an `upgrade`
 * listener, the accept key (one-shot SHA-1) and one write of the 101, then raw-net's frame echo.
 * No routing, no validation beyond reading the key, no WebSocket object. Whatever accepts
 * WebSockets from a node:http server (ws, wsup, an adapter) pays at least this per handshake:
 * its accept time in the idle scenario bounds how much faster than ws any of them can be.
 */
import { hash } from 'node:crypto';
import { createServer } from 'node:http';
import type { Socket } from 'node:net';
import { listen, serve } from '../src/harness.js';
import { Echo } from '../src/raw-echo.js';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

serve(() => {
  const server = createServer((_req, res) => res.writeHead(426).end());
  server.on('upgrade', (req, socket: Socket, head: Buffer) => {
    const accept = hash('sha1', `${req.headers['sec-websocket-key']}${GUID}`, 'base64');
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
    );
    new Echo(socket, req.url ?? '/', head);
  });
  return listen(server);
});
