/** wsup on plain node:http, echoing with `for await`: what the README's example costs. */
import { createServer } from 'node:http';
import { handleUpgrades, upgrade, type WebSocket } from '@wsup/core';
import { listen, serve } from '../src/harness.js';

serve(({ deflate }) => {
  const server = createServer(async (req, res) => {
    let ws: WebSocket;
    try {
      ws = upgrade(req, res, { compress: deflate });
    } catch {
      return;
    }
    for await (const msg of ws) ws.send(msg.data, msg.binary);
  });
  handleUpgrades(server);
  return listen(server);
});
