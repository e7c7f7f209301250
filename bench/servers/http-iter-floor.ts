/**
 * The floor of a handler that stays suspended for its connection's life, as a `for await` loop
 * does: node:http's request handler gets the upgrade request with a ServerResponse (as
 * handleUpgrades routes it), writes the 101 and waits on one promise until the socket closes,
 * holding `req`, `res` and its frame meanwhile; raw-net's echo moves the frames. No WebSocket
 * object, no routing. Whatever hands a route's handler `req` and `res` and lets it await the
 * connection pays at least this per idle connection: its RSS in the idle scenario bounds how
 * little a `for await` handler can cost on node:http.
 */
import { hash } from 'node:crypto';
import { createServer, type IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { listen, serve } from '../src/harness.js';
import { Echo } from '../src/raw-echo.js';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** Bytes that followed each request head, for the handler. */
const heads = new WeakMap<IncomingMessage, Buffer>();

serve(() => {
  const server = createServer(async (req, res) => {
    const socket = req.socket;
    if (!heads.has(req)) return void res.writeHead(426).end();
    const accept = hash('sha1', `${req.headers['sec-websocket-key']}${GUID}`, 'base64');
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
    );
    new Echo(socket, req.url ?? '/', heads.get(req));
    heads.delete(req);
    await new Promise((resolve) => socket.once('close', resolve));
  });
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    heads.set(req, head);
    const res = new ServerResponse(req);
    res.assignSocket(socket);
    res.detachSocket(socket);
    server.emit('request', req, res);
  });
  return listen(server);
});
