import { createServer } from 'node:http';
import { describe, expect, it } from 'vitest';
import { handleUpgrades, injectUpgrade, upgrade, type HandshakeResponseError } from '@wsup/core';

function app() {
  const server = createServer(async (req, res) => {
    const url = new URL(req.url!, 'http://x');
    if (url.searchParams.get('token') !== 'secret') {
      res.writeHead(401, { 'Content-Type': 'text/plain' });
      res.end('no token');
      return;
    }
    const ws = upgrade(req, res, { subprotocol: 'chat', compress: true });
    for await (const m of ws) ws.send(`${url.pathname}: ${m.data}`);
  });
  handleUpgrades(server);
  return server;
}

describe('injectUpgrade: testing WebSocket routes without a port', () => {
  it('talks to the route through the server’s own request handling, never listening', async () => {
    const server = app();
    const ws = await injectUpgrade(server, '/room/1?token=secret', { subprotocols: ['chat'], compress: true });
    expect(server.listening).toBe(false);
    expect(ws.protocol).toBe('chat');
    expect(ws.extensions).toMatch(/^permessage-deflate/);
    ws.send('hello');
    expect((await ws.receive())?.data).toBe('/room/1: hello');
    const big = 'x'.repeat(100_000);
    ws.send(big);
    expect((await ws.receive())?.data).toBe(`/room/1: ${big}`);
    expect(await ws.close(4000)).toMatchObject({ code: 4000, wasClean: true });
  });

  it('rejects with the real HTTP answer when the route refuses', async () => {
    const err = (await injectUpgrade(app(), '/room/1').catch((e: unknown) => e)) as HandshakeResponseError;
    expect(err.code).toBe('ERR_NOT_SWITCHING_PROTOCOLS');
    expect(err.status).toBe(401);
    expect(err.body).toBe('no token');
  });

  it('accepts a bare request listener', async () => {
    const listener = (
      req: Parameters<Parameters<typeof createServer>[1] & object>[0],
      res: Parameters<Parameters<typeof createServer>[1] & object>[1],
    ) => {
      const ws = upgrade(req, res);
      ws.on('message', (m) => ws.send(m.data, m.binary));
    };
    const ws = await injectUpgrade(listener, '/');
    ws.send(Buffer.from([1, 2, 3]));
    expect((await ws.receive())?.data).toEqual(Buffer.from([1, 2, 3]));
    await ws.close();
  });

  it('server-side close reaches the injected client', async () => {
    const server = createServer((req, res) => {
      const ws = upgrade(req, res);
      void ws.close(4321, 'bye');
    });
    const ws = await injectUpgrade(server, '/');
    expect(await ws.closed).toMatchObject({ code: 4321, reason: 'bye', wasClean: true });
  });
});
