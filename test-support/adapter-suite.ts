/**
 * The behaviour every framework adapter must show, run against each adapter and framework major
 * from the packages' own test files:
 *
 * ```ts
 * vi.mock('@wsup/core', async (importOriginal) => {
 *   const core = await importOriginal<typeof import('@wsup/core')>();
 *   return { ...core, upgrade: vi.fn(core.upgrade) };   // lets the suite see what reaches core
 * });
 * describeAdapter('Express 5', (options) => makeExpressApp(express, options));
 * ```
 *
 * The app `makeApp` builds must serve, in its framework's own idiom:
 *
 * | route | behaviour |
 * | --- | --- |
 * | `GET /` | 200 `home` |
 * | middleware on `/private/*` | 401 `unauthorized` unless `?token=secret` |
 * | `GET /echo`, `GET /private/echo` | `upgrade(options.echoOptions)`, then echo every message as it came (text or binary); an error `upgrade()` throws goes to `options.onUpgradeError` and is rethrown |
 * | `GET /rooms/:room` | upgrade, send `room:<room>` |
 * | `GET /either` | a WebSocket request (the adapter's `isUpgrade`) is upgraded and sent `websocket`; a plain GET gets 200 `plain` |
 * | `GET /fail-before-upgrade` | fails (throws, or the framework's async error path) before upgrading |
 * | `GET /fail-after-upgrade` | upgrades, sends `upgraded`, then fails the framework's async way |
 * | anything else | the framework's own 404 |
 */
import { once } from 'node:events';
import { createServer, type Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  ErrorCode,
  handleUpgrades,
  upgrade as coreUpgrade,
  WebSocketError,
  type ConnectOptions,
  type HandshakeResponseError,
  type UpgradeOptions,
  type WebSocket,
} from '@wsup/core';
import { closed, nextMessage, openClient, rawHandshake, refusal, statusOf, wsUrl } from './clients.js';
import { selfSignedCert } from './tls.js';

/**
 * Upgrade options, including those core may not type yet (`compress` and `heartbeat` are being
 * added): adapters must pass options through whether or not they know them.
 */
export type EchoOptions = UpgradeOptions & { compress?: boolean | object; heartbeat?: number };

export interface SuiteOptions {
  /** What `/echo` and `/private/echo` pass to `upgrade()`. */
  echoOptions: EchoOptions;
  /** Receives whatever `upgrade()` threw in `/echo`, before the handler rethrows it. */
  onUpgradeError(err: unknown): void;
  /** Serve HTTPS with this certificate. */
  tls?: { key: string; cert: string };
}

export interface SuiteApp {
  /** The app's server, listening on 127.0.0.1 and an ephemeral port, upgrades attached. */
  server: HttpServer | HttpsServer;
  /** The adapter's in-memory `injectWS` for this app. */
  inject(path: string, options?: ConnectOptions): Promise<WebSocket>;
  /** Closes the app the framework's way (`server.close()`, `fastify.close()`). */
  close(): Promise<void>;
}

export type MakeApp = (options: SuiteOptions) => Promise<SuiteApp>;

export interface SuiteCapabilities {
  /** The framework lets the adapter see a handler fail after upgrading (Fastify 4 does not). */
  seesErrorsAfterUpgrade?: boolean;
}

const ECHO_OPTIONS: EchoOptions = {
  subprotocol: ['chat', 'superchat'],
  compress: true,
  heartbeat: 30,
  maxPayload: 1024 * 1024,
  closeTimeout: 2,
};

const spiedUpgrade = vi.mocked(coreUpgrade);

/** The options and result of core's `upgrade()` for the last request to `path`. */
function lastCoreCall(path: string): { options: unknown; ws: WebSocket | undefined } {
  const calls = spiedUpgrade.mock.calls;
  for (let i = calls.length - 1; i >= 0; i--) {
    const req = calls[i]![0];
    if (req.url?.split('?')[0] === path) {
      const result = spiedUpgrade.mock.results[i];
      return { options: calls[i]![2], ws: result?.type === 'return' ? result.value : undefined };
    }
  }
  throw new Error(`core upgrade() was not called for ${path}`);
}

