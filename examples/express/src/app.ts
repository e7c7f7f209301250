/**
 * The example app: a WebSocket echo at /echo behind a token check, and a plain page at /.
 * The token check is ordinary Express middleware; upgrade requests go through it like any other.
 */
import { once } from 'node:events';
import type { Server } from 'node:http';
import express, { type Express } from 'express';
import { attach } from '@wsup/express';

export function createApp(): Express {
  const app = express();
  app.get('/', (_req, res) => {
    res.type('text/plain').send('wsup + Express: connect a WebSocket to /echo?token=secret\n');
  });
  app.use('/echo', (req, res, next) => {
    if (req.query.token === 'secret') return next();
    res.status(401).type('text/plain').send('a valid ?token= is required\n');
  });
  app.get('/echo', (_req, res) => {
    const ws = res.upgrade();
    ws.on('message', (msg) => ws.send(msg.data, msg.binary));
  });
  return app;
}

/** Listens on `port` (0: any free port) with WebSocket upgrades attached. */
export async function start(port = 0, host = '127.0.0.1'): Promise<Server> {
  const server = createApp().listen(port, host);
  attach(server);
  await once(server, 'listening');
  return server;
}
