import { once } from 'node:events';
import { createServer } from 'node:http';
import { createServer as createHttp2Server } from 'node:http2';
import Router from '@koa/router';
import type Koa from 'koa';
import KoaClass from 'koa';
import Koa2 from 'koa2';
import { afterEach, describe, expect, it } from 'vitest';
import { connect } from '@wsup/core';
import { attach, ErrorCode, WebSocketError, websockets } from '@wsup/koa';
import {
  closed,
  drippedHandshake,
  nextMessage,
  openClient,
  rawHandshake,
  refusal,
  statusOf,
  wsUrl,
} from '../../../test-support/clients.js';
import { listen, type KoaClass as KoaConstructor } from './apps.js';

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

async function serve(app: Koa) {
  const served = await listen(app);
  closers.push(served.close);
  return { ...served, url: wsUrl(served.server) };
}

for (const [name, Koa] of [
  ['Koa 3', KoaClass],
  ['Koa 2', Koa2 as KoaConstructor],
] as const) {
  describe(`${name} specifics`, () => {
    it('passes maxConnections to core: one WebSocket more gets a 503 before any middleware runs', async () => {
      const app = new Koa();
      let middleware = 0;
      app.use(websockets());
      app.use((ctx) => {
        middleware++;
        ctx.upgrade();
      });
      const server = app.listen(0, '127.0.0.1');
      attach(server, { maxConnections: 1 });
      await once(server, 'listening');
      closers.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
      const client = await openClient(`${wsUrl(server)}/`);
      const refused = await refusal(`${wsUrl(server)}/`);
      expect([refused.status, refused.headers['retry-after']]).toEqual([503, '5']);
      expect(middleware).toBe(1);
      client.terminate();
    });

    it('keeps handshakeTimeout by its own timer: a client dripping its request head gets a 408 on time', async () => {
      const app = new Koa();
      app.use(websockets());
      app.use((ctx) => void ctx.upgrade());
      const server = app.listen(0, '127.0.0.1');
      attach(server, { handshakeTimeout: 0.3 });
      await once(server, 'listening');
      closers.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
      const { response, unfinished } = await drippedHandshake(server, '/');
      expect(unfinished).toBe(true);
      expect(statusOf(response)).toBe(408);
    });

    it('answers ctx.throw(401) before upgrading with a real 401', async () => {
      const app = new Koa();
      app.use(websockets());
      app.use(async (ctx, next) => {
        if (ctx.get('authorization') !== 'Bearer ok') ctx.throw(401, 'who are you?');
        await next();
      });
      app.use((ctx) => void ctx.upgrade().send('in'));
      const { server, url } = await serve(app);
      const raw = await rawHandshake(server, '/');
      expect(statusOf(raw)).toBe(401);
      expect(raw.endsWith('\r\n\r\nwho are you?')).toBe(true);
      const client = await openClient(url, [], { headers: { Authorization: 'Bearer ok' } });
      expect((await nextMessage(client)).data.toString()).toBe('in');
      client.terminate();
    });

    it('gives the route ctx.state from earlier middleware and nested router params', async () => {
      const app = new Koa();
      app.use(websockets());
      app.use(async (ctx, next) => {
        ctx.state.user = 'ada';
        await next();
      });
      const rooms = new Router({ prefix: '/orgs/:org' });
      rooms.get('/rooms/:room', (ctx) => {
        ctx.upgrade().send(`${ctx.state.user}@${ctx.params.org}/${ctx.params.room}`);
      });
      app.use(rooms.routes());
      const { url } = await serve(app);
      const client = await openClient(`${url}/orgs/acme/rooms/lobby`);
      expect((await nextMessage(client)).data.toString()).toBe('ada@acme/lobby');
      client.terminate();
    });

    it('sends nothing after upgrading, even when upstream middleware sets a body afterwards', async () => {
      const app = new Koa();
      app.use(websockets());
      app.use(async (ctx, next) => {
        await next();
        // A typical "wrap every response" middleware: Koa must not write this into the WebSocket.
        ctx.body = { wrapped: ctx.body ?? null };
        ctx.set('X-After', 'yes');
      });
      app.use((ctx) => {
        const ws = ctx.upgrade();
        ws.on('message', (msg) => ws.send(msg.data, msg.binary));
      });
      const { url } = await serve(app);
      const client = await openClient(url);
      client.send('first');
      expect((await nextMessage(client)).data.toString()).toBe('first');
      client.send('second');
      expect((await nextMessage(client)).data.toString()).toBe('second');
      client.close(1000);
      expect((await closed(client)).code).toBe(1000);
    });

    it("lets an upstream error middleware render a refusal Koa's way", async () => {
      const app = new Koa();
      app.use(async (ctx, next) => {
        try {
          await next();
        } catch (err) {
          ctx.status = (err as { status?: number }).status ?? 500;
          ctx.body = { error: (err as Error).message };
        }
      });
      app.use(websockets());
      app.use((ctx) => {
        if (!ctx.query.room) ctx.throw(400, 'which room?');
        ctx.upgrade();
      });
      const { server } = await serve(app);
      const raw = await rawHandshake(server, '/');
      expect(statusOf(raw)).toBe(400);
      expect(raw.endsWith('{"error":"which room?"}')).toBe(true);
    });

    it('keeps the 426 a plain GET gets from ctx.upgrade() even when an upstream middleware catches errors', async () => {
      const app = new Koa();
      app.use(async (ctx, next) => {
        try {
          await next();
        } catch {
          ctx.status = 500;
          ctx.body = 'should not be sent';
        }
      });
      app.use(websockets());
      app.use((ctx) => void ctx.upgrade());
      const { url } = await serve(app);
      const res = await fetch(url.replace('ws:', 'http:'));
      expect(res.status).toBe(426);
      expect(res.headers.get('upgrade')).toBe('websocket');
    });

    it('needs attach() only once per server', async () => {
      const app = new Koa();
      app.use(websockets());
      app.use((ctx) => void ctx.upgrade().send('once'));
      const { server, url } = await serve(app);
      expect(attach(server)).toBe(attach(server));
      const client = await openClient(url);
      expect((await nextMessage(client)).data.toString()).toBe('once');
      client.terminate();
    });

    it("answers a broken handshake with core's refusal and nothing from Koa", async () => {
      const app = new Koa();
      app.silent = true;
      app.use(websockets());
      app.use((ctx) => void ctx.upgrade());
      const { url } = await serve(app);
      const refused = await refusal(url, { protocolVersion: 8 });
      expect(refused.status).toBe(426);
      expect(refused.headers['sec-websocket-version']).toBe('13');
      expect(refused.body).toMatch(/version/i);
    });

    it('serves WebSockets over cleartext HTTP/2 (h2c: http2.createServer(app.callback()))', async () => {
      const app = new Koa();
      app.use(websockets());
      app.use((ctx) => void ctx.upgrade().send(`over HTTP/${ctx.req.httpVersion}`));
      const server = createHttp2Server(app.callback());
      const router = attach(server);
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      const ws = await connect(`${wsUrl(server)}/`, { http2: true });
      expect((await ws.receive())?.data).toBe('over HTTP/2.0');
      expect(router.clients.size).toBe(1);
      const end = ws.closed;
      server.close();
      expect((await end).code).toBe(1001);
    });
  });
}

