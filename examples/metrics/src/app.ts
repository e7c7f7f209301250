/**
 * The metrics example: a WebSocket echo at /echo (with permessage-deflate) and its figures for
 * Prometheus at GET /metrics, read from the router's counters at each scrape (see metrics.ts),
 * next to prom-client's default Node.js metrics (CPU, memory, event loop lag, GC, handles).
 */
import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type Express } from 'express';
import { attach, type UpgradeRouter } from '@wsup/express';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { observeConnectionDurations, registerWsupMetrics } from './metrics.js';

export function createApp(registry: Registry): Express {
  const app = express();
  app.disable('x-powered-by');
  app.get('/', (_req, res) => {
    res.type('text/plain').send('wsup + Prometheus: connect a WebSocket to /echo, scrape /metrics\n');
  });
  app.get('/echo', (_req, res) => {
    // Messages of 1 KiB and more go out compressed (the `threshold` of `compress`).
    const ws = res.upgrade({ compress: true });
    ws.on('message', (msg) => ws.send(msg.data, msg.binary));
  });
  app.get('/metrics', async (_req, res, next) => {
    try {
      const body = await registry.metrics();
      res.type(registry.contentType).send(body);
    } catch (err) {
      next(err);
    }
  });
  return app;
}

export interface MetricsServer {
  readonly server: Server;
  readonly router: UpgradeRouter;
  readonly registry: Registry;
  /** `http://host:port`, no trailing slash. */
  readonly url: string;
  /** Closes every WebSocket with 1001 and stops listening. */
  close(): Promise<void>;
}

/** Listens on `port` (0: any free port) with WebSocket upgrades attached and /metrics served. */
export async function start(port = 0, host = '127.0.0.1'): Promise<MetricsServer> {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const server = createApp(registry).listen(port, host);
  const router = attach(server);
  registerWsupMetrics(registry, () => router.stats());
  const stopObserving = observeConnectionDurations(registry);
  await once(server, 'listening');
  const { port: bound } = server.address() as AddressInfo;
  return {
    server,
    router,
    registry,
    url: `http://${host.includes(':') ? `[${host}]` : host}:${bound}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        stopObserving();
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeIdleConnections();
      }),
  };
}
