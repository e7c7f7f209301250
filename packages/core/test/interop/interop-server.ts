/**
 * The wsup side of the interop matrix: one server whose routes each do one thing a client must
 * cope with, and a record of what wsup saw on each connection (its close code and reason, the
 * pings and pongs that reached it, the extensions agreed), keyed by the `id` query parameter.
 * `z=1` turns permessage-deflate on for that connection. GET /page serves the browser harness.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { handleUpgrades, upgrade, type WebSocket } from '@wsup/core';

/** What the server side saw of one connection. */
export interface Seen {
  pings: Buffer[];
  pongs: Buffer[];
  extensions?: string;
  close?: { code: number; reason: string; wasClean: boolean };
}

/** A server the matrix runs its scenarios against: wsup's, or ws's (ws-server.ts). */
export interface InteropServer {
  /** `ws://host:port`; routes are `/<name>[/<arg>]?id=…[&z=1]`. */
  url: string;
  seen(id: string): Seen;
  close(): Promise<void>;
}

/** What a route does; `send` takes fragments as (bytes, binary, fin) so both servers can do it. */
export interface RouteSocket {
  onMessage(handler: (data: Buffer, binary: boolean) => void): void;
  onPong(handler: (data: Buffer) => void): void;
  send(data: Buffer | string, binary: boolean): void;
  sendFragment(data: Buffer, binary: boolean, first: boolean, fin: boolean): void;
  ping(data: Buffer): void;
  close(code: number, reason: string): void;
}

/** The routes, written once for both servers. */
export const routes: Record<string, (ws: RouteSocket, arg: string) => void> = {
  /** Echoes every message with its opcode. */
  echo: (ws) => ws.onMessage((data, binary) => ws.send(binary ? data : data.toString(), binary)),
  /** Echoes every message back in three frames. */
  fragments: (ws) =>
    ws.onMessage((bytes, binary) => {
      const a = Math.floor(bytes.length / 3);
      const b = Math.floor((2 * bytes.length) / 3);
      ws.sendFragment(bytes.subarray(0, a), binary, true, false);
      ws.sendFragment(bytes.subarray(a, b), binary, false, false);
      ws.sendFragment(bytes.subarray(b), binary, false, true);
    }),
  /** Pings the client with each message's bytes; reports the pong as a text message. */
  ping: (ws) => {
    ws.onPong((data) => ws.send(`pong:${data.toString('hex')}`, false));
    ws.onMessage((data) => ws.ping(data));
  },
  /** Closes with the code in the path and a reason, on the first message. */
  close: (ws, arg) => {
    let done = false;
    ws.onMessage(() => {
      if (!done) ws.close(Number(arg), `server closes with ${arg}`);
      done = true;
    });
  },
};

export const PAGE = readFileSync(new URL('./browser-page.html', import.meta.url), 'utf8');

function wsupRouteSocket(ws: WebSocket): RouteSocket {
  return {
    onMessage: (handler) => {
      void (async () => {
        for await (const m of ws) handler(m.binary ? m.data : Buffer.from(m.data), m.binary);
      })();
    },
    onPong: (handler) => ws.on('pong', handler),
    send: (data, binary) => ws.send(data, binary),
    sendFragment: (data, binary, first, fin) => ws.sendFrame(fin, first ? (binary ? 2 : 1) : 0, data),
    ping: (data) => ws.ping(data),
    close: (code, reason) => void ws.close(code, reason),
  };
}

export async function startInteropServer(): Promise<InteropServer> {
  const seen = new Map<string, Seen>();
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/page') {
      res.setHeader('content-type', 'text/html; charset=utf-8');
      res.end(PAGE);
      return;
    }
    const [, name = '', arg = ''] = url.pathname.split('/');
    const route = routes[name];
    if (!route) {
      res.statusCode = 404;
      res.end();
      return;
    }
    const ws = upgrade(req, res, url.searchParams.get('z') === '1' ? { compress: true } : {});
    const s: Seen = { pings: [], pongs: [], extensions: ws.extensions };
    seen.set(url.searchParams.get('id') ?? '', s);
    ws.on('ping', (d) => s.pings.push(Buffer.from(d)));
    ws.on('pong', (d) => s.pongs.push(Buffer.from(d)));
    void ws.closed.then((info) => (s.close = { code: info.code, reason: info.reason, wasClean: info.wasClean }));
    route(wsupRouteSocket(ws), arg);
  });
  const router = handleUpgrades(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `ws://127.0.0.1:${port}`,
    seen: (id) => seen.get(id) ?? { pings: [], pongs: [] },
    close: () =>
      new Promise<void>((resolve) => {
        for (const ws of router.clients) ws.terminate();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
