/**
 * The floor of a WebSocket handshake routed through Fastify 5: the upgrade request reaches the
 * app as wsup's router hands it to @wsup/fastify, Fastify's router and request lifecycle run,
 * and the route hijacks the reply and writes the 101 itself (raw-net's echo afterwards). Any
 * WebSocket library that runs handshakes through Fastify's routing pays at least this; its
 * accept time in the idle scenario bounds wsup-fastify.
 */
import Fastify from 'fastify';
import { acceptWithEcho, isRoutedUpgrade, routeUpgrades, takeSocket } from '../src/floor-handshake.js';
import { serve } from '../src/harness.js';

serve(async () => {
  const app = Fastify();
  app.get('/echo', (request, reply) => {
    if (!isRoutedUpgrade(request.raw)) return void reply.code(426).send();
    reply.hijack();
    acceptWithEcho(request.raw, takeSocket(request.raw, reply.raw));
  });
  routeUpgrades(app.server);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const addr = app.server.address();
  return typeof addr === 'object' && addr ? addr.port : 0;
});
