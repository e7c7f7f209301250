import type { FastifyInstance, FastifyReply } from 'fastify';
import Fastify from 'fastify';
import Fastify4 from 'fastify4';
import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import { connect } from '@wsup/core';
import wsup, { ErrorCode, upgrade, type WebSocket, WebSocketError } from '@wsup/fastify';
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
import { capturedLogger, ERROR, type FastifyFactory, INFO, type LogEntry, WARN } from './apps.js';

const apps: FastifyInstance[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()));
});

async function serve(app: FastifyInstance) {
  apps.push(app);
  await app.listen({ port: 0, host: '127.0.0.1' });
  return wsUrl(app.server);
}

const bodyOf = (raw: string) => raw.slice(raw.indexOf('\r\n\r\n') + 4);

function echo(this: WebSocket, msg: { data: unknown }): void {
  this.send(`echo ${String(msg.data)}`);
}

for (const [name, fastify] of [
  ['Fastify 5', Fastify],
  ['Fastify 4', Fastify4 as unknown as FastifyFactory],
] as const) {
  describe(`${name} specifics`, () => {
    /** An app logging into `logs` with wsup registered and `route` at /ws, and a client connected to it. */
    async function clientOfLoggedRoute(route: (reply: FastifyReply) => unknown) {
      const logs: LogEntry[] = [];
      const app = fastify({ logger: capturedLogger((entry) => logs.push(entry)) });
      await app.register(wsup);
      app.get('/ws', (_request, reply) => route(reply));
      const client = await openClient(`${await serve(app)}/ws`);
      return { logs, client };
    }

    it('passes maxConnections to core: one WebSocket more gets a 503 before any hook runs, logged through Fastify', async () => {
      const logs: LogEntry[] = [];
      const app = fastify({ logger: capturedLogger((entry) => logs.push(entry)) });
      await app.register(wsup, { maxConnections: 1 });
      let hooks = 0;
      app.addHook('onRequest', async () => {
        hooks++;
      });
      app.get('/ws', (_request, reply) => void reply.upgrade());
      const url = await serve(app);
      const client = await openClient(`${url}/ws`);
      const refused = await refusal(`${url}/ws`);
      expect([refused.status, refused.headers['retry-after']]).toEqual([503, '5']);
      expect(hooks).toBe(1);
      expect(logs).toContainEqual(
        expect.objectContaining({ msg: 'WebSocket upgrade refused', err: expect.objectContaining({ code: ErrorCode.TooManyConnections }) }),
      );
      client.terminate();
    });

    it('keeps handshakeTimeout by its own timer: a client dripping its request head gets a 408 on time', async () => {
      const app = fastify();
      await app.register(wsup, { handshakeTimeout: 0.3 });
      app.get('/ws', (_request, reply) => void reply.upgrade());
      await serve(app);
      const { response, unfinished } = await drippedHandshake(app.server, '/ws');
      expect(unfinished).toBe(true);
      expect(statusOf(response)).toBe(408);
    });

    it.each(['onRequest', 'preValidation', 'preHandler'] as const)(
      'refuses an upgrade from a %s hook with its real response',
      async (hook) => {
        const app = fastify();
        await app.register(wsup);
        app.get('/ws', {
          [hook]: async (request: { headers: Record<string, unknown> }, reply: { code(n: number): { send(b: string): unknown } }) => {
            if (request.headers.authorization !== 'Bearer ok') await reply.code(401).send(`refused in ${hook}`);
          },
          handler: (_request, reply) => void reply.upgrade().send('in'),
        });
        const url = await serve(app);
        const refused = await refusal(`${url}/ws`);
        expect(refused.status).toBe(401);
        expect(refused.body).toBe(`refused in ${hook}`);
        const client = await openClient(`${url}/ws`, [], { headers: { Authorization: 'Bearer ok' } });
        expect((await nextMessage(client)).data.toString()).toBe('in');
        client.terminate();
      },
    );

    it("sends a hook's thrown error through the scope's error handler", async () => {
      const app = fastify();
      await app.register(wsup);
      app.setErrorHandler(async (error: Error & { statusCode?: number }, _request, reply) => {
        await reply.code(error.statusCode ?? 500).send({ refused: error.message });
      });
      app.addHook('preHandler', async () => {
        throw Object.assign(new Error('banned'), { statusCode: 403 });
      });
      app.get('/ws', (_request, reply) => void reply.upgrade());
      const url = await serve(app);
      const raw = await rawHandshake(app.server, '/ws');
      expect(statusOf(raw)).toBe(403);
      expect(JSON.parse(bodyOf(raw))).toEqual({ refused: 'banned' });
      expect((await refusal(`${url}/ws`)).status).toBe(403);
    });

    it("answers upgrade() on a plain GET through the error handler, with core's 426 headers", async () => {
      const app = fastify();
      await app.register(wsup);
      const seen: unknown[] = [];
      app.setErrorHandler(async (error: Error & { status?: number; code?: string }, _request, reply) => {
        seen.push(error);
        await reply.code(error.status ?? 500).send({ websocket: error.code });
      });
      app.get('/ws', (_request, reply) => void reply.upgrade());
      await serve(app);
      const res = await request(app.server).get('/ws');
      expect(res.status).toBe(426);
      expect(res.headers.upgrade).toBe('websocket');
      expect(res.headers['sec-websocket-version']).toBe('13');
      expect(res.body).toEqual({ websocket: ErrorCode.NotUpgrade });
      expect(seen[0]).toBeInstanceOf(WebSocketError);
    });

    it('serves every scope when registered at the root, with hooks staying in their scope', async () => {
      const app = fastify();
      await app.register(wsup);
      await app.register(async (admin) => {
        admin.addHook('onRequest', async (_request, reply) => {
          await reply.code(403).send('admins only');
        });
        admin.get('/admin/ws', (_request, reply) => void reply.upgrade());
      });
      await app.register(async (pub) => {
        pub.get('/public/ws', (request, reply) => void reply.upgrade().send(`upgrade=${request.isUpgrade}`));
      });
      const url = await serve(app);
      expect((await refusal(`${url}/admin/ws`)).status).toBe(403);
      const client = await openClient(`${url}/public/ws`);
      expect((await nextMessage(client)).data.toString()).toBe('upgrade=true');
      client.terminate();
    });

    it('routes each upgrade once when registered in two sibling scopes', async () => {
      const app = fastify();
      let handled = 0;
      await app.register(async (a) => {
        await a.register(wsup);
        a.get('/a', (_request, reply) => {
          handled++;
          reply.upgrade().send('a');
        });
      });
      await app.register(async (b) => {
        await b.register(wsup);
      });
      const url = await serve(app);
      const client = await openClient(`${url}/a`);
      expect((await nextMessage(client)).data.toString()).toBe('a');
      expect(handled).toBe(1);
      client.terminate();
    });

    it('closes live WebSockets with 1001 on close, and lists them in fastify.websockets', async () => {
      const app = fastify();
      await app.register(wsup);
      app.get('/ws', (_request, reply) => void reply.upgrade());
      await app.listen({ port: 0, host: '127.0.0.1' });
      const client = await openClient(`${wsUrl(app.server)}/ws`);
      expect(app.websockets.clients.size).toBe(1);
      const end = closed(client);
      await app.close();
      expect(await end).toMatchObject({ code: 1001 });
      expect(app.websockets.clients.size).toBe(0);
    });

    it("answers upgrades to unknown routes with the not-found handler's response", async () => {
      const app = fastify();
      await app.register(wsup);
      app.setNotFoundHandler(async (_request, reply) => reply.code(404).send({ missing: true }));
      await serve(app);
      const raw = await rawHandshake(app.server, '/nowhere');
      expect(statusOf(raw)).toBe(404);
      expect(JSON.parse(bodyOf(raw))).toEqual({ missing: true });
      expect((await request(app.server).get('/nowhere')).body).toEqual({ missing: true });
    });

    it('serves WebSockets over cleartext HTTP/2 (h2c: http2: true without https)', async () => {
      const app = (fastify as (opts: object) => FastifyInstance)({ http2: true });
      await app.register(wsup);
      app.get('/ws', (request, reply) => {
        reply.upgrade().send(`over HTTP/${request.raw.httpVersion}`);
      });
      const url = await serve(app);
      const ws = await connect(`${url}/ws`, { http2: true });
      expect((await ws.receive())?.data).toBe('over HTTP/2.0');
      const end = ws.closed;
      await app.close();
      expect((await end).code).toBe(1001);
    });

    it("answers a plain GET on a WebSocket route with 426 through Fastify's default error handler, logged as a client error", async () => {
      const logs: LogEntry[] = [];
      const app = fastify({ logger: capturedLogger((entry) => logs.push(entry)) });
      await app.register(wsup);
      app.get('/ws', (_request, reply) => void reply.upgrade());
      await serve(app);
      const res = await request(app.server).get('/ws');
      expect(res.status).toBe(426);
      expect(res.headers.upgrade).toBe('websocket');
      expect(res.body).toMatchObject({ statusCode: 426, code: ErrorCode.NotUpgrade });
      const logged = logs.find((entry) => entry.err?.code === ErrorCode.NotUpgrade);
      expect(logged?.level).toBe(INFO);
      // The client's mistake: no stack of the server's frames.
      expect(logged?.err?.stack).toBe('WebSocketError [ERR_HANDSHAKE_NOT_UPGRADE]: Expected an Upgrade: websocket request');
      expect(logs.filter((entry) => entry.level >= ERROR)).toEqual([]);
    });

    it.each([
      [
        'a synchronous throw',
        (reply: { upgrade(): { send(s: string): void } }) => {
          reply.upgrade().send('upgraded');
          throw new Error('failed after upgrading');
        },
      ],
      [
        'a rejected promise',
        async (reply: { upgrade(): { send(s: string): void } }) => {
          reply.upgrade().send('upgraded');
          await Promise.resolve();
          throw new Error('failed after upgrading');
        },
      ],
    ])('logs a route failing after upgrading (%s) with its real error, and closes the WebSocket with 1011', async (_how, route) => {
      const { logs, client } = await clientOfLoggedRoute(route);
      const end = closed(client);
      expect((await nextMessage(client)).data.toString()).toBe('upgraded');
      expect((await end).code).toBe(1011);
      const errors = logs.filter((entry) => entry.level >= ERROR);
      expect(errors).toHaveLength(1);
      expect(errors[0]).toMatchObject({ err: { message: 'failed after upgrading' }, reqId: expect.anything() });
      // Not Fastify's own complaints about a hijacked reply, which hide the error.
      expect(logs.some((entry) => entry.err?.code === 'FST_ERR_REP_ALREADY_SENT' || entry.msg?.startsWith('Promise errored'))).toBe(false);
    });

    it('closes with 1011 on a route added while the plugin was still loading (app.register(wsup) without await)', async () => {
      const logs: LogEntry[] = [];
      const app = fastify({ logger: capturedLogger((entry) => logs.push(entry)) });
      void app.register(wsup);
      app.get('/ws', (_request, reply) => {
        reply.upgrade().send('upgraded');
        throw new Error('failed after upgrading');
      });
      const url = await serve(app);
      const client = await openClient(`${url}/ws`);
      const end = closed(client);
      expect((await nextMessage(client)).data.toString()).toBe('upgraded');
      expect((await end).code).toBe(1011);
      expect(logs.filter((entry) => entry.level >= ERROR)).toMatchObject([{ err: { message: 'failed after upgrading' } }]);
    });

    it.each([
      ['synchronous', (reply: { upgrade(): WebSocket }) => reply.upgrade().on('message', echo)],
      ['async', async (reply: { upgrade(): WebSocket }) => reply.upgrade().on('message', echo)],
    ])('lets a %s route return the WebSocket it made: Fastify sends nothing and logs nothing for it', async (_how, route) => {
      const { logs, client } = await clientOfLoggedRoute(route);
      client.send('hi');
      expect((await nextMessage(client)).data.toString()).toBe('echo hi');
      client.close();
      await closed(client);
      // Without the adapter's guard Fastify would try to send the returned WebSocket as the reply
      // of a hijacked request, and warn with FST_ERR_REP_ALREADY_SENT for every connection.
      expect(logs.filter((entry) => entry.level >= WARN)).toEqual([]);
    });

    it('logs a refusal upgrade() answered itself (a foreign origin) as a client error', async () => {
      const logs: LogEntry[] = [];
      const app = fastify({ logger: capturedLogger((entry) => logs.push(entry)) });
      await app.register(wsup);
      app.get('/ws', (_request, reply) => void reply.upgrade({ origin: 'https://allowed.example' }));
      const url = await serve(app);
      expect((await refusal(`${url}/ws`, { origin: 'https://evil.example' })).status).toBe(403);
      const logged = logs.find((entry) => entry.err?.code === ErrorCode.OriginForbidden);
      expect(logged?.level).toBe(INFO);
      expect(logs.filter((entry) => entry.level >= ERROR)).toEqual([]);
      expect(logs.some((entry) => entry.err?.code === 'FST_ERR_REP_ALREADY_SENT')).toBe(false);
    });

    it('makes reply.upgrade() and request.isUpgrade throw ERR_SETUP_MISSING naming app.register(wsup) when it was not registered', async () => {
      const app = fastify();
      const seen: unknown[] = [];
      app.setErrorHandler(async (error: Error & { statusCode?: number }, _request, reply) => {
        seen.push(error);
        await reply.code(error.statusCode ?? 500).send({ code: (error as { code?: string }).code });
      });
      app.get('/ws', (_request, reply) => void reply.upgrade());
      app.get('/either', (request) => (request.isUpgrade ? 'websocket' : 'plain'));
      const url = await serve(app);
      const plain = await request(app.server).get('/ws');
      expect([plain.status, plain.body]).toEqual([500, { code: ErrorCode.SetupMissing }]);
      expect((await refusal(`${url}/ws`)).status).toBe(500);
      expect((await request(app.server).get('/either')).status).toBe(500);
      expect(seen).toHaveLength(3);
      for (const err of seen) {
        expect(err).toBeInstanceOf(WebSocketError);
        expect(err).not.toBeInstanceOf(TypeError);
        expect(err).toMatchObject({ code: ErrorCode.SetupMissing, statusCode: 500 });
        expect((err as Error).message).toMatch(/^(reply\.upgrade\(\)|request\.isUpgrade) needs app\.register\(wsup\) from @wsup\/fastify/);
      }
    });

    it('keeps reply.upgrade() to the scopes the plugin was registered in', async () => {
      const app = fastify();
      const seen: unknown[] = [];
      app.setErrorHandler(async (error: Error, _request, reply) => {
        seen.push(error);
        await reply.code(500).send('failed');
      });
      await app.register(async (withPlugin) => {
        await withPlugin.register(wsup);
        withPlugin.get('/in', (_request, reply) => void reply.upgrade().send('in'));
      });
      await app.register(async (without) => {
        without.get('/out', (_request, reply) => void reply.upgrade().send('out'));
      });
      const url = await serve(app);
      const client = await openClient(`${url}/in`);
      expect((await nextMessage(client)).data.toString()).toBe('in');
      client.terminate();
      expect((await refusal(`${url}/out`)).status).toBe(500);
      expect(seen[0]).toMatchObject({ code: ErrorCode.SetupMissing });
    });

    it('names app.register(wsup) when a WebSocket handshake reaches upgrade() on a server without the plugin', async () => {
      const app = fastify();
      app.get('/ws', (request, reply) => void upgrade(request, reply));
      const url = await serve(app);
      const refused = await refusal(`${url}/ws`);
      expect(refused.status).toBe(500);
      expect(refused.body).toMatch(/app\.register\(wsup\) from @wsup\/fastify/);
      expect(refused.body).not.toMatch(/handleUpgrades/);
    });
  });
}
