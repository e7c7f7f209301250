/**
 * The floor of a WebSocket handshake routed through Koa 3 and @koa/router: the upgrade request
 * reaches the app as wsup's router hands it to @wsup/koa, the middleware chain and the router
 * run, and the route writes the 101 itself (`ctx.respond = false`; raw-net's echo afterwards).
 * Any WebSocket library that runs handshakes through Koa's middleware pays at least this; its
 * accept time in the idle scenario bounds wsup-koa.
 */
import { createServer } from 'node:http';
import Koa from 'koa';
import Router from '@koa/router';
import { acceptWithEcho, isRoutedUpgrade, routeUpgrades, takeSocket } from '../src/floor-handshake.js';
import { listen, serve } from '../src/harness.js';

serve(() => {
  const app = new Koa();
  const router = new Router();
  router.get('/echo', (ctx) => {
    if (!isRoutedUpgrade(ctx.req)) {
      ctx.status = 426;
      return;
    }
    ctx.respond = false;
    acceptWithEcho(ctx.req, takeSocket(ctx.req, ctx.res));
  });
  app.use(router.routes());
  const server = createServer(app.callback());
  routeUpgrades(server);
  return listen(server);
});
