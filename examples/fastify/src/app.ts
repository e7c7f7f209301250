/**
 * The example app: a WebSocket echo at /echo behind a token check, and a plain page at /.
 * The token check is an ordinary onRequest hook; upgrade requests go through it like any other.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import wsup from '@wsup/fastify';

export async function createApp(): Promise<FastifyInstance> {
  const app = Fastify();
  await app.register(wsup);
  app.get('/', async (_request, reply) => {
    reply.type('text/plain');
    return 'wsup + Fastify: connect a WebSocket to /echo?token=secret\n';
  });
  app.get('/echo', {
    onRequest: async (request, reply) => {
      if ((request.query as { token?: string }).token !== 'secret') {
        await reply.code(401).type('text/plain').send('a valid ?token= is required\n');
      }
    },
    handler: (_request, reply) => {
      const ws = reply.upgrade();
      ws.on('message', (msg) => ws.send(msg.data, msg.binary));
    },
  });
  return app;
}

/** Listens on `port` (0: any free port); `app.close()` closes live WebSockets with 1001. */
export async function start(port = 0, host = '127.0.0.1'): Promise<FastifyInstance> {
  const app = await createApp();
  await app.listen({ port, host });
  return app;
}
