import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { handleUpgrades, type HandleUpgradesOptions, type UpgradeRouter } from '@wsup/core';

export type Handler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

export interface TestServer {
  server: Server | HttpsServer;
  router: UpgradeRouter;
  port: number;
  url: string;
  close(): Promise<void>;
}

/** A node:http server on 127.0.0.1 and an ephemeral port, with upgrades routed to `handler`. */
export async function startServer(
  handler: Handler,
  opts: { tls?: { key: string; cert: string }; routing?: HandleUpgradesOptions } = {},
): Promise<TestServer> {
  const listener = (req: IncomingMessage, res: ServerResponse) => {
    Promise.resolve(handler(req, res)).catch((err) => {
      if (!res.headersSent && res.socket) {
        res.statusCode = 500;
        res.end(String(err));
      }
    });
  };
  const server = opts.tls ? createHttpsServer(opts.tls, listener) : createServer(listener);
  const router = handleUpgrades(server, opts.routing);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    router,
    port,
    url: `${opts.tls ? 'wss' : 'ws'}://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const ws of router.clients) ws.terminate();
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}

/** A self-signed certificate for 127.0.0.1/localhost (shared with the adapter suite). */
export { selfSignedCert } from '../../../../test-support/tls.js';