/** What core's `upgrade()` negotiates with the `ws` client for `compress: true` on a bare node:http server. */
async function coreDeflateReference(): Promise<string> {
  const server = createServer((req, res) => {
    try {
      const options: EchoOptions = { compress: true };
      coreUpgrade(req, res, options);
    } catch {
      // the refusal has been sent
    }
  });
  const router = handleUpgrades(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const client = await openClient(`${wsUrl(server)}/reference`);
  const negotiated = client.extensions;
  client.terminate();
  for (const ws of router.clients) ws.terminate();
  server.close();
  return negotiated;
}

/** Runs the shared adapter behaviour suite against the app `makeApp` builds. */
export function describeAdapter(name: string, makeApp: MakeApp, capabilities: SuiteCapabilities = {}): void {
  describe(`${name}: shared adapter behaviour`, () => {
    let app: SuiteApp;
    let url: string;
    const upgradeErrors: unknown[] = [];

    beforeAll(async () => {
      if (!vi.isMockFunction(coreUpgrade)) {
        throw new Error("the suite needs core's upgrade() spied: vi.mock('@wsup/core', …) in the test file (see adapter-suite.ts)");
      }
      app = await makeApp({ echoOptions: ECHO_OPTIONS, onUpgradeError: (err) => upgradeErrors.push(err) });
      url = wsUrl(app.server);
    });
    afterAll(async () => {
      await app?.close();
    });

    it('injectWS reaches WebSocket routes in memory, through the middleware', async () => {
      const ws = await app.inject('/private/echo?token=secret', { subprotocols: ['chat'] });
      expect(ws.protocol).toBe('chat');
      ws.send('in memory');
      expect((await ws.receive())?.data).toBe('in memory');
      await ws.close();
      const room = await app.inject('/rooms/blue');
      expect((await room.receive())?.data).toBe('room:blue');
      await room.close();
      const refused = (await app.inject('/private/echo').catch((e: unknown) => e)) as HandshakeResponseError;
      expect(refused.code).toBe(ErrorCode.NotSwitchingProtocols);
      expect(refused.status).toBe(401);
      expect(refused.body).toBe('unauthorized');
    });

    it('echoes text and binary messages', async () => {
      const client = await openClient(`${url}/echo`);
      client.send('hello');
      expect(await nextMessage(client)).toEqual({ data: Buffer.from('hello'), binary: false });
      client.send(Buffer.from([0, 1, 2, 255]));
      expect(await nextMessage(client)).toEqual({ data: Buffer.from([0, 1, 2, 255]), binary: true });
      client.close(1000);
      expect((await closed(client)).code).toBe(1000);
    });

    it('serves plain HTTP requests through the framework as before', async () => {
      const res = await request(app.server).get('/');
      expect(res.status).toBe(200);
      expect(res.text).toBe('home');
    });

    it("answers an upgrade the auth middleware refuses with the middleware's real 401, then closes", async () => {
      const raw = await rawHandshake(app.server, '/private/echo?token=wrong');
      expect(statusOf(raw)).toBe(401);
      expect(raw).toMatch(/\r\n\r\nunauthorized$/);
      const refused = await refusal(`${url}/private/echo`);
      expect(refused.status).toBe(401);
      expect(refused.body).toBe('unauthorized');
    });

    it('upgrades a request the auth middleware lets through', async () => {
      const client = await openClient(`${url}/private/echo?token=secret`);
      client.send('authorized');
      expect((await nextMessage(client)).data.toString()).toBe('authorized');
      client.terminate();
    });

    it("answers an upgrade to an unknown path with the framework's own 404", async () => {
      const raw = await rawHandshake(app.server, '/no/such/route');
      expect(statusOf(raw)).toBe(404);
      const plain = await request(app.server).get('/no/such/route');
      expect(plain.status).toBe(404);
      // The same 404 page the framework serves to plain requests.
      expect(raw.slice(raw.indexOf('\r\n\r\n') + 4)).toBe(plain.text);
    });

    it('gives the handler its route params', async () => {
      const client = await openClient(`${url}/rooms/blue%20room`);
      expect((await nextMessage(client)).data.toString()).toBe('room:blue room');
      client.terminate();
    });

    it('lets a WebSocket route answer a plain GET as the handler decides', async () => {
      const plain = await request(app.server).get('/either');
      expect(plain.status).toBe(200);
      expect(plain.text).toBe('plain');
      const client = await openClient(`${url}/either`);
      expect((await nextMessage(client)).data.toString()).toBe('websocket');
      client.terminate();
    });

    it('answers upgrade() on a plain GET with 426 and a typed error', async () => {
      upgradeErrors.length = 0;
      const res = await request(app.server).get('/echo');
      expect(res.status).toBe(426);
      expect(res.headers.upgrade).toBe('websocket');
      expect(upgradeErrors).toHaveLength(1);
      expect(upgradeErrors[0]).toBeInstanceOf(WebSocketError);
      expect(upgradeErrors[0]).toMatchObject({ code: ErrorCode.NotUpgrade, status: 426 });
    });

    it('selects the subprotocol given in the upgrade options', async () => {
      const chat = await openClient(`${url}/echo`, ['chat']);
      expect(chat.protocol).toBe('chat');
      const preferred = await openClient(`${url}/echo`, ['superchat', 'chat']);
      expect(preferred.protocol).toBe('superchat');
      const none = await openClient(`${url}/echo`);
      expect(none.protocol).toBe('');
      for (const c of [chat, preferred, none]) c.terminate();
    });

    it('passes the upgrade options to core unchanged (compress, heartbeat and the rest)', async () => {
      const client = await openClient(`${url}/echo`);
      client.send('x');
      await nextMessage(client);
      const { options } = lastCoreCall('/echo');
      expect(options).toMatchObject(ECHO_OPTIONS);
      expect(options).toHaveProperty('compress', true);
      expect(options).toHaveProperty('heartbeat', 30);
      client.terminate();
    });

    it('negotiates permessage-deflate for compress: true exactly as core does', async () => {
      // Once core negotiates the extension (reference = 'permessage-deflate'), this checks the
      // adapter does too; until then both are ''.
      const reference = await coreDeflateReference();
      const client = await openClient(`${url}/echo`);
      client.send('compressible '.repeat(50));
      expect((await nextMessage(client)).data.toString()).toBe('compressible '.repeat(50));
      expect(client.extensions).toBe(reference);
      expect(lastCoreCall('/echo').ws?.extensions).toBe(client.extensions);
      if (reference !== '') expect(client.extensions).toContain('permessage-deflate');
      client.terminate();
    });

    it('answers a route that fails before upgrading with a real 500', async () => {
      const raw = await rawHandshake(app.server, '/fail-before-upgrade');
      expect(statusOf(raw)).toBe(500);
      expect((await request(app.server).get('/')).status).toBe(200);
    });

    it.skipIf(capabilities.seesErrorsAfterUpgrade === false)(
      'closes the WebSocket with 1011 when its route fails after upgrading, and keeps serving',
      async () => {
        const client = await openClient(`${url}/fail-after-upgrade`);
        const end = closed(client);
        expect((await nextMessage(client)).data.toString()).toBe('upgraded');
        expect((await end).code).toBe(1011);
        const again = await openClient(`${url}/echo`);
        again.send('still up');
        expect((await nextMessage(again)).data.toString()).toBe('still up');
        again.terminate();
      },
    );

    it('closes live WebSockets with 1001 when the app closes', async () => {
      const own = await makeApp({ echoOptions: {}, onUpgradeError: () => {} });
      const client = await openClient(`${wsUrl(own.server)}/echo`);
      const end = closed(client);
      await own.close();
      expect((await end).code).toBe(1001);
    });

    describe('over HTTPS', () => {
      let secure: SuiteApp;
      let cert: { key: string; cert: string };
      beforeAll(async () => {
        cert = selfSignedCert();
        secure = await makeApp({ echoOptions: {}, onUpgradeError: () => {}, tls: cert });
      });
      afterAll(async () => {
        await secure?.close();
      });

      it('echoes over wss://', async () => {
        const client = await openClient(`${wsUrl(secure.server, true)}/private/echo?token=secret`, [], { ca: cert.cert });
        client.send('secure');
        expect((await nextMessage(client)).data.toString()).toBe('secure');
        client.terminate();
      });

      it('sends the 401 and serves plain HTTPS requests', async () => {
        const raw = await rawHandshake(secure.server, '/private/echo', { ca: cert.cert });
        expect(statusOf(raw)).toBe(401);
        const res = await request(secure.server).get('/').ca(cert.cert);
        expect(res.status).toBe(200);
      });
    });
  });
}
