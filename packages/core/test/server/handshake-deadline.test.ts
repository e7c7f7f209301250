/**
 * handshakeTimeout is kept by wsup's own timer per connection, so a slowloris client is dropped
 * on time, not at Node's next connectionsCheckingInterval check (30 s by default, longer than
 * these tests may run), over HTTP/1.1, TLS and HTTP/2; connections that did send their request
 * (WebSockets above all) outlive it.
 */
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { connect as h2connect, createServer as createH2cServer, type Http2Server } from 'node:http2';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { type AddressInfo, connect as netConnect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { connect, handleUpgrades, type UpgradeRequest, type UpgradeResponse, upgrade, type WebSocket } from '@wsup/core';
import { handshakeRequest } from '../helpers/raw.js';
import { selfSignedCert } from '../helpers/server.js';

const closers: (() => void)[] = [];
afterEach(() => {
  for (const close of closers.splice(0)) close();
});

function portOf(s: { address(): AddressInfo | string | null }): number {
  return (s.address() as AddressInfo).port;
}

async function listen<S extends Server | Http2Server | HttpsServer>(s: S): Promise<S> {
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  closers.push(() => s.close());
  return s;
}

const accepted: WebSocket[] = [];
function echo(req: UpgradeRequest, res: UpgradeResponse): void {
  const ws = upgrade(req, res);
  accepted.push(ws);
  ws.on('message', (m) => ws.send(m.data, m.binary));
}

describe('the handshake deadline', () => {
  it('drops a client that drips its request head with a 408, on time and not at Node’s 30 s check', async () => {
    const s = await listen(createServer(echo));
    handleUpgrades(s, { handshakeTimeout: 0.3 });
    const sock = netConnect(portOf(s), '127.0.0.1');
    let received = '';
    sock.on('data', (d) => (received += d.toString()));
    sock.on('error', () => {});
    const request = handshakeRequest('/');
    let sent = 0;
    const drip = setInterval(() => {
      if (sent < request.length - 4 && !sock.destroyed) sock.write(request[sent++]!);
    }, 20);
    await once(sock, 'close');
    clearInterval(drip);
    expect(sent).toBeLessThan(request.length - 4);
    expect(received).toMatch(/^HTTP\/1\.1 408 Request Timeout/);
  });

  it('drops a TLS client that never finishes its TLS handshake', async () => {
    const s = await listen(createHttpsServer(selfSignedCert(), echo));
    handleUpgrades(s, { handshakeTimeout: 0.3 });
    const sock = netConnect(portOf(s), '127.0.0.1');
    sock.on('error', () => {});
    sock.write(Buffer.from([0x16, 0x03, 0x01])); // the start of a ClientHello, then nothing
    await once(sock, 'close');
  });

  it('drops an HTTP/2 session that opens no stream', async () => {
    const s = await listen(createH2cServer(echo));
    handleUpgrades(s, { handshakeTimeout: 0.3 });
    const session = h2connect(`http://127.0.0.1:${portOf(s)}`);
    session.on('error', () => {});
    await once(session, 'close');
  });

  it('leaves WebSockets, over HTTP/1.1 and HTTP/2, open past it', async () => {
    const h1 = await listen(createServer(echo));
    handleUpgrades(h1, { handshakeTimeout: 0.2 });
    const h2 = await listen(createH2cServer(echo));
    handleUpgrades(h2, { handshakeTimeout: 0.2 });
    const clients = [await connect(`ws://127.0.0.1:${portOf(h1)}/`), await connect(`ws://127.0.0.1:${portOf(h2)}/`, { http2: true })];
    // Three deadlines' worth of waiting: a deadline left running would have fired.
    await new Promise((r) => setTimeout(r, 600));
    for (const ws of clients) {
      ws.send('still here');
      expect((await ws.receive())?.data).toBe('still here');
      await ws.close();
    }
  });

  it('a connection that made its request keeps nothing of its deadline (no listener, no property)', async () => {
    let socket: import('node:stream').Duplex | undefined;
    const s = await listen(
      createServer((req, res) => {
        socket = req.socket;
        echo(req, res);
      }),
    );
    handleUpgrades(s, { handshakeTimeout: 5 });
    const ws = await connect(`ws://127.0.0.1:${portOf(s)}/`);
    expect(socket).toBeDefined();
    expect(socket!.listeners('close').map((f) => f.name)).not.toContain('onHolderClose');
    expect(
      Object.getOwnPropertySymbols(socket!)
        .map(String)
        .filter((k) => /deadline/i.test(k)),
    ).toEqual([]);
    await ws.close();
  });

  it('stops with detach()', async () => {
    const s = await listen(createServer(echo));
    handleUpgrades(s, { handshakeTimeout: 0.2 }).detach();
    const sock = netConnect(portOf(s), '127.0.0.1');
    sock.on('error', () => {});
    await once(sock, 'connect');
    await new Promise((r) => setTimeout(r, 500));
    expect(sock.destroyed).toBe(false);
    sock.destroy();
  });
});
