/**
 * The floor of a WebSocket handshake routed through Express 5: the upgrade request reaches the
 * app as wsup's router hands it to @wsup/express (a ServerResponse, `'request'`), Express's
 * router matches the route, and the route writes the 101 itself (raw-net's echo afterwards): no
 * validation, no WebSocket object. Any WebSocket library that runs handshakes through Express's
 * routing pays at least this; its accept time in the idle scenario bounds wsup-express.
 */
import { createServer } from 'node:http';
import express from 'express';
import { acceptWithEcho, isRoutedUpgrade, routeUpgrades, takeSocket } from '../src/floor-handshake.js';
import { listen, serve } from '../src/harness.js';

serve(() => {
  const app = express();
  app.get('/echo', (req, res) => {
    if (!isRoutedUpgrade(req)) return void res.status(426).end();
    acceptWithEcho(req, takeSocket(req, res));
  });
  const server = createServer(app);
  routeUpgrades(server);
  return listen(server);
});