/** Serves `app`, attached or not, and collects what reaches `app.on('error')`. */
async function serveCollecting(app: Koa, attached: boolean) {
  const errors: unknown[] = [];
  app.on('error', (err) => errors.push(err));
  const server = createServer(app.callback());
  if (attached) attach(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  closers.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { server, url: wsUrl(server), errors };
}

function expectSetupMissing(err: unknown, message: RegExp): void {
  expect(err).toBeInstanceOf(WebSocketError);
  expect(err).not.toBeInstanceOf(TypeError);
  expect(err).toMatchObject({ code: ErrorCode.SetupMissing, statusCode: 500, expose: false });
  expect((err as Error).message).toMatch(message);
}

// The stand-ins go on the context prototype of the `koa` the adapter resolves (the app's, as a
// peer dependency): Koa 3 here. Koa 2 is installed under an alias the adapter does not resolve.
describe('Koa with a setup step missing', () => {
  it('ctx.upgrade() without app.use(websockets()) throws ERR_SETUP_MISSING naming it, answered 500', async () => {
    const app = new KoaClass();
    app.use((ctx) => void ctx.upgrade());
    const { url, errors } = await serveCollecting(app, true);
    expect((await fetch(url.replace('ws:', 'http:'))).status).toBe(500);
    expect((await refusal(url)).status).toBe(500);
    expect(errors).toHaveLength(2);
    for (const err of errors)
      expectSetupMissing(err, /^ctx\.upgrade\(\) needs app\.use\(websockets\(\)\) from @wsup\/koa before this route$/);
  });

  it('names attach(server) as well when the server was not attached either', async () => {
    const app = new KoaClass();
    app.use((ctx) => void ctx.upgrade());
    const { url, errors } = await serveCollecting(app, false);
    expect((await fetch(url.replace('ws:', 'http:'))).status).toBe(500);
    expect((await refusal(url)).status).toBe(500);
    expect(errors).toHaveLength(2);
    for (const err of errors) expectSetupMissing(err, /app\.use\(websockets\(\)\).*, and attach\(server\) from @wsup\/koa/);
  });

  it('ctx.isUpgrade without app.use(websockets()) throws ERR_SETUP_MISSING naming it', async () => {
    const app = new KoaClass();
    app.use((ctx) => {
      ctx.body = ctx.isUpgrade ? 'websocket' : 'plain';
    });
    const { url, errors } = await serveCollecting(app, true);
    expect((await fetch(url.replace('ws:', 'http:'))).status).toBe(500);
    expectSetupMissing(errors[0], /^ctx\.isUpgrade needs app\.use\(websockets\(\)\)/);
  });

  it('names attach(server) from @wsup/koa, not handleUpgrades(server), when a WebSocket handshake reaches an unattached server', async () => {
    const app = new KoaClass();
    app.use(websockets());
    app.use((ctx) => void ctx.upgrade());
    const { url, errors } = await serveCollecting(app, false);
    const refused = await refusal(url);
    expect(refused.status).toBe(500);
    expect(refused.body).toMatch(/attach\(server\) from @wsup\/koa/);
    expect(errors[0]).toBeInstanceOf(WebSocketError);
    expect(errors[0]).toMatchObject({ code: ErrorCode.UpgradeNotRouted, statusCode: 500 });
    expect((errors[0] as Error).message).toMatch(/attach\(server\) from @wsup\/koa/);
    expect((errors[0] as Error).message).not.toMatch(/handleUpgrades/);
  });

  it('keeps ctx.upgrade and ctx.isUpgrade out of enumeration, and websockets() still serves', async () => {
    const app = new KoaClass();
    app.use(websockets());
    app.use((ctx) => void ctx.upgrade().send(`${ctx.isUpgrade}`));
    const { url } = await serve(app);
    const proto = Object.getPrototypeOf(app.context) as object;
    expect(Object.keys(proto)).not.toContain('upgrade');
    expect(Object.keys(proto)).not.toContain('isUpgrade');
    const client = await openClient(url);
    expect((await nextMessage(client)).data.toString()).toBe('true');
    client.terminate();
  });
});
