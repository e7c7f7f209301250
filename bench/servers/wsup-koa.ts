/**
 * wsup through @wsup/koa on Koa 3 with @koa/router: the upgrade request runs through the
 * middleware chain and the router before `ctx.upgrade()`; messages never touch Koa.
 */
import { createServer } from 'node:http';
import Koa from 'koa';
import Router from '@koa/router';
import { attach, websockets } from '@wsup/koa';
import { listen, serve } from '../src/harness.js';

serve(({ deflate }) => {
  const app = new Koa();
  const router = new Router();
  router.get('/echo', (ctx) => {
    const ws = ctx.upgrade({ compress: deflate });
    ws.on('message', (msg) => ws.send(msg.data, msg.binary));
  });
  app.use(websockets());
  app.use(router.routes());
  const server = createServer(app.callback());
  attach(server);
  return listen(server);
});
