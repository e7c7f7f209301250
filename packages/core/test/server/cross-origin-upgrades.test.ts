import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WsClient from 'ws';
import { connect, upgrade, type UpgradeOptions } from '@wsup/core';
import { addressedHost, isSameOrigin } from '../../src/server/same-origin.js';
import { startHttp2Server, type Http2TestServer } from '../helpers/http2-server.js';
import { handshakeRequest, RawPeer } from '../helpers/raw.js';
import { startServer, type TestServer } from '../helpers/server.js';

describe('isSameOrigin', () => {
  it.each([
    ['http://example.com', 'example.com', true],
    ['https://example.com', 'example.com', true],
    ['https://EXAMPLE.com', 'example.COM', true],
    ['https://example.com', 'example.com:443', true],
    ['http://example.com', 'example.com:80', true],
    ['http://example.com:8080', 'example.com:8080', true],
    ['http://127.0.0.1:3000', '127.0.0.1:3000', true],
    ['http://[::1]:3000', '[::1]:3000', true],
    ['https://example.com/', 'example.com', true],
    // A port the Host does not name is the default port of the origin's scheme.
    ['http://example.com:8080', 'example.com', false],
    ['https://example.com', 'example.com:8443', false],
    ['https://example.com', 'example.com:80', false],
    ['https://evil.example', 'example.com', false],
    ['https://example.com.evil.example', 'example.com', false],
    ['https://sub.example.com', 'example.com', false],
    ['http://127.0.0.1:3001', '127.0.0.1:3000', false],
    // What browsers send from sandboxed frames, file: pages and opaque origins.
    ['null', 'example.com', false],
    ['file:///etc/passwd', 'example.com', false],
    ['chrome-extension://abcdef', 'abcdef', false],
    ['https://example.com/path', 'example.com', false],
    ['https://user@example.com', 'example.com', false],
    ['not a url', 'example.com', false],
    ['https://example.com', undefined, false],
    ['https://example.com', '', false],
    ['https://example.com', 'example.com:99999x', false],
    ['https://example.com', 'example.com, evil.example', false],
  ])('%s from a request to Host %s: %s', (origin, host, same) => {
    expect(isSameOrigin(origin, host)).toBe(same);
  });

  it('never throws, whatever the headers', () => {
    fc.assert(
      fc.property(fc.string(), fc.option(fc.string(), { nil: undefined }), (origin, host) => {
        expect(typeof isSameOrigin(origin, host)).toBe('boolean');
      }),
    );
  });

  it('takes the forwarded host only when the proxy is trusted, the client-side entry first', () => {
    const headers = { host: 'internal:8080', 'x-forwarded-host': 'example.com, proxy.internal' };
    expect(addressedHost(headers, false)).toBe('internal:8080');
    expect(addressedHost(headers, true)).toBe('example.com');
    expect(addressedHost({ host: 'internal', forwarded: 'for=1.2.3.4;host="example.com:8443";proto=https, host=other' }, true)).toBe(
      'example.com:8443',
    );
    expect(addressedHost({ host: 'internal' }, true)).toBe('internal');
    expect(addressedHost({ ':authority': 'example.com', host: 'ignored' }, false)).toBe('example.com');
  });
});

describe('the default origin policy over HTTP/1.1', () => {
  let srv: TestServer;
  const routes: Record<string, UpgradeOptions> = {
    '/default': {},
    '/any': { origin: '*' },
    '/proxied': { trustProxy: true },
  };

  beforeAll(async () => {
    srv = await startServer((req, res) => {
      const ws = upgrade(req, res, routes[req.url ?? ''] ?? {});
      ws.send('open');
    });
  });
  afterAll(() => srv.close());

  async function status(path: string, headers: Record<string, string>): Promise<number> {
    const peer = await RawPeer.open(srv.port, handshakeRequest(path, headers));
    const code = peer.response!.status;
    peer.destroy();
    return code;
  }

  it('refuses a page of another origin with 403, which stops cross-site WebSocket hijacking', async () => {
    const peer = await RawPeer.open(
      srv.port,
      handshakeRequest('/default', { Host: `127.0.0.1:${srv.port}`, Origin: 'https://evil.example', Cookie: 'session=victim' }),
    );
    expect(peer.response!.status).toBe(403);
    expect(peer.response!.body.toString()).toMatch(/cross-origin WebSocket from https:\/\/evil\.example refused/);
    peer.destroy();
    expect(await status('/default', { Host: `127.0.0.1:${srv.port}`, Origin: 'null' })).toBe(403);
    expect(await status('/default', { Host: `127.0.0.1:${srv.port}`, Origin: `http://127.0.0.1:${srv.port + 1}` })).toBe(403);
  });

  it('accepts a page of the same origin, and clients that send no Origin', async () => {
    const same = new WsClient(`${srv.url}/default`, { origin: `http://127.0.0.1:${srv.port}` });
    const [data] = await new Promise<[Buffer]>((resolve, reject) => {
      same.once('message', (d: Buffer) => resolve([d]));
      same.once('error', reject);
    });
    expect(data.toString()).toBe('open');
    same.close();
    const ws = await connect(`${srv.url}/default`);
    expect((await ws.receive())?.data).toBe('open');
    await ws.close();
  });

  it("origin: '*' opens the route to every page", async () => {
    expect(await status('/any', { Host: `127.0.0.1:${srv.port}`, Origin: 'https://evil.example' })).toBe(101);
  });

  it('trustProxy judges the origin against the host the proxy forwarded, not Host', async () => {
    const behindProxy = { Host: 'app.internal:3000', 'X-Forwarded-Host': 'chat.example.com', Origin: 'https://chat.example.com' };
    expect(await status('/proxied', behindProxy)).toBe(101);
    expect(await status('/default', behindProxy)).toBe(403);
    expect(await status('/proxied', { ...behindProxy, Origin: 'https://evil.example' })).toBe(403);
  });

  it('refuses an origin option that is not an origin, a list, a RegExp or a function', () => {
    for (const origin of [42, true, ['https://a.example', 7], {}]) {
      expect(() => upgrade({} as never, {} as never, { origin } as never)).toThrow(
        expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_OPTION' }),
      );
    }
  });
});

describe('the default origin policy over HTTP/2', () => {
  let srv: Http2TestServer;
  beforeAll(async () => {
    srv = await startHttp2Server((req, res) => void upgrade(req, res).send('open'));
  });
  afterAll(() => srv.close());

  it('judges the origin against :authority', async () => {
    const same = await connect(`${srv.url}/`, { http2: true, origin: `http://127.0.0.1:${srv.port}` });
    expect((await same.receive())?.data).toBe('open');
    await same.close();
    const refused = await connect(`${srv.url}/`, { http2: true, origin: 'https://evil.example' }).catch((e: unknown) => e);
    expect(refused).toMatchObject({ status: 403 });
  });
});
