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
 * | `GET /fail-after-upgrade-sync` | upgrades, sends `upgraded`, then throws before returning |
 * | anything else | the framework's own 404 |
 *
 * Every error that reaches the framework's error path (its error event, its logger, what its
 * error handlers see) goes to `options.onAppError`. With `options.errorHandler` the app handles
 * errors that way (one of `capabilities.errorHandlers`: a user error handler written the usual
 * way, `res.status(err.statusCode || 500)`), else as the framework does by default; the suite
 * checks its error behaviour with each.
 *
 * With `http2: true` in the capabilities the whole suite runs three times: over HTTP/1.1, over
 * HTTP/2 (TLS, `allowHTTP1: false`) and over HTTP/2 on a server that also serves HTTP/1.1
 * (`allowHTTP1: true`); `makeApp` then builds the server `options.http2` asks for.
 */
import { once } from 'node:events';
import { createServer } from 'node:http';
import { createSecureServer } from 'node:http2';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  ErrorCode,
  handleUpgrades,
  upgrade as coreUpgrade,
  WebSocketError,
  type ConnectOptions,
  type HandshakeResponseError,
  type UpgradeOptions,
  type UpgradeRequest,
  type UpgradeResponse,
  type UpgradeServer,
  type WebSocket,
} from '@wsup/core';
import { http1Peer, http2Peer, type Peer, type Transport } from './peers.js';
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
  /** Receives every error that reaches the framework's error path (or, where that is a logger, what it logged of it). */
  onAppError(err: unknown): void;
  /** Handle errors this way (one of `capabilities.errorHandlers`) rather than the framework's default way. */
  errorHandler?: string;
  /** Serve HTTPS with this certificate. */
  tls?: { key: string; cert: string };
  /** Serve HTTP/2 (always with `tls`), and HTTP/1.1 on the same port if `allowHTTP1`. */
  http2?: { allowHTTP1: boolean };
}

export interface SuiteApp {
  /** The app's server, listening on 127.0.0.1 and an ephemeral port, upgrades attached. */
  server: UpgradeServer;
  /** The adapter's in-memory `injectWS` for this app. */
  inject(path: string, options?: ConnectOptions): Promise<WebSocket>;
  /** Closes the app the framework's way (`server.close()`, `fastify.close()`). */
  close(): Promise<void>;
}

export type MakeApp = (options: SuiteOptions) => Promise<SuiteApp>;

