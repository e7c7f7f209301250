import cookieParser from 'cookie-parser';
import express, { type ErrorRequestHandler } from 'express';
import express4 from 'express4';
import session from 'express-session';
import { once } from 'node:events';
import { createServer } from 'node:http';
import { createSecureServer, createServer as createHttp2Server } from 'node:http2';
import { format } from 'node:util';
import request from 'supertest';
import { afterEach, describe, expect, it, vi } from 'vitest';
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

/** Serves `app` without attach(), as an app that forgot it would. */
async function serveUnattached(app: ReturnType<ExpressModule>) {
  const server = createServer(app);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  closers.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { server, url: wsUrl(server) };
}

/** What the app printed with console.error, formatted as the console would, for the requests `run` made. */
async function printedBy(run: () => Promise<void>): Promise<string> {
  const spy = vi.spyOn(console, 'error').mockImplementation(() => {});
  try {
    await run();
    // Express's default handler prints from a setImmediate queued while it answered; this one,
    // queued after the answer arrived, runs after it.
    await new Promise((resolve) => setImmediate(resolve));
    return spy.mock.calls.map((args) => format(...args)).join('\n');
  } finally {
    spy.mockRestore();
  }
}

for (const [name, expressModule] of [
  ['Express 5', express],
  ['Express 4', express4 as ExpressModule],
] as const) {
  describe(`${name}: errors the Express way`, () => {
    it('prints no stack trace for a plain GET on a WebSocket route through the default error handler', async () => {
      const app = expressModule();
      // Not 'test': Express's default handler prints each error's stack everywhere else.
      app.set('env', 'development');
      app.get('/ws', (_req, res) => void res.upgrade());
      const { server } = await serve(app);
      let res: request.Response | undefined;
      const printed = await printedBy(async () => {
        res = await request(server).get('/ws');
      });
      expect(res?.status).toBe(426);
      expect(res?.headers.upgrade).toBe('websocket');
      expect(printed).toContain('WebSocketError [ERR_HANDSHAKE_NOT_UPGRADE]');
      expect(printed).not.toMatch(/^\s+at /m);
    });

    it('answers 426 to a plain GET through an error handler written the usual way, which can write nothing more', async () => {
      const app = expressModule();
      app.set('env', 'development');
      app.get('/ws', (_req, res) => void res.upgrade());
      const seen: unknown[] = [];
      const handler: ErrorRequestHandler = (err, _req, res, _next) => {
        seen.push(err);
        // As most apps write it: no check of res.headersSent.
        res.status(err.statusCode || 500).json({ error: err.message });
      };
      app.use(handler);
      const { server } = await serve(app);
      let res: request.Response | undefined;
      const printed = await printedBy(async () => {
        res = await request(server).get('/ws');
      });
      expect(res?.status).toBe(426);
      expect(res?.headers.upgrade).toBe('websocket');
      expect(seen[0]).toMatchObject({ code: ErrorCode.NotUpgrade, statusCode: 426, expose: true });
      // No ERR_HTTP_HEADERS_SENT from the handler's late answer.
      expect(printed).toBe('');
    });

    it('names attach(server) when a WebSocket handshake reaches upgrade() on a server that was not attached', async () => {
      const app = expressModule();
      const errors: unknown[] = [];
      app.get('/ws', (req, res) => {
        try {
          upgrade(req, res);
        } catch (err) {
          errors.push(err);
        }
      });
      const { url } = await serveUnattached(app);
      const refused = await refusal(`${url}/ws`);
      expect(refused.status).toBe(500);
      expect(refused.body).toMatch(/attach\(server\) from @wsup\/express/);
      expect(errors[0]).toBeInstanceOf(WebSocketError);
      expect(errors[0]).toMatchObject({ code: ErrorCode.UpgradeNotRouted, statusCode: 500 });
      expect((errors[0] as Error).message).toMatch(/attach\(server\) from @wsup\/express/);
      expect((errors[0] as Error).message).not.toMatch(/handleUpgrades/);
    });
  });
}

// The stand-ins go on the prototypes of the `express` the adapter resolves (the app's, as a peer
// dependency): Express 5 here. Express 4 is installed under an alias the adapter does not resolve.
describe('Express without attach(server)', () => {
  it('res.upgrade() throws ERR_SETUP_MISSING naming attach(server), which reaches the client as a 500', async () => {
    const app = express();
    app.get('/ws', (_req, res) => void res.upgrade());
    const seen: unknown[] = [];
    const handler: ErrorRequestHandler = (err, _req, res, _next) => {
      seen.push(err);
      res.status(err.statusCode || 500).send(err.code);
    };
    app.use(handler);
    const { server, url } = await serveUnattached(app);
    const plain = await request(server).get('/ws');
    expect([plain.status, plain.text]).toEqual([500, ErrorCode.SetupMissing]);
    const refused = await refusal(`${url}/ws`);
    expect(refused.status).toBe(500);
    expect(seen).toHaveLength(2);
    for (const err of seen) {
      expect(err).toBeInstanceOf(WebSocketError);
      expect(err).not.toBeInstanceOf(TypeError);
      expect(err).toMatchObject({ code: ErrorCode.SetupMissing, statusCode: 500, expose: false });
      expect((err as Error).message).toMatch(/^res\.upgrade\(\) needs attach\(server\) from @wsup\/express/);
    }
  });

  it('req.isUpgrade throws ERR_SETUP_MISSING naming attach(server)', async () => {
    const app = express();
    app.get('/either', (req, res) => void res.send(req.isUpgrade ? 'websocket' : 'plain'));
    const seen: unknown[] = [];
    const handler: ErrorRequestHandler = (err, _req, res, _next) => {
      seen.push(err);
      res.sendStatus(err.statusCode || 500);
    };
    app.use(handler);
    const { server } = await serveUnattached(app);
    expect((await request(server).get('/either')).status).toBe(500);
    expect(seen[0]).toMatchObject({ code: ErrorCode.SetupMissing });
    expect((seen[0] as Error).message).toMatch(/^req\.isUpgrade needs attach\(server\) from @wsup\/express/);
  });

  it('leaves res.upgrade and req.isUpgrade out of enumeration, and attach() still serves', async () => {
    const app = express();
    app.get('/ws', (req, res) => void res.upgrade().send(`${req.isUpgrade}`));
    const { url } = await serve(app);
    expect(Object.keys(express.response)).not.toContain('upgrade');
    expect(Object.keys(express.request)).not.toContain('isUpgrade');
    const client = await openClient(`${url}/ws`);
    expect((await nextMessage(client)).data.toString()).toBe('true');
    client.terminate();
  });
});

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
