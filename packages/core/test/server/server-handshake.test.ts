import { once } from 'node:events';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WsClient from 'ws';
import { acceptKey, checkHandshake, isWebSocketRequest, upgrade, WebSocketError, type UpgradeOptions } from '@wsup/core';
import { GOOD_KEY, handshakeRequest, RawPeer } from '../helpers/raw.js';
import { selfSignedCert, startServer, type TestServer } from '../helpers/server.js';

function req(headers: Record<string, string>, over: Partial<IncomingMessage> = {}): IncomingMessage {
  return {
    method: 'GET',
    httpVersionMajor: 1,
    httpVersionMinor: 1,
    headers: {
      host: 'example.com',
      upgrade: 'websocket',
      connection: 'Upgrade',
      'sec-websocket-key': GOOD_KEY,
      'sec-websocket-version': '13',
      ...headers,
    },
    ...over,
  } as IncomingMessage;
}

describe('handshake validation (RFC 6455 §4.2.1)', () => {
  it('computes Sec-WebSocket-Accept as in RFC 6455 §1.3', () => {
    expect(acceptKey('dGhlIHNhbXBsZSBub25jZQ==')).toBe('s3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
  });

  it('accepts header variants the RFC allows', () => {
    const variants: Record<string, string>[] = [
      { upgrade: 'WebSocket' },
      { upgrade: 'websocket, h2c' },
      { connection: 'keep-alive, Upgrade' },
      { connection: 'UPGRADE' },
      { 'sec-websocket-version': ' 13 ' },
    ];
    for (const h of variants) {
      expect(checkHandshake(req(h))).not.toBeInstanceOf(WebSocketError);
    }
    expect(checkHandshake(req({}, { httpVersionMinor: 2 } as never))).not.toBeInstanceOf(WebSocketError);
  });

  const rejections: [string, IncomingMessage, number, string][] = [
    ['no Upgrade header', req({ upgrade: '' }), 426, 'ERR_HANDSHAKE_NOT_UPGRADE'],
    ['Upgrade to something else', req({ upgrade: 'h2c' }), 426, 'ERR_HANDSHAKE_NOT_UPGRADE'],
    ['POST', req({}, { method: 'POST' }), 405, 'ERR_HANDSHAKE_METHOD'],
    ['HTTP/1.0', req({}, { httpVersionMinor: 0 }), 400, 'ERR_HANDSHAKE_HTTP_VERSION'],
    ['no Host', req({ host: '' }), 400, 'ERR_HANDSHAKE_HOST'],
    ['Connection without upgrade', req({ connection: 'keep-alive' }), 400, 'ERR_HANDSHAKE_CONNECTION'],
    ['Connection: upgraded (not the token)', req({ connection: 'upgraded' }), 400, 'ERR_HANDSHAKE_CONNECTION'],
    ['version 8', req({ 'sec-websocket-version': '8' }), 426, 'ERR_HANDSHAKE_VERSION'],
    ['no version', req({ 'sec-websocket-version': '' }), 426, 'ERR_HANDSHAKE_VERSION'],
    ['key of 15 bytes', req({ 'sec-websocket-key': Buffer.alloc(15).toString('base64') }), 400, 'ERR_HANDSHAKE_KEY'],
    ['key of 17 bytes', req({ 'sec-websocket-key': Buffer.alloc(17).toString('base64') }), 400, 'ERR_HANDSHAKE_KEY'],
    ['key not base64', req({ 'sec-websocket-key': '!!!!!!!!!!!!!!!!!!!!!!==' }), 400, 'ERR_HANDSHAKE_KEY'],
    ['no key', req({ 'sec-websocket-key': '' }), 400, 'ERR_HANDSHAKE_KEY'],
    ['malformed protocol list', req({ 'sec-websocket-protocol': 'a,,b' }), 400, 'ERR_HANDSHAKE_PROTOCOL'],
    ['repeated protocol', req({ 'sec-websocket-protocol': 'a, a' }), 400, 'ERR_HANDSHAKE_PROTOCOL'],
    ['malformed extensions', req({ 'sec-websocket-extensions': 'permessage-deflate; =' }), 400, 'ERR_HANDSHAKE_EXTENSIONS'],
  ];
  for (const [name, request, status, code] of rejections) {
    it(`${name} → ${status}`, () => {
      const r = checkHandshake(request);
      expect(r).toBeInstanceOf(WebSocketError);
      expect((r as WebSocketError).status).toBe(status);
      expect((r as WebSocketError).code).toBe(code);
      expect(isWebSocketRequest(request)).toBe(false);
    });
  }

  it('isWebSocketRequest has no side effects', () => {
    const r = req({ 'sec-websocket-protocol': 'chat' });
    const before = JSON.stringify(r);
    expect(isWebSocketRequest(r)).toBe(true);
    expect(JSON.stringify(r)).toBe(before);
  });
});

describe('handshake over real sockets', () => {
  let srv: TestServer;
  const optionsFor: Record<string, UpgradeOptions> = {
    '/plain': {},
    '/proto-string': { subprotocol: 'chat' },
    '/proto-list': { subprotocol: ['v2', 'v1'] },
    '/proto-fn': { subprotocol: (offered) => offered.find((p) => p.startsWith('x-')) },
    '/proto-bad-fn': { subprotocol: () => 'never-offered' },
    '/origin': { origin: ['https://good.example'] },
    '/origin-fn': { origin: (o) => o === undefined || o.endsWith('.trusted') },
    '/headers': { headers: { 'X-Server': 'wsup', 'Set-Cookie': ['a=1', 'b=2'] } },
    '/bad-headers': { headers: { 'X-Bad': 'a\r\nInjected: yes' } },
  };
  const errors: WebSocketError[] = [];

  beforeAll(async () => {
    srv = await startServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0]!;
      if (path === '/deny') {
        res.writeHead(401, { 'WWW-Authenticate': 'Bearer' });
        res.end('login first');
        return;
      }
      if (path === '/ignore-404') {
        res.writeHead(404);
        res.end('no such route');
        return;
      }
      try {
        const ws = upgrade(req, res, optionsFor[path] ?? {});
        ws.send(`protocol=${ws.protocol}`);
        ws.on('message', (m) => ws.send(m.data, m.binary));
      } catch (err) {
        errors.push(err as WebSocketError);
      }
    });
  });
  afterAll(() => srv.close());

  async function status(request: string): Promise<{ status: number; headers: Record<string, string>; closed: boolean; body: string }> {
    const peer = await RawPeer.open(srv.port, request);
    await peer.ended;
    return { ...peer.response!, closed: peer.socket.destroyed || peer.socket.readableEnded };
  }

  it('answers a valid handshake with 101 and the accept key', async () => {
    const peer = await RawPeer.open(srv.port, handshakeRequest('/plain'));
    expect(peer.response!.status).toBe(101);
    expect(peer.response!.headers['sec-websocket-accept']).toBe('s3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
    expect(peer.response!.headers.upgrade).toBe('websocket');
    expect(peer.response!.headers.connection?.toLowerCase()).toBe('upgrade');
    expect(peer.response!.headers['sec-websocket-protocol']).toBeUndefined();
    const f = await peer.nextFrame();
    expect(f?.payload.toString()).toBe('protocol=');
    peer.destroy();
  });

  const bad: [string, string, number, Record<string, string>?][] = [
    ['version 8', handshakeRequest('/plain', { 'Sec-WebSocket-Version': '8' }), 426, { 'sec-websocket-version': '13' }],
    ['a short key', handshakeRequest('/plain', { 'Sec-WebSocket-Key': 'c2hvcnQ=' }), 400],
    ['no key', handshakeRequest('/plain', {}, ['Sec-WebSocket-Key']), 400],
    ['POST', handshakeRequest('/plain').replace('GET', 'POST'), 405, { allow: 'GET' }],
    ['a malformed extensions header', handshakeRequest('/plain', { 'Sec-WebSocket-Extensions': 'x; y="a b"' }), 400],
    ['a forbidden origin', handshakeRequest('/origin', { Origin: 'https://evil.example' }), 403],
    ['no origin where an allow-list is set', handshakeRequest('/origin'), 403],
    ['an origin refused by a function', handshakeRequest('/origin-fn', { Origin: 'https://evil.example' }), 403],
    ['a subprotocol selector that picks an unoffered name', handshakeRequest('/proto-bad-fn', { 'Sec-WebSocket-Protocol': 'a' }), 500],
    ['headers with CR/LF injection', handshakeRequest('/bad-headers'), 500],
  ];
  for (const [name, request, expected, headers] of bad) {
    it(`${name} gets a real ${expected} response, then the socket closes`, async () => {
      errors.length = 0;
      const r = await status(request);
      expect(r.status).toBe(expected);
      expect(r.closed).toBe(true);
      for (const [k, v] of Object.entries(headers ?? {})) expect(r.headers[k]).toBe(v);
      expect(errors).toHaveLength(1);
      expect(errors[0]).toBeInstanceOf(Error);
      expect(errors[0]!.code).toMatch(/^ERR_/);
    });
  }

  it('keeps serving after rejections', async () => {
    for (let i = 0; i < 5; i++) await status(handshakeRequest('/plain', { 'Sec-WebSocket-Version': '7' }));
    const peer = await RawPeer.open(srv.port, handshakeRequest('/plain'));
    expect(peer.response!.status).toBe(101);
    peer.destroy();
  });

  it('a handler that answers 401 sends that response on the upgrade socket and closes it', async () => {
    const r = await status(handshakeRequest('/deny'));
    expect(r.status).toBe(401);
    expect(r.headers['www-authenticate']).toBe('Bearer');
    expect(r.body).toBe('login first');
    expect(r.closed).toBe(true);
  });

  it('a ws client sees the rejection status', async () => {
    const ws = new WsClient(`${srv.url}/deny`);
    ws.on('error', () => {});
    const [, res] = (await once(ws, 'unexpected-response')) as [unknown, IncomingMessage];
    expect(res.statusCode).toBe(401);
    res.resume();
    ws.terminate();
  });

  it('chooses a subprotocol only if offered', async () => {
    const cases: [string, string[], string][] = [
      ['/proto-string', ['x', 'chat'], 'chat'],
      ['/proto-string', ['x'], ''],
      ['/proto-list', ['v1', 'v2'], 'v1'],
      ['/proto-list', ['v3'], ''],
      ['/proto-fn', ['a', 'x-b', 'x-c'], 'x-b'],
      ['/proto-fn', ['a'], ''],
    ];
    for (const [path, offered, chosen] of cases) {
      const peer = await RawPeer.open(srv.port, handshakeRequest(path, { 'Sec-WebSocket-Protocol': offered.join(', ') }));
      expect(peer.response!.status).toBe(101);
      expect(peer.response!.headers['sec-websocket-protocol']).toBe(chosen || undefined);
      expect((await peer.nextFrame())?.payload.toString()).toBe(`protocol=${chosen}`);
      peer.destroy();
    }
    // And a real client agrees.
    const ws = new WsClient(`${srv.url}/proto-list`, ['v2']);
    await once(ws, 'open');
    expect(ws.protocol).toBe('v2');
    ws.close();
  });

  it('allows listed origins, case-insensitively, and functions', async () => {
    for (const [path, origin] of [
      ['/origin', 'https://GOOD.example'],
      ['/origin-fn', 'https://a.trusted'],
      ['/origin-fn', undefined],
    ] as const) {
      const ws = new WsClient(srv.url + path, origin ? { origin } : {});
      await once(ws, 'open');
      ws.close();
    }
  });

  it('adds extra response headers', async () => {
    const peer = await RawPeer.open(srv.port, handshakeRequest('/headers'));
    expect(peer.response!.status).toBe(101);
    expect(peer.response!.headers['x-server']).toBe('wsup');
    peer.destroy();
  });

  it('answers a plain GET on a WebSocket route with 426 and a typed error', async () => {
    errors.length = 0;
    const res = await fetch(`http://127.0.0.1:${srv.port}/plain`);
    expect(res.status).toBe(426);
    expect(res.headers.get('upgrade')).toBe('websocket');
    expect(res.headers.get('sec-websocket-version')).toBe('13');
    await res.text();
    expect(errors[0]?.code).toBe('ERR_HANDSHAKE_NOT_UPGRADE');
  });

  it('lets other routes answer plain HTTP as usual', async () => {
    const res = await fetch(`http://127.0.0.1:${srv.port}/ignore-404`);
    expect(res.status).toBe(404);
    expect(await res.text()).toBe('no such route');
  });

  it('refuses to upgrade the same request twice', async () => {
    const second: unknown[] = [];
    const s = await startServer((req, res) => {
      const ws = upgrade(req, res);
      try {
        upgrade(req, res);
      } catch (err) {
        second.push(err);
      }
      ws.send('ok');
    });
    const peer = await RawPeer.open(s.port, handshakeRequest('/'));
    expect((await peer.nextFrame())?.payload.toString()).toBe('ok');
    expect((second[0] as WebSocketError).code).toBe('ERR_ALREADY_UPGRADED');
    peer.destroy();
    await s.close();
  });
});

