import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type Fastify from 'fastify';
import wsup, { upgrade, type WebSocket } from '@wsup/fastify';
import type { SuiteApp, SuiteOptions } from '../../../test-support/adapter-suite.js';

/** Fastify 5's factory; Fastify 4's is passed in its place (the tests use API both share). */
export type FastifyFactory = typeof Fastify;

/** Serves `app` on 127.0.0.1 and an ephemeral port. */
export async function listen(app: FastifyInstance): Promise<SuiteApp> {
  await app.listen({ port: 0, host: '127.0.0.1' });
  return { server: app.server, inject: (path, options) => app.injectWS(path, options), close: () => app.close() };
}

async function requireToken(request: FastifyRequest, reply: FastifyReply): Promise<void> {
  if ((request.query as { token?: string }).token !== 'secret') {
    await reply.code(401).type('text/plain').send('unauthorized');
  }
}

/** The suite's app: auth is an onRequest hook in an encapsulated `/private` scope. */
export async function makeSuiteApp(fastify: FastifyFactory, options: SuiteOptions): Promise<SuiteApp> {
  // One type for all: the routes do not care whether the server is http, https or http2.
  const app = (options.http2
    ? fastify({ http2: true, https: { ...options.tls, allowHTTP1: options.http2.allowHTTP1 } })
    : options.tls
      ? fastify({ https: options.tls })
      : fastify()) as unknown as FastifyInstance;
  await app.register(wsup);
  const echo = (request: FastifyRequest, reply: FastifyReply) => {
    let ws: WebSocket;
    try {
      ws = upgrade(request, reply, options.echoOptions);
    } catch (err) {
      options.onUpgradeError(err);
      throw err;
    }
    ws.on('message', (msg) => ws.send(msg.data, msg.binary));
  };
  app.get('/', async () => 'home');
  app.get('/echo', echo);
  await app.register(
    async (scope) => {
      scope.addHook('onRequest', requireToken);
      scope.get('/echo', echo);
    },
    { prefix: '/private' },
  );
  app.get('/rooms/:room', (request, reply) => {
    reply.upgrade().send(`room:${(request.params as { room: string }).room}`);
  });
  app.get('/either', async (request, reply) => {
    if (!request.isUpgrade) return 'plain';
    reply.upgrade().send('websocket');
    return reply;
  });
  app.get('/fail-before-upgrade', async () => {
    await Promise.resolve();
    throw new Error('route failed before upgrading');
  });
  app.get('/fail-after-upgrade', async (_request, reply) => {
    reply.upgrade().send('upgraded');
    await Promise.resolve();
    throw new Error('route failed after upgrading');
  });
  return listen(app);
}
