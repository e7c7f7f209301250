/**
 * One TLS port that serves HTTP/2 and HTTP/1.1 (ALPN picks), with a page at `/` and a WebSocket
 * echo at `/echo`. A browser that loaded the page over HTTP/2 opens the page's WebSocket as one
 * more stream of that same connection (RFC 8441); an HTTP/1.1-only client gets the classic
 * Upgrade handshake on a connection of its own. The route is written once for both.
 */
import { readFileSync } from 'node:fs';
import { createSecureServer, type Http2SecureServer } from 'node:http2';
import type { AddressInfo, Socket } from 'node:net';
import { handleUpgrades, upgrade, type UpgradeRequest, type UpgradeResponse, type UpgradeRouter, type WebSocket } from '@wsup/core';
import { selfSignedCert } from './cert.js';

export interface StartOptions {
  /** 0 (the default) picks a free port. */
  port?: number;
  host?: string;
  /** Called for every accepted WebSocket, with the request it came from (to log or inspect how it arrived). */
  onWebSocket?: (ws: WebSocket, req: UpgradeRequest) => void;
}

export interface RunningExample {
  server: Http2SecureServer;
  router: UpgradeRouter;
  /** `https://host:port/`, the page. */
  url: string;
  /** The self-signed certificate (PEM), for clients that should trust it rather than skip the check. */
  cert: string;
  close(): Promise<void>;
}

const page = readFileSync(new URL('../public/index.html', import.meta.url), 'utf8');

export async function start(options: StartOptions = {}): Promise<RunningExample> {
  const host = options.host ?? '127.0.0.1';
  const tls = selfSignedCert();

  // With allowHTTP1, HTTP/1.1 requests reach this handler as node:http objects and HTTP/2 ones as
  // node:http2's compatibility objects; both have what this handler uses.
  const handler = (req: UpgradeRequest, res: UpgradeResponse): void => {
    if (req.url === '/echo') {
      // Over HTTP/2 this is the extended CONNECT with `:protocol websocket` (RFC 8441 §4), which
      // wsup hands to the handler as a GET (§5) so the route needs no HTTP/2 case.
      const ws = upgrade(req, res, { compress: true });
      options.onWebSocket?.(ws, req);
      ws.on('message', (msg) => ws.send(msg.data, msg.binary));
      return;
    }
    if (req.url !== '/') {
      res.statusCode = 404;
      res.end();
      return;
    }
    res.setHeader('content-type', 'text/html; charset=utf-8');
    // Filled in on the server, which knows for certain which protocol carried this request.
    res.end(page.replaceAll('{{httpVersion}}', req.httpVersion === '2.0' ? 'HTTP/2' : `HTTP/${req.httpVersion}`));
  };

  // Browsers only speak HTTP/2 over TLS; allowHTTP1 keeps the port open to HTTP/1.1-only clients
  // (and to WebSocket clients that do not do RFC 8441).
  const server = createSecureServer({ ...tls, allowHTTP1: true }, handler);
  // Advertises SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441 §3) on every session; without it a
  // browser falls back to a separate HTTP/1.1 connection for the WebSocket.
  const router = handleUpgrades(server);

  // Browsers keep idle connections open for reuse, and node:http2 servers have no
  // closeIdleConnections(); close() ends them itself once the WebSockets are done.
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const shown = host.includes(':') ? `[${host}]` : host;

  return {
    server,
    router,
    url: `https://${shown}:${port}/`,
    cert: tls.cert,
    async close() {
      const live = [...router.clients];
      // handleUpgrades makes server.close() send 1001 to every WebSocket and GOAWAY to every session.
      const closed = new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
      await Promise.all(live.map((ws) => ws.closed));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}
