import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { connect as netConnect, type AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WsClient from 'ws';
import { connect, handleUpgrades, upgrade, WebSocket, type CloseInfo, type UpgradeOptions } from '@wsup/core';
import { tickTimers } from '../../src/connection/heartbeat.js';
import { closePayload, handshakeRequest, RawPeer } from '../helpers/raw.js';
import { startRawServer } from '../helpers/raw-server.js';
import { startServer, type TestServer } from '../helpers/server.js';

let srv: TestServer;
const routes = new Map<string, UpgradeOptions>();
const sockets = new Map<string, WebSocket>();

beforeAll(async () => {
  srv = await startServer((req, res) => {
    const url = new URL(req.url!, 'http://x');
    const ws = upgrade(req, res, routes.get(url.pathname) ?? {});
    sockets.set(url.searchParams.get('id') ?? '', ws);
    ws.on('message', (m) => {
      if (m.data !== 'quiet') ws.send(m.data, m.binary);
    });
  });
});
afterAll(() => srv.close());

let n = 0;
function route(opts: UpgradeOptions): { path: string; id: string } {
  const id = String(n++);
  routes.set(`/h${id}`, opts);
  return { path: `/h${id}?id=${id}`, id };
}

async function serverSocket(id: string): Promise<WebSocket> {
  await expect.poll(() => sockets.has(id)).toBe(true);
  return sockets.get(id)!;
}

describe('heartbeat', () => {
  it('pings a silent peer and terminates it when it never answers: 1006 and ERR_HEARTBEAT_TIMEOUT', async () => {
    const { path, id } = route({ heartbeat: 0.1 });
    const peer = await RawPeer.open(srv.port, handshakeRequest(path)); // never answers pings
    const ws = await serverSocket(id);
    const closeEvent = new Promise((resolve) => ws.once('close', (...args) => resolve(args)));
    const ping = await peer.nextFrame();
    expect(ping?.opcode).toBe(9);
    const [code, , error] = (await closeEvent) as [number, string, { code: string } | undefined];
    expect(code).toBe(1006);
    expect(error?.code).toBe('ERR_HEARTBEAT_TIMEOUT');
    await peer.ended;
  });

  it('keeps a silent peer that answers pings', async () => {
    const { path, id } = route({ heartbeat: 0.1 });
    const c = new WsClient(srv.url + path);
    let pings = 0;
    c.on('ping', () => pings++);
    await once(c, 'open');
    await sleep(700); // seven periods of silence from the application
    const ws = await serverSocket(id);
    expect(ws.readyState).toBe(WebSocket.OPEN);
    expect(pings).toBeGreaterThanOrEqual(2);
    c.close();
    await once(c, 'close');
  });

  it('does not ping a peer that keeps talking', async () => {
    const { path } = route({ heartbeat: 0.2 });
    const peer = await RawPeer.open(srv.port, handshakeRequest(path));
    for (let i = 0; i < 20; i++) {
      peer.sendFrame({ opcode: 1, payload: 'quiet' });
      await sleep(25);
    }
    peer.sendFrame({ opcode: 1, payload: 'marker' });
    const first = await peer.nextFrame();
    expect(first?.opcode).toBe(1); // the echo of 'marker', no ping before it
    expect(first?.payload.toString()).toBe('marker');
    peer.destroy();
  });

  it('counts any frame as life, pongs included', async () => {
    const { path, id } = route({ heartbeat: 0.1 });
    const peer = await RawPeer.open(srv.port, handshakeRequest(path));
    const stop = Date.now() + 600;
    // Unsolicited pongs only: no data at all.
    while (Date.now() < stop) {
      peer.sendFrame({ opcode: 10, payload: 'alive' });
      await sleep(40);
    }
    expect((await serverSocket(id)).readyState).toBe(WebSocket.OPEN);
    peer.destroy();
  });

  it('shares one timer among all connections with the same period, and stops it when they close', async () => {
    const { path } = route({ heartbeat: 7.5 });
    const clients = await Promise.all(Array.from({ length: 50 }, () => connect(srv.url + path)));
    await expect.poll(() => tickTimers().filter((t) => t.periodMs === 7500)).toEqual([{ periodMs: 7500, members: 50 }]);
    await Promise.all(clients.map((c) => c.close()));
    await expect.poll(() => tickTimers().filter((t) => t.periodMs === 7500)).toEqual([]);
  });

  it('stops pinging once close starts', async () => {
    const { path, id } = route({ heartbeat: 0.1, closeTimeout: 1 });
    const peer = await RawPeer.open(srv.port, handshakeRequest(path));
    const ws = await serverSocket(id);
    void ws.close(1000);
    const frames = await peer.readUntilClose();
    expect(frames.map((f) => f.opcode)).toEqual([8]);
    await sleep(300);
    peer.sendFrame({ opcode: 8, payload: closePayload(1000) });
    await peer.ended;
  });

  it('works on the client: a server that stops answering is detected', async () => {
    const raw = await startRawServer((c) => c.write(c.accept101()));
    const ws = await connect(raw.url, { heartbeat: 0.1 });
    const info = await ws.closed;
    expect(info.code).toBe(1006);
    expect(info.error?.code).toBe('ERR_HEARTBEAT_TIMEOUT');
    await raw.close();
  });
});

describe('idle timeout', () => {
  it('closes a connection without data messages with 1001, pings notwithstanding', async () => {
    const { path } = route({ idleTimeout: 0.2, heartbeat: 0.05 });
    const c = new WsClient(srv.url + path);
    const [code, reason] = await once(c, 'close');
    expect(code).toBe(1001);
    expect(String(reason)).toBe('idle timeout');
  });

  it('keeps a connection that exchanges messages', async () => {
    const { path, id } = route({ idleTimeout: 0.2 });
    const c = new WsClient(srv.url + path);
    await once(c, 'open');
    for (let i = 0; i < 10; i++) {
      c.send('tick');
      await sleep(50);
    }
    expect((await serverSocket(id)).readyState).toBe(WebSocket.OPEN);
    c.close();
  });
});

describe('upgrade-path limits', () => {
  it('answers 503 and closes a routed request whose handler never answers', async () => {
    const s = createServer(() => {
      /* forgets the request */
    });
    handleUpgrades(s, { upgradeTimeout: 0.2 });
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    const peer = await RawPeer.open((s.address() as AddressInfo).port, handshakeRequest('/'));
    expect(peer.response?.status).toBe(503);
    await peer.ended;
    s.close();
  });

  it('closes a client that sends its handshake too slowly (slowloris)', async () => {
    const s: Server = createServer({ connectionsCheckingInterval: 50 }, () => {});
    handleUpgrades(s, { handshakeTimeout: 0.2 });
    expect(s.headersTimeout).toBe(200);
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    const sock = netConnect((s.address() as AddressInfo).port, '127.0.0.1');
    const closed = once(sock, 'close');
    let received = '';
    sock.on('data', (d) => (received += d.toString()));
    sock.on('error', () => {});
    const request = handshakeRequest('/');
    let i = 0;
    const drip = setInterval(() => {
      if (i < request.length - 4 && !sock.destroyed) sock.write(request[i++]!);
    }, 40);
    await closed;
    clearInterval(drip);
    expect(i).toBeLessThan(request.length - 4);
    expect(received).toMatch(/^HTTP\/1\.1 408/);
    s.close();
  });
});

describe('graceful shutdown', () => {
  it('closeAll closes 100 connections with 1001 and resolves when all are closed', async () => {
    const s = await startServer(async (req, res) => {
      upgrade(req, res);
    });
    const clients = await Promise.all(
      Array.from({ length: 100 }, async () => {
        const c = new WsClient(`${s.url}/`);
        await once(c, 'open');
        return c;
      }),
    );
    await expect.poll(() => s.router.clients.size).toBe(100);
    const codes = clients.map((c) => once(c, 'close').then(([code]) => code as number));
    await s.router.closeAll(1001, 'maintenance');
    expect(s.router.clients.size).toBe(0);
    expect(new Set(await Promise.all(codes))).toEqual(new Set([1001]));
    await s.close();
  });

  it('closeAll destroys connections that do not answer within closeTimeout', async () => {
    const infos: CloseInfo[] = [];
    const s = await startServer(async (req, res) => {
      const ws = upgrade(req, res, { closeTimeout: 0.2 });
      void ws.closed.then((i) => infos.push(i));
    });
    const peers = await Promise.all(Array.from({ length: 5 }, () => RawPeer.open(s.port, handshakeRequest('/'))));
    await expect.poll(() => s.router.clients.size).toBe(5);
    await s.router.closeAll();
    expect(infos).toHaveLength(5);
    for (const i of infos) expect(i).toMatchObject({ code: 1006, wasClean: false });
    for (const p of peers) await p.ended;
    await s.close();
  });

  it('server.close() closes WebSockets with 1001 and then finishes', async () => {
    const server = createServer((req, res) => {
      const ws = upgrade(req, res);
      ws.on('message', (m) => ws.send(m.data));
    });
    handleUpgrades(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const c = new WsClient(`ws://127.0.0.1:${(server.address() as AddressInfo).port}/`);
    await once(c, 'open');
    const closed = once(c, 'close');
    const serverClosed = new Promise<void>((r) => server.close(() => r()));
    const [code] = await closed;
    expect(code).toBe(1001);
    await serverClosed;
  });

  it('flushes messages sent before close() ahead of the close frame', async () => {
    const s = await startServer(async (req, res) => {
      const ws = upgrade(req, res);
      for (let i = 0; i < 1000; i++) ws.send(`m${i}`);
      ws.send(Buffer.alloc(300_000, 1));
      await ws.close(4000, 'done');
    });
    const c = new WsClient(`${s.url}/`);
    const got: string[] = [];
    c.on('message', (d, isBinary) => got.push(isBinary ? `bin${(d as Buffer).length}` : String(d)));
    const [code] = await once(c, 'close');
    expect(code).toBe(4000);
    expect(got).toHaveLength(1001);
    expect(got.slice(0, 3)).toEqual(['m0', 'm1', 'm2']);
    expect(got.at(-2)).toBe('m999');
    expect(got.at(-1)).toBe('bin300000');
    await s.close();
  });
});
