/**
 * `ws.remoteAddress`, `remotePort` and `remoteFamily`: the peer's end of the network connection,
 * on both sides, over HTTP/1.1 and HTTP/2, and still readable in a close handler, after Node has
 * destroyed the socket (it forgets a peer it was never asked about) and after an HTTP/2 stream has
 * lost its session. Nothing reads the address before the close handler in these servers.
 */
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { Socket } from 'node:net';
import { afterEach, expect, it } from 'vitest';
import { connect, handleUpgrades, injectUpgrade, upgrade, type UpgradeRequest, type UpgradeResponse, type WebSocket } from '@wsup/core';
import { startHttp2Server } from '../helpers/http2-server.js';
import { selfSignedCert, startServer } from '../helpers/server.js';

interface Peer {
  address: string | undefined;
  port: number | undefined;
  family: string | undefined;
}
const peerOf = (ws: WebSocket): Peer => ({ address: ws.remoteAddress, port: ws.remotePort, family: ws.remoteFamily });

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

/** A route that records what its WebSocket says of its peer when it closes. */
function recorder() {
  const seen: { ws: WebSocket; atClose: Promise<Peer> }[] = [];
  const handler = (req: UpgradeRequest, res: UpgradeResponse) => {
    const ws = upgrade(req, res);
    const atClose = once(ws, 'close').then(() => peerOf(ws));
    seen.push({ ws, atClose });
    ws.on('message', (m) => ws.send(m.data, m.binary));
  };
  return { seen, handler };
}

it('over HTTP/1.1, both ends know the other’s address, port and family, also after a clean close', async () => {
  const { seen, handler } = recorder();
  const srv = await startServer(handler);
  cleanups.push(() => srv.close());
  const client = await connect(srv.url);
  const localPort = (client.socket as Socket).localPort;
  await expect.poll(() => seen.length).toBe(1);
  expect(peerOf(seen[0]!.ws)).toEqual({ address: '127.0.0.1', port: localPort, family: 'IPv4' });
  expect(peerOf(client)).toEqual({ address: '127.0.0.1', port: srv.port, family: 'IPv4' });
  await client.close();
  expect(await seen[0]!.atClose).toEqual({ address: '127.0.0.1', port: localPort, family: 'IPv4' });
  expect(peerOf(client)).toEqual({ address: '127.0.0.1', port: srv.port, family: 'IPv4' });
  expect((client.socket as Socket).destroyed).toBe(true);
});

it('over TLS (wss), the same: the TLS socket’s TCP peer', async () => {
  const { seen, handler } = recorder();
  const cert = selfSignedCert();
  const srv = await startServer(handler, { tls: cert });
  cleanups.push(() => srv.close());
  const client = await connect(srv.url, { ca: cert.cert });
  const localPort = (client.socket as Socket).localPort;
  await expect.poll(() => seen.length).toBe(1);
  client.terminate();
  expect(await seen[0]!.atClose).toEqual({ address: '127.0.0.1', port: localPort, family: 'IPv4' });
  expect(peerOf(client)).toEqual({ address: '127.0.0.1', port: srv.port, family: 'IPv4' });
});

it('a peer that vanishes (TCP reset, no close handshake) is still named in the close handler', async () => {
  const { seen, handler } = recorder();
  const srv = await startServer(handler);
  cleanups.push(() => srv.close());
  const client = await connect(srv.url);
  const localPort = (client.socket as Socket).localPort;
  await expect.poll(() => seen.length).toBe(1);
  (client.socket as Socket).resetAndDestroy();
  expect(await seen[0]!.atClose).toEqual({ address: '127.0.0.1', port: localPort, family: 'IPv4' });
  expect(seen[0]!.ws.closeCode).toBe(1006);
});

it('over HTTP/2, the address is the session’s TCP peer, and outlives the stream and the session', async () => {
  const { seen, handler } = recorder();
  const srv = await startHttp2Server(handler);
  cleanups.push(() => srv.close());
  const a = await connect(srv.url, { http2: true });
  const b = await connect(srv.url, { http2: true });
  await expect.poll(() => seen.length).toBe(2);
  expect(srv.sessions).toHaveLength(1);
  const clientPort = srv.sessions[0]!.socket.remotePort;
  for (const { ws } of seen) expect(peerOf(ws)).toEqual({ address: '127.0.0.1', port: clientPort, family: 'IPv4' });
  for (const ws of [a, b]) expect(peerOf(ws)).toEqual({ address: '127.0.0.1', port: srv.port, family: 'IPv4' });
  await a.close();
  expect(await seen[0]!.atClose).toEqual({ address: '127.0.0.1', port: clientPort, family: 'IPv4' });
  srv.sessions[0]!.destroy();
  expect(await seen[1]!.atClose).toEqual({ address: '127.0.0.1', port: clientPort, family: 'IPv4' });
  await b.closed;
  for (const ws of [a, b]) expect(peerOf(ws)).toEqual({ address: '127.0.0.1', port: srv.port, family: 'IPv4' });
});

it('in memory (injectUpgrade) there is no network peer: undefined on both ends', async () => {
  const { seen, handler } = recorder();
  const server = createServer(handler);
  handleUpgrades(server);
  const client = await injectUpgrade(server);
  await expect.poll(() => seen.length).toBe(1);
  const none = { address: undefined, port: undefined, family: undefined };
  expect(peerOf(client)).toEqual(none);
  expect(peerOf(seen[0]!.ws)).toEqual(none);
  await client.close();
});

it('costs a connection no field of its own: the getters live on the prototype', async () => {
  const server = createServer((req, res) => void upgrade(req, res));
  handleUpgrades(server);
  const client = await injectUpgrade(server);
  expect(Object.hasOwn(client, 'remoteAddress')).toBe(false);
  expect('remoteAddress' in client).toBe(true);
  await client.close();
});
