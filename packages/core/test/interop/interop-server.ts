/**
 * The wsup side of the interop matrix: one server whose routes each do one thing a client must
 * cope with, and a record of what wsup saw on each connection (its close code and reason, the
 * pings and pongs that reached it), keyed by the `id` query parameter.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { handleUpgrades, upgrade, type CloseInfo, type WebSocket } from '@wsup/core';

export interface Seen {
  pings: Buffer[];
  pongs: Buffer[];
  close?: CloseInfo;
}

export interface InteropServer {
  url: string;
  seen(id: string): Seen;
  close(): Promise<void>;
}

type Route = (ws: WebSocket, seen: Seen, arg: string) => void;

const routes: Record<string, Route> = {
  /** Echoes every message with its opcode. */
  echo: (ws) => {
    void (async () => {
      for await (const m of ws) ws.send(m.data, m.binary);
    })();
  },
  /** Echoes every message back in three frames. */
  fragments: (ws) => {
    void (async () => {
      for await (const m of ws) {
        const bytes = m.binary ? m.data : Buffer.from(m.data);
        const a = Math.floor(bytes.length / 3);
        const b = Math.floor((2 * bytes.length) / 3);
        ws.sendFrame(false, m.binary ? 2 : 1, bytes.subarray(0, a));
        ws.sendFrame(false, 0, bytes.subarray(a, b));
        ws.sendFrame(true, 0, bytes.subarray(b));
      }
    })();
  },
  /** Pings the client with each message's bytes; reports the pong as a text message. */
  ping: (ws) => {
    ws.on('pong', (data) => ws.send(`pong:${data.toString('hex')}`));
    void (async () => {
      for await (const m of ws) ws.ping(m.binary ? m.data : Buffer.from(m.data));
    })();
  },
  /** Closes with the code in the path and a reason, on the first message. */
  close: (ws, _seen, arg) => {
    void ws.receive().then(() => ws.close(Number(arg), `server closes with ${arg}`));
  },
};

export async function startInteropServer(): Promise<InteropServer> {
  const seen = new Map<string, Seen>();
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const [, name = '', arg = ''] = url.pathname.split('/');
    const route = routes[name];
    if (!route) {
      res.statusCode = 404;
      res.end();
      return;
    }
    const ws = upgrade(req, res);
    const s: Seen = { pings: [], pongs: [] };
    seen.set(url.searchParams.get('id') ?? '', s);
    ws.on('ping', (d) => s.pings.push(Buffer.from(d)));
    ws.on('pong', (d) => s.pongs.push(Buffer.from(d)));
    void ws.closed.then((info) => (s.close = info));
    route(ws, s, arg);
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
