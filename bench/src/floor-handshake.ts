/**
 * What the floor servers share: the least a WebSocket handshake can be (the accept key and one
 * write of the 101, then raw-net's frame echo), and upgrade requests handed to a server's request
 * listeners as wsup's router hands them (a ServerResponse on the socket, `'request'` emitted), so
 * that a framework's own routing runs as it does for wsup's adapters.
 */
import { hash } from 'node:crypto';
import { type IncomingMessage, type Server, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import { Echo } from './raw-echo.js';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** The bytes that arrived after each routed request's head, until its route answers. */
const heads = new WeakMap<IncomingMessage, Buffer>();

/** Writes the 101 for `req` on `socket` and hands the socket to raw-net's echo. */
export function acceptWithEcho(req: IncomingMessage, socket: Socket, head?: Buffer): void {
  const accept = hash('sha1', `${req.headers['sec-websocket-key']}${GUID}`, 'base64');
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
  new Echo(socket, req.url ?? '/', head ?? heads.get(req));
  heads.delete(req);
}

/** Whether `req` came through {@link routeUpgrades} (a WebSocket handshake), not as a plain request. */
export function isRoutedUpgrade(req: IncomingMessage): boolean {
  return heads.has(req);
}

/**
 * Routes `server`'s upgrade requests into its request listeners with a ServerResponse on the
 * socket, as `handleUpgrades` does. The route then takes the socket from the response
 * ({@link takeSocket}) and answers with {@link acceptWithEcho}.
 */
export function routeUpgrades(server: Server): void {
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    heads.set(req, head);
    const res = new ServerResponse(req);
    res.assignSocket(socket as Socket);
    res.shouldKeepAlive = false;
    server.emit('request', req, res);
  });
}

/** Takes the socket out of a routed request's response, so that nothing the framework does with it reaches the wire. */
export function takeSocket(req: IncomingMessage, res: ServerResponse): Socket {
  const socket = req.socket;
  res.detachSocket(socket);
  return socket;
}
