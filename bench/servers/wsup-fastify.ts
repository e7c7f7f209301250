/**
 * wsup through @wsup/fastify on Fastify 5: the upgrade request goes through Fastify's router and
 * request lifecycle before `reply.upgrade()`; messages never touch Fastify.
 */
import Fastify from 'fastify';
import wsup from '@wsup/fastify';
import { serve } from '../src/harness.js';

serve(async ({ deflate }) => {
  const app = Fastify();
  await app.register(wsup);
  app.get('/echo', (_request, reply) => {
    const ws = reply.upgrade({ compress: deflate });
    ws.on('message', (msg) => ws.send(msg.data, msg.binary));
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const addr = app.server.address();
  return typeof addr === 'object' && addr ? addr.port : 0;
});
