/**
 * The implementation under test for the server suite: a plain node:http server whose request
 * handler upgrades with wsup and echoes every message with its opcode, as Autobahn's fuzzing
 * client expects of the server it tests. Nothing else: no test helper sits between the suite and
 * wsup's public API.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { handleUpgrades, upgrade, type UpgradeOptions, type WebSocket } from '@wsup/core';

export interface EchoSubject {
  port: number;
  close(): Promise<void>;
}

/**
 * Starts the echo server. `configs` maps a subject name (a case's `subject`, sent as the request
 * path `/<name>`) to its upgrade options; "/" gets wsup's defaults.
 */
export async function startEchoSubject(configs: Record<string, UpgradeOptions> = {}): Promise<EchoSubject> {
  const server: Server = createServer((req, res) => {
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
  });
  const router = handleUpgrades(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const ws of router.clients) ws.terminate();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
