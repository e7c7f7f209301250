import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocketClient from 'ws';
import {
  attachUpgrades,
  defineSetupFallback,
  ErrorCode,
  failUpgradedRequest,
  handshakeRefusal,
  isAttached,
  refuseUnrouted,
  setupMissing,
  shortenClientErrorStack,
  upgrade,
  wantsWebSocket,
  WebSocketError,
  webSocketOfRequest,
  type WebSocket,
} from '@wsup/core';

type Listener = (req: IncomingMessage, res: ServerResponse) => void;

const servers: ReturnType<typeof createServer>[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    s.close();
  }
});

async function serve(listener: Listener, attachTimes = 1) {
  const server = createServer(listener);
  servers.push(server);
  const routers = Array.from({ length: attachTimes }, () => attachUpgrades(server));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, routers, url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

function open(url: string): Promise<WebSocketClient> {
  const client = new WebSocketClient(url);
  return new Promise((resolve, reject) => {
    client.once('open', () => resolve(client));
    client.once('error', reject);
  });
}

function closeCode(client: WebSocketClient): Promise<number> {
  return new Promise((resolve) => client.once('close', (code: number) => resolve(code)));
}

describe('attachUpgrades', () => {
  it('routes each upgrade once however often it is attached, and returns one router', async () => {
    let requests = 0;
    const { routers, url } = await serve((req, res) => {
      requests++;
      upgrade(req, res);
    }, 3);
    expect(new Set(routers).size).toBe(1);
    const client = await open(`${url}/`);
    expect(requests).toBe(1);
    expect(routers[0]!.clients.size).toBe(1);
    client.terminate();
  });

  it('closes the WebSocket with 1011 when the app answers the request after upgrading', async () => {
    const { url } = await serve((req, res) => {
      upgrade(req, res).send('upgraded');
      // What a framework's error handler does when the route fails after upgrading.
      setImmediate(() => {
        res.statusCode = 500;
        res.end('Internal Server Error');
      });
    });
    const client = new WebSocketClient(`${url}/`);
    const code = closeCode(client);
    const [first] = (await once(client, 'message')) as [Buffer];
    expect(first.toString()).toBe('upgraded');
    expect(await code).toBe(1011);
  });

  it('leaves responses to requests that were not upgraded alone', async () => {
    const { server } = await serve((_req, res) => {
      res.statusCode = 401;
      res.end('unauthorized');
    });
    const { port } = server.address() as AddressInfo;
    const client = new WebSocketClient(`ws://127.0.0.1:${port}/`);
    const [, res] = (await once(client, 'unexpected-response')) as [unknown, IncomingMessage];
    expect(res.statusCode).toBe(401);
    const body: Buffer[] = [];
    for await (const chunk of res) body.push(chunk as Buffer);
    expect(Buffer.concat(body).toString()).toBe('unauthorized');
  });
});

describe('webSocketOfRequest and failUpgradedRequest', () => {
  it('find the WebSocket of an upgraded request and close it with 1011', async () => {
    let seen: WebSocket | undefined;
    let failedBefore: boolean | undefined;
    const { url } = await serve((req, res) => {
      failedBefore = failUpgradedRequest(req);
      const ws = upgrade(req, res);
      seen = webSocketOfRequest(req);
      expect(seen).toBe(ws);
      expect(failUpgradedRequest(req)).toBe(true);
    });
    const client = new WebSocketClient(`${url}/`);
    expect(await closeCode(client)).toBe(1011);
    expect(failedBefore).toBe(false);
    expect(seen).toBeDefined();
  });

  it('know nothing of plain requests', async () => {
    const results: unknown[] = [];
    const { server } = await serve((req, res) => {
      results.push(webSocketOfRequest(req), failUpgradedRequest(req));
      res.end('plain');
    });
    const { port } = server.address() as AddressInfo;
    const res = await fetch(`http://127.0.0.1:${port}/`);
    expect(await res.text()).toBe('plain');
    expect(results).toEqual([undefined, false]);
  });
});

describe('wantsWebSocket', () => {
  const req = (upgradeHeader?: string) => ({ headers: upgradeHeader === undefined ? {} : { upgrade: upgradeHeader } }) as IncomingMessage;

  it('is true when the Upgrade header lists websocket, in any case', () => {
    expect(wantsWebSocket(req('websocket'))).toBe(true);
    expect(wantsWebSocket(req('WebSocket'))).toBe(true);
    expect(wantsWebSocket(req('h2c, websocket'))).toBe(true);
  });

  it('is false without it', () => {
    expect(wantsWebSocket(req())).toBe(false);
    expect(wantsWebSocket(req('h2c'))).toBe(false);
    expect(wantsWebSocket(req('websockets'))).toBe(false);
  });
});

describe('handshakeRefusal', () => {
  const req = (method: string, headers: Record<string, string>) =>
    ({ method, httpVersion: '1.1', headers: { host: 'example.com', ...headers } }) as unknown as IncomingMessage;
  const handshake = {
    connection: 'Upgrade',
    upgrade: 'websocket',
    'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
    'sec-websocket-version': '13',
  };

  it('is undefined for a valid handshake', () => {
    expect(handshakeRefusal(req('GET', handshake))).toBeUndefined();
  });

  it('gives a plain GET the 426 error and the headers its response must carry', () => {
    const refusal = handshakeRefusal(req('GET', {}));
    expect(refusal?.error).toMatchObject({ code: ErrorCode.NotUpgrade, status: 426 });
    expect(refusal?.headers).toEqual({ Upgrade: 'websocket', 'Sec-WebSocket-Version': '13' });
  });

  it("gives the client's mistake a one-line stack", () => {
    expect(handshakeRefusal(req('GET', {}))?.error.stack).toBe(
      'WebSocketError [ERR_HANDSHAKE_NOT_UPGRADE]: Expected an Upgrade: websocket request',
    );
  });

  it('gives a POST the 405 error with Allow: GET', () => {
    const refusal = handshakeRefusal(req('POST', handshake));
    expect(refusal?.error).toMatchObject({ code: ErrorCode.BadMethod, status: 405 });
    expect(refusal?.headers).toEqual({ Allow: 'GET' });
  });
});

describe('shortenClientErrorStack', () => {
  it("shortens the stack of a 4xx error to one line and leaves a server error's alone", () => {
    const client = shortenClientErrorStack(new WebSocketError(ErrorCode.BadKey, 'bad key', { status: 400 }));
    expect(client.stack).toBe('WebSocketError [ERR_HANDSHAKE_KEY]: bad key');
    const server = shortenClientErrorStack(new WebSocketError(ErrorCode.InvalidOption, 'bad options', { status: 500 }));
    expect(server.stack).toMatch(/\n\s+at /);
  });
});

describe('setupMissing', () => {
  it('is a 500 ERR_SETUP_MISSING naming what needs which step', () => {
    const err = setupMissing('res.upgrade()', 'attach(server) from @wsup/express');
    expect(err).toBeInstanceOf(WebSocketError);
    expect(err).toMatchObject({ code: ErrorCode.SetupMissing, status: 500, statusCode: 500, expose: false });
    expect(err.message).toBe('res.upgrade() needs attach(server) from @wsup/express');
  });
});

describe('defineSetupFallback', () => {
  const missing = () => {
    throw setupMissing('thing.upgrade()', 'setup()');
  };

  it('answers only objects that lack their own property, without being enumerable', () => {
    const proto = {};
    defineSetupFallback(proto, 'upgrade', { method: missing });
    defineSetupFallback(proto, 'isUpgrade', { getter: missing });
    const skipped = Object.create(proto) as { upgrade(): unknown; isUpgrade: boolean };
    expect(() => skipped.upgrade()).toThrow(expect.objectContaining({ code: ErrorCode.SetupMissing }));
    expect(() => skipped.isUpgrade).toThrow(expect.objectContaining({ code: ErrorCode.SetupMissing }));
    const setUp = Object.create(proto) as { upgrade(): unknown; isUpgrade: boolean };
    setUp.upgrade = () => 'upgraded';
    setUp.isUpgrade = true;
    expect(setUp.upgrade()).toBe('upgraded');
    expect(setUp.isUpgrade).toBe(true);
    expect(Object.keys(proto)).toEqual([]);
  });

  it("replaces its own stand-in but never another library's property", () => {
    const theirs = () => 'theirs';
    const proto = { upgrade: theirs };
    defineSetupFallback(proto, 'upgrade', { method: missing });
    expect(proto.upgrade).toBe(theirs);
    const ours = {};
    const second = () => 'second copy';
    defineSetupFallback(ours, 'upgrade', { method: missing });
    defineSetupFallback(ours, 'upgrade', { method: second });
    expect((ours as { upgrade(): string }).upgrade()).toBe('second copy');
  });
});

describe('refuseUnrouted and isAttached', () => {
  async function listen(server: ReturnType<typeof createServer>) {
    servers.push(server);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return (server.address() as AddressInfo).port;
  }

  it("answers a WebSocket handshake on a server without routing with 500 naming the adapter's step", async () => {
    const errors: unknown[] = [];
    const port = await listen(
      createServer((req, res) => {
        try {
          refuseUnrouted(req, res, 'attach(server) from @wsup/example');
        } catch (err) {
          errors.push(err);
        }
      }),
    );
    const client = new WebSocketClient(`ws://127.0.0.1:${port}/`);
    client.on('error', () => {});
    const [, res] = (await once(client, 'unexpected-response')) as [unknown, IncomingMessage];
    expect(res.statusCode).toBe(500);
    const body: Buffer[] = [];
    for await (const chunk of res) body.push(chunk as Buffer);
    expect(Buffer.concat(body).toString()).toMatch(/call attach\(server\) from @wsup\/example$/);
    expect(errors[0]).toMatchObject({ code: ErrorCode.UpgradeNotRouted, status: 500 });
  });

  it('leaves plain requests and routed upgrades to upgrade()', async () => {
    const thrown: unknown[] = [];
    const { url } = await serve((req, res) => {
      try {
        refuseUnrouted(req, res, 'attach(server)');
      } catch (err) {
        thrown.push(err);
      }
      if (wantsWebSocket(req)) upgrade(req, res).send('routed');
      else res.end('plain');
    });
    // Listening before the 101 arrives: the message may come in the same chunk.
    const client = new WebSocketClient(`${url}/`);
    const [message] = (await once(client, 'message')) as [Buffer];
    expect(message.toString()).toBe('routed');
    client.terminate();
    expect(await (await fetch(url.replace('ws:', 'http:'))).text()).toBe('plain');
    expect(thrown).toEqual([]);
  });

  it('tells requests to an attached server from requests to one that is not', async () => {
    const seen: boolean[] = [];
    const listener: Listener = (req, res) => {
      seen.push(isAttached(req));
      res.end();
    };
    const { url } = await serve(listener);
    const bare = await listen(createServer(listener));
    await fetch(url.replace('ws:', 'http:'));
    await fetch(`http://127.0.0.1:${bare}/`);
    expect(seen).toEqual([true, false]);
  });
});
