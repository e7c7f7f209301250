/**
 * The floor of a WebSocket handshake on node:http: the server's HTTP parser, an `upgrade`
 * listener, the accept key (one-shot SHA-1) and one write of the 101, then raw-net's frame echo.
 * No routing, no validation beyond reading the key, no WebSocket object. Whatever accepts
 * WebSockets from a node:http server (ws, wsup, an adapter) pays at least this per handshake:
 * its accept time in the idle scenario bounds how much faster than ws any of them can be.
 */
import { createServer } from 'node:http';
import type { Socket } from 'node:net';
import { acceptWithEcho } from '../src/floor-handshake.js';
import { listen, serve } from '../src/harness.js';

serve(() => {
  const server = createServer((_req, res) => res.writeHead(426).end());
  server.on('upgrade', (req, socket: Socket, head: Buffer) => acceptWithEcho(req, socket, head));
  return listen(server);
});