describe('upgrade entry points', () => {
  it("works from node:http's 'upgrade' event with (req, socket, head)", async () => {
    const server = createServer();
    server.on('upgrade', (req, socket, head) => {
      const ws = upgrade(req, socket, head);
      ws.on('message', (m) => ws.send(m.data, m.binary));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const ws = new WsClient(`ws://127.0.0.1:${(server.address() as AddressInfo).port}/`);
    await once(ws, 'open');
    ws.send('via upgrade event');
    const [data] = await once(ws, 'message');
    expect(String(data)).toBe('via upgrade event');
    ws.close();
    await once(ws, 'close');
    server.close();
  });

  it("a server's timeout does not reach its WebSockets", async () => {
    // node:http gives every socket the server's `timeout`; an upgraded one must not keep it (its
    // timer would also be refreshed on every read and write).
    const timeouts: string[] = [];
    const srv = await startServer((req, res) => {
      const ws = upgrade(req, res);
      req.socket.on('timeout', () => timeouts.push(req.url ?? ''));
      ws.on('message', (m) => ws.send(m.data, m.binary));
    });
    srv.server.timeout = 40;
    const ws = new WsClient(`${srv.url}/idle`);
    await once(ws, 'open');
    await new Promise((r) => setTimeout(r, 200));
    ws.send('still here');
    const [data] = await once(ws, 'message');
    expect(String(data)).toBe('still here');
    expect(timeouts).toEqual([]);
    ws.close();
    await once(ws, 'close');
    await srv.close();
  });

  it('rejects bad handshakes in the (req, socket, head) form with a raw HTTP response', async () => {
    const server = createServer();
    const errs: unknown[] = [];
    server.on('upgrade', (req, socket, head) => {
      try {
        upgrade(req, socket, head);
      } catch (err) {
        errs.push(err);
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const peer = await RawPeer.open((server.address() as AddressInfo).port, handshakeRequest('/', { 'Sec-WebSocket-Version': '12' }));
    expect(peer.response!.status).toBe(426);
    expect(peer.response!.headers['sec-websocket-version']).toBe('13');
    await peer.ended;
    expect((errs[0] as WebSocketError).status).toBe(426);
    server.close();
  });

  it('a frame sent right behind the handshake (in the same packet) is not lost', async () => {
    const s = await startServer(async (req, res) => {
      const ws = upgrade(req, res);
      const msg = await ws.receive();
      ws.send(`got ${msg?.data}`);
    });
    const peer = await RawPeer.connect(s.port);
    const { encodeFrame } = await import('../helpers/raw.js');
    peer.send(Buffer.concat([Buffer.from(handshakeRequest('/')), encodeFrame({ opcode: 1, payload: 'early' })]));
    const f = await peer.nextFrame();
    expect(f?.payload.toString()).toBe('got early');
    peer.destroy();
    await s.close();
  });

  it('explains that upgrades must be routed when a server does not route them', async () => {
    const errs: WebSocketError[] = [];
    const server = createServer((req, res) => {
      try {
        upgrade(req, res);
      } catch (err) {
        errs.push(err as WebSocketError);
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const peer = await RawPeer.open((server.address() as AddressInfo).port, handshakeRequest('/'));
    expect(peer.response!.status).toBe(500);
    expect(errs[0]?.code).toBe('ERR_UPGRADE_NOT_ROUTED');
    peer.destroy();
    server.closeAllConnections();
    server.close();
  });

  it('works the same on an https server (wss)', async () => {
    const tls = selfSignedCert();
    const s = await startServer(
      async (req, res) => {
        const ws = upgrade(req, res);
        for await (const m of ws) ws.send(m.data, m.binary);
      },
      { tls },
    );
    const ws = new WsClient(`${s.url}/`, { ca: tls.cert });
    await once(ws, 'open');
    const big = Buffer.alloc(200_000, 7);
    ws.send(big);
    const [data] = await once(ws, 'message');
    expect((data as Buffer).equals(big)).toBe(true);
    ws.close();
    await once(ws, 'close');
    await s.close();
  });
});
