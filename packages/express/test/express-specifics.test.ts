import cookieParser from 'cookie-parser';
import express, { type ErrorRequestHandler } from 'express';
import express4 from 'express4';
import session from 'express-session';
import { once } from 'node:events';
import { createServer } from 'node:http';
import { createSecureServer, createServer as createHttp2Server } from 'node:http2';
import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import { attach, ErrorCode, upgrade, WebSocketError } from '@wsup/express';
import { drippedHandshake, nextMessage, openClient, rawHandshake, refusal, statusOf, wsUrl } from '../../../test-support/clients.js';
import { listen, type ExpressModule } from './apps.js';

declare module 'express-session' {
  interface SessionData {
    user: string;
  }
}

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

async function serve(app: ReturnType<ExpressModule>) {
  const served = await listen(app);
  closers.push(served.close);
  return { ...served, url: wsUrl(served.server) };
}

for (const [name, expressModule] of [
  ['Express 5', express],
  ['Express 4', express4 as ExpressModule],
] as const) {
  describe(`${name} specifics`, () => {
    it('passes maxConnections to core: one WebSocket more gets a 503 before any middleware runs', async () => {
      const app = expressModule();
      let middleware = 0;
      app.use((_req, _res, next) => {
        middleware++;
        next();
      });
      app.get('/ws', (_req, res) => void res.upgrade());
      const server = createServer(app);
      attach(server, { maxConnections: 1 });
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      closers.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
      const client = await openClient(`${wsUrl(server)}/ws`);
      const refused = await refusal(`${wsUrl(server)}/ws`);
      expect([refused.status, refused.headers['retry-after']]).toEqual([503, '5']);
      expect(middleware).toBe(1);
      client.terminate();
    });

    it('keeps handshakeTimeout by its own timer: a client dripping its request head gets a 408 on time', async () => {
      const app = expressModule();
      app.get('/ws', (_req, res) => void res.upgrade());
      const server = createServer(app);
      attach(server, { handshakeTimeout: 0.3 });
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      closers.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
      const { response, unfinished } = await drippedHandshake(server, '/ws');
      expect(unfinished).toBe(true);
      expect(statusOf(response)).toBe(408);
    });

    it('gives WebSocket routes the cookies and the session a plain request established', async () => {
      const app = expressModule();
      app.use(cookieParser('cookie secret'));
      app.use(session({ secret: 'session secret', resave: false, saveUninitialized: false }));
      app.post('/login', (req, res) => {
        req.session.user = 'ada';
        res.cookie('theme', 'dark').send('ok');
      });
      app.get('/me', (req, res) => {
        if (!req.session.user) return void res.status(401).send('log in first');
        res.upgrade().send(JSON.stringify({ user: req.session.user, theme: req.cookies.theme }));
      });
      const { server, url } = await serve(app);

      expect((await refusal(`${url}/me`)).status).toBe(401);
      const login = await request(server).post('/login');
      const cookies = (login.headers['set-cookie'] as unknown as string[]).map((c) => c.split(';')[0]).join('; ');
      const client = await openClient(`${url}/me`, [], { headers: { Cookie: cookies } });
      expect(JSON.parse((await nextMessage(client)).data.toString())).toEqual({ user: 'ada', theme: 'dark' });
      client.terminate();
    });

    it('runs upgrades through nested routers with merged params', async () => {
      const app = expressModule();
      const rooms = expressModule.Router({ mergeParams: true });
      rooms.get('/:room', (req, res) => {
        res.upgrade().send(`${(req.params as Record<string, string>).org}/${req.params.room}`);
      });
      app.use('/orgs/:org/rooms', rooms);
      const { url } = await serve(app);
      const client = await openClient(`${url}/orgs/acme/rooms/lobby`);
      expect((await nextMessage(client)).data.toString()).toBe('acme/lobby');
      client.terminate();
    });

    it('lets an error middleware answer an upgrade request whose route failed before upgrading', async () => {
      const app = expressModule();
      app.get('/guarded', (_req, _res, next) => {
        next(Object.assign(new Error('no entry'), { status: 403 }));
      });
      const handler: ErrorRequestHandler = (err, _req, res, _next) => {
        res.status(err.status).json({ error: err.message });
      };
      app.use(handler);
      const { server } = await serve(app);
      const raw = await rawHandshake(server, '/guarded');
      expect(statusOf(raw)).toBe(403);
      expect(raw.endsWith('{"error":"no entry"}')).toBe(true);
    });

    it('re-exports the upgrade(req, res, options) function form, with typed refusals', async () => {
      const app = expressModule();
      const errors: unknown[] = [];
      app.get('/ws', (req, res) => {
        try {
          upgrade(req, res, { origin: 'https://allowed.example' }).send('in');
        } catch (err) {
          errors.push(err);
        }
      });
      const { url } = await serve(app);
      const refused = await refusal(`${url}/ws`, { origin: 'https://evil.example' });
      expect(refused.status).toBe(403);
      expect(errors[0]).toBeInstanceOf(WebSocketError);
      expect((errors[0] as WebSocketError).code).toBe(ErrorCode.OriginForbidden);
      const client = await openClient(`${url}/ws`, [], { origin: 'https://allowed.example' });
      expect((await nextMessage(client)).data.toString()).toBe('in');
      client.terminate();
    });
  });
}

describe('attach', () => {
  it('returns the same router when called again, with the live clients', async () => {
    const app = express();
    app.get('/ws', (_req, res) => void res.upgrade());
    const { server, url } = await serve(app);
    const router = attach(server);
    expect(attach(server)).toBe(router);
    const client = await openClient(`${url}/ws`);
    expect(router.clients.size).toBe(1);
    client.terminate();
  });
});

describe('Express over HTTP/2', () => {
  it('attach() refuses a node:http2 server with ERR_HTTP2_UNSUPPORTED instead of leaving its streams to hang', () => {
    const app = express();
    for (const server of [createSecureServer({ allowHTTP1: true }, app as never), createHttp2Server(app as never)]) {
      const err = (() => {
        try {
          attach(server as never);
        } catch (e) {
          return e;
        }
      })();
      expect(err).toBeInstanceOf(WebSocketError);
      expect(err).toMatchObject({ code: ErrorCode.Http2Unsupported });
      expect((err as Error).message).toMatch(/@wsup\/fastify or @wsup\/koa/);
      // Nothing was attached: the server has no upgrade routing and no request decoration.
      expect(server.listenerCount('connect')).toBe(0);
      expect(server.listenerCount('request')).toBe(1);
    }
  });
});
