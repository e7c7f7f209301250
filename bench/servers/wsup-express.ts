/**
 * wsup through @wsup/express on Express 5: the upgrade request runs through the app (its
 * router and a route handler) before `res.upgrade()`, so the difference from `wsup` is what
 * Express's routing costs per connection; messages never touch Express.
 */
import { createServer } from 'node:http';
import express from 'express';
import { attach } from '@wsup/express';
import { listen, serve } from '../src/harness.js';

serve(({ deflate }) => {
  const app = express();
  app.get('/echo', (_req, res) => {
    const ws = res.upgrade({ compress: deflate });
    ws.on('message', (msg) => ws.send(msg.data, msg.binary));
  });
  const server = createServer(app);
  attach(server);
  return listen(server);
});
