import { once } from 'node:events';
import { createServer } from 'node:http';
import { createSecureServer } from 'node:http2';
import { createServer as createHttpsServer } from 'node:https';
import Router from '@koa/router';
import type { Context, Next } from 'koa';
import type Koa from 'koa';
import { attach, injectWS, upgrade, type WebSocket, websockets } from '@wsup/koa';
import type { SuiteApp, SuiteOptions } from '../../../test-support/adapter-suite.js';

/** Koa 3's class; Koa 2's is passed in its place (the tests use API both share). */
export type KoaClass = typeof Koa;

/** Serves `app` on 127.0.0.1 and an ephemeral port, upgrades attached. */
export async function listen(app: Koa, tls?: { key: string; cert: string }, http2?: { allowHTTP1: boolean }): Promise<SuiteApp> {
  const server = http2
    ? createSecureServer({ ...tls, allowHTTP1: http2.allowHTTP1 }, app.callback())
    : tls
      ? createHttpsServer(tls, app.callback())
      : createServer(app.callback());
  attach(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    server,
    inject: (path, options) => injectWS(app, path, options),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

async function requireToken(ctx: Context, next: Next): Promise<void> {
  if (ctx.path.startsWith('/private/') && ctx.query.token !== 'secret') {
    ctx.status = 401;
    ctx.body = 'unauthorized';
    return;
  }
  await next();
}

/** The suite's names for apps with the usual try/catch error middleware, placed before or after websockets(). */
export const CATCH_BEFORE = 'a try/catch error middleware before websockets()';
export const CATCH_AFTER = 'a try/catch error middleware after websockets()';

/** The usual Koa error middleware: it renders the error and emits it for the app's logging. */
export async function catchErrors(ctx: Context, next: Next): Promise<void> {
  try {
    await next();
  } catch (err) {
    const e = err as Error & { statusCode?: number; status?: number };
    ctx.status = e.statusCode || e.status || 500;
    ctx.body = { error: e.message };
    ctx.app.emit('error', err, ctx);
  }
}

/** The suite's app: auth middleware, then @koa/router. */
export async function makeSuiteApp(KoaClass: KoaClass, options: SuiteOptions): Promise<SuiteApp> {
  const app = new KoaClass();
  // Koa logs every 5xx to stderr unless the app listens for errors; the suite provokes some.
  app.on('error', (err) => options.onAppError(err));
  const router = new Router();
  const echo = (ctx: Context) => {
    let ws: WebSocket;
    try {
      ws = upgrade(ctx, options.echoOptions);
    } catch (err) {
      options.onUpgradeError(err);
      throw err;
    }
    ws.on('message', (msg) => ws.send(msg.data, msg.binary));
  };
  router.get('/', (ctx) => {
    ctx.body = 'home';
  });
  router.get('/echo', echo);
  router.get('/private/echo', echo);
  router.get('/rooms/:room', (ctx) => {
    ctx.upgrade().send(`room:${ctx.params.room}`);
  });
  router.get('/either', (ctx) => {
    if (ctx.isUpgrade) ctx.upgrade().send('websocket');
    else ctx.body = 'plain';
  });
  router.get('/fail-before-upgrade', async () => {
    await Promise.resolve();
    throw new Error('route failed before upgrading');
  });
  router.get('/fail-after-upgrade', async (ctx) => {
    ctx.upgrade().send('upgraded');
    await Promise.resolve();
    throw new Error('route failed after upgrading');
  });
  router.get('/fail-after-upgrade-sync', (ctx) => {
    ctx.upgrade().send('upgraded');
    throw new Error('route failed after upgrading');
  });
  if (options.errorHandler === CATCH_BEFORE) app.use(catchErrors);
  app.use(websockets());
  if (options.errorHandler === CATCH_AFTER) app.use(catchErrors);
  app.use(requireToken);
  app.use(router.routes());
  return listen(app, options.tls, options.http2);
}
