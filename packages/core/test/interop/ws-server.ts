/**
 * The ws side of the interop matrix: a `ws` WebSocketServer with the same routes and the same
 * record of what the server saw as wsup's interop server, for wsup's client to talk to. Its
 * permessage-deflate configuration is fixed per server (one server per row of the matrix).
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type PerMessageDeflateOptions } from 'ws';
import { routes, type InteropServer, type RouteSocket, type Seen } from './interop-server.js';

export async function startWsServer(perMessageDeflate: PerMessageDeflateOptions | false): Promise<InteropServer> {
  const seen = new Map<string, Seen>();
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate, maxPayload: 64 << 20 });
  await once(wss, 'listening');
  wss.on('connection', (ws, req) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const [, name = '', arg = ''] = url.pathname.split('/');
    const s: Seen = { pings: [], pongs: [], extensions: ws.extensions };
    seen.set(url.searchParams.get('id') ?? '', s);
    ws.on('ping', (d: Buffer) => s.pings.push(Buffer.from(d)));
    ws.on('pong', (d: Buffer) => s.pongs.push(Buffer.from(d)));
    // ws reports 1006 when the close handshake did not complete.
    ws.on('close', (code: number, reason: Buffer) => (s.close = { code, reason: reason.toString(), wasClean: code !== 1006 }));
    const socket: RouteSocket = {
      onMessage: (handler) => ws.on('message', (data: Buffer, isBinary: boolean) => handler(data, isBinary)),
      onPong: (handler) => ws.on('pong', handler),
      send: (data, binary) => ws.send(data, { binary }),
      sendFragment: (data, binary, _first, fin) => ws.send(data, { binary, fin }),
      ping: (data) => ws.ping(data),
      close: (code, reason) => ws.close(code, reason),
    };
    const route = routes[name];
    if (route) route(socket, arg);
    else ws.close(1008, 'no such route');
  });
  return {
    url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`,
    seen: (id) => seen.get(id) ?? { pings: [], pongs: [] },
    close: () =>
      new Promise<void>((resolve) => {
        for (const ws of wss.clients) ws.terminate();
        wss.close(() => resolve());
      }),
  };
}
