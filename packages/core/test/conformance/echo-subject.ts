/**
 * The implementation under test for the server suite: a plain node:http server (or, for the
 * suite over HTTP/2, a node:http2 one) whose request handler upgrades with wsup and echoes every
 * message with its opcode, as Autobahn's fuzzing client expects of the server it tests. Nothing
 * else: no test helper sits between the suite and wsup's public API.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttp2Server, type Http2Session } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { handleUpgrades, upgrade, type UpgradeOptions, type WebSocket } from '@wsup/core';
import type { Transport } from './transport.js';

export interface EchoSubject {
  port: number;
  close(): Promise<void>;
}

/**
 * Starts the echo server. `configs` maps a subject name (a case's `subject`, sent as the request
 * path `/<name>`) to its upgrade options; "/" gets wsup's defaults.
 */
export async function startEchoSubject(
  configs: Record<string, UpgradeOptions> = {},
  transport: Transport = 'http/1.1',
): Promise<EchoSubject> {
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const name = (req.url ?? '/').slice(1);
    let ws: WebSocket;
    try {
      ws = upgrade(req, res, configs[name]);
    } catch {
      return; // upgrade() has already answered the rejection.
    }
    void (async () => {
      // Wait while the peer is behind (see the README's backpressure section), so that a flood is pushed back
      // by TCP instead of meeting maxBuffered. A close while waiting ends the loop.
      for await (const msg of ws) if (!ws.send(msg.data, msg.binary)) await ws.drained().catch(() => undefined);
    })();
  };
  const sessions = new Set<Http2Session>();
  const server = transport === 'h2' ? createHttp2Server(handler as never) : createServer(handler);
  server.on('session', (s: Http2Session) => {
    sessions.add(s);
    s.once('close', () => sessions.delete(s));
  });
  const router = handleUpgrades(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const ws of router.clients) ws.terminate();
        for (const s of sessions) s.destroy();
        if ('closeAllConnections' in server) server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
