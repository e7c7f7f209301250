/**
 * The floor of a handler that stays suspended for its connection's life, as a `for await` loop
 * does: node:http's request handler gets the upgrade request with a ServerResponse (as
 * handleUpgrades routes it), writes the 101 and waits on one promise until the socket closes,
 * holding `req`, `res` and its frame meanwhile; raw-net's echo moves the frames. No WebSocket
 * object, no routing. Whatever hands a route's handler `req` and `res` and lets it await the
 * connection pays at least this per idle connection: its RSS in the idle scenario bounds how
 * little a `for await` handler can cost on node:http.
 */
import { createServer } from 'node:http';
import { acceptWithEcho, isRoutedUpgrade, routeUpgrades, takeSocket } from '../src/floor-handshake.js';
import { listen, serve } from '../src/harness.js';

serve(() => {
  const server = createServer(async (req, res) => {
    if (!isRoutedUpgrade(req)) return void res.writeHead(426).end();
    const socket = takeSocket(req, res);
    acceptWithEcho(req, socket);
    await new Promise((resolve) => socket.once('close', resolve));
  });
  routeUpgrades(server);
  return listen(server);
});
