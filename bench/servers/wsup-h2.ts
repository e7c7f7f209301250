/**
 * wsup for the HTTP/2 scenarios (see src/h2-bench.ts): the same echo route as servers/wsup.ts,
 * behind whichever listener the run asks for in BENCH_LISTEN:
 *
 * - `tls`: `http2.createSecureServer({ allowHTTP1: true })`, one TLS port where ALPN picks HTTP/2
 *   or HTTP/1.1, as a site serving browsers runs it. Both TLS runs (h2 and h1) use this very
 *   server, so they differ only in what the client asks for;
 * - `h2c`: `http2.createServer()`, HTTP/2 without TLS by prior knowledge;
 * - `http`: plain `node:http`, the cleartext HTTP/1.1 counterpart of `h2c` (an h2c server cannot
 *   also speak HTTP/1.1 on its port).
 *
 * The certificate comes from the orchestrator (BENCH_TLS_KEY, BENCH_TLS_CERT), made once per bench.
 * Node's HTTP/2 defaults are kept (64 KiB flow-control windows, no stream limit): they are what a
 * wsup user gets from `handleUpgrades(server)`.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createSecureServer, createServer as createH2cServer } from 'node:http2';
import { handleUpgrades, type UpgradeRequest, type UpgradeResponse, type UpgradeServer, upgrade, type WebSocket } from '@wsup/core';
import { listen, serve } from '../src/harness.js';

type Handler = (req: UpgradeRequest, res: UpgradeResponse) => void;

function listener(mode: string, handler: Handler): UpgradeServer {
  if (mode === 'tls') {
    const key = process.env.BENCH_TLS_KEY;
    const cert = process.env.BENCH_TLS_CERT;
    if (!key || !cert) throw new Error('BENCH_LISTEN=tls needs BENCH_TLS_KEY and BENCH_TLS_CERT');
    return createSecureServer({ key, cert, allowHTTP1: true }, handler);
  }
  if (mode === 'h2c') return createH2cServer(handler);
  // node:http hands the handler its own request and response types, which UpgradeRequest includes.
  if (mode === 'http') return createHttpServer(handler as (req: IncomingMessage, res: ServerResponse) => void);
  throw new Error(`unknown BENCH_LISTEN ${mode}`);
}

serve(async ({ deflate }) => {
  const handler: Handler = (req, res) => {
    let ws: WebSocket;
    try {
      ws = upgrade(req, res, { compress: deflate });
    } catch {
      return; // upgrade() already answered with the right status
    }
    ws.on('message', (msg) => ws.send(msg.data, msg.binary));
  };
  const mode = process.env.BENCH_LISTEN ?? 'tls';
  const server = listener(mode, handler);
  handleUpgrades(server);
  // listen() is typed for node:http; every one of these servers is a net.Server underneath.
  const port = await listen(server as unknown as Server);
  return {
    port,
    info: mode === 'tls' ? 'node:http2 createSecureServer, allowHTTP1' : mode === 'h2c' ? 'node:http2 createServer (h2c)' : 'node:http',
  };
});
