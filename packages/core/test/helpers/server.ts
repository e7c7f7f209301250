import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { handleUpgrades, type UpgradeRouter } from '@wsup/core';

export type Handler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

export interface TestServer {
  server: Server | HttpsServer;
  router: UpgradeRouter;
  port: number;
  url: string;
  close(): Promise<void>;
}

/** A node:http server on 127.0.0.1 and an ephemeral port, with upgrades routed to `handler`. */
export async function startServer(handler: Handler, opts: { tls?: { key: string; cert: string } } = {}): Promise<TestServer> {
  const listener = (req: IncomingMessage, res: ServerResponse) => {
    Promise.resolve(handler(req, res)).catch((err) => {
      if (!res.headersSent && res.socket) {
        res.statusCode = 500;
        res.end(String(err));
      }
    });
  };
  const server = opts.tls ? createHttpsServer(opts.tls, listener) : createServer(listener);
  const router = handleUpgrades(server);
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

/** A self-signed certificate for 127.0.0.1/localhost, made with openssl in a temp dir. */
export function selfSignedCert(): { key: string; cert: string } {
  const dir = mkdtempSync(join(tmpdir(), 'wsup-cert-'));
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '2',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=DNS:localhost,IP:127.0.0.1',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    return { key: readFileSync(join(dir, 'key.pem'), 'utf8'), cert: readFileSync(join(dir, 'cert.pem'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
