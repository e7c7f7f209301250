import { createServer, type IncomingMessage, type RequestListener, type Server as HttpServer, type ServerResponse } from 'node:http';
import { Server as TlsServer } from 'node:tls';
import { Duplex } from 'node:stream';
import { connectOver } from '../client/connect.js';
import type { ConnectOptions } from '../client/options.js';
import type { WebSocket } from '../connection/websocket.js';
import { handleUpgrades } from '../server/routing.js';

/** One end of an in-memory connection: what one side writes, the other reads. */
class PairSide extends Duplex {
  peer!: PairSide;
  readonly remoteAddress = '127.0.0.1';
  readonly remoteFamily = 'IPv4';
  readonly remotePort = 0;
  readonly encrypted = false;

  override _read(): void {
    // Data is pushed by the peer's writes.
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.peer.destroyed) {
      callback(Object.assign(new Error('the other end is closed'), { code: 'EPIPE' }));
      return;
    }
    this.peer.push(chunk);
    callback();
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.peer.push(null);
    callback();
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    // Like a TCP connection: when one end goes away, so does the other.
    if (!this.peer.destroyed) this.peer.destroy();
    callback(err);
  }

  // The socket methods servers and clients call; nothing to tune in memory.
  setNoDelay(): this {
    return this;
  }
  setKeepAlive(): this {
    return this;
  }
  setTimeout(_ms: number, callback?: () => void): this {
    if (callback) this.once('timeout', callback);
    return this;
  }
}

/** Two connected in-memory streams, `[client, server]`. */
export function duplexPair(): [Duplex, Duplex] {
  const a = new PairSide();
  const b = new PairSide();
  a.peer = b;
  b.peer = a;
  return [a, b];
}

type Target = HttpServer | RequestListener;
const listenerServers = new WeakMap<RequestListener, HttpServer>();

function serverFor(target: Target): HttpServer {
  if (typeof target === 'function') {
    let server = listenerServers.get(target);
    if (!server) {
      server = createServer(target);
      listenerServers.set(target, server);
    }
    handleUpgrades(server);
    return server;
  }
  if (target instanceof TlsServer) {
    // No TLS in memory: the same request handling, reached over plain HTTP.
    const relay = (req: IncomingMessage, res: ServerResponse) => target.emit('request', req, res);
    let server = listenerServers.get(target as unknown as RequestListener);
    if (!server) {
      server = createServer(relay);
      listenerServers.set(target as unknown as RequestListener, server);
    }
    handleUpgrades(server);
    return server;
  }
  handleUpgrades(target);
  return target;
}

/**
 * Opens a WebSocket to a server's route without a port: the request goes through an in-memory
 * connection into the server's ordinary request handling (its routing, middleware and the
 * handler that calls `upgrade()`), and the returned client `WebSocket` talks to it — for testing
 * WebSocket routes the way light-my-request / `inject` tests HTTP routes. The server does not
 * need to listen. A handler that refuses rejects with the same typed errors as `connect()`
 * (a `HandshakeResponseError` with the status, headers and body).
 *
 * @param target an http(s) server, or a request listener (an Express app, Koa's `app.callback()`)
 * @param path the request path and query, e.g. `/chat/lobby?token=secret`
 */
export function injectUpgrade(target: Target, path = '/', options?: ConnectOptions): Promise<WebSocket> {
  const server = serverFor(target);
  const [client, serverSide] = duplexPair();
  server.emit('connection', serverSide);
  return connectOver(client, new URL(path, 'ws://localhost'), options);
}
