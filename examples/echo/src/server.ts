/**
 * The smallest wsup server: plain node:http, one WebSocket route that echoes every message.
 * `PORT=4000 pnpm --dir examples/echo start`, then connect to ws://127.0.0.1:4000/echo.
 */
import { createServer } from 'node:http';
import { handleUpgrades, upgrade } from '@wsup/core';

const server = createServer(async (req, res) => {
  if (req.url === '/echo') {
    const ws = upgrade(req, res);
    for await (const msg of ws) ws.send(msg.data, msg.binary);
    return;
  }
  res.setHeader('Content-Type', 'text/plain');
  res.end('wsup echo server: connect a WebSocket to /echo\n');
});
handleUpgrades(server);

const port = Number(process.env.PORT ?? 3000);
server.listen(port, process.env.HOST ?? '127.0.0.1', () => {
  console.log(`echo server on ws://127.0.0.1:${port}/echo`);
});
