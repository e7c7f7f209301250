/**
 * ws on node:http. The same file serves `ws` (pure JS) and `ws-native`: the registry sets
 * WS_NO_BUFFER_UTIL / WS_NO_UTF_8_VALIDATE for the pure one, and the server reports which native
 * addons ws really loaded so the table cannot silently compare the wrong thing.
 *
 * Broadcast (`/pub` and `/sub`) is the loop from ws's README: every message from the publisher is
 * sent to each other open client with `client.send()`, which frames and writes it per client.
 */
import { createServer } from 'node:http';
import { isUtf8 } from 'node:buffer';
import { createRequire } from 'node:module';
import { WebSocket, WebSocketServer } from 'ws';
import { listen, serve } from '../src/harness.js';

serve(async ({ deflate }) => {
  const server = createServer((_req, res) => res.end());
  const wss = new WebSocketServer({ server, perMessageDeflate: deflate });
  wss.on('connection', (ws, req) => {
    if (req.url === '/sub') return;
    if (req.url === '/pub') {
      ws.on('message', (data, isBinary) => {
        for (const client of wss.clients) {
          if (client !== ws && client.readyState === WebSocket.OPEN) client.send(data as Buffer, { binary: isBinary });
        }
      });
      return;
    }
    ws.on('message', (data, isBinary) => ws.send(data as Buffer, { binary: isBinary }));
  });
  const port = await listen(server);
  // ws requires its optional addons through CommonJS, so the require cache tells what it took.
  const cache = Object.keys(createRequire(import.meta.url).cache);
  const loaded = (name: string): boolean => cache.some((path) => path.includes(`/${name}/`));
  const info = [
    loaded('bufferutil') ? 'bufferutil loaded' : 'no bufferutil',
    // Where buffer.isUtf8 exists (Node ≥ 18.14) ws validates with it and never loads the addon.
    loaded('utf-8-validate') ? 'utf-8-validate loaded' : typeof isUtf8 === 'function' ? 'UTF-8 via buffer.isUtf8' : 'JS UTF-8 check',
  ];
  return { port, info: info.join(', ') };
});
