/**
 * wsup on plain node:http. `/echo` echoes from the `message` event; for the broadcast scenario,
 * `/sub` subscribes to a topic and every message from `/pub` is published to it with
 * `hub.publish`, which frames it once for all subscribers.
 */
import { createServer } from 'node:http';
import { handleUpgrades, upgrade, type WebSocket } from '@wsup/core';
import { listen, serve } from '../src/harness.js';

const TOPIC = 'feed';

serve(({ deflate }) => {
  const server = createServer((req, res) => {
    let ws: WebSocket;
    try {
      ws = upgrade(req, res, { compress: deflate });
    } catch {
      return; // upgrade() already answered with the right status
    }
    if (req.url === '/sub') ws.subscribe(TOPIC);
    else if (req.url === '/pub') ws.on('message', (msg) => hub.publish(TOPIC, msg.data, msg.binary));
    else ws.on('message', (msg) => ws.send(msg.data, msg.binary));
  });
  const { hub } = handleUpgrades(server);
  return listen(server);
});
