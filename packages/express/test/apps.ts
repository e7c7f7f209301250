import { once } from 'node:events';
import { createServer, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { ErrorRequestHandler, Express, NextFunction, Request, Response } from 'express';
import type express from 'express';
import { attach, injectWS, type WebSocket } from '@wsup/express';
import type { SuiteApp, SuiteOptions } from '../../../test-support/adapter-suite.js';

export type ExpressModule = typeof express;

/** Serves `app` on 127.0.0.1 and an ephemeral port, upgrades attached. */
export async function listen(app: Express, tls?: { key: string; cert: string }): Promise<SuiteApp & { server: HttpServer | HttpsServer }> {
  const server = tls ? createHttpsServer(tls, app) : createServer(app);
  attach(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    server,
    inject: (path, options) => injectWS(app, path, options),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function requireToken(req: Request, res: Response, next: NextFunction): void {
  if (req.query.token === 'secret') {
    next();
    return;
  }
  res.status(401).type('text/plain').send('unauthorized');
}

/** The suite's name for an app with an error middleware written the usual way. */
export const ERROR_MIDDLEWARE = 'an error middleware';

/**
 * The suite's app. Express 4 does not catch rejected promises, so its async failures go through
 * `next(err)`, the Express 4 idiom; Express 5 gets real async handlers that throw.
 */
export async function makeSuiteApp(expressModule: ExpressModule, major: 4 | 5, options: SuiteOptions): Promise<SuiteApp> {
  const app = expressModule();
  app.get('/', (_req, res) => {
    res.type('text/plain').send('home');
  });
  app.use('/private', requireToken);
  const echo = (_req: Request, res: Response) => {
    let ws: WebSocket;
    try {
      ws = res.upgrade(options.echoOptions);
    } catch (err) {
      options.onUpgradeError(err);
      throw err;
    }
    ws.on('message', (msg) => ws.send(msg.data, msg.binary));
  };
  app.get('/echo', echo);
  app.get('/private/echo', echo);
  app.get('/rooms/:room', (req, res) => {
    res.upgrade().send(`room:${req.params.room}`);
  });
  app.get('/either', (req, res) => {
    if (req.isUpgrade) res.upgrade().send('websocket');
    else res.type('text/plain').send('plain');
  });
  if (major === 5) {
    app.get('/fail-before-upgrade', async () => {
      await Promise.resolve();
      throw new Error('route failed before upgrading');
    });
    app.get('/fail-after-upgrade', async (_req, res) => {
      res.upgrade().send('upgraded');
      await Promise.resolve();
      throw new Error('route failed after upgrading');
    });
  } else {
    app.get('/fail-before-upgrade', (_req, _res, next) => {
      setImmediate(() => next(new Error('route failed before upgrading')));
    });
    app.get('/fail-after-upgrade', (_req, res, next) => {
      res.upgrade().send('upgraded');
      setImmediate(() => next(new Error('route failed after upgrading')));
    });
  }
  app.get('/fail-after-upgrade-sync', (_req, res) => {
    res.upgrade().send('upgraded');
    throw new Error('route failed after upgrading');
  });
  const handler: ErrorRequestHandler =
    options.errorHandler === ERROR_MIDDLEWARE
      ? (err, _req, res, _next) => {
          options.onAppError(err);
          // As most apps write it: no check of res.headersSent.
          res.status(err.statusCode || 500).json({ error: err.message });
        }
      : (err, _req, _res, next) => {
          // Express's default handler answers; this only sees what reaches it.
          options.onAppError(err);
          next(err);
        };
  app.use(handler);
  return listen(app, options.tls);
}