export interface SuiteCapabilities {
  /** The framework runs on node:http2, so the suite also runs over HTTP/2. */
  http2?: boolean;
  /**
   * The framework's common error-handling patterns besides its default, by name (a user error
   * middleware, one placed before or after the adapter's): the app handles errors that way when
   * `options.errorHandler` names one.
   */
  errorHandlers?: readonly string[];
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

/**
 * What core's `upgrade()` negotiates for `compress: true` with this transport's client, on a bare
 * node server: as the client reports it (`ws` gives extension names only) and as the server's
 * WebSocket does (the whole Sec-WebSocket-Extensions answer).
 */
async function coreDeflateReference(
  transport: Transport,
  cert: { key: string; cert: string },
): Promise<{ client: string; server: string }> {
  let server = '';
  const handler = (req: UpgradeRequest, res: UpgradeResponse) => {
    try {
      const options: EchoOptions = { compress: true };
      server = coreUpgrade(req, res, options).extensions;
    } catch {
      // the refusal has been sent
    }
  };
  const http = transport === 'http/1.1' ? createServer(handler) : createSecureServer(cert, handler);
  const router = handleUpgrades(http);
  http.listen(0, '127.0.0.1');
  await once(http, 'listening');
  const peer = transport === 'http/1.1' ? http1Peer(http) : http2Peer(http, { ca: cert.cert });
  const client = await peer.open('/reference');
  const negotiated = client.extensions;
  client.terminate();
  for (const ws of router.clients) ws.terminate();
  peer.close();
  http.close();
  return { client: negotiated, server };
}

/** Runs the shared adapter behaviour suite against the app `makeApp` builds. */
export function describeAdapter(name: string, makeApp: MakeApp, capabilities: SuiteCapabilities = {}): void {
  const transports: Transport[] = capabilities.http2 ? ['http/1.1', 'h2', 'h2+http/1.1'] : ['http/1.1'];
  for (const transport of transports) {
    const title = transport === 'http/1.1' ? `${name}: shared adapter behaviour` : `${name} over ${transport}: shared adapter behaviour`;
    describe(title, () => describeOver(transport, makeApp, capabilities));
  }
}

function describeOver(transport: Transport, makeApp: MakeApp, capabilities: SuiteCapabilities): void {
  const overHttp2 = transport !== 'http/1.1';
  let app: SuiteApp;
  let peer: Peer;
  let cert: { key: string; cert: string };
  const upgradeErrors: unknown[] = [];

  /** The app this transport needs, and a peer to reach it. */
  const serve = async (options: Omit<SuiteOptions, 'tls' | 'http2'>) => {
    const served = overHttp2
      ? await makeApp({ ...options, tls: cert, http2: { allowHTTP1: transport === 'h2+http/1.1' } })
      : await makeApp(options);
    return { app: served, peer: overHttp2 ? http2Peer(served.server, { ca: cert.cert }, transport) : http1Peer(served.server) };
  };

  beforeAll(async () => {
    if (!vi.isMockFunction(coreUpgrade)) {
      throw new Error("the suite needs core's upgrade() spied: vi.mock('@wsup/core', …) in the test file (see adapter-suite.ts)");
    }
    cert = selfSignedCert();
    ({ app, peer } = await serve({ echoOptions: ECHO_OPTIONS, onUpgradeError: (err) => upgradeErrors.push(err), onAppError: () => {} }));
  });
  afterAll(async () => {
    peer?.close();
    await app?.close();
  });

  // In memory, so the same whatever the transport.
  it.skipIf(overHttp2)('injectWS reaches WebSocket routes in memory, through the middleware', async () => {
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
    const client = await peer.open('/echo');
    const end = client.closed();
    client.send('hello');
    expect(await client.next()).toEqual({ data: Buffer.from('hello'), binary: false });
    client.send(Buffer.from([0, 1, 2, 255]));
    expect(await client.next()).toEqual({ data: Buffer.from([0, 1, 2, 255]), binary: true });
    client.close(1000);
    expect((await end).code).toBe(1000);
  });

  it('serves plain HTTP requests through the framework as before', async () => {
    const res = await peer.get('/');
    expect(res.status).toBe(200);
    expect(res.body).toBe('home');
  });

  it("answers an upgrade the auth middleware refuses with the middleware's real 401, then ends it", async () => {
    const raw = await peer.handshake('/private/echo?token=wrong');
    expect(raw.status).toBe(401);
    expect(raw.body).toBe('unauthorized');
    const refused = await peer.refusal('/private/echo');
    expect(refused.status).toBe(401);
    expect(refused.body).toBe('unauthorized');
  });

  it('upgrades a request the auth middleware lets through', async () => {
    const client = await peer.open('/private/echo?token=secret');
    client.send('authorized');
    expect((await client.next()).data.toString()).toBe('authorized');
    client.terminate();
  });

  it("answers an upgrade to an unknown path with the framework's own 404", async () => {
    const raw = await peer.handshake('/no/such/route');
    expect(raw.status).toBe(404);
    const plain = await peer.get('/no/such/route');
    expect(plain.status).toBe(404);
    // The same 404 page the framework serves to plain requests.
    expect(raw.body).toBe(plain.body);
  });

  it('gives the handler its route params', async () => {
    const client = await peer.open('/rooms/blue%20room');
    expect((await client.next()).data.toString()).toBe('room:blue room');
    client.terminate();
  });

  it('lets a WebSocket route answer a plain GET as the handler decides', async () => {
    const plain = await peer.get('/either');
    expect(plain.status).toBe(200);
    expect(plain.body).toBe('plain');
    const client = await peer.open('/either');
    expect((await client.next()).data.toString()).toBe('websocket');
    client.terminate();
  });

  it('answers upgrade() on a plain GET with 426 and a typed error', async () => {
    upgradeErrors.length = 0;
    const res = await peer.get('/echo');
    expect(res.status).toBe(426);
    // Upgrade is a connection-specific field, which HTTP/2 forbids (RFC 9113 §8.2.2).
    expect(res.headers.upgrade).toBe(overHttp2 ? undefined : 'websocket');
    expect(upgradeErrors).toHaveLength(1);
    expect(upgradeErrors[0]).toBeInstanceOf(WebSocketError);
    expect(upgradeErrors[0]).toMatchObject({ code: ErrorCode.NotUpgrade, status: 426 });
  });

  it('selects the subprotocol given in the upgrade options', async () => {
    const chat = await peer.open('/echo', ['chat']);
    expect(chat.protocol).toBe('chat');
    const preferred = await peer.open('/echo', ['superchat', 'chat']);
    expect(preferred.protocol).toBe('superchat');
    const none = await peer.open('/echo');
    expect(none.protocol).toBe('');
    for (const c of [chat, preferred, none]) c.terminate();
  });

  it('passes the upgrade options to core unchanged (compress, heartbeat and the rest)', async () => {
    const client = await peer.open('/echo');
    client.send('x');
    await client.next();
    const { options } = lastCoreCall('/echo');
    expect(options).toMatchObject(ECHO_OPTIONS);
    expect(options).toHaveProperty('compress', true);
    expect(options).toHaveProperty('heartbeat', 30);
    client.terminate();
  });

  it('negotiates permessage-deflate for compress: true exactly as core does', async () => {
    const reference = await coreDeflateReference(transport, cert);
    expect(reference.server).toContain('permessage-deflate');
    const client = await peer.open('/echo');
    client.send('compressible '.repeat(50));
    expect((await client.next()).data.toString()).toBe('compressible '.repeat(50));
    expect(client.extensions).toBe(reference.client);
    expect(lastCoreCall('/echo').ws?.extensions).toBe(reference.server);
    client.terminate();
  });

  for (const errorHandler of [undefined, ...(capabilities.errorHandlers ?? [])]) {
    describe(errorHandler ? `with ${errorHandler}` : "with the framework's default error handling", () => {
      describeErrorPaths(serve, overHttp2, errorHandler);
    });
  }

  it('closes live WebSockets with 1001 when the app closes', async () => {
    const own = await serve({ echoOptions: {}, onUpgradeError: () => {}, onAppError: () => {} });
    const client = await own.peer.open('/echo');
    const end = client.closed();
    await own.app.close();
    expect((await end).code).toBe(1001);
    own.peer.close();
  });

  if (transport === 'h2+http/1.1') {
    it('serves HTTP/1.1 WebSockets and requests on the same port, through the same routes', async () => {
      const http1 = http1Peer(app.server, { ca: cert.cert });
      const client = await http1.open('/private/echo?token=secret');
      client.send('over HTTP/1.1');
      expect((await client.next()).data.toString()).toBe('over HTTP/1.1');
      client.terminate();
      expect((await http1.handshake('/private/echo')).status).toBe(401);
      expect((await http1.get('/')).body).toBe('home');
    });
  }

  // HTTP/2 runs over TLS already.
  if (!overHttp2) {
    describe('over HTTPS', () => {
      let secure: SuiteApp;
      let securePeer: Peer;
      beforeAll(async () => {
        secure = await makeApp({ echoOptions: {}, onUpgradeError: () => {}, onAppError: () => {}, tls: cert });
        securePeer = http1Peer(secure.server, { ca: cert.cert });
      });
      afterAll(async () => {
        await secure?.close();
      });

      it('echoes over wss://', async () => {
        const client = await securePeer.open('/private/echo?token=secret');
        client.send('secure');
        expect((await client.next()).data.toString()).toBe('secure');
        client.terminate();
      });

      it('sends the 401 and serves plain HTTPS requests', async () => {
        expect((await securePeer.handshake('/private/echo')).status).toBe(401);
        expect((await securePeer.get('/')).status).toBe(200);
      });
    });
  }
}

type Serve = (options: Omit<SuiteOptions, 'tls' | 'http2'>) => Promise<{ app: SuiteApp; peer: Peer }>;

/** Where errors go, before and after the upgrade, with one way of handling them. */
function describeErrorPaths(serve: Serve, overHttp2: boolean, errorHandler: string | undefined): void {
  let app: SuiteApp;
  let peer: Peer;
  const appErrors: unknown[] = [];

  beforeAll(async () => {
    const options = { echoOptions: {}, onUpgradeError: () => {}, onAppError: (err: unknown) => appErrors.push(err) };
    ({ app, peer } = await serve(errorHandler === undefined ? options : { ...options, errorHandler }));
  });
  afterAll(async () => {
    peer?.close();
    await app?.close();
  });

  it('answers a plain GET on a WebSocket route with 426, its headers intact', async () => {
    const res = await peer.get('/echo');
    expect(res.status).toBe(426);
    expect(res.headers['sec-websocket-version']).toBe('13');
    // Upgrade is a connection-specific field, which HTTP/2 forbids (RFC 9113 §8.2.2).
    expect(res.headers.upgrade).toBe(overHttp2 ? undefined : 'websocket');
    expect((await peer.get('/')).status).toBe(200);
  });

  it('answers a route that fails before upgrading with a real 500', async () => {
    const raw = await peer.handshake('/fail-before-upgrade');
    expect(raw.status).toBe(500);
    expect((await peer.get('/')).status).toBe(200);
  });

  for (const [how, path] of [
    ["the framework's async way", '/fail-after-upgrade'],
    ['a synchronous throw', '/fail-after-upgrade-sync'],
  ] as const) {
    it(`closes the WebSocket with 1011 and reports the error when its route fails after upgrading (${how}), and keeps serving`, async () => {
      appErrors.length = 0;
      const client = await peer.open(path);
      const end = client.closed();
      expect((await client.next()).data.toString()).toBe('upgraded');
      expect((await end).code).toBe(1011);
      expect(appErrors).toContainEqual(expect.objectContaining({ message: 'route failed after upgrading' }));
      const again = await peer.open('/echo');
      again.send('still up');
      expect((await again.next()).data.toString()).toBe('still up');
      again.terminate();
    });
  }
}
