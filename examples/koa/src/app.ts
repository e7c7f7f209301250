/**
 * The example app: a WebSocket echo at /echo behind a token check, and a plain page at /.
 * The token check is ordinary Koa middleware; upgrade requests go through it like any other.
 */
import { once } from 'node:events';
import type { Server } from 'node:http';
import Router from '@koa/router';
import Koa, { type Context, type Next } from 'koa';
import { attach, websockets } from '@wsup/koa';

async function requireToken(ctx: Context, next: Next): Promise<void> {
  if (ctx.query.token !== 'secret') ctx.throw(401, 'a valid ?token= is required\n');
  await next();
}

export function createApp(): Koa {
  const app = new Koa();
  const router = new Router();
  router.get('/', (ctx) => {
    ctx.body = 'wsup + Koa: connect a WebSocket to /echo?token=secret\n';
  });
  router.get('/echo', requireToken, (ctx) => {
    const ws = ctx.upgrade();
    ws.on('message', (msg) => ws.send(msg.data, msg.binary));
  });
  app.use(websockets());
  app.use(router.routes());
  return app;
}

/** Listens on `port` (0: any free port) with WebSocket upgrades attached. */
export async function start(port = 0, host = '127.0.0.1'): Promise<Server> {
  const server = createApp().listen(port, host);
  attach(server);
  await once(server, 'listening');
  return server;
}
