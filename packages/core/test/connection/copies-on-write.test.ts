/**
 * Which sockets let the sender frame their small batches in the Buffer every such connection
 * shares: plain TCP sockets, which copy what they do not keep by the time write() returns. TLS
 * sockets and streams that pass the Buffer on (an in-memory pair) do not, and WebSockets over them
 * each receive their own bytes when several send in one turn.
 */
import { once } from 'node:events';
import { createServer as createHttpServer } from 'node:http';
import { createServer, Socket } from 'node:net';
import { setImmediate as turn } from 'node:timers/promises';
import { TLSSocket } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { handleUpgrades, injectUpgrade, upgrade, type WebSocket } from '@wsup/core';
import { copiesOnWrite } from '../../src/connection/socket-binding.js';
import { duplexPair } from '../../src/testing/inject.js';

describe('which sockets copy what they are written', () => {
  it('a plain TCP socket does', async () => {
    const server = createServer((s) => s.destroy());
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const socket = new Socket().connect((server.address() as { port: number }).port, '127.0.0.1');
    await once(socket, 'connect');
    expect(copiesOnWrite(socket)).toBe(true);
    socket.destroy();
    server.close();
  });

  it('a TLS socket does not, nor an in-memory stream', () => {
    const tls = new TLSSocket(new Socket());
    expect(copiesOnWrite(tls)).toBe(false);
    tls.destroy();
    const [a, b] = duplexPair();
    expect(copiesOnWrite(a)).toBe(false);
    a.destroy();
    b.destroy();
  });

  it('WebSockets on in-memory streams that send in one turn each deliver their own text', async () => {
    const servers: WebSocket[] = [];
    const http = createHttpServer((req, res) => {
      servers.push(upgrade(req, res));
    });
    handleUpgrades(http);
    const clients: WebSocket[] = [];
    for (let i = 0; i < 4; i++) clients.push(await injectUpgrade(http));
    while (servers.length < 4) await turn();
    const received = clients.map(() => [] as string[]);
    // Nothing is read until every server has flushed: a shared Buffer would by then hold the last one's frames.
    for (const c of clients) (c as unknown as { socket: Socket }).socket.pause();
    servers.forEach((ws, i) => {
      ws.send(`message ${i} a`);
      ws.send(`message ${i} b`);
    });
    await turn();
    clients.forEach((c, i) => {
      c.on('message', (m) => received[i]!.push(String(m.data)));
      (c as unknown as { socket: Socket }).socket.resume();
    });
    while (received.some((r) => r.length < 2)) await turn();
    expect(received).toEqual([0, 1, 2, 3].map((i) => [`message ${i} a`, `message ${i} b`]));
    for (const c of clients) c.terminate();
  });
});
