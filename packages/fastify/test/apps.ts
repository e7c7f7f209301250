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

/** A line Fastify's logger (pino) wrote. */
export interface LogEntry {
  level: number;
  msg?: string;
  err?: { type?: string; message?: string; code?: string; stack?: string; statusCode?: number };
}

/** Pino's levels. */
export const INFO = 30;
export const WARN = 40;
export const ERROR = 50;

/** Logger options for Fastify (4 and 5) that hand every entry to `onEntry` instead of printing it. */
export function capturedLogger(onEntry: (entry: LogEntry) => void) {
  return { level: 'info', stream: { write: (line: string) => onEntry(JSON.parse(line) as LogEntry) } };
}

/** The suite's name for an app with its own error handler, written the usual way. */
export const SET_ERROR_HANDLER = 'setErrorHandler';

/** The suite's app: auth is an onRequest hook in an encapsulated `/private` scope. */
export async function makeSuiteApp(fastify: FastifyFactory, options: SuiteOptions): Promise<SuiteApp> {
  // What Fastify logs as an error is what reached its error path.
  const logger = capturedLogger((entry) => {
    if (entry.level >= ERROR) options.onAppError(entry.err ?? { message: entry.msg });
  });
  // One type for all: the routes do not care whether the server is http, https or http2.
  const app = (options.http2
    ? fastify({ logger, http2: true, https: { ...options.tls, allowHTTP1: options.http2.allowHTTP1 } })
    : options.tls
      ? fastify({ logger, https: options.tls })
      : fastify({ logger })) as unknown as FastifyInstance;
  await app.register(wsup);
  if (options.errorHandler === SET_ERROR_HANDLER) {
    app.setErrorHandler((err: Error & { statusCode?: number }, request, reply) => {
      const status = err.statusCode || 500;
      if (status >= 500) request.log.error({ err }, err.message);
      return reply.status(status).send({ error: err.message });
    });
  }
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
  app.get('/fail-after-upgrade-sync', (_request, reply) => {
    reply.upgrade().send('upgraded');
    throw new Error('route failed after upgrading');
  });
  return listen(app);
}
